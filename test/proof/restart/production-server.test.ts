/**
 * Temporal restarts on ferry's production Temporal (tools/production-temporal: the server built from
 * Go over PostgreSQL): in each phase of a migration only the temporal-server process is stopped
 * (SIGTERM, or SIGKILL) and started again on the same ports over the same database, while ferry's
 * worker — a separate process, as deployed — keeps its one connection. The migration must finish as it
 * would have without the outage, with the proof invariants holding on both clusters.
 *
 * The structure is dev-server.test.ts's: each phase is held where it is by the simulator (an API fault
 * on the write the phase makes, a stopped sync controller), proven reached, and released while the
 * server is down, so the activity finishes its work during the outage and its completion meets no
 * server. One stack serves every scenario (a production server takes a while to set up): each
 * scenario migrates its own VM, one after another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { fleetVmName } from '../../../simulator/fleet.js';
import { eventually, simControl } from '../../../simulator/testing/sim.js';
import { migrationWorkflowId, type MigrationResult } from '../../../workflows/contract.js';
import { retryUpdate, statusQuery } from '../../../workflows/messages.js';
import { input, startMigration } from '../../support/e2e.js';
import { startProductionStack, startWorker, type ProductionStack, type WorkerProcess } from '../../production/support.js';
import { recordRun } from '../support/figures.js';
import { baseline, checkRun, secretLeaks, VmimPairWatch, type Baseline } from '../support/invariants.js';

type Side = 'source' | 'destination';
type StopSignal = 'SIGTERM' | 'SIGKILL';

interface Scenario {
  phase: string;
  signal: StopSignal;
  options?: Record<string, unknown>;
  hold(s: ProductionStack): Promise<void>;
  /** Evidence, besides the phase, that the phase's activity is at the held step now. */
  reached(s: ProductionStack, h: WorkflowHandle): Promise<boolean>;
  /** While the server is down. */
  release(s: ProductionStack): Promise<void>;
  /** Once the server is back (an operator's retry). */
  decide?(s: ProductionStack, h: WorkflowHandle): Promise<void>;
  attempts: number;
  /** The VM to migrate; default a fleet VM of its own. */
  vm?: string;
}

/** Refused since this scenario's hold (one stack serves all): the injected-error count moved past where it stood. */
let refusedBefore = 0;
/** Every `verbs` request for `resources` on `side` answered 503 until released: the activity retries in place. */
const refuse = (side: Side, verbs: string[], resources: string[]) => async (s: ProductionStack) => {
  refusedBefore = s.sim.cluster(side).api.faults.injected.errors;
  await simControl(s.sim.cluster(side), 'faults', 'PUT', { errors: [{ rate: 1, code: 503, verbs, resources }] });
};
const refused = (side: Side) => async (s: ProductionStack) => s.sim.cluster(side).api.faults.injected.errors > refusedBefore;
const heal = (side: Side) => async (s: ProductionStack) => {
  await simControl(s.sim.cluster(side), 'faults', 'DELETE');
};
const syncController = (running: boolean) => async (s: ProductionStack) => {
  await simControl(s.sim.destination, 'sync-controller', 'PUT', { running });
};

const SCENARIOS: Scenario[] = [
  {
    phase: 'Validating',
    signal: 'SIGTERM',
    hold: refuse('destination', ['get'], ['virtualmachines']),
    reached: refused('destination'),
    release: heal('destination'),
    attempts: 1,
  },
  {
    phase: 'CreatingPrerequisites',
    // A fleet VM has no prerequisites to create (a container disk): the fixture web-01 has a DataVolume.
    vm: 'web-01',
    signal: 'SIGKILL',
    hold: refuse('destination', ['create'], ['datavolumes']),
    reached: refused('destination'),
    release: heal('destination'),
    attempts: 1,
  },
  {
    phase: 'CreatingTarget',
    signal: 'SIGKILL',
    hold: refuse('destination', ['create'], ['virtualmachines']),
    reached: refused('destination'),
    release: heal('destination'),
    attempts: 1,
  },
  {
    phase: 'CreatingMigrations',
    signal: 'SIGTERM',
    hold: refuse('destination', ['create'], ['virtualmachineinstancemigrations']),
    reached: refused('destination'),
    release: heal('destination'),
    attempts: 1,
  },
  {
    // Held at the handshake (no sync controller, a patient deadline); the controller returns during the outage.
    phase: 'Synchronizing',
    signal: 'SIGKILL',
    hold: syncController(false),
    reached: async (_s, h) => (await h.query(statusQuery)).phase === 'Synchronizing',
    release: syncController(true),
    attempts: 1,
  },
  {
    phase: 'Finalizing',
    signal: 'SIGTERM',
    hold: refuse('source', ['delete'], ['virtualmachineinstancemigrations']),
    reached: refused('source'),
    release: heal('source'),
    attempts: 1,
  },
  {
    phase: 'Stalled',
    signal: 'SIGKILL',
    options: { handshakeTimeout: '5s' },
    hold: syncController(false),
    reached: async (_s, h) => (await h.query(statusQuery)).stall?.deadline === 'handshake',
    // Healed only after the restart, then retried: healed during the outage the wait would resume on its own.
    release: async () => {},
    decide: async (s, h) => {
      await syncController(true)(s);
      // Resent until the worker, reconnecting to the restarted server, answers; the update ID makes a resend the same update.
      const updateId = `restart-proof-retry-${h.workflowId}`;
      await eventually('the retry accepted', async () => (await h.executeUpdate(retryUpdate, { updateId, args: [{ reason: 'sync controller back' }] })).accepted, 120_000, 500);
    },
    attempts: 2,
  },
];

