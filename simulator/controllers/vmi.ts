/**
 * virt-controller + virt-handler for VirtualMachineInstances: the lifecycle Pending → Scheduling →
 * Scheduled → Running (receiver VMIs stop at WaitingForSync), and the migratability conditions computed
 * from the VMI's devices and the access modes of its claims.
 */
import type { ControllerContext } from './context.js';
import { type Condition, FINAL_VMI_PHASES, getPath, isReceiver, now, setCondition, VMI_FINALIZER } from './kubevirt.js';
import type { KubeObject } from './kube.js';
import { splitKey } from './runtime.js';

interface Disk {
  name: string;
  shareable?: boolean;
  lun?: unknown;
}
interface Volume {
  name: string;
  dataVolume?: { name: string };
  persistentVolumeClaim?: { claimName: string };
}

export function claimNames(vmiSpec: unknown): { volume: string; claim: string }[] {
  const vols = getPath<Volume[]>(vmiSpec, 'volumes') ?? [];
  return vols.flatMap((v) => {
    const claim = v.dataVolume?.name ?? v.persistentVolumeClaim?.claimName;
    return claim ? [{ volume: v.name, claim }] : [];
  });
}

/** LiveMigratable and StorageLiveMigratable, as virt-handler computes them (disk rules per the user guide). */
export function migratability(ctx: ControllerContext, vmi: KubeObject): Condition[] {
  const s = vmi.spec;
  const ns = vmi.metadata.namespace;
  const disks = getPath<Disk[]>(s, 'domain.devices.disks') ?? [];
  const blockers: string[] = [];
  for (const d of disks) {
    if (d.shareable) blockers.push(`DisksNotLiveMigratable: disk ${d.name} is shareable`);
    if (d.lun) blockers.push(`DisksNotLiveMigratable: disk ${d.name} is a LUN`);
  }
  if ((getPath<unknown[]>(s, 'domain.devices.filesystems') ?? []).length) blockers.push('VirtIOFSNotLiveMigratable: VMI uses virtiofs');
  if ((getPath<unknown[]>(s, 'domain.devices.hostDevices') ?? []).length) blockers.push('HostDeviceNotLiveMigratable: VMI uses a host device');
  for (const i of getPath<Record<string, unknown>[]>(s, 'domain.devices.interfaces') ?? []) {
    if (i.sriov) blockers.push(`InterfaceNotLiveMigratable: interface ${String(i.name)} is SR-IOV`);
  }
  const storage: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'> = blockers.length
    ? { type: 'StorageLiveMigratable', status: 'False', reason: 'NotMigratable', message: blockers.join(', ') }
    : { type: 'StorageLiveMigratable', status: 'True' };

  const notShared = claimNames(s).filter(({ claim }) => {
    const pvc = ctx.get('PersistentVolumeClaim', ns, claim);
    const modes = getPath<string[]>(pvc, 'status.accessModes') ?? getPath<string[]>(pvc, 'spec.accessModes') ?? [];
    return !modes.includes('ReadWriteMany');
  });
  // Bridge binding on the pod network cannot be live migrated (KubeVirt's InterfaceNotLiveMigratable).
  const podNets = new Set((getPath<{ name: string; pod?: unknown }[]>(s, 'networks') ?? []).filter((n) => n.pod).map((n) => n.name));
  const bridged = (getPath<Record<string, unknown>[]>(s, 'domain.devices.interfaces') ?? []).find((i) => i.bridge && podNets.has(String(i.name)));
  const live: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'> = bridged
    ? {
        type: 'LiveMigratable',
        status: 'False',
        reason: 'InterfaceNotLiveMigratable',
        message: `cannot migrate VMI which does not use masquerade, bridge with kubevirt.io/allow-pod-bridge-network-live-migration VM annotation or a migratable plugin to connect to the pod network`,
      }
    : notShared.length
      ? {
          type: 'LiveMigratable',
          status: 'False',
          reason: 'DisksNotLiveMigratable',
          message: `cannot migrate VMI: PVC ${notShared[0]!.claim} is not shared, live migration requires that all PVCs must be shared (using ReadWriteMany access mode)`,
        }
      : { type: 'LiveMigratable', status: 'True' };
  let list = getPath<Condition[]>(vmi, 'status.conditions') ?? [];
  list = setCondition(list, live);
  list = setCondition(list, storage);
  return list;
}

