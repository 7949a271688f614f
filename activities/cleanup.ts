/**
 * Taking back what a migration made. `removeAttempt` clears one attempt (both VMIMs, the receiver VM,
 * the blank disks) so a retry can start fresh; `rollback` removes everything this workflow created on
 * the destination. Both find objects by ferry's ownership label, not by a list the workflow kept, so an
 * object created by an activity that crashed before returning is found too, and an object that existed
 * before the migration (not labelled) is never touched, nor is a shared object (Secret, ConfigMap,
 * instancetype, preference) that another VM in the namespace has come to use. Both wait until the
 * objects are really gone.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type CreatedObject, FailureTypes, type Migration } from '../workflows/contract.js';
import type { ActivityDeps } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { orFail } from './kube/errors.js';
import { field, type KindName } from './kube/kinds.js';
import { isOwnedBy, ownedSelector } from './labels.js';
import { configMapNames, secretNames, typeRef } from './vm-spec.js';

export interface RollbackResult {
  removed: CreatedObject[];
  /** Objects this migration created that another VM now uses: left in place. */
  kept: CreatedObject[];
  /** Phase of the source VMI afterwards: it must still be Running. */
  sourceVMIPhase?: string;
}

/** Deletion order: migrations first (cancels KubeVirt's work), the VM before its disks. */
const ATTEMPT_KINDS: KindName[] = ['VirtualMachineInstanceMigration', 'VirtualMachine', 'DataVolume', 'PersistentVolumeClaim'];
const ALL_KINDS: KindName[] = [...ATTEMPT_KINDS, 'Secret', 'ConfigMap', 'VirtualMachineInstancetype', 'VirtualMachinePreference'];

const SHARED_KINDS = new Set<KindName>(['Secret', 'ConfigMap', 'VirtualMachineInstancetype', 'VirtualMachinePreference']);

/**
 * Shared objects (Secrets, ConfigMaps, instancetypes, preferences) that VMs other than this migration's
 * refer to: a later migration into the same namespace reused what this one copied, so it must stay.
 */
async function sharedInUse(c: ClusterClient, namespace: string, workflowId: string): Promise<Set<string>> {
  const vms = await orFail(c.list('VirtualMachine', namespace), 'listing VMs that may share objects', c.name);
  const used = new Set<string>();
  for (const vm of vms.filter((v) => !isOwnedBy(v.metadata, workflowId))) {
    for (const n of secretNames(vm)) used.add(`Secret/${n}`);
    for (const n of configMapNames(vm)) used.add(`ConfigMap/${n}`);
    const it = typeRef(vm, 'instancetype');
    const pref = typeRef(vm, 'preference');
    if (it?.namespaced) used.add(`VirtualMachineInstancetype/${it.name}`);
    if (pref?.namespaced) used.add(`VirtualMachinePreference/${pref.name}`);
  }
  return used;
}

async function sweep(
  c: ClusterClient,
  namespace: string,
  kinds: KindName[],
  selector: string,
  keep: Set<string> = new Set(),
  kept: CreatedObject[] = [],
): Promise<CreatedObject[]> {
  const removed: CreatedObject[] = [];
  for (const kind of kinds) {
    const items = await orFail(c.list(kind, namespace, selector), `listing ${kind}s owned by this migration`, c.name, kind === 'Secret');
    for (const o of items) {
      if (SHARED_KINDS.has(kind) && keep.has(`${kind}/${o.metadata.name}`)) {
        kept.push({ cluster: c.name, kind, namespace, name: o.metadata.name });
        continue;
      }
      if (await orFail(c.delete(kind, namespace, o.metadata.name), `deleting ${kind} ${namespace}/${o.metadata.name}`, c.name, kind === 'Secret')) {
        removed.push({ cluster: c.name, kind, namespace, name: o.metadata.name, ...(o.metadata.uid ? { uid: o.metadata.uid } : {}) });
      }
    }
  }
  return removed;
}

/** Wait until nothing of these kinds carries our label (finalizers, GC of the receiver VMI). */
async function gone(c: ClusterClient, namespace: string, kinds: KindName[], selector: string, pollMs: number, vmName?: string, keep: Set<string> = new Set()): Promise<void> {
  const ctx = Context.current();
  for (;;) {
    const left: string[] = [];
    for (const kind of kinds) {
      const items = await c.list(kind, namespace, selector).catch(() => [{ metadata: { name: '?' } }]);
      left.push(...items.map((o) => `${kind}/${o.metadata.name}`).filter((k) => !keep.has(k)));
    }
    // The receiver VMI is not labelled by ferry; it goes with its VM.
    if (vmName) {
      const vmi = await c.get('VirtualMachineInstance', namespace, vmName).catch(() => undefined);
      if (vmi && field(vmi, 'metadata.annotations')?.['kubevirt.io/create-migration-target' as never] === 'true') left.push(`VirtualMachineInstance/${vmName}`);
    }
    if (!left.length) return;
    ctx.heartbeat({ waitingForDeletion: left });
    await ctx.sleep(Math.min(pollMs, 1000));
  }
}

