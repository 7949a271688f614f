/**
 * An operator's decision (retry, cancel, extend), delivered once. The update carries an ID chosen here,
 * so when the call fails in transit — the worker died holding the workflow task that carried it, the
 * frontend restarted, the RPC timed out — resending it is the same update, which Temporal deduplicates,
 * never a second retry or cancel. Found by the proof suite's kill scenarios (test/proof/kill/).
 */
import { randomUUID } from 'node:crypto';
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError, type WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';

/** How long a decision is resent: a fresh worker takes over a dead one's task within seconds. */
export const DELIVERY_WINDOW_MS = 60_000;

/** gRPC codes that no resend can change: a bad request, a missing workflow, no permission, no credentials. */
const FINAL_CODES = new Set([
  3 /* INVALID_ARGUMENT */, 5 /* NOT_FOUND */, 7 /* PERMISSION_DENIED */, 9 /* FAILED_PRECONDITION */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */,
]);

function inTransit(e: unknown): boolean {
  if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  if (!(e instanceof ServiceError)) return false;
  const code = (e.cause as { code?: unknown } | undefined)?.code;
  return typeof code !== 'number' || !FINAL_CODES.has(code);
}

export async function deliverUpdate<Ret, Arg>(
  handle: WorkflowHandle,
  update: UpdateDefinition<Ret, [Arg]>,
  args: [Arg],
  { windowMs = DELIVERY_WINDOW_MS, onResend }: { windowMs?: number; onResend?: (error: unknown) => void } = {},
): Promise<Ret> {
  const updateId = `ferry-${update.name}-${randomUUID()}`;
  const giveUpAt = Date.now() + windowMs;
  for (let delayMs = 500; ; delayMs = Math.min(delayMs * 2, 5_000)) {
    try {
      return await handle.executeUpdate(update, { updateId, args });
    } catch (e) {
      if (!inTransit(e) || Date.now() + delayMs > giveUpAt) throw e;
      onResend?.(e);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
