/**
 * `npm run histories:capture`: record the event histories that the replay test (test/replay/) runs
 * the workflow code against, so a change to workflows/ that is not replay-compatible fails CI.
 *
 * Starts the end-to-end stack (a Temporal dev server from the Temporal CLI, the two-cluster simulator
 * and an in-process ferry worker), runs seven migrations and a plan and writes each finished workflow's history
 * to test/histories/<name>.json in the JSON form `temporal workflow show --output json` and the Web
 * UI's "Download" produce:
 *
 *   happy-web-01.json          web-01 succeeds on the first attempt
 *   stall-retry-db-01.json     partition → Stalled → heal → `retry` update → Succeeded on attempt 2
 *   stall-cancel-cache-01.json partition → Stalled → `cancel` update → RolledBack
 *   stall-extend.json          Stalled → `extend` update → the wait resumes → heal → Succeeded
 *   stall-recover.json         Stalled → heal, nobody decides → recovered without intervention → Succeeded
 *   fallback-retry.json        no decision: `retry` fallback → Stalled again → retries exhausted → RolledBack
 *   temporal-cancel.json       Stalled → `extend` signal → Temporal cancellation → RolledBack
 *   plan-continue-as-new.json  a 12-VM plan's first run: preflight, CA sync, children reporting, continue-as-new
 *
 * Before writing, each history is replayed against the current workflow code and searched (raw text
 * and every decoded payload) for the fixtures' secret values and the simulator's bearer tokens.
 * Re-run it, and commit the files, whenever the workflow changes on purpose (after patching it with
 * `patched()` where running workflows must survive the change); keep the old files when they should
 * still replay.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { FAST, input, startMigration, startStack, waitForPhase, workflowBundle, type Stack } from '../test/support/e2e.js';
import { fleetVmName } from '../simulator/fleet.js';
import { TASK_QUEUE } from '../workflows/contract.js';
import { planWorkflowId, type PlanResult } from '../workflows/plan-contract.js';
import type { MigrationResult } from '../workflows/contract.js';
import { cancelUpdate, extendSignal, extendUpdate, retryUpdate, statusQuery } from '../workflows/messages.js';
import { REPO_ROOT } from './temporal-cli.js';
import { replaySinks } from '../workers/telemetry-tracing.js';

const HISTORIES_DIR = join(REPO_ROOT, 'test', 'histories');

/** Values that must never reach a history: the fixtures' Secret contents, as written and base64-encoded. */
const SECRET_VALUES = ['fixture-secret', 'fixture-secret-web-7f3c', 'fixture-secret-db-91aa', 'fixture:secret-pull', 'Zml4dHVyZTpzZWNyZXQtcHVsbA==', 'fixture-ssh-key'];
const FIXTURE_SECRETS = [...SECRET_VALUES, ...SECRET_VALUES.map((v) => Buffer.from(v).toString('base64'))];

