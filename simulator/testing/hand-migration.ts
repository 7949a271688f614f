/**
 * A decentralized live migration done by hand through the Kubernetes API, the way the KubeVirt user
 * guide describes it: what ferry automates, used here to test the simulator on its own.
 */
import type { Simulator } from '../sim.js';
import { clients, eventually, kubevirt, path, type Clients } from './sim.js';

const bundle = async (c: Clients) => (await c.core.readNamespacedConfigMap({ namespace: 'kubevirt', name: 'kubevirt-ca' })).data?.['ca-bundle'] ?? '';

/** Write each cluster's CA into the other's `kubevirt-external-ca`, then wait until both trust each other. */
export async function syncCAs(sim: Simulator): Promise<void> {
  const src = clients(sim, 'source');
  const dst = clients(sim, 'destination');
  const [srcCA, dstCA] = [sim.source.kubevirtCA.certPem.trim(), sim.destination.kubevirtCA.certPem.trim()];
  for (const [c, peer] of [
    [dst, srcCA],
    [src, dstCA],
  ] as const) {
    const cm = await c.core.readNamespacedConfigMap({ namespace: 'kubevirt', name: 'kubevirt-external-ca' });
    await c.core.replaceNamespacedConfigMap({ namespace: 'kubevirt', name: 'kubevirt-external-ca', body: { ...cm, data: { 'ca-bundle': peer + '\n' } } });
  }
  await eventually('peer CAs merged into kubevirt-ca', async () => (await bundle(dst)).includes(srcCA) && (await bundle(src)).includes(dstCA));
}

export interface ReceiverOptions {
  sourceNamespace?: string;
  targetNamespace?: string;
  /** Run strategy to restore after the migration; defaults to the source VM's. */
  restore?: string;
}

/** Blank DataVolumes for the VM's disks and a `WaitAsReceiver` copy of the VM, on the destination. */
export async function prepareReceiver(sim: Simulator, name: string, opts: ReceiverOptions = {}, target: 'source' | 'destination' = 'destination'): Promise<void> {
  const srcNs = opts.sourceNamespace ?? 'demo';
  const dstNs = opts.targetNamespace ?? 'demo';
  const src = kubevirt(clients(sim, 'source'));
  const dstClients = clients(sim, target);
  const vm = await src.get('virtualmachines', srcNs, name);
  const spec = structuredClone(vm.spec as Record<string, unknown>);
  const volumes = path<{ dataVolume?: { name: string } }[]>(spec, 'template.spec.volumes') ?? [];
  for (const v of volumes) {
    if (!v.dataVolume) continue;
    const dv = (await clients(sim, 'source').custom.getNamespacedCustomObject({
      group: 'cdi.kubevirt.io',
      version: 'v1beta1',
      namespace: srcNs,
      plural: 'datavolumes',
      name: v.dataVolume.name,
    })) as Record<string, unknown>;
    await dstClients.custom.createNamespacedCustomObject({
      group: 'cdi.kubevirt.io',
      version: 'v1beta1',
      namespace: dstNs,
      plural: 'datavolumes',
      body: {
        apiVersion: 'cdi.kubevirt.io/v1beta1',
        kind: 'DataVolume',
        metadata: { name: v.dataVolume.name, annotations: { 'cdi.kubevirt.io/storage.usePopulator': 'true' } },
        spec: { source: { blank: {} }, storage: path(dv, 'spec.storage') },
      },
    });
  }
  // Namespaced instancetypes and preferences must exist next to the receiver VM.
  for (const [field, plural] of [
    ['instancetype', 'virtualmachineinstancetypes'],
    ['preference', 'virtualmachinepreferences'],
  ] as const) {
    const ref = spec[field] as { name: string; kind?: string } | undefined;
    if (!ref?.kind || ref.kind.includes('Cluster')) continue;
    const it = { group: 'instancetype.kubevirt.io', version: 'v1beta1', plural };
    const obj = (await clients(sim, 'source').custom.getNamespacedCustomObject({ ...it, namespace: srcNs, name: ref.name })) as Record<string, unknown>;
    try {
      await dstClients.custom.createNamespacedCustomObject({
        ...it,
        namespace: dstNs,
        body: { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: ref.name }, spec: obj.spec },
      });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
  }
  const restore = opts.restore ?? (spec.runStrategy as string | undefined) ?? (spec.running ? 'Always' : 'Halted');
  delete spec.running;
  spec.runStrategy = 'WaitAsReceiver';
  await kubevirt(dstClients).create('virtualmachines', dstNs, {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, annotations: { 'kubevirt.io/restore-run-strategy': restore } },
    spec,
  });
  await eventually('receiver VMI WaitingForSync', async () => path(await kubevirt(dstClients).tryGet('virtualmachineinstances', dstNs, name), 'status.phase') === 'WaitingForSync');
}

/** Target VMIM first; returns the sync address it advertises. */
export async function createTargetVMIM(sim: Simulator, vmi: string, migrationID: string, ns = 'demo', target: 'source' | 'destination' = 'destination'): Promise<string> {
  const k = kubevirt(clients(sim, target));
  await k.create('virtualmachineinstancemigrations', ns, {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { name: `${vmi}-target` },
    spec: { vmiName: vmi, receive: { migrationID } },
  });
  return eventually(
    'target VMIM sync address',
    async () => path<string[]>(await k.get('virtualmachineinstancemigrations', ns, `${vmi}-target`), 'status.synchronizationAddresses')?.[0],
  );
}

export async function createSourceVMIM(sim: Simulator, vmi: string, migrationID: string, connectURL: string, ns = 'demo'): Promise<void> {
  await kubevirt(clients(sim, 'source')).create('virtualmachineinstancemigrations', ns, {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { name: `${vmi}-source` },
    spec: { vmiName: vmi, sendTo: { migrationID, connectURL } },
  });
}

export const vmimPhase = async (sim: Simulator, cluster: 'source' | 'destination', ns: string, name: string) =>
  path<string>(await kubevirt(clients(sim, cluster)).tryGet('virtualmachineinstancemigrations', ns, name), 'status.phase');

export const blockedMessage = async (sim: Simulator, cluster: 'source' | 'destination', ns: string, name: string) => {
  const m = await kubevirt(clients(sim, cluster)).tryGet('virtualmachineinstancemigrations', ns, name);
  return (path<{ type: string; message?: string }[]>(m, 'status.conditions') ?? []).find((c) => c.type === 'decentralizedMigrationBlocked')?.message;
};
