/**
 * The time-skipping test environment works here: Temporal's Java test server (tools/test-server.ts,
 * installed on first use) runs a workflow that sleeps 30 minutes in a few seconds of wall time, and
 * the message kinds ferry's workflows rely on (updates with validators, update-with-start, signals,
 * queries, cancellation) behave as on a real server. Wall time is asserted on purpose: skipping it is
 * the point.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { startTimeSkipping } from '../support/time-skipping.js';
import { bumpUpdate, noteSignal, sleepy, stateQuery } from './fixtures/sleepy-workflow.js';

const WORKFLOWS_PATH = fileURLToPath(new URL('./fixtures/sleepy-workflow.ts', import.meta.url));
const THIRTY_MINUTES_MS = 30 * 60_000;
const taskQueue = 'time-skipping-smoke';

describe('time-skipping test environment (Java test server)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let n = 0;
  const workflowId = (): string => `sleepy-${process.pid}-${++n}`;

  before(async () => {
    const started = Date.now();
    env = await startTimeSkipping({ log: (line) => void process.stderr.write(`${line}\n`) });
    const envMs = Date.now() - started;
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath: WORKFLOWS_PATH });
    running = worker.run();
    process.stderr.write(`time-skipping env started in ${envMs} ms (${env.address}); worker (bundling) in ${Date.now() - started - envMs} ms\n`);
  });

  after(async () => {
    if (worker) {
      worker.shutdown();
      await running;
    }
    await env?.teardown();
  });

  it('runs a workflow that sleeps 30 minutes in seconds of wall time', async () => {
    const started = Date.now();
    const result = await env.client.workflow.execute(sleepy, { taskQueue, workflowId: workflowId(), args: ['smoke'] });
    const wallMs = Date.now() - started;
    assert.equal(result.label, 'smoke');
    assert.ok(result.sleptMs >= THIRTY_MINUTES_MS, `workflow time slept: ${result.sleptMs} ms`);
    assert.ok(wallMs < 20_000, `wall time: ${wallMs} ms`);
  });

  it('delivers updates (validator included), signals and queries while time stands still, then skips', async () => {
    // Between start and result() the client does not skip time: the workflow stays in its sleep.
    const handle = await env.client.workflow.start(sleepy, { taskQueue, workflowId: workflowId(), args: ['messages'] });
    assert.equal(await handle.executeUpdate(bumpUpdate, { args: [2] }), 2);
    const accepted = await handle.startUpdate(bumpUpdate, { args: [3], waitForStage: 'ACCEPTED' });
    assert.equal(await accepted.result(), 5);
    await assert.rejects(handle.executeUpdate(bumpUpdate, { args: [-1] }), WorkflowUpdateFailedError);
    await handle.signal(noteSignal, 'hello');
    assert.deepEqual(await handle.query(stateQuery), { total: 5, notes: ['hello'] });
    const result = await handle.result();
    assert.deepEqual({ total: result.total, notes: result.notes }, { total: 5, notes: ['hello'] });
  });

  it('supports update-with-start', async () => {
    const startWorkflowOperation = new WithStartWorkflowOperation(sleepy, {
      taskQueue,
      workflowId: workflowId(),
      args: ['with-start'],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    assert.equal(await env.client.workflow.executeUpdateWithStart(bumpUpdate, { args: [7], startWorkflowOperation }), 7);
    const result = await (await startWorkflowOperation.workflowHandle()).result();
    assert.equal(result.total, 7);
  });

  it('cancels a sleeping workflow', async () => {
    const handle = await env.client.workflow.start(sleepy, { taskQueue, workflowId: workflowId(), args: ['cancel'] });
    await handle.executeUpdate(bumpUpdate, { args: [1] }); // the sleep has started
    await handle.cancel();
    const err = await handle.result().then(
      () => assert.fail('a cancelled workflow returned'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof CancelledFailure, String(err.cause));
  });

  it('moves workflow time with env.sleep', async () => {
    const handle = await env.client.workflow.start(sleepy, { taskQueue, workflowId: workflowId(), args: ['env-sleep'] });
    await handle.executeUpdate(bumpUpdate, { args: [1] });
    const before = await env.currentTimeMs();
    await env.sleep('31m');
    assert.ok((await env.currentTimeMs()) - before >= 31 * 60_000);
    // The timer has fired; the worker finishes the workflow without anyone awaiting its result.
    const deadline = Date.now() + 10_000;
    while ((await handle.describe()).status.name !== 'COMPLETED') {
      assert.ok(Date.now() < deadline, 'the workflow did not complete after env.sleep');
      await delay(50);
    }
  });
});