interface Scenario {
  file: string;
  run(stack: Stack): Promise<WorkflowHandle>;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function expect(cond: boolean, what: string): void {
  if (!cond) throw new Error(`capture failed: ${what}`);
}

/** A one-VM fleet in its own namespace, so every scenario migrates a VM no other scenario touched. */
async function fleetInput(stack: Stack, namespace: string, options: Record<string, unknown>) {
  await stack.sim.loadFleet({ namespace, count: 1 });
  return input(fleetVmName('vm', 1), { source: { cluster: 'source', namespace, name: fleetVmName('vm', 1) }, options });
}

const scenarios: Scenario[] = [
  {
    file: 'happy-web-01.json',
    async run(stack) {
      const handle = await startMigration(stack, input('web-01'));
      const result = (await handle.result()) as MigrationResult;
      expect(result.outcome === 'Succeeded' && result.attempts === 1, `web-01: expected Succeeded on attempt 1, got ${JSON.stringify(result)}`);
      return handle;
    },
  },
  {
    file: 'stall-retry-db-01.json',
    async run(stack) {
      await stack.sim.partition(true);
      const handle = await startMigration(stack, await fleetInput(stack, 'recover', { handshakeTimeout: '3s' }));
      await waitForPhase(handle, 'Stalled', 60_000);
      await stack.sim.partition(false);
      const answer = await handle.executeUpdate(retryUpdate, { args: [{ reason: 'partition healed' }] });
      expect(/retrying/.test(answer.message), `db-01: retry answered ${JSON.stringify(answer)}`);
      const result = (await handle.result()) as MigrationResult;
      expect(result.outcome === 'Succeeded' && result.attempts === 2, `db-01: expected Succeeded on attempt 2, got ${JSON.stringify(result)}`);
      return handle;
    },
  },
  {
    file: 'stall-cancel-cache-01.json',
    async run(stack) {
      await stack.sim.partition(true);
      try {
        const handle = await startMigration(stack, input('cache-01', { options: { handshakeTimeout: '2s' } }));
        await waitForPhase(handle, 'Stalled', 60_000);
        expect((await handle.query(statusQuery)).stall?.deadline === 'handshake', 'cache-01: expected a handshake stall');
        const answer = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'change window over' }] });
        expect(/rolling back/.test(answer.message), `cache-01: cancel answered ${JSON.stringify(answer)}`);
        const result = (await handle.result()) as MigrationResult;
        expect(result.outcome === 'RolledBack', `cache-01: expected RolledBack, got ${JSON.stringify(result)}`);
        return handle;
      } finally {
        await stack.sim.partition(false);
      }
    },
  },
  {
    file: 'stall-extend.json',
    async run(stack) {
      // Stalled → `extend` update resumes the wait → the partition heals → Succeeded on attempt 1.
      await stack.sim.partition(true);
      try {
        const handle = await startMigration(stack, await fleetInput(stack, 'extend', { handshakeTimeout: '3s' }));
        await waitForPhase(handle, 'Stalled', 60_000);
        const answer = await handle.executeUpdate(extendUpdate, { args: [{ by: '2m', reason: 'network team is on it' }] });
        expect(/extended/.test(answer.message), `extend: extend answered ${JSON.stringify(answer)}`);
        await waitForPhase(handle, 'Synchronizing', 10_000);
        await stack.sim.partition(false);
        const result = (await handle.result()) as MigrationResult;
        expect(result.outcome === 'Succeeded' && result.attempts === 1, `extend: expected Succeeded on attempt 1, got ${JSON.stringify(result)}`);
        return handle;
      } finally {
        await stack.sim.partition(false);
      }
    },
  },
  {
    file: 'stall-recover.json',
    async run(stack) {
      // Stalled, nobody decides, the partition heals: the wait that kept watching resumes by itself.
      await stack.sim.partition(true);
      try {
        const handle = await startMigration(stack, input('db-01', { options: { handshakeTimeout: '3s' } }));
        await waitForPhase(handle, 'Stalled', 60_000);
        await stack.sim.partition(false);
        const result = (await handle.result()) as MigrationResult;
        expect(result.outcome === 'Succeeded' && result.attempts === 1, `recover: expected Succeeded on attempt 1, got ${JSON.stringify(result)}`);
        const status = await handle.query(statusQuery);
        expect(
          status.history.some((h) => h.note === 'recovered without intervention'),
          'recover: no self-recovery in the status history',
        );
        return handle;
      } finally {
        await stack.sim.partition(false);
      }
    },
  },
  {
    file: 'fallback-retry.json',
    async run(stack) {
      // Nobody decides: the `retry` fallback retries once, stalls again, then exhausts and cancels.
      await stack.sim.partition(true);
      try {
        const handle = await startMigration(
          stack,
          await fleetInput(stack, 'fallback', { handshakeTimeout: '2s', decisionWindow: '2s', stallFallback: 'retry', maxAutoRetries: 1 }),
        );
        const result = (await handle.result()) as MigrationResult;
        expect(result.outcome === 'RolledBack' && result.attempts === 2, `fallback: expected RolledBack after 2 attempts, got ${JSON.stringify(result)}`);
        return handle;
      } finally {
        await stack.sim.partition(false);
      }
    },
  },
  {
    file: 'temporal-cancel.json',
    async run(stack) {
      // A Temporal cancellation while stalled (`temporal workflow cancel`) rolls back like `cancel`.
      await stack.sim.partition(true);
      try {
        const handle = await startMigration(stack, await fleetInput(stack, 'cancel', { handshakeTimeout: '2s' }));
        await waitForPhase(handle, 'Stalled', 60_000);
        await handle.signal(extendSignal, { by: '1m' });
        await waitForPhase(handle, 'Synchronizing', 10_000);
        await handle.cancel();
        const failed = await handle.result().then(
          () => false,
          () => true,
        );
        expect(failed, 'cancel: a cancelled workflow must end cancelled');
        expect((await handle.query(statusQuery)).phase === 'RolledBack', 'cancel: expected RolledBack');
        return handle;
      } finally {
        await stack.sim.partition(false);
      }
    },
  },
  {
    file: 'plan-continue-as-new.json',
    async run(stack) {
      // A plan's first run: preflight batch, CA sync, children started and reporting, and a
      // continue-as-new (low historyEventLimit) with children still in flight.
      await stack.sim.loadFleet({ namespace: 'replay', count: 12 });
      const plan = {
        name: 'replay',
        source: { cluster: 'source' },
        destination: { cluster: 'destination' },
        maxInFlight: 2,
        historyEventLimit: 200,
        options: FAST,
        vms: Array.from({ length: 12 }, (_, i) => ({ namespace: 'replay', name: fleetVmName('vm', i + 1) })),
      };
      const handle = await stack.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: planWorkflowId(plan.name), args: [plan] });
      const result = (await handle.result()) as PlanResult;
      expect(result.outcome === 'Succeeded' && result.succeeded === 12, `plan: expected 12 Succeeded, got ${JSON.stringify(result)}`);
      // The handle names the first run: the history that ends in continue-as-new.
      const first = stack.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      const h = await first.fetchHistory();
      expect(h.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes != null, 'plan: the first run did not continue as new');
      return first;
    },
  },
];

