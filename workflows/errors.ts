/**
 * The most specific message of a failure: what a person should read, whether the failure came from
 * an activity, a child workflow, a workflow result or an update. Workflow-safe: it imports only
 * @temporalio/common, so the workflows, the CLI and the tests share it.
 */
import { ActivityFailure, ChildWorkflowFailure } from '@temporalio/common';

/**
 * Client errors that only say where a failure happened ("Workflow execution failed", "Workflow
 * Update failed"). They live in @temporalio/client, which workflow code must not import: matched by name.
 */
const CLIENT_WRAPPERS = new Set(['WorkflowFailedError', 'WorkflowUpdateFailedError']);

/** A failure that wraps the one that matters: its message is only "activity X failed" or the like. */
const isWrapper = (e: unknown): e is Error & { cause?: unknown } =>
  e instanceof ActivityFailure || e instanceof ChildWorkflowFailure || (e instanceof Error && CLIENT_WRAPPERS.has(e.name));

const messageOf = (e: unknown): string | undefined => {
  if (e instanceof Error) return e.message || undefined;
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message || undefined;
  return undefined;
};

export function errorMessage(e: unknown): string {
  let cur: unknown = e;
  let fallback = messageOf(e);
  while (isWrapper(cur) && cur.cause !== undefined && cur.cause !== null) {
    fallback = messageOf(cur) ?? fallback;
    cur = cur.cause;
  }
  return messageOf(cur) ?? fallback ?? String(cur);
}
