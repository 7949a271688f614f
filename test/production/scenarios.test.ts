/**
 * ferry on its production Temporal (PostgreSQL persistence and SQL visibility, the server built from
 * Go, docker-compose.temporal.yml's dynamic config), with workers as separate processes: one VM's
 * migration; a stall healed and retried; a worker killed mid-migration and replaced; two workers on
 * one task queue sharing a plan. Each outcome is read from the clusters and from Temporal's history.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { parse } from 'yaml';
import { fleetVmName } from '../../simulator/fleet.js';
import { migrationWorkflowId, type MigrationResult, TASK_QUEUE } from '../../workflows/contract.js';
import { retryUpdate, statusQuery } from '../../workflows/messages.js';
import { planWorkflowId, type PlanInput, type PlanResult } from '../../workflows/plan-contract.js';
import { FAST, input, startMigration, waitForPhase } from '../support/e2e.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { activityStarts, countBy, seconds, startProductionStack, startWorker, type ProductionStack } from './support.js';
import { setMigrationConfig } from '../support/kubevirt-config.js';

let stack: ProductionStack;
before(async () => {
  stack = await startProductionStack();
  const t = stack.temporal.timings;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `production Temporal ${stack.temporal.version} + PostgreSQL ${stack.temporal.postgres.version}: ready in ${s(t.totalMs)} ` +
      `(PostgreSQL ${s(t.postgresMs)}, schema ${s(t.schemaMs)}, server ${s(t.serverStartMs)}, namespace + search attributes ${s(t.namespaceAndSearchAttributesMs)})`,
  );
});
after(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await Promise.all([...stack.workers].map((w) => w.kill('SIGKILL')));
  await stack.sim.partition(false);
});

async function runningOnDestination(namespace: string, name: string): Promise<void> {
  const vmi = await kubevirt(clients(stack.sim, 'destination')).get('virtualmachineinstances', namespace, name);
  assert.equal(path(vmi, 'status.phase'), 'Running', `${namespace}/${name} on the destination`);
}

/** Workflow IDs a visibility query finds (SQL visibility on PostgreSQL). */
async function listed(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids.sort();
}