const NEXT: Record<string, string> = { '': 'Pending', Pending: 'Scheduling', Scheduling: 'Scheduled', Scheduled: 'Running' };

export function startVMIController(ctx: ControllerContext): void {
  let ip = 10;
  const q = ctx.queue('virt-handler', async (key) => {
    const { namespace, name } = splitKey(key);
    const vmi = ctx.get('VirtualMachineInstance', namespace, name);
    if (!vmi) return;
    if (vmi.metadata.deletionTimestamp) {
      // Shut the domain down, then let the object go.
      const finalizers = (vmi.metadata.finalizers ?? []).filter((f) => f !== VMI_FINALIZER);
      if (finalizers.length !== (vmi.metadata.finalizers ?? []).length) {
        await ctx.client.update({ ...vmi, metadata: { ...vmi.metadata, finalizers } });
      }
      return;
    }
    const phase = String(getPath(vmi, 'status.phase') ?? '');
    if (FINAL_VMI_PHASES.has(phase)) return;
    const status = { ...((vmi.status as Record<string, unknown>) ?? {}) };
    const transitions = [...(getPath<{ phase: string }[]>(vmi, 'status.phaseTransitionTimestamps') ?? [])];
    const moveTo = (p: string) => {
      status.phase = p;
      transitions.push({ phase: p, phaseTransitionTimestamp: now() } as { phase: string });
      status.phaseTransitionTimestamps = transitions;
    };
    let requeue: number | undefined;
    if (phase === 'Pending' && isReceiver(vmi)) {
      moveTo('WaitingForSync');
      status.nodeName = `${ctx.cluster}-node-1`;
    } else if (NEXT[phase]) {
      moveTo(NEXT[phase]!);
      if (status.phase === 'Scheduled') status.nodeName = `${ctx.cluster}-node-1`;
      if (status.phase === 'Running') {
        status.interfaces = (getPath<Record<string, unknown>[]>(vmi, 'spec.domain.devices.interfaces') ?? []).map((i, n) => ({
          name: i.name,
          mac: i.macAddress ?? `02:00:00:00:${(ip % 256).toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}`,
          ipAddress: `10.128.0.${ip % 250}`,
          ipAddresses: [`10.128.0.${ip % 250}`],
          interfaceName: `eth${n}`,
        }));
        ip++;
      }
      if (status.phase !== 'Running') requeue = ctx.timing.vmiStepMs;
    }
    const conds = migratability(ctx, { ...vmi, status });
    const ready = status.phase === 'Running';
    status.conditions = setCondition(conds, ready ? { type: 'Ready', status: 'True' } : { type: 'Ready', status: 'False', reason: 'PodNotReady' });
    // The VMI has no status subresource: status goes with the object, as virt-handler writes it.
    if (JSON.stringify(status) !== JSON.stringify(vmi.status ?? {})) await ctx.client.update({ ...vmi, status });
    return requeue ? { requeueAfterMs: requeue } : undefined;
  });
  ctx.watch('VirtualMachineInstance', q);
  // A claim changing access mode changes LiveMigratable of the VMIs that use it.
  ctx.informers.PersistentVolumeClaim.on((pvc) => {
    for (const vmi of ctx.informers.VirtualMachineInstance.list((v) => v.metadata.namespace === pvc.metadata.namespace)) {
      if (claimNames(vmi.spec).some((c) => c.claim === pvc.metadata.name)) q.add(`${vmi.metadata.namespace}/${vmi.metadata.name}`);
    }
  });
}
