/**
 * virt-controller for VirtualMachines: run strategies (including WaitAsReceiver), VMI creation from
 * the template (with the instancetype's guest memory and CPU, once the DataVolumes of
 * `dataVolumeTemplates` are populated), status and mirrored conditions, and the two
 * decentralized-migration rules: a source whose VMI migrated away is set to `Halted`, and a receiver
 * whose VMI became a normal running VMI gets the run strategy from `kubevirt.io/restore-run-strategy`.
 */
import type { ControllerContext } from './context.js';
import { adoptDataVolumes, controllerRef, dataVolumesReady, vmKeysFor } from './datavolumes.js';
import {
  ANN_MIGRATION_TARGET,
  ANN_RESTORE_RUN_STRATEGY,
  type Condition,
  FINAL_VMI_PHASES,
  FINAL_VMIM_PHASES,
  getPath,
  isReceiver,
  LABEL_CREATED_BY,
  runStrategyOf,
  VMI_FINALIZER,
} from './kubevirt.js';
import type { KubeObject } from './kube.js';
import { splitKey } from './runtime.js';

/** The VMI's memory and CPU from the VM's instancetype, as KubeVirt expands it at VMI creation. */
function instancetypeDomain(ctx: ControllerContext, vm: KubeObject): Record<string, unknown> {
  const ref = getPath<{ name: string; kind?: string }>(vm, 'spec.instancetype');
  if (!ref) return {};
  const namespaced = (ref.kind ?? '').toLowerCase() === 'virtualmachineinstancetype';
  const it = namespaced ? ctx.get('VirtualMachineInstancetype', vm.metadata.namespace, ref.name) : ctx.get('VirtualMachineClusterInstancetype', undefined, ref.name);
  // KubeVirt refuses to start a VM whose instancetype it cannot find; retry until it appears.
  if (!it) throw new Error(`${ref.kind ?? 'VirtualMachineClusterInstancetype'} ${ref.name} not found`);
  const guest = getPath<string>(it, 'spec.memory.guest');
  const cpus = getPath<number>(it, 'spec.cpu.guest');
  return { ...(guest ? { memory: { guest } } : {}), ...(cpus ? { cpu: { sockets: cpus, cores: 1, threads: 1 } } : {}) };
}

function vmiFor(ctx: ControllerContext, vm: KubeObject, receiver: boolean): KubeObject {
  const tmpl = getPath<{ metadata?: KubeObject['metadata']; spec?: Record<string, unknown> }>(vm, 'spec.template') ?? {};
  const spec = structuredClone(tmpl.spec ?? {});
  const domain = (spec.domain ??= {}) as Record<string, unknown>;
  Object.assign(domain, instancetypeDomain(ctx, vm));
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name: vm.metadata.name!,
      namespace: vm.metadata.namespace!,
      labels: { ...(tmpl.metadata?.labels ?? {}), [LABEL_CREATED_BY]: vm.metadata.uid! },
      annotations: { ...(tmpl.metadata?.annotations ?? {}), ...(receiver ? { [ANN_MIGRATION_TARGET]: 'true' } : {}) },
      finalizers: [VMI_FINALIZER],
      ownerReferences: [controllerRef(vm)],
    },
    spec,
  };
}

/** The source side of a decentralized migration that finished: the VMI left this cluster. */
function migratedAway(vmi: KubeObject): boolean {
  return (
    FINAL_VMI_PHASES.has(String(getPath(vmi, 'status.phase'))) &&
    getPath(vmi, 'status.migrationState.completed') === true &&
    !!getPath(vmi, 'status.migrationState.sourceState') &&
    getPath(vmi, 'status.migrationState.failed') !== true
  );
}

function printableStatus(vm: KubeObject, vmi: KubeObject | undefined, strategy: string, provisioning: boolean): string {
  if (vm.metadata.deletionTimestamp) return 'Terminating';
  if (strategy === 'WaitAsReceiver' && (!vmi || isReceiver(vmi))) return 'WaitingForReceiver';
  if (!vmi) return provisioning ? 'Provisioning' : 'Stopped';
  if (vmi.metadata.deletionTimestamp) return 'Stopping';
  const phase = String(getPath(vmi, 'status.phase') ?? '');
  if (phase === 'Running') {
    const ms = getPath<Record<string, unknown>>(vmi, 'status.migrationState');
    return ms && !ms.completed && !ms.failed && ms.startTimestamp ? 'Migrating' : 'Running';
  }
  if (phase === 'Succeeded' || phase === 'Failed') return phase === 'Succeeded' ? 'Stopped' : 'CrashLoopBackOff';
  return 'Starting';
}

const VM_NATIVE = new Set(['Ready', 'Failure', 'RestartRequired']);

