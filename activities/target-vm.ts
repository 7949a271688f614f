/**
 * The receiver VM on the destination: the source VM's spec with `runStrategy: WaitAsReceiver` and the
 * run strategy to restore afterwards in `kubevirt.io/restore-run-strategy` (also when the source uses
 * the deprecated `spec.running`, which Forklift forgets). Volumes, MACs and firmware stay identical:
 * the guest moves, its identity does not. DataVolume templates are dropped (createPrerequisites made
 * the blank disks), instancetype/preference revision names are stripped (the source's
 * ControllerRevisions do not exist there) and Multus networks are renamed through networkMap.
 */
import type { CreatedObject } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import { apiFailure, isAlreadyExists, notOurs, orFail } from './kube/errors.js';
import { apiVersion, field, Kinds, type KubeObject } from './kube/kinds.js';
import { ANN_RESTORE_RUN_STRATEGY, isOwnedBy, ownedMeta, ownerOf } from './labels.js';
import { qualifiedNetwork } from './vm-spec.js';

export const RECEIVER_RUN_STRATEGY = 'WaitAsReceiver';

const dropKey = (k: string) => k === 'kubectl.kubernetes.io/last-applied-configuration' || k.startsWith('ferry.dev/');
const keep = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !dropKey(k)));

/** The receiver VM's manifest for `ref`, built from the source VM. Pure. */
export function receiverVM(source: KubeObject, ref: AttemptRef): KubeObject {
  const m = ref.migration;
  const spec = structuredClone(source.spec ?? {}) as Record<string, unknown>;
  delete spec.running;
  delete spec.dataVolumeTemplates;
  spec.runStrategy = RECEIVER_RUN_STRATEGY;
  for (const which of ['instancetype', 'preference']) {
    const r = spec[which] as Record<string, unknown> | undefined;
    if (r && typeof r === 'object') delete r.revisionName;
  }
  for (const n of field<{ multus?: { networkName?: string } }[]>(spec, 'template.spec.networks') ?? []) {
    const net = n.multus?.networkName;
    if (!net) continue;
    const mapped = m.networkMap[qualifiedNetwork(net, m.source.namespace)] ?? m.networkMap[net];
    if (mapped) n.multus!.networkName = mapped;
  }
  const owned = ownedMeta(ref.workflowId, {
    attempt: ref.attempt,
    migrationId: ref.migrationId,
    source: `${m.source.cluster}/${m.source.namespace}/${m.source.name}`,
  });
  return {
    apiVersion: apiVersion(Kinds.VirtualMachine),
    kind: 'VirtualMachine',
    metadata: {
      name: m.source.name,
      namespace: m.destination.namespace,
      labels: { ...keep(source.metadata.labels), ...owned.labels },
      annotations: { ...keep(source.metadata.annotations), ...owned.annotations, [ANN_RESTORE_RUN_STRATEGY]: ref.runStrategy },
    },
    spec,
  };
}

export function targetVMActivities(deps: ActivityDeps) {
  return {
    async createTargetVM(ref: AttemptRef): Promise<CreatedObject> {
      const m = ref.migration;
      const src = deps.clusters.get(m.source.cluster);
      const dst = deps.clusters.get(m.destination.cluster);
      const ns = m.destination.namespace;
      const name = m.source.name;
      const what = `creating the receiver VM ${ns}/${name}`;
      const source = await orFail(src.get('VirtualMachine', m.source.namespace, name), `reading the source VM ${m.source.namespace}/${name}`, src.name);
      if (!source) throw apiFailure({ code: 404, body: { reason: 'NotFound', message: 'the source VM is gone' } }, `reading VirtualMachine ${m.source.namespace}/${name}`, src.name);
      let vm: KubeObject | undefined;
      for (let i = 0; !vm; i++) {
        try {
          vm = await dst.create('VirtualMachine', ns, receiverVM(source, ref));
        } catch (e) {
          if (!isAlreadyExists(e)) throw apiFailure(e, what, dst.name);
          vm = await orFail(dst.get('VirtualMachine', ns, name), what, dst.name);
          if (vm && !isOwnedBy(vm.metadata, ref.workflowId)) throw notOurs(dst.name, 'VirtualMachine', ns, name, ownerOf(vm.metadata));
          if (!vm && i >= 2) throw apiFailure({ code: 503, body: { reason: 'Conflict', message: 'the VM keeps appearing and vanishing' } }, what, dst.name);
        }
      }
      return { cluster: dst.name, kind: 'VirtualMachine', namespace: ns, name, ...(vm.metadata.uid ? { uid: vm.metadata.uid } : {}) };
    },
  };
}
