/**
 * Stalls and operator control, end to end (acceptance 3 and 4): a partition between the clusters
 * stalls the migration within the handshake deadline with a diagnosis; retry after healing succeeds
 * with a new migration ID; cancel rolls back on real clusters. Every other decision path (extend,
 * fallbacks, refusals, cancel in each phase, past cutover) is covered in seconds by the time-skipping
 * suite (test/workflows/migrate-vm.test.ts).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { type MigrationResult } from '../../workflows/contract.js';
import { cancelUpdate, retryUpdate, statusQuery } from '../../workflows/messages.js';
import { input, startMigration, startStack, waitForPhase, type Stack } from '../support/e2e.js';
import { clients, eventually, kubevirt, path, simControl } from '../support/sim.js';
import { diff, snapshot } from '../support/snapshot.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});
afterEach(async () => {
  for await (const wf of stack.client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
    await stack.client.workflow
      .getHandle(wf.workflowId)
      .terminate('test cleanup')
      .catch(() => {});
  }
  await stack.sim.partition(false);
  await simControl(stack.sim.destination, 'faults', 'DELETE');
});

async function sourceRunning(vm: string) {
  const k = kubevirt(clients(stack.sim, 'source'));
  assert.equal(path(await k.get('virtualmachineinstances', 'demo', vm), 'status.phase'), 'Running');
  assert.notEqual(path(await k.get('virtualmachines', 'demo', vm), 'spec.runStrategy'), 'Halted');
}

describe('stall detection and operator control', () => {
  it('stalls on a partition with a diagnosis naming the sync address; heal + retry succeeds with a new migration ID', async () => {
    await stack.sim.partition(true);
    const handle = await startMigration(stack, input('web-01', { options: { handshakeTimeout: '3s' } }));
    await waitForPhase(handle, 'Synchronizing', 30_000);
    const t0 = Date.now();
    await waitForPhase(handle, 'Stalled', 15_000);
    assert.ok(Date.now() - t0 < 3000 + 6000, `stalled after ${Date.now() - t0} ms`);
    const s = await handle.query(statusQuery);
    assert.equal(s.stall?.phase, 'Synchronizing');
    assert.equal(s.stall?.deadline, 'handshake');
    assert.match(s.stall!.diagnosis, new RegExp(`cannot reach the destination's synchronization address ${stack.sim.destination.sync.address()!.replace(/\./g, '\\.')}`));
    const firstId = s.migrationId;
    // Findable as "all stalled migrations" through the search attribute.
    const stalled = await eventually('listed as stalled', async () => {
      const ids: string[] = [];
      for await (const wf of stack.client.workflow.list({ query: 'FerryStalled = true' })) ids.push(wf.workflowId);
      return ids.includes(handle.workflowId) ? ids : undefined;
    });
    assert.ok(stalled.includes(handle.workflowId));

    await stack.sim.partition(false);
    const answer = await handle.executeUpdate(retryUpdate, { args: [{ reason: 'partition healed' }] });
    assert.match(answer.message, /retrying/);
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 2);
    assert.notEqual(result.migrationId, firstId);
    const history = (await handle.query(statusQuery)).history;
    assert.deepEqual(history.map((h) => h.phase).slice(history.findIndex((h) => h.phase === 'Stalled')), [
      'Stalled',
      'RollingBack',
      'CreatingPrerequisites',
      'CreatingTarget',
      'CreatingMigrations',
      'Synchronizing',
      'Finalizing',
      'Succeeded',
    ]);
    assert.equal(history.find((h) => h.phase === 'RollingBack')?.note, 'retry: partition healed');
  });

  it('cancel rolls back: the source keeps running and the destination holds exactly what it held before', async () => {
    const before = snapshot(stack.sim.destination, 'demo');
    await stack.sim.partition(true);
    const handle = await startMigration(stack, input('db-01', { options: { handshakeTimeout: '2s' } }));
    await waitForPhase(handle, 'Stalled', 40_000);
    const answer = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'change window over' }] });
    assert.match(answer.message, /rolling back/);
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'RolledBack');
    assert.equal(result.reason, 'change window over');
    await sourceRunning('db-01');
    assert.deepEqual(diff(before, snapshot(stack.sim.destination, 'demo')), []);
    assert.deepEqual((await kubevirt(clients(stack.sim, 'source')).list('virtualmachineinstancemigrations', 'demo')).length, 0);
  });

  it('a Temporal cancellation means cancel: rolled back, source running, workflow Cancelled', async () => {
    await stack.sim.partition(true);
    const handle = await startMigration(stack, input('cache-01', { options: { handshakeTimeout: '30s' } }));
    await waitForPhase(handle, 'Synchronizing', 30_000);
    await handle.cancel();
    await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError && /cancel/i.test(String(e.cause?.name ?? e.cause?.message)));
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    await sourceRunning('cache-01');
    assert.equal(await kubevirt(clients(stack.sim, 'destination')).tryGet('virtualmachines', 'demo', 'cache-01'), undefined);
    assert.deepEqual(
      (await handle.query(statusQuery)).history.slice(-2).map((h) => [h.phase, h.note]),
      [
        ['RollingBack', 'the workflow was cancelled'],
        ['RolledBack', 'the workflow was cancelled'],
      ],
    );
  });
});
