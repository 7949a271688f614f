/**
 * The VirtualMachineInstanceMigration pair: the target (receive) on the destination first, then, once
 * it advertises its synchronization address, the source (sendTo) on the source cluster. Names are
 * derived from the attempt's migration ID, so creating twice is harmless.
 */
import type { CreatedObject } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { apiFailure, isAlreadyExists, notOurs } from './kube/errors.js';
import type { KubeObject } from './kube/kinds.js';
import { isOwnedBy, ownedMeta, ownerOf, vmimName } from './labels.js';

async function ensureVMIM(c: ClusterClient, ref: AttemptRef, namespace: string, body: KubeObject): Promise<CreatedObject> {
  const name = body.metadata.name;
  const what = `creating VirtualMachineInstanceMigration ${namespace}/${name}`;
  let obj: KubeObject | undefined;
  try {
    obj = await c.create('VirtualMachineInstanceMigration', namespace, body);
  } catch (e) {
    if (!isAlreadyExists(e)) throw apiFailure(e, what, c.name);
    obj = await c.get('VirtualMachineInstanceMigration', namespace, name).catch((err) => {
      throw apiFailure(err, what, c.name);
    });
    if (!obj) throw apiFailure(e, what, c.name);
    if (!isOwnedBy(obj.metadata, ref.workflowId)) throw notOurs(c.name, 'VirtualMachineInstanceMigration', namespace, name, ownerOf(obj.metadata));
  }
  return { cluster: c.name, kind: 'VirtualMachineInstanceMigration', namespace, name, ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}) };
}

export function migrationActivities(deps: ActivityDeps) {
  return {
    async createTargetMigration(ref: AttemptRef): Promise<CreatedObject> {
      const m = ref.migration;
      const c = deps.clusters.get(m.destination.cluster);
      const name = vmimName(m.source.name, ref.migrationId, 'target');
      return ensureVMIM(c, ref, m.destination.namespace, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstanceMigration',
        metadata: { name, namespace: m.destination.namespace, ...ownedMeta(ref.workflowId, { attempt: ref.attempt, migrationId: ref.migrationId }) },
        spec: { vmiName: m.source.name, receive: { migrationID: ref.migrationId } },
      });
    },

    async createSourceMigration(ref: AttemptRef, connectURL: string): Promise<CreatedObject> {
      const m = ref.migration;
      const c = deps.clusters.get(m.source.cluster);
      const name = vmimName(m.source.name, ref.migrationId, 'source');
      return ensureVMIM(c, ref, m.source.namespace, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstanceMigration',
        metadata: { name, namespace: m.source.namespace, ...ownedMeta(ref.workflowId, { attempt: ref.attempt, migrationId: ref.migrationId }) },
        spec: { vmiName: m.source.name, sendTo: { migrationID: ref.migrationId, connectURL } },
      });
    },
  };
}
