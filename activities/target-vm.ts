/**
 * The receiver VM on the destination: the source VM's spec with `runStrategy: WaitAsReceiver` and the
 * run strategy to restore afterwards in `kubevirt.io/restore-run-strategy` (also when the source uses
 * the deprecated `spec.running`, which Forklift forgets). Volumes, MACs and firmware stay identical:
 * the guest moves, its identity does not. `spec.dataVolumeTemplates` stay, each with a blank source
 * and the same storage as the DataVolume createPrerequisites made (disks.ts): KubeVirt adopts that
 * DataVolume, so the target VM owns its template disks as the source VM does, and standalone disks
 * stay standalone. Instancetype/preference revision names are stripped (the source's
 * ControllerRevisions do not exist there) and Multus networks are renamed through networkMap.
 */
import type { CreatedObject } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import { type DiskStorage, readSourceDisks, receiverTemplates, targetStorage } from './disks.js';
import { ensureOwned } from './ensure.js';
import { apiFailure, orFail } from './kube/errors.js';
import { apiVersion, field, Kinds, type KubeObject } from './kube/kinds.js';
import { ANN_RESTORE_RUN_STRATEGY, ownedMeta } from './labels.js';
import { prerequisiteMeta } from './prerequisites.js';
import { qualifiedNetwork } from './vm-spec.js';

export const RECEIVER_RUN_STRATEGY = 'WaitAsReceiver';

const dropKey = (k: string) => k === 'kubectl.kubernetes.io/last-applied-configuration' || k.startsWith('ferry.dev/');
const keep = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !dropKey(k)));

/**
 * The receiver VM's manifest for `ref`, built from the source VM. `storages` is the destination storage
 * of each template disk by name (as createPrerequisites made it); a template missing there gets the
 * storage its own spec gives. Pure.
 */
export function receiverVM(source: KubeObject, ref: AttemptRef, storages: ReadonlyMap<string, DiskStorage> = new Map()): KubeObject {
  const m = ref.migration;
  const spec = structuredClone(source.spec ?? {}) as Record<string, unknown>;
  delete spec.running;
  const templates = receiverTemplates(source, m.storageClassMap, storages, (name) => prerequisiteMeta(ref, name));
  if (templates) spec.dataVolumeTemplates = templates;
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
      const source = await orFail(src.get('VirtualMachine', m.source.namespace, name), `reading the source VM ${m.source.namespace}/${name}`, src.name);
      if (!source)
        throw apiFailure({ code: 404, body: { reason: 'NotFound', message: 'the source VM is gone' } }, `reading VirtualMachine ${m.source.namespace}/${name}`, src.name);
      // The template disks' storage, computed as createPrerequisites did (only VMs with templates read more).
      const storages = new Map<string, DiskStorage>();
      if (field<unknown[]>(source, 'spec.dataVolumeTemplates')?.length) {
        for (const d of await readSourceDisks(src, source)) {
          const s = d.template ? targetStorage(d, m.storageClassMap) : undefined;
          if (s) storages.set(d.name, s);
        }
      }
      const vm = await ensureOwned(dst, 'VirtualMachine', receiverVM(source, ref, storages), ref.workflowId);
      return { cluster: dst.name, kind: 'VirtualMachine', namespace: ns, name, ...(vm.metadata.uid ? { uid: vm.metadata.uid } : {}) };
    },
  };
}