describe('ferry on the production Temporal (PostgreSQL)', () => {
  it('(a) migrates one VM; FerryPhase and FerryVm queries find it on SQL visibility', async () => {
    const t0 = Date.now();
    const worker = startWorker(stack);
    await worker.ready;
    const workerReady = seconds(t0);
    const tMigration = Date.now();
    const i = input('web-01');
    const handle = await startMigration(stack, i);
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 1);
    await runningOnDestination('demo', 'web-01');
    const id = migrationWorkflowId(i);
    await eventually('listed by FerryPhase = Succeeded', async () => (await listed(`FerryPhase = 'Succeeded' AND FerryVm = 'demo/web-01'`)).includes(id), 15_000, 200);
    assert.deepEqual(await listed(`FerryPhase = 'Succeeded' AND FerryVm = 'demo/web-01' AND FerrySourceCluster = 'source' AND FerryDestinationCluster = 'destination'`), [id]);
    assert.deepEqual(await listed(`WorkflowId = '${id}' AND FerryPhase = 'Synchronizing'`), []);
    // Every activity of this migration ran on the one worker there is.
    const starts = activityStarts((await handle.fetchHistory()).events ?? []);
    assert.ok(starts.length > 0);
    assert.deepEqual(Object.keys(countBy(starts, (s) => s.identity)), [worker.identity]);
    console.log(`(a) one VM: migration ${seconds(tMigration)} (worker ready in ${workerReady}), ${starts.length} activity tasks`);
  });

  it('(b) stalls on a partition (FerryStalled = true lists it); heal + retry succeeds', async () => {
    const t0 = Date.now();
    await startWorker(stack).ready;
    await stack.sim.partition(true);
    const i = input('db-01', { options: { handshakeTimeout: '3s' } });
    const handle = await startMigration(stack, i);
    await waitForPhase(handle, 'Stalled', 60_000);
    const stalled = await handle.query(statusQuery);
    assert.equal(stalled.stall?.deadline, 'handshake');
    assert.match(stalled.stall!.diagnosis, /synchronization address/);
    const id = migrationWorkflowId(i);
    await eventually('listed by FerryStalled = true', async () => (await listed(`FerryStalled = true AND FerryPhase = 'Stalled'`)).includes(id), 15_000, 200);

    await stack.sim.partition(false);
    await handle.executeUpdate(retryUpdate, { args: [{ reason: 'partition healed' }] });
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 2);
    assert.notEqual(result.migrationId, stalled.migrationId);
    await runningOnDestination('demo', 'db-01');
    await eventually('no longer listed as stalled', async () => !(await listed('FerryStalled = true')).includes(id), 15_000, 200);
    console.log(`(b) stall + retry: ${seconds(t0)}`);
  });

  it('(c) a worker killed (SIGKILL) mid-transfer is replaced; the migration completes, the new worker retried the killed activity', async () => {
    const t0 = Date.now();
    await setMigrationConfig(clients(stack.sim, 'destination'), { bandwidthPerMigration: '1Gi' }); // cache-01: a transfer of several seconds
    const first = startWorker(stack);
    await first.ready;
    const i = input('cache-01');
    const handle = await startMigration(stack, i);
    await waitForPhase(handle, 'Synchronizing', 60_000);
    await eventually('the transfer under way', async () => (await handle.query(statusQuery)).observed?.sourceVMIM === 'Running', 60_000);
    await first.kill('SIGKILL');
    await setMigrationConfig(clients(stack.sim, 'destination'), { bandwidthPerMigration: '8Gi' });
    const second = startWorker(stack);
    await second.ready;
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 1);
    await runningOnDestination('demo', 'cache-01');

    const events = (await handle.fetchHistory()).events ?? [];
    const starts = activityStarts(events);
    const by = countBy(starts, (s) => s.identity);
    assert.ok(by[first.identity]! > 0, `no activity of the first worker in the history: ${JSON.stringify(by)}`);
    assert.ok(by[second.identity]! > 0, `no activity of the second worker in the history: ${JSON.stringify(by)}`);
    // The activity that was running when the first worker died timed out on its heartbeat and ran again on the second.
    const retried = starts.filter((s) => s.identity === second.identity && s.attempt > 1);
    assert.ok(retried.length > 0, `no retried activity on the second worker: ${JSON.stringify(starts)}`);
    const completedBy = events.filter((e) => e.workflowTaskCompletedEventAttributes).at(-1)?.workflowTaskCompletedEventAttributes?.identity;
    assert.equal(completedBy, second.identity, 'the second worker completed the workflow');
    console.log(
      `(c) worker restart: ${seconds(t0)}; activity tasks by worker ${JSON.stringify(by)}; retried on the new worker: attempt ${retried.map((r) => r.attempt).join(', ')}`,
    );
  });

  it('(d) two workers on one task queue share a 6-VM plan', async () => {
    const t0 = Date.now();
    const workers = [startWorker(stack), startWorker(stack)];
    await Promise.all(workers.map((w) => w.ready));
    const namespace = 'fleet-prod';
    const count = 6;
    await stack.sim.loadFleet({ namespace, count });
    const plan = {
      name: 'production-split',
      source: { cluster: 'source' },
      destination: { cluster: 'destination' },
      vms: Array.from({ length: count }, (_, n) => ({ namespace, name: fleetVmName('vm', n + 1) })),
      maxInFlight: count,
      options: { ...FAST },
    } as PlanInput;
    const handle: WorkflowHandle = await stack.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: planWorkflowId(plan.name), args: [plan] });
    const result = (await handle.result()) as PlanResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.succeeded, count);
    for (const vm of plan.vms) await runningOnDestination(namespace, vm.name);

    // The children, found by the plan's search attribute on SQL visibility; the split from their histories.
    const children = await eventually(
      `${count} children listed by FerryPlan`,
      async () => {
        const ids = await listed(`WorkflowType = 'migrateVm' AND FerryPlan = '${plan.name}'`);
        return ids.length === count ? ids : undefined;
      },
      15_000,
      200,
    );
    const starts = [];
    for (const id of [plan.name, ...children].map((c) => (c === plan.name ? planWorkflowId(plan.name) : c))) {
      starts.push(...activityStarts((await stack.client.workflow.getHandle(id).fetchHistory()).events ?? []));
    }
    const by = countBy(starts, (s) => s.identity);
    for (const w of workers) assert.ok((by[w.identity] ?? 0) > 0, `worker ${w.identity} started no activity: ${JSON.stringify(by)}`);
    assert.deepEqual(Object.keys(by).sort(), workers.map((w) => w.identity).sort(), 'only these two workers ran activities');
    console.log(`(d) two workers, ${count}-VM plan: ${seconds(t0)}; activity tasks by worker ${JSON.stringify(by)} (of ${starts.length})`);
  });

  it("(e) docker-compose.temporal.yml's dynamic config is in force: a workflow ID over limit.maxIDLength (255) is refused", async () => {
    const long = `migration/source/demo/${'x'.repeat(240)}`;
    const refused = await stack.client.workflow.start('migrateVm', { taskQueue: TASK_QUEUE, workflowId: long, args: [input('web-01')] }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(refused, 'a 262-character workflow ID was accepted');
    assert.match(`${refused.message}: ${String((refused.cause as Error | undefined)?.message)}`, /WorkflowId.*(length|long)|length limit/i);
    assert.deepEqual(await listed(`WorkflowId = '${long}'`), []);
    console.log(`(e) a ${long.length}-character workflow ID: ${String((refused.cause as Error | undefined)?.message)}`);
  });

  it('the database password is only in the 0600 server config, never in the logs', async () => {
    const config = parse(readFileSync(stack.temporal.configFile, 'utf8')) as { persistence: { datastores: Record<string, { sql: { password: string } }> } };
    const password = Object.values(config.persistence.datastores)[0]!.sql.password;
    assert.ok(password.length >= 20);
    assert.equal(statSync(stack.temporal.configFile).mode & 0o777, 0o600);
    for (const file of [stack.temporal.serverLog, stack.temporal.postgres.logFile]) {
      assert.ok(!readFileSync(file, 'utf8').includes(password), `${file} holds the password`);
    }
  });
});
