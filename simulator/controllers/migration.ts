/**
 * virt-controller's VirtualMachineInstanceMigration phase machines for the two sides of a
 * decentralized migration (research §4.1). The handshake facts they wait for (the peer's
 * `migrationUID`, the target's node address, `startTimestamp`, `completed`) arrive in the VMI's
 * `status.migrationState` from the synchronization controller; the KubeVirt CR's sync addresses are
 * copied into every VMIM; a VMI's DecentralizedLiveMigrationFailure condition is mirrored onto the
 * VMIM as `decentralizedMigrationBlocked`. There is deliberately no timeout in WaitingForSync or
 * Synchronizing: KubeVirt has none.
 */
import type { ControllerContext } from './context.js';
import {
  type Condition,
  FINAL_VMIM_PHASES,
  getPath,
  KUBEVIRT_CR,
  KUBEVIRT_NAMESPACE,
  now,
  removeCondition,
  setCondition,
  VMIM_FINALIZER,
  vmimRole,
  WAITING_FOR_SYNC_MESSAGE,
} from './kubevirt.js';
import type { KubeObject } from './kube.js';
import { splitKey } from './runtime.js';

export const VMI_SYNC_FAILURE = 'DecentralizedLiveMigrationFailure';
export const VMIM_BLOCKED = 'decentralizedMigrationBlocked';
export const BLOCKED_REASON = 'DecentralizedNotLiveMigratable';

type MigrationState = Record<string, unknown> & {
  migrationUid?: string;
  sourceState?: Record<string, unknown>;
  targetState?: Record<string, unknown>;
  startTimestamp?: string;
  completed?: boolean;
  failed?: boolean;
  failureReason?: string;
  abortRequested?: boolean;
  abortStatus?: string;
};

const STEPS = ['Pending', 'Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady'];

/** What must have arrived before a side leaves `phase` (the predicates of research §4.1). */
function gate(role: 'source' | 'target', phase: string, ms: MigrationState, vmi: KubeObject): boolean {
  switch (phase) {
    case 'WaitingForSync':
      return !!ms.sourceState?.migrationUID;
    case 'Synchronizing':
      return !!ms.targetState?.migrationUID && !!ms.sourceState?.migrationUID;
    case 'Pending':
      return role === 'target' || getPath(vmi, 'status.phase') === 'Running';
    case 'Scheduling':
      return role === 'target' || !!ms.targetState?.pod;
    case 'PreparingTarget':
      return !!ms.targetState?.nodeAddress;
    case 'TargetReady':
      return !!ms.startTimestamp;
    case 'Running':
      return ms.completed === true && ms.failed !== true;
    default:
      return true;
  }
}

function nextPhase(phase: string): string {
  if (phase === 'WaitingForSync' || phase === 'Synchronizing') return 'Pending';
  if (phase === 'TargetReady') return 'Running';
  if (phase === 'Running') return 'Succeeded';
  const i = STEPS.indexOf(phase);
  return STEPS[i + 1] ?? phase;
}

