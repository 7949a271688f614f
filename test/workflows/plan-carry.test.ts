/**
 * Plans of thousands of VMs keep a bounded carry: the real plan workflow with stand-in children
 * (fixtures/plan-workflows.ts) and a stand-in preflight that blocks the VMs named `b-…`. Assertions are
 * on the result and on the histories of every run: which children each run started, and the size of
 * each continue-as-new's carry.
 *
 * On the dev server, not the time-skipping test server (nothing here waits on a timer): the test
 * server's continue-as-new is not atomic (temporalio/sdk-java#1538), and a child's report sent while
 * the plan continues as new is lost there now and then, where a real server hands it to the new run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { temporal } from '@temporalio/proto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { PlanPreflightReport, PreflightItem } from '../../activities/plan.js';
import type { PlanCarry, PlanCarryV1 } from '../../workflows/plan-carry.js';
import { NOTABLE_MAX, type PlanInput, type PlanResult, planWorkflowId } from '../../workflows/plan-contract.js';
import { startDevServer, type DevServer } from '../../tools/temporal-cli.js';

const taskQueue = 'plan-carry';
const FIXTURE = fileURLToPath(new URL('./fixtures/plan-workflows.ts', import.meta.url));

let server: DevServer;
let connection: Connection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
let preflighted = 0;

const report = (blocked: boolean): PlanPreflightReport => ({
  blockers: blocked ? [{ code: 'VMNotRunning', message: 'the VM is not running' }] : [],
  warnings: [],
  memoryBytes: 1024 ** 3,
  diskBytes: 0,
  runStrategy: 'Always',
});

before(async () => {
  // The stand-in children that fail on purpose would log each failure.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  server = await startDevServer({ uiPort: false });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
  const logger = new DefaultLogger('ERROR');
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: FIXTURE, logger }),
    activities: {
      preflightMany: async (items: PreflightItem[]) => ((preflighted += items.length), items.map((i) => report(i.migration.source.name.startsWith('b-')))),
      syncCertificates: async () => ({ updated: [] }),
    },
  });
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await server?.stop();
});

interface Run {
  started: string[];
  /** The continue-as-new's carry as JSON, if the run continued as new. */
  carry?: string;
}

/** A run's history in small pages: the first run's preflight alone passes gRPC's 4 MB message limit. */
async function* events(execution: { workflowId: string; runId: string }): AsyncGenerator<temporal.api.history.v1.IHistoryEvent> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution, maximumPageSize: 100, nextPageToken });
    yield* page.history?.events ?? [];
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

/** Every run of the plan, first to last, from their histories. */
async function runsOf(handle: { workflowId: string; firstExecutionRunId: string }): Promise<Run[]> {
  const runs: Run[] = [];
  for (let runId: string | undefined = handle.firstExecutionRunId; runId;) {
    const run: Run = { started: [] };
    const execution: { workflowId: string; runId: string } = { workflowId: handle.workflowId, runId };
    runId = undefined;
    for await (const e of events(execution) as AsyncGenerator<temporal.api.history.v1.IHistoryEvent>) {
      const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
      if (child) run.started.push(child);
      const can = e.workflowExecutionContinuedAsNewEventAttributes;
      if (can) {
        run.carry = Buffer.from(can.input!.payloads![1]!.data!).toString('utf8');
        runId = can.newExecutionRunId ?? undefined;
      }
    }
    runs.push(run);
  }
  return runs;
}

function plan(name: string, count: number, kinds: (i: number) => string, over: Partial<PlanInput> = {}): PlanInput {
  return {
    name,
    source: { cluster: 'source' },
    destination: { cluster: 'destination' },
    vms: Array.from({ length: count }, (_, i) => ({ namespace: 'fleet', name: kinds(i) })),
    onBlocked: 'skip',
    maxInFlight: 10,
    historyEventLimit: 200,
    ...over,
  } as PlanInput;
}

const childId = (name: string) => `migration/source/fleet/${name}`;

