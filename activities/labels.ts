/**
 * How ferry marks what it creates. A label value cannot hold a workflow ID ("migration/src/ns/vm"), so
 * objects carry a short stable hash of it as a label (selectable, used for ownership checks and
 * cleanup) and the readable ID as an annotation. Attempt-scoped objects also carry the migration ID.
 */
import { createHash } from 'node:crypto';
import type { ObjectMeta } from './kube/kinds.js';

export const LABEL_MIGRATION = 'ferry.dev/migration';
export const LABEL_ATTEMPT = 'ferry.dev/attempt';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const ANN_WORKFLOW_ID = 'ferry.dev/workflow-id';
export const ANN_MIGRATION_ID = 'ferry.dev/migration-id';
export const ANN_SOURCE = 'ferry.dev/source';

export const ANN_RESTORE_RUN_STRATEGY = 'kubevirt.io/restore-run-strategy';

export function migrationKey(workflowId: string): string {
  return createHash('sha256').update(workflowId).digest('hex').slice(0, 20);
}

export function ownedSelector(workflowId: string): string {
  return `${LABEL_MIGRATION}=${migrationKey(workflowId)}`;
}

/** Labels and annotations for an object this migration creates. */
export function ownedMeta(workflowId: string, extra: { attempt?: number; migrationId?: string; source?: string } = {}): Pick<ObjectMeta, 'labels' | 'annotations'> {
  return {
    labels: {
      [LABEL_MIGRATION]: migrationKey(workflowId),
      [LABEL_MANAGED_BY]: 'ferry',
      ...(extra.attempt !== undefined ? { [LABEL_ATTEMPT]: String(extra.attempt) } : {}),
    },
    annotations: {
      [ANN_WORKFLOW_ID]: workflowId,
      ...(extra.migrationId ? { [ANN_MIGRATION_ID]: extra.migrationId } : {}),
      ...(extra.source ? { [ANN_SOURCE]: extra.source } : {}),
    },
  };
}

export function isOwnedBy(meta: ObjectMeta | undefined, workflowId: string): boolean {
  return meta?.labels?.[LABEL_MIGRATION] === migrationKey(workflowId);
}

/** Who owns an object, for error messages. */
export function ownerOf(meta: ObjectMeta | undefined): string | undefined {
  return meta?.annotations?.[ANN_WORKFLOW_ID];
}

/** Deterministic VMIM name per attempt: safe to create twice. */
export function vmimName(vm: string, migrationId: string, side: 'source' | 'target'): string {
  return `${vm.slice(0, 200)}-ferry-${migrationId.slice(0, 8)}-${side}`;
}