export function startMigrationController(ctx: ControllerContext): void {
  const q = ctx.queue('virt-controller-migration', async (key) => {
    const { namespace, name } = splitKey(key);
    const vmim = ctx.get('VirtualMachineInstanceMigration', namespace, name);
    if (!vmim) return;
    const role = vmimRole(vmim);
    const vmiName = String(getPath(vmim, 'spec.vmiName') ?? '');
    const vmi = ctx.get('VirtualMachineInstance', namespace, vmiName);
    const phase = String(getPath(vmim, 'status.phase') ?? '');

    if (vmim.metadata.deletionTimestamp) return finalizeDeletion(ctx, vmim, vmi, phase);
    if (!vmim.metadata.finalizers?.includes(VMIM_FINALIZER)) {
      await ctx.client.update({ ...vmim, metadata: { ...vmim.metadata, finalizers: [...(vmim.metadata.finalizers ?? []), VMIM_FINALIZER] } });
      return;
    }
    if (FINAL_VMIM_PHASES.has(phase) || role === 'local') return;

    const status: Record<string, unknown> = { ...((vmim.status as object) ?? {}) };
    const kv = ctx.get('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR);
    status.synchronizationAddresses = getPath<string[]>(kv, 'status.synchronizationAddresses') ?? [];
    const ms = (getPath<MigrationState>(vmi, 'status.migrationState') ?? {}) as MigrationState;
    const ours = ms.migrationUid === vmim.metadata.uid;
    let requeue: number | undefined;

    const vmiPhase = String(getPath(vmi, 'status.phase') ?? '');
    const failWith = (reason: string) => {
      status.phase = 'Failed';
      pushTransition(status, 'Failed');
      status.migrationState = { ...ms, failed: true, failureReason: reason };
    };
    const storage = (getPath<Condition[]>(vmi, 'status.conditions') ?? []).find((c) => c.type === 'StorageLiveMigratable');
    if (!vmi) failWith(`VMI ${namespace}/${vmiName} does not exist`);
    else if (phase === '' && role === 'source' && storage?.status === 'False') {
      // Decentralized migration copies every disk; what cannot be copied (shareable, LUN, virtiofs) fails it.
      failWith(`VMI is not storage live migratable: ${storage.message ?? storage.reason ?? ''}`);
    } else if (ours && ms.failed) failWith(String(ms.failureReason ?? 'migration failed'));
    else if (phase === '') {
      status.phase = role === 'source' ? 'Synchronizing' : 'WaitingForSync';
      pushTransition(status, String(status.phase));
      await claimVMI(ctx, vmi, vmim, role, String((status.synchronizationAddresses && (status.synchronizationAddresses as string[])[0]) || ''));
    } else if (!ours) {
      // Another migration took over this VMI (or its state was cleared): this one cannot proceed.
      if (vmiPhase !== '' && phase !== 'WaitingForSync' && phase !== 'Synchronizing') failWith('VMI migration state was cleared or taken over by another migration');
    } else if (gate(role, phase, ms, vmi)) {
      status.phase = nextPhase(phase);
      pushTransition(status, String(status.phase));
      if (status.phase === 'Succeeded') status.migrationState = ms;
      if (!['Running', 'Succeeded'].includes(String(status.phase))) requeue = ctx.timing.migrationStepMs;
      if (role === 'target' && status.phase === 'PreparingTarget') await publishTargetAddress(ctx, vmi);
    }

    // Mirror the VMI's sync failure (or the target's benign waiting text) onto the VMIM.
    let conds = (getPath<Condition[]>(vmim, 'status.conditions') ?? []).slice();
    const failure = (getPath<Condition[]>(vmi, 'status.conditions') ?? []).find((c) => c.type === VMI_SYNC_FAILURE && c.status === 'True');
    const waiting = role === 'target' && status.phase === 'WaitingForSync';
    if (failure && ours) conds = setCondition(conds, { type: VMIM_BLOCKED, status: 'True', reason: BLOCKED_REASON, message: failure.message ?? '' });
    else if (waiting) conds = setCondition(conds, { type: VMIM_BLOCKED, status: 'True', reason: BLOCKED_REASON, message: WAITING_FOR_SYNC_MESSAGE });
    else conds = removeCondition(conds, VMIM_BLOCKED);
    status.conditions = conds;

    if (JSON.stringify(status) !== JSON.stringify(vmim.status ?? {})) await ctx.client.updateStatus({ ...vmim, status });
    return requeue ? { requeueAfterMs: requeue } : undefined;
  });
  ctx.watch('VirtualMachineInstanceMigration', q);
  ctx.watch('KubeVirt', q, () => undefined);
  // VMI changes (handshake fields, conditions) move the VMIMs that point at it.
  ctx.informers.VirtualMachineInstance.on((vmi) => {
    for (const m of ctx.informers.VirtualMachineInstanceMigration.list(
      (m) => m.metadata.namespace === vmi.metadata.namespace && getPath(m, 'spec.vmiName') === vmi.metadata.name,
    )) {
      q.add(`${m.metadata.namespace}/${m.metadata.name}`);
    }
  });
}

function pushTransition(status: Record<string, unknown>, phase: string): void {
  const list = (status.phaseTransitionTimestamps as object[] | undefined) ?? [];
  status.phaseTransitionTimestamps = [...list, { phase, phaseTransitionTimestamp: now() }];
}

/** Start a new migration state on the VMI for this VMIM, as each side's controller does on entry. */
async function claimVMI(ctx: ControllerContext, vmi: KubeObject, vmim: KubeObject, role: 'source' | 'target', localSyncAddress: string): Promise<void> {
  const uid = vmim.metadata.uid!;
  const common = {
    migrationUID: uid,
    virtualMachineInstanceUID: vmi.metadata.uid,
    domainName: vmi.metadata.name,
    domainNamespace: vmi.metadata.namespace,
    node: `${ctx.cluster}-node-1`,
    pod: `virt-launcher-${vmi.metadata.name}-${uid.slice(0, 5)}`,
    syncAddress: localSyncAddress,
  };
  const ms: MigrationState =
    role === 'source'
      ? { migrationUid: uid, sourceState: { ...common, nodeSelectors: {} }, targetState: { syncAddress: String(getPath(vmim, 'spec.sendTo.connectURL')) } }
      : { migrationUid: uid, targetState: common };
  let conds = (getPath<Condition[]>(vmi, 'status.conditions') ?? []).slice();
  if (role === 'target') conds = setCondition(conds, { type: VMI_SYNC_FAILURE, status: 'True', reason: BLOCKED_REASON, message: WAITING_FOR_SYNC_MESSAGE });
  else conds = removeCondition(conds, VMI_SYNC_FAILURE);
  // VMI status has no subresource of its own: it is written with the whole object.
  await ctx.client.update({ ...vmi, status: { ...(vmi.status as object), migrationState: ms, conditions: conds } });
}

async function publishTargetAddress(ctx: ControllerContext, vmi: KubeObject): Promise<void> {
  const ms = (getPath<MigrationState>(vmi, 'status.migrationState') ?? {}) as MigrationState;
  const targetState = { ...(ms.targetState ?? {}), nodeAddress: '10.129.0.1', directMigrationNodePorts: { '49152': 0 } };
  await ctx.client.update({
    ...vmi,
    status: { ...(vmi.status as object), migrationState: { ...ms, targetState, targetNodeAddress: '10.129.0.1', targetNode: `${ctx.cluster}-node-1` } },
  });
}

/** Deleting a VMIM that has not finished aborts it: the VMI records the abort, then the finalizer goes. */
async function finalizeDeletion(ctx: ControllerContext, vmim: KubeObject, vmi: KubeObject | undefined, phase: string): Promise<void> {
  const ms = (getPath<MigrationState>(vmi, 'status.migrationState') ?? {}) as MigrationState;
  if (vmi && !FINAL_VMIM_PHASES.has(phase) && ms.migrationUid === vmim.metadata.uid && !ms.completed && !ms.abortRequested) {
    const status: Record<string, unknown> = {
      ...(vmi.status as object),
      migrationState: { ...ms, abortRequested: true, abortStatus: 'Succeeded', failed: true, failureReason: 'migration aborted', endTimestamp: now() },
      conditions: removeCondition((getPath<Condition[]>(vmi, 'status.conditions') ?? []).slice(), VMI_SYNC_FAILURE),
    };
    // A receiver VMI that will never receive is finished; its VM will create a fresh receiver.
    if (vmimRole(vmim) === 'target') status.phase = 'Failed';
    await ctx.client.update({ ...vmi, status });
  }
  const finalizers = (vmim.metadata.finalizers ?? []).filter((f) => f !== VMIM_FINALIZER);
  if (finalizers.length !== (vmim.metadata.finalizers ?? []).length) await ctx.client.update({ ...vmim, metadata: { ...vmim.metadata, finalizers } });
}