/**
 * The canonical proto3 JSON (`historyToJSON`, as `temporal workflow show --output json` writes it; a
 * plain `JSON.stringify` of the fetched history does not replay: its timestamps are
 * `{seconds, nanos}` objects where the JSON mapping wants RFC 3339 strings), re-laid out with one event
 * per line: the same JSON value, about a third smaller than indented, and a diff still shows which
 * events changed.
 */
function oneEventPerLine(canonical: string): string {
  const { events, ...rest } = JSON.parse(canonical) as { events: unknown[] };
  if (Object.keys(rest).length) throw new Error(`unexpected history fields: ${Object.keys(rest).join(', ')}`);
  return `{"events": [\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}

/** Every string in the history, plus every base64 `data` decoded (payloads are stored encoded). */
function searchableText(json: string): string {
  const decoded: string[] = [];
  JSON.parse(json, (key, value: unknown) => {
    if (key === 'data' && typeof value === 'string') decoded.push(Buffer.from(value, 'base64').toString('utf8'));
    return value;
  });
  return `${json}\n${decoded.join('\n')}`;
}

function leaks(json: string, stack: Stack): string[] {
  const tokens = [stack.sim.source, stack.sim.destination].flatMap((c) => Object.values(c.tokens));
  const text = searchableText(json);
  return [...FIXTURE_SECRETS, ...tokens].filter((s) => text.includes(s)).map((s) => (tokens.includes(s) ? 'a simulator bearer token' : s));
}

async function main(): Promise<void> {
  const stack = await startStack();
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    // `-- plan-continue-as-new.json` captures only the named files (keep the others as they were).
    const only = process.argv.slice(2).filter((a) => a.endsWith('.json'));
    for (const s of scenarios.filter((x) => !only.length || only.includes(x.file))) {
      log(`${s.file}: running`);
      const handle = await s.run(stack);
      const history = await handle.fetchHistory();
      const json = oneEventPerLine(historyToJSON(history));
      const leaked = leaks(json, stack);
      if (leaked.length) throw new Error(`${s.file}: the history contains ${leaked.join(', ')}; not writing it`);
      // What the replay test will do: parse the file and replay it against the current code.
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), sinks: replaySinks() }, JSON.parse(json), handle.workflowId);
      const file = join(HISTORIES_DIR, s.file);
      writeFileSync(file, json);
      log(`${s.file}: ${history.events?.length ?? 0} events, ${Buffer.byteLength(json)} bytes → ${relative(process.cwd(), file)}`);
    }
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  },
);