export function startVMController(ctx: ControllerContext): void {
  const q = ctx.queue('virt-controller-vm', async (key) => {
    const { namespace, name } = splitKey(key);
    const vm = ctx.get('VirtualMachine', namespace, name);
    if (!vm || vm.metadata.deletionTimestamp) return;
    await adoptDataVolumes(ctx, vm);
    const vmi = ctx.get('VirtualMachineInstance', namespace, name);
    const strategy = runStrategyOf(vm);
    const vmiFinal = vmi ? FINAL_VMI_PHASES.has(String(getPath(vmi, 'status.phase'))) : false;
    let provisioning = false;
    // As virt-controller's startVMI: the VMI is created only once the template DataVolumes are populated.
    const start = async (receiver: boolean) => {
      if (await dataVolumesReady(ctx, vm)) await ctx.client.create(vmiFor(ctx, vm, receiver));
      else provisioning = true;
    };

    switch (strategy) {
      case 'Always':
      case 'RerunOnFailure':
      case 'Once':
        if (vmi && migratedAway(vmi)) {
          // The guest now runs in the other cluster: never restart it here.
          return void (await setRunStrategy(ctx, vm, 'Halted'));
        }
        if (!vmi) await start(false);
        else if (vmiFinal && strategy !== 'Once' && !vmi.metadata.deletionTimestamp) await ctx.client.delete('VirtualMachineInstance', namespace, name);
        break;
      case 'Halted':
        // A VMI that migrated away stays until its migrations have recorded the outcome: deleting it
        // first fails a slow source VMIM with "VMI does not exist" after a successful migration.
        if (vmi && migratedAway(vmi) && migrationPending(ctx, vmi)) break;
        if (vmi && !vmi.metadata.deletionTimestamp) await ctx.client.delete('VirtualMachineInstance', namespace, name);
        break;
      case 'WaitAsReceiver':
        if (!vmi) await start(true);
        else if (!isReceiver(vmi) && getPath(vmi, 'status.migrationState.completed') === true) {
          const restore = vm.metadata.annotations?.[ANN_RESTORE_RUN_STRATEGY] ?? 'Always';
          return void (await setRunStrategy(ctx, vm, restore));
        } else if (vmiFinal && !vmi.metadata.deletionTimestamp) {
          // A failed or aborted receiver is replaced by a fresh one: the VM waits again.
          await ctx.client.delete('VirtualMachineInstance', namespace, name);
        }
        break;
    }
    await updateStatus(ctx, vm, vmi, strategy, provisioning);
  });
  ctx.watch('VirtualMachine', q);
  ctx.watch('VirtualMachineInstance', q);
  ctx.informers.DataVolume.on((dv) => {
    for (const k of vmKeysFor(ctx, dv)) q.add(k);
  });
  ctx.watch('VirtualMachineInstanceMigration', q, (m) => `${m.metadata.namespace}/${String(getPath(m, 'spec.vmiName') ?? '')}`);
}

/** A migration of this VMI that has not reached a final phase yet. */
function migrationPending(ctx: ControllerContext, vmi: KubeObject): boolean {
  return (
    ctx.informers.VirtualMachineInstanceMigration.list(
      (m) =>
        m.metadata.namespace === vmi.metadata.namespace && getPath(m, 'spec.vmiName') === vmi.metadata.name && !FINAL_VMIM_PHASES.has(String(getPath(m, 'status.phase') ?? '')),
    ).length > 0
  );
}

async function setRunStrategy(ctx: ControllerContext, vm: KubeObject, strategy: string): Promise<void> {
  const spec: Record<string, unknown> = { ...(vm.spec as Record<string, unknown>), runStrategy: strategy };
  delete spec.running;
  await ctx.client.update({ ...vm, spec });
}

async function updateStatus(ctx: ControllerContext, vm: KubeObject, vmi: KubeObject | undefined, strategy: string, provisioning: boolean): Promise<void> {
  const vmiConds = getPath<Condition[]>(vmi, 'status.conditions') ?? [];
  const ready = vmiConds.find((c) => c.type === 'Ready')?.status === 'True' && !isReceiver(vmi ?? vm);
  const mirrored = vmiConds.filter((c) => !VM_NATIVE.has(c.type));
  const readyCond: Condition = ready
    ? { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: null }
    : { type: 'Ready', status: 'False', reason: vmi ? 'PodNotReady' : 'VMINotExists', lastProbeTime: null, lastTransitionTime: null };
  const status = {
    ...((vm.status as Record<string, unknown>) ?? {}),
    created: !!vmi,
    ready,
    printableStatus: printableStatus(vm, vmi, strategy, provisioning),
    runStrategy: strategy,
    conditions: [readyCond, ...mirrored],
  };
  if (JSON.stringify(status) !== JSON.stringify(vm.status ?? {})) await ctx.client.updateStatus({ ...vm, status });
}
