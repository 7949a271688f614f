/**
 * virt-controller's handling of a VM's `spec.dataVolumeTemplates`: an existing DataVolume of a
 * template's name that no controller owns is adopted (ClaimMatchedDataVolumes); on start, each missing
 * one is created, owned by the VM, and the VMI waits until every one is populated (handleDataVolumes).
 * CDI then imports and binds them as any DataVolume.
 */
import type { ControllerContext } from './context.js';
import { getPath, LABEL_CREATED_BY } from './kubevirt.js';
import { errorCode, type KubeObject } from './kube.js';

/** CDI phases in which KubeVirt lets the VMI start. */
const POPULATED = new Set(['Succeeded', 'WaitForFirstConsumer', 'PendingPopulation']);

/** KubeVirt sets it so that CDI binds a claim of the DataVolume's name that already exists. */
const ALLOW_CLAIM_ADOPTION = 'cdi.kubevirt.io/allowClaimAdoption';

interface DataVolumeTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export function controllerRef(vm: KubeObject) {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: vm.metadata.name!, uid: vm.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

const templatesOf = (vm: KubeObject) => getPath<DataVolumeTemplate[]>(vm, 'spec.dataVolumeTemplates') ?? [];

/** As KubeVirt's CreateDataVolumeManifest: the template's metadata and spec, controlled by the VM. */
function dataVolumeFor(vm: KubeObject, t: DataVolumeTemplate): KubeObject {
  return {
    apiVersion: 'cdi.kubevirt.io/v1beta1',
    kind: 'DataVolume',
    metadata: {
      name: t.metadata!.name!,
      namespace: vm.metadata.namespace!,
      labels: { ...(t.metadata?.labels ?? {}), [LABEL_CREATED_BY]: vm.metadata.uid! },
      annotations: { ...(t.metadata?.annotations ?? {}), [ALLOW_CLAIM_ADOPTION]: 'true' },
      ownerReferences: [controllerRef(vm)],
    },
    spec: structuredClone(t.spec ?? {}),
  };
}

/** Create the template DataVolumes that are missing; true once all of them are populated. */
export async function dataVolumesReady(ctx: ControllerContext, vm: KubeObject): Promise<boolean> {
  let ready = true;
  for (const t of templatesOf(vm)) {
    const name = t.metadata?.name;
    if (!name) continue;
    const dv = ctx.get('DataVolume', vm.metadata.namespace, name);
    if (dv) {
      if (!POPULATED.has(String(getPath(dv, 'status.phase') ?? ''))) ready = false;
      continue;
    }
    ready = false;
    try {
      await ctx.client.create(dataVolumeFor(vm, t));
    } catch (e) {
      // Created by an earlier pass that the cache has not seen yet: its event will requeue the VM.
      if (errorCode(e) !== 409) throw e;
    }
  }
  return ready;
}

/** Make the VM the controller of the template DataVolumes that have none. */
export async function adoptDataVolumes(ctx: ControllerContext, vm: KubeObject): Promise<void> {
  for (const t of templatesOf(vm)) {
    const dv = t.metadata?.name ? ctx.get('DataVolume', vm.metadata.namespace, t.metadata.name) : undefined;
    if (!dv || dv.metadata.deletionTimestamp || dv.metadata.ownerReferences?.some((r) => r.controller)) continue;
    await ctx.client.update({ ...dv, metadata: { ...dv.metadata, ownerReferences: [...(dv.metadata.ownerReferences ?? []), controllerRef(vm)] } });
  }
}

/** Work-queue keys of the VMs a DataVolume matters to: its controller, or for an orphan the VMs whose templates name it. */
export function vmKeysFor(ctx: ControllerContext, dv: KubeObject): string[] {
  const ns = dv.metadata.namespace;
  const ref = dv.metadata.ownerReferences?.find((r) => r.controller);
  if (ref) return ref.kind === 'VirtualMachine' ? [`${ns}/${ref.name}`] : [];
  return ctx.informers.VirtualMachine.list((vm) => vm.metadata.namespace === ns && templatesOf(vm).some((t) => t.metadata?.name === dv.metadata.name)).map(
    (vm) => `${ns}/${vm.metadata.name}`,
  );
}