const FORWARD = ['Validating', 'SyncingCertificates', 'CreatingPrerequisites', 'CreatingTarget', 'CreatingMigrations', 'Synchronizing', 'Finalizing', 'Succeeded'];
const short = process.env.FERRY_PROOF_SHORT === '1';
const chosen = short ? SCENARIOS.filter((sc) => ['CreatingTarget', 'Synchronizing'].includes(sc.phase)) : SCENARIOS;

let stack: ProductionStack | undefined;
let worker: WorkerProcess | undefined;
let before0: Baseline;
before(async () => {
  stack = await startProductionStack();
  await stack.sim.loadFleet({ namespace: 'demo', count: SCENARIOS.length, prefix: 'pg' });
  before0 = await baseline(stack.sim);
  worker = startWorker(stack);
  await worker.ready;
});
after(async () => {
  await stack?.stop();
});

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** A status query once the worker answers again (it fails while the server or the worker's poll is away). */
const statusOnceBack = (h: WorkflowHandle) => eventually(`${h.workflowId} answers a status query`, () => h.query(statusQuery), 120_000, 250);

describe('production Temporal (PostgreSQL) restarted in each phase', () => {
  for (const [index, sc] of chosen.entries()) {
    it(`${sc.phase} (${sc.signal}) → restart → Succeeded`, async () => {
      const s = stack!;
      const vm = sc.vm ?? fleetVmName('pg', index + 1);
      const pairs = await VmimPairWatch.start(s.sim);
      await sc.hold(s);
      const i = input(vm, { options: { handshakeTimeout: '2m', ...sc.options } });
      const workflowId = migrationWorkflowId(i);
      const handle = await startMigration(s, i);
      await eventually(`${sc.phase} reached`, async () => (await handle.query(statusQuery)).phase === sc.phase, 120_000, 100);
      await eventually(`${sc.phase} held`, () => sc.reached(s, handle), 60_000, 100);

      const tDown = Date.now();
      await s.temporal.stopServer(sc.signal);
      await sc.release(s);
      await s.temporal.startServer();
      const tUp = Date.now();
      // The workflow's state came back from PostgreSQL: never an earlier phase than the held one.
      const now = (await statusOnceBack(handle)).phase;
      assert.ok(sc.phase === 'Stalled' ? now === 'Stalled' : FORWARD.indexOf(now) >= FORWARD.indexOf(sc.phase), `after the restart the migration is ${now}, before ${sc.phase}`);
      await sc.decide?.(s, handle);
      const result = (await handle.result()) as MigrationResult;
      const tDone = Date.now();
      await pairs.stop();
      const found = [
        ...(await checkRun(s.sim, { workflowId, vm, outcome: 'Succeeded' }, before0)),
        ...pairs.violations(),
        ...(await secretLeaks(s.client, s.sim, { workflowIds: [workflowId], logs: [worker!.output()] })),
      ];
      recordRun({
        suite: 'restart',
        scenario: `production-server ${sc.phase} (${sc.signal})`,
        outcome: result.outcome,
        expected: 'Succeeded',
        violations: found,
        faults: { 'temporal-restart': 1 },
      });
      console.log(`production-server ${sc.phase} (${sc.signal}): down → back ${secs(tUp - tDown)}, back → ${result.outcome} ${secs(tDone - tUp)}`);
      assert.equal(result.outcome, 'Succeeded');
      assert.equal(result.attempts, sc.attempts);
      assert.deepEqual(found, []);
    });
  }
});
