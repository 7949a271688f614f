/**
 * Taking back what a migration made. `removeAttempt` clears one attempt (both VMIMs, the receiver VM,
 * the blank disks) so a retry can start fresh; `rollback` removes everything this workflow created on
 * the destination. Both find objects by ferry's ownership label, not by a list the workflow kept, so an
 * object created by an activity that crashed before returning is found too, and an object that existed
 * before the migration (not labelled) is never touched. Both wait until the objects are really gone.
 */
import { Context } from '@temporalio/activity';
import type { CreatedObject, Migration } from '../workflows/contract.js';
import type { ActivityDeps } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { apiFailure } from './kube/errors.js';
import { field, type KindName } from './kube/kinds.js';
import { ownedSelector } from './labels.js';

export interface RollbackResult {
  removed: CreatedObject[];
  /** Phase of the source VMI afterwards: it must still be Running. */
  sourceVMIPhase?: string;
}

/** Deletion order: migrations first (cancels KubeVirt's work), the VM before its disks. */
const ATTEMPT_KINDS: KindName[] = ['VirtualMachineInstanceMigration', 'VirtualMachine', 'DataVolume', 'PersistentVolumeClaim'];
const ALL_KINDS: KindName[] = [...ATTEMPT_KINDS, 'Secret', 'ConfigMap', 'VirtualMachineInstancetype', 'VirtualMachinePreference'];

async function sweep(c: ClusterClient, namespace: string, kinds: KindName[], selector: string): Promise<CreatedObject[]> {
  const removed: CreatedObject[] = [];
  for (const kind of kinds) {
    const items = await c.list(kind, namespace, selector).catch((e) => {
      throw apiFailure(e, `listing ${kind}s owned by this migration`, c.name, kind === 'Secret');
    });
    for (const o of items) {
      if (await c.delete(kind, namespace, o.metadata.name).catch((e) => {
        throw apiFailure(e, `deleting ${kind} ${namespace}/${o.metadata.name}`, c.name, kind === 'Secret');
      })) {
        removed.push({ cluster: c.name, kind, namespace, name: o.metadata.name, ...(o.metadata.uid ? { uid: o.metadata.uid } : {}) });
      }
    }
  }
  return removed;
}

/** Wait until nothing of these kinds carries our label (finalizers, GC of the receiver VMI). */
async function gone(c: ClusterClient, namespace: string, kinds: KindName[], selector: string, pollMs: number, vmName?: string): Promise<void> {
  const ctx = Context.current();
  for (;;) {
    const left: string[] = [];
    for (const kind of kinds) {
      const items = await c.list(kind, namespace, selector).catch(() => [{ metadata: { name: '?' } }]);
      left.push(...items.map((o) => `${kind}/${o.metadata.name}`));
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

export function cleanupActivities(deps: ActivityDeps) {
  /** Remove this migration's VMIMs on both sides and `kinds` on the destination; wait until they are gone. */
  async function take(input: { workflowId: string; migration: Migration }, kinds: KindName[]) {
    const m = input.migration;
    const src = deps.clusters.get(m.source.cluster);
    const dst = deps.clusters.get(m.destination.cluster);
    const sel = ownedSelector(input.workflowId);
    const removed = [
      ...(await sweep(src, m.source.namespace, ['VirtualMachineInstanceMigration'], sel)),
      ...(await sweep(dst, m.destination.namespace, kinds, sel)),
    ];
    await gone(dst, m.destination.namespace, kinds, sel, m.options.pollInterval, m.source.name);
    await gone(src, m.source.namespace, ['VirtualMachineInstanceMigration'], sel, m.options.pollInterval);
    return { removed, src };
  }

  return {
    async removeAttempt(input: { workflowId: string; migration: Migration }): Promise<CreatedObject[]> {
      return (await take(input, ATTEMPT_KINDS)).removed;
    },

    async rollback(input: { workflowId: string; migration: Migration }): Promise<RollbackResult> {
      const m = input.migration;
      const { removed, src } = await take(input, ALL_KINDS);
      const vmi = await src.get('VirtualMachineInstance', m.source.namespace, m.source.name).catch((e) => {
        throw apiFailure(e, 'reading the source VMI', src.name);
      });
      const phase = field<string>(vmi, 'status.phase');
      return { removed, ...(phase ? { sourceVMIPhase: phase } : {}) };
    },
  };
}