describe('a plan of thousands of VMs', () => {
  it('6,000 VMs, 5,850 skipped by preflight: continues as new with a bounded carry, starts each other VM once, counts exact', async () => {
    // Every 40th VM migrates (every 10th of those rolls back, another 10th fails); preflight blocks the rest.
    const end = (k: number) => (k % 10 === 3 ? '-rb' : k % 10 === 7 ? '-fail' : '');
    const kinds = (i: number) => (i % 40 ? `b-${i}` : `m-${i}${end(i / 40)}`);
    const input = plan('six-thousand', 6000, kinds);
    const names = input.vms.map((v) => v.name);
    const migrating = names.filter((n) => n.startsWith('m-'));
    assert.equal(migrating.length, 150);
    const handle = await client.workflow.start('migratePlan', { taskQueue, workflowId: planWorkflowId(input.name), args: [input] });
    const result = (await handle.result()) as PlanResult;

    assert.equal(preflighted, 6000);
    assert.equal(result.outcome, 'Completed');
    assert.deepEqual(
      { total: result.total, succeeded: result.succeeded, rolledBack: result.rolledBack, failed: result.failed, skipped: result.skipped },
      { total: 6000, succeeded: 120, rolledBack: 15, failed: 15, skipped: 5850 },
    );
    // Bounded lists: the first NOTABLE_MAX skips, in plan order, with their blockers; every failure and rollback.
    assert.equal(result.notable.skipped.length, NOTABLE_MAX);
    assert.deepEqual(
      result.notable.skipped.slice(0, 2).map((v) => [v.vm, v.state, v.blockers?.[0]?.code]),
      [
        ['fleet/b-1', 'Skipped', 'VMNotRunning'],
        ['fleet/b-2', 'Skipped', 'VMNotRunning'],
      ],
    );
    assert.deepEqual(
      result.notable.failed.map((v) => v.vm).sort(),
      migrating
        .filter((n) => n.endsWith('-fail'))
        .map((n) => `fleet/${n}`)
        .sort(),
    );
    assert.deepEqual(
      result.notable.rolledBack.map((v) => v.state),
      Array(15).fill('RolledBack'),
    );
    assert.equal(result.childrenQuery, `WorkflowType = 'migrateVm' AND FerryPlan = 'six-thousand'`);

    const runs = await runsOf(handle);
    assert.ok(runs.length >= 3, `expected several runs, got ${runs.length}`);
    // Each VM that preflight passed was started exactly once, across all runs; no skipped VM ever was.
    const started = runs.flatMap((r) => r.started);
    assert.deepEqual([...started].sort(), migrating.map(childId).sort());
    // The carry: the skips still ahead (a few bytes each) plus bounded lists, never every VM.
    const sizes = runs.flatMap((r) => (r.carry ? [r.carry.length] : []));
    console.log(`# ${runs.length} runs; carries of ${sizes.map((n) => `${(n / 1024).toFixed(1)} KB`).join(', ')}`);
    for (const [i, r] of runs.entries()) {
      if (!r.carry) continue;
      const carry = JSON.parse(r.carry) as PlanCarry;
      assert.equal(carry.version, 2);
      assert.ok(carry.active.length <= 10, `run ${i + 1} carried ${carry.active.length} VMs in flight`);
      assert.ok(carry.notable.skipped.length <= NOTABLE_MAX);
      assert.ok(
        carry.skip.every((n, j) => n >= carry.next && (j === 0 || n > carry.skip[j - 1]!)),
        'skips ahead, ascending',
      );
      assert.equal(carry.ended.Skipped, 5850, 'preflight skips are counted when decided');
      assert.ok(r.carry.length < 64 * 1024, `run ${i + 1} carried ${r.carry.length} bytes`);
    }
    // Once the plan is past the skips, the carry does not depend on the plan's size.
    assert.ok(sizes.at(-1)! < sizes[0]!, `carries ${sizes.join(', ')}`);
  });

  it('a run continued from the old carry (every VM listed) converts it: starts only the Pending VMs, counts the rest', async () => {
    const kinds = (i: number) => `o-${i}`;
    const input = plan('old-carry', 30, kinds, { maxInFlight: 3 });
    const names = input.vms.map((v) => v.name);
    // Run 1 on the old code: VMs 0-9 succeeded, 10 failed, 11 and 25 skipped by preflight, the rest Pending.
    const vms = names.map((name, i): PlanCarryV1['vms'][number] => ({
      vm: `fleet/${name}`,
      workflowId: childId(name),
      state: i < 10 ? 'Succeeded' : i === 10 ? 'Failed' : i === 11 || i === 25 ? 'Skipped' : 'Pending',
      ...(i === 10 ? { error: 'boom' } : {}),
      ...(i === 11 || i === 25 ? { blockers: [{ code: 'VMNotRunning', message: 'not running' }], error: 'skipped: preflight blockers VMNotRunning' } : {}),
    }));
    const old: PlanCarryV1 = { phase: 'Migrating', startedAt: new Date(Date.now() - 60_000).toISOString(), runs: 1, peakInFlight: 3, vms };
    const handle = await client.workflow.start('migratePlan', { taskQueue, workflowId: planWorkflowId(input.name), args: [input, old] });
    const result = (await handle.result()) as PlanResult;
    assert.deepEqual(
      { succeeded: result.succeeded, failed: result.failed, skipped: result.skipped, rolledBack: result.rolledBack, outcome: result.outcome },
      { succeeded: 10 + 17, failed: 1, skipped: 2, rolledBack: 0, outcome: 'Completed' },
    );
    assert.deepEqual(
      result.notable.skipped.map((v) => v.vm),
      ['fleet/o-11', 'fleet/o-25'],
    );
    assert.deepEqual(
      result.notable.failed.map((v) => [v.vm, v.error]),
      [['fleet/o-10', 'boom']],
    );
    const started = (await runsOf(handle)).flatMap((r) => r.started);
    const pending = names.filter((_, i) => i > 11 && i !== 25);
    assert.deepEqual(started.sort(), pending.map(childId).sort());
  });
});
