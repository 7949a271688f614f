/** client/deliver-update.ts: a decision lost in transit is resent as the same update, a refusal is not. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { deliverUpdate } from '../../client/deliver-update.js';
import { retryUpdate, type ControlAnswer } from '../../workflows/messages.js';

/** A handle whose executeUpdate fails with each of `failures` in turn, then answers; it records the calls. */
function handleFailing(...failures: Error[]) {
  const calls: { name: string; updateId?: string; args: unknown[] }[] = [];
  const handle = {
    executeUpdate: async (def: { name: string }, options: { updateId?: string; args: unknown[] }) => {
      calls.push({ name: def.name, updateId: options.updateId, args: options.args });
      const failure = failures.shift();
      if (failure) throw failure;
      return { accepted: true, message: 'retrying' } satisfies Partial<ControlAnswer>;
    },
  } as unknown as WorkflowHandle;
  return { handle, calls };
}

describe('deliverUpdate', () => {
  it('resends an update lost in transit under the same update ID', async () => {
    const { handle, calls } = handleFailing(new ServiceError('worker gone'), new ServiceError('again'));
    const resent: unknown[] = [];
    const answer = await deliverUpdate(handle, retryUpdate, [{ reason: 'healed' }], { onResend: (e) => resent.push(e) });
    assert.equal(answer.accepted, true);
    assert.equal(calls.length, 3);
    assert.equal(resent.length, 2);
    assert.match(calls[0]!.updateId!, /^ferry-retry-[0-9a-f-]{36}$/);
    assert.deepEqual(new Set(calls.map((c) => c.updateId)).size, 1, 'every resend carries the first call’s update ID');
    assert.deepEqual(calls[2]!.args, [{ reason: 'healed' }]);
  });

  it('does not resend a refusal, and gives up after its window', async () => {
    const refused = handleFailing(new WorkflowUpdateFailedError('not stalled', undefined));
    await assert.rejects(deliverUpdate(refused.handle, retryUpdate, [{}]), WorkflowUpdateFailedError);
    assert.equal(refused.calls.length, 1);
    const denied = handleFailing(new ServiceError('denied', { cause: Object.assign(new Error('PERMISSION_DENIED'), { code: 7 }) }));
    await assert.rejects(deliverUpdate(denied.handle, retryUpdate, [{}]), ServiceError);
    assert.equal(denied.calls.length, 1, 'no resend of what no resend can change');
    const down = handleFailing(...Array.from({ length: 10 }, () => new ServiceError('unavailable')));
    await assert.rejects(deliverUpdate(down.handle, retryUpdate, [{}], { windowMs: 1_000 }), ServiceError);
    assert.ok(down.calls.length >= 2 && down.calls.length <= 3, `${down.calls.length} calls in a 1 s window`);
  });

  it('gives each decision its own update ID', async () => {
    const first = handleFailing();
    const second = handleFailing();
    await deliverUpdate(first.handle, retryUpdate, [{}]);
    await deliverUpdate(second.handle, retryUpdate, [{}]);
    assert.notEqual(first.calls[0]!.updateId, second.calls[0]!.updateId);
  });
});