/**
 * Whether the guest already runs on the destination: the migration completed (a VMIM of this migration
 * Succeeded, or the destination VMI runs with a completed migration). KubeVirt goes on while ferry
 * cannot see a cluster, so a retry or cancel decided during an API outage can come after the cutover;
 * removing the destination VM then would destroy the only running copy of the VM (the source VMI is gone).
 * A cancel racing the end of a transfer meets the same (found by the chaos suite, seed 20261302).
 */
async function cutOver(src: ClusterClient, dst: ClusterClient, m: Migration, workflowId: string): Promise<string | undefined> {
  const ns = m.destination.namespace;
  const selector = ownedSelector(workflowId);
  const [targetVMIMs, sourceVMIMs, targetVMI, targetVM] = await Promise.all([
    orFail(dst.list('VirtualMachineInstanceMigration', ns, selector), 'listing the target VMIMs before removing them', dst.name),
    orFail(src.list('VirtualMachineInstanceMigration', m.source.namespace, selector), 'listing the source VMIMs before removing them', src.name),
    orFail(dst.get('VirtualMachineInstance', ns, m.source.name), 'reading the target VMI before removing it', dst.name),
    orFail(dst.get('VirtualMachine', ns, m.source.name), 'reading the target VM before removing it', dst.name),
  ]);
  const succeeded = [...targetVMIMs.map((v) => [dst.name, v] as const), ...sourceVMIMs.map((v) => [src.name, v] as const)].find(
    ([, v]) => field(v, 'status.phase') === 'Succeeded',
  );
  if (succeeded) return `VMIM ${succeeded[1].metadata.name} on ${succeeded[0]} has Succeeded`;
  const ours = isOwnedBy(targetVM?.metadata, workflowId);
  if (ours && field(targetVMI, 'status.phase') === 'Running' && field(targetVMI, 'status.migrationState.completed') === true) {
    return `the target VMI ${ns}/${m.source.name} on ${dst.name} is Running with a completed migration`;
  }
  // Once the VMIMs are deleted their phase is gone; a source that stopped while ours runs says the same.
  if (ours && field(targetVMI, 'status.phase') === 'Running') {
    const sourceVMI = await orFail(src.get('VirtualMachineInstance', m.source.namespace, m.source.name), 'reading the source VMI before removing anything', src.name);
    const sourcePhase = field<string>(sourceVMI, 'status.phase');
    if (sourcePhase !== 'Running') return `the source VMI is ${sourcePhase ?? 'gone'} and the target VMI Running`;
  }
  return undefined;
}

export function cleanupActivities(deps: ActivityDeps) {
  /**
   * Remove this migration's VMIMs on both sides and `kinds` on the destination; wait until they are
   * gone. Refused (PastCutover, before the receiver VM or anything else is touched) when KubeVirt
   * already handed the guest over: checked before, and again once the VMIMs — which stop KubeVirt's
   * work — are gone, so a hand-over that completed in between is seen too.
   */
  async function take(input: { workflowId: string; migration: Migration }, kinds: KindName[]) {
    const m = input.migration;
    const src = deps.clusters.get(m.source.cluster);
    const dst = deps.clusters.get(m.destination.cluster);
    const sel = ownedSelector(input.workflowId);
    const refuseIfCutOver = async () => {
      const done = await cutOver(src, dst, m, input.workflowId);
      if (done) {
        throw ApplicationFailure.create({
          type: FailureTypes.PastCutover,
          message: `the migration completed before ferry could undo it (${done}): the guest runs on ${m.destination.cluster}/${m.destination.namespace}; nothing was removed`,
          nonRetryable: true,
        });
      }
    };
    await refuseIfCutOver();
    const keep = kinds.some((k) => SHARED_KINDS.has(k)) ? await sharedInUse(dst, m.destination.namespace, input.workflowId) : new Set<string>();
    const kept: CreatedObject[] = [];
    const vmims = [
      ...(await sweep(src, m.source.namespace, ['VirtualMachineInstanceMigration'], sel)),
      ...(await sweep(dst, m.destination.namespace, ['VirtualMachineInstanceMigration'], sel)),
    ];
    await gone(dst, m.destination.namespace, ['VirtualMachineInstanceMigration'], sel, m.options.pollInterval);
    await gone(src, m.source.namespace, ['VirtualMachineInstanceMigration'], sel, m.options.pollInterval);
    await refuseIfCutOver();
    const rest = kinds.filter((k) => k !== 'VirtualMachineInstanceMigration');
    const removed = [...vmims, ...(await sweep(dst, m.destination.namespace, rest, sel, keep, kept))];
    // The VMIMs on both sides are already gone (waited above).
    await gone(dst, m.destination.namespace, rest, sel, m.options.pollInterval, m.source.name, keep);
    return { removed, kept, src };
  }

  return {
    async removeAttempt(input: { workflowId: string; migration: Migration }): Promise<CreatedObject[]> {
      return (await take(input, ATTEMPT_KINDS)).removed;
    },

    async rollback(input: { workflowId: string; migration: Migration }): Promise<RollbackResult> {
      const m = input.migration;
      const { removed, kept, src } = await take(input, ALL_KINDS);
      const vmi = await orFail(src.get('VirtualMachineInstance', m.source.namespace, m.source.name), 'reading the source VMI', src.name);
      const phase = field<string>(vmi, 'status.phase');
      return { removed, kept, ...(phase ? { sourceVMIPhase: phase } : {}) };
    },
  };
}
