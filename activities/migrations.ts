/**
 * The VirtualMachineInstanceMigration pair: the target (receive) on the destination first, then, once
 * it advertises its synchronization address, the source (sendTo) on the source cluster. Names are
 * derived from the attempt's migration ID, so creating twice is harmless.
 */
import type { CreatedObject } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { apiFailure, isAlreadyExists, notOurs, orFail } from './kube/errors.js';
import type { KubeObject } from './kube/kinds.js';
import { isOwnedBy, ownedMeta, ownerOf, vmimName } from './labels.js';

/** Create this attempt's VMIM on one side, or find it already created by this migration. */
async function ensureVMIM(c: ClusterClient, ref: AttemptRef, side: 'source' | 'target', namespace: string, role: Record<string, unknown>): Promise<CreatedObject> {
  const name = vmimName(ref.migration.source.name, ref.migrationId, side);
  const what = `creating VirtualMachineInstanceMigration ${namespace}/${name}`;
  const body: KubeObject = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstanceMigration',
    metadata: { name, namespace, ...ownedMeta(ref.workflowId, { attempt: ref.attempt, migrationId: ref.migrationId }) },
    spec: { vmiName: ref.migration.source.name, ...role },
  };
  let obj: KubeObject | undefined;
  try {
    obj = await c.create('VirtualMachineInstanceMigration', namespace, body);
  } catch (e) {
    if (!isAlreadyExists(e)) throw apiFailure(e, what, c.name);
    obj = await orFail(c.get('VirtualMachineInstanceMigration', namespace, name), what, c.name);
    if (!obj) throw apiFailure(e, what, c.name);
    if (!isOwnedBy(obj.metadata, ref.workflowId)) throw notOurs(c.name, 'VirtualMachineInstanceMigration', namespace, name, ownerOf(obj.metadata));
  }
  return { cluster: c.name, kind: 'VirtualMachineInstanceMigration', namespace, name, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) };
}

export function migrationActivities(deps: ActivityDeps) {
  return {
    async createTargetMigration(ref: AttemptRef): Promise<CreatedObject> {
      const m = ref.migration;
      return ensureVMIM(deps.clusters.get(m.destination.cluster), ref, 'target', m.destination.namespace, { receive: { migrationID: ref.migrationId } });
    },

    async createSourceMigration(ref: AttemptRef, connectURL: string): Promise<CreatedObject> {
      const m = ref.migration;
      return ensureVMIM(deps.clusters.get(m.source.cluster), ref, 'source', m.source.namespace, { sendTo: { migrationID: ref.migrationId, connectURL } });
    },
  };
}
