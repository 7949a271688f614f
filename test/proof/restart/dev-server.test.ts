/**
 * Temporal restarts, on the dev server with a database file: in each phase of a migration the server
 * is stopped (SIGTERM, or SIGKILL) and started again on the same port with the same file, while the
 * worker in this process keeps its one connection. The migration must then finish as it would have
 * without the outage, with the proof invariants holding on both clusters.
 *
 * Each phase is held where it is by the simulator (an API fault on the write or read the phase is
 * making, a slow transfer, a stopped sync controller), so the stop lands in that phase every time;
 * the hold is released while the server is down, so the activity finishes its work during the
 * outage and its completion, heartbeats and reports meet a server that is not there.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { migrationWorkflowId, type MigrationResult } from '../../../workflows/contract.js';
import { cancelUpdate, retryUpdate, statusQuery } from '../../../workflows/messages.js';
import { input, startMigration, waitForPhase } from '../../support/e2e.js';
import { clients, eventually, kubevirt, path, simControl } from '../../../simulator/testing/sim.js';
import { setMigrationConfig } from '../../support/kubevirt-config.js';
import { startRestartStack, type RestartStack, type StopSignal } from './dev-stack.js';
import { recordRun } from '../support/figures.js';
import { baseline, checkRun, secretLeaks, VmimPairWatch } from '../support/invariants.js';

type Side = 'source' | 'destination';
type Outcome = MigrationResult['outcome'];

/** How one phase is held, proven reached, and released. */
interface Scenario {
  phase: string;
  /** What sets this run apart from another in the same phase. */
  variant?: string;
  vm: string;
  signal: StopSignal;
  /** The phase the status query shows while the hold lasts (the scenario's phase unless said). */
  shows?: string;
  options?: Record<string, unknown>;
  hold(s: RestartStack): Promise<void>;
  /** Besides the phase: evidence that the phase's activity is at the held step now. */
  reached(s: RestartStack, h: WorkflowHandle): Promise<boolean>;
  /** After the hold is in place and before the phase shows (a cancel, for the rollback). */
  steer?(s: RestartStack, h: WorkflowHandle): Promise<void>;
  /** While the server is down. */
  release(s: RestartStack): Promise<void>;
  /** What the server stays down for, after the release (default: nothing, it starts again at once). */
  downUntil?(s: RestartStack): Promise<boolean>;
  /** Once the server is back (an operator's retry). */
  decide?(s: RestartStack, h: WorkflowHandle): Promise<void>;
  /** Held this much longer once `downUntil` holds: an outage longer than the SDK's retries of a call. */
  extraOutageMs?: number;
  /** The activity whose lost completion must show as a second attempt in the history. */
  retried?: string;
  outcome: Outcome;
  attempts: number;
}

/** Every `verbs` request for `resources` on `side` answered 503 until released: the activity retries in place. */
const refuse = (side: Side, verbs: string[], resources: string[]) => async (s: RestartStack) => {
  await simControl(s.sim.cluster(side), 'faults', 'PUT', { errors: [{ rate: 1, code: 503, verbs, resources }] });
};
const refused = (side: Side) => async (s: RestartStack) => s.sim.cluster(side).api.faults.injected.errors > 0;
const heal = (side: Side) => async (s: RestartStack) => {
  await simControl(s.sim.cluster(side), 'faults', 'DELETE');
};
/** 1 GiB/s: web-01's 11 GiB take about 11 s, long enough to stop the server mid-transfer (a change applies to the next transfer only). */
const slowTransfer = async (s: RestartStack) => setMigrationConfig(clients(s.sim, 'destination'), { bandwidthPerMigration: '1Gi' });
const fastTransfer = async (s: RestartStack) => setMigrationConfig(clients(s.sim, 'destination'), { bandwidthPerMigration: '8Gi' });
const transferring = async (_s: RestartStack, h: WorkflowHandle) => (await h.query(statusQuery)).observed?.sourceVMIM === 'Running';
const vmimPhases = async (s: RestartStack, side: Side) =>
  (await kubevirt(clients(s.sim, side)).list('virtualmachineinstancemigrations', 'demo')).map((m) => String(path(m, 'status.phase')));
const syncController = (running: boolean) => async (s: RestartStack) => {
  await simControl(s.sim.destination, 'sync-controller', 'PUT', { running });
};

// A handshake deadline the outage cannot eat into; the stall scenario wants the short one.
const PATIENT = { handshakeTimeout: '30s' };

const SCENARIOS: Scenario[] = [
  {
    phase: 'Validating',
    vm: 'web-01',
    signal: 'SIGTERM',
    // Preflight reads the destination for a VM of the same name.
    hold: refuse('destination', ['get'], ['virtualmachines']),
    reached: refused('destination'),
    release: heal('destination'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'SyncingCertificates',
    vm: 'web-01',
    signal: 'SIGKILL',
    // CA sync writes kubevirt-external-ca on the destination (virt-operator's merge waits with it).
    hold: refuse('destination', ['create', 'update', 'patch'], ['configmaps']),
    reached: refused('destination'),
    release: heal('destination'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'CreatingPrerequisites',
    vm: 'web-01',
    signal: 'SIGTERM',
    hold: refuse('destination', ['create'], ['datavolumes']),
    reached: refused('destination'),
    release: heal('destination'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'CreatingTarget',
    vm: 'web-01',
    signal: 'SIGKILL',
    hold: refuse('destination', ['create'], ['virtualmachines']),
    reached: refused('destination'),
    release: heal('destination'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'CreatingMigrations',
    vm: 'web-01',
    signal: 'SIGTERM',
    hold: refuse('destination', ['create'], ['virtualmachineinstancemigrations']),
    reached: refused('destination'),
    release: heal('destination'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'Synchronizing',
    vm: 'web-01',
    signal: 'SIGKILL',
    hold: slowTransfer,
    reached: transferring,
    release: fastTransfer,
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    // Down until KubeVirt has finished the move: the waiting activity sees it, and its report and
    // completion meet no server.
    phase: 'Synchronizing',
    variant: 'down until the transfer ended',
    vm: 'web-01',
    signal: 'SIGTERM',
    hold: slowTransfer,
    reached: transferring,
    release: async () => {},
    downUntil: async (s) => (await vmimPhases(s, 'destination')).includes('Succeeded'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'Finalizing',
    vm: 'web-01',
    signal: 'SIGTERM',
    // Finalize ends by removing the VMIM pair.
    hold: refuse('source', ['delete'], ['virtualmachineinstancemigrations']),
    reached: refused('source'),
    release: heal('source'),
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    // Down for longer than the SDK retries a completion (10 s): the finalize activity's completion
    // is lost, and the server must time the attempt out and run it again. That took the api
    // activities' start-to-close timeout, 2 minutes, until they got a 10 s heartbeat timeout.
    phase: 'Finalizing',
    variant: 'down 15 s after the work was done',
    vm: 'web-01',
    signal: 'SIGKILL',
    hold: refuse('source', ['delete'], ['virtualmachineinstancemigrations']),
    reached: refused('source'),
    release: heal('source'),
    downUntil: async (s) => (await vmimPhases(s, 'source')).length === 0,
    extraOutageMs: 15_000,
    retried: 'finalize',
    outcome: 'Succeeded',
    attempts: 1,
  },
  {
    phase: 'Stalled',
    vm: 'web-01',
    signal: 'SIGKILL',
    options: { handshakeTimeout: '4s' },
    hold: syncController(false),
    reached: async (_s, h) => (await h.query(statusQuery)).stall?.deadline === 'handshake',
    // Healed only after the restart: healed during the outage, the wait behind the stall would see
    // the handshake and resume on its own, and there would be no stall left to retry.
    release: async () => {},
    decide: async (s, h) => {
      await syncController(true)(s);
      await h.executeUpdate(retryUpdate, { args: [{ reason: 'sync controller back' }] });
    },
    outcome: 'Succeeded',
    attempts: 2,
  },
  {
    phase: 'RollingBack',
    vm: 'web-01',
    signal: 'SIGTERM',
    // A cancel mid-transfer; the rollback then cannot delete the receiver VM until released.
    hold: async (s) => {
      await slowTransfer(s);
      await refuse('destination', ['delete'], ['virtualmachines'])(s);
    },
    steer: async (s, h) => {
      await waitForPhase(h, 'Synchronizing', 60_000);
      await eventually('the transfer under way', () => transferring(s, h), 60_000);
      await h.executeUpdate(cancelUpdate, { args: [{ reason: 'restart proof: cancel mid-transfer' }] });
    },
    reached: refused('destination'),
    release: async (s) => {
      await heal('destination')(s);
      await fastTransfer(s);
    },
    outcome: 'RolledBack',
    attempts: 1,
  },
];

/** The forward path, in order; a stall and the way back each stand alone. */
const FORWARD = ['Validating', 'SyncingCertificates', 'CreatingPrerequisites', 'CreatingTarget', 'CreatingMigrations', 'Synchronizing', 'Finalizing', 'Succeeded'];
function atOrAfter(held: string, now: string): boolean {
  if (held === 'RollingBack') return now === 'RollingBack' || now === 'RolledBack';
  if (!FORWARD.includes(held)) return now === held;
  return FORWARD.indexOf(now) >= FORWARD.indexOf(held);
}

let stack: RestartStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** `FERRY_PROOF_SHORT=1` (CI when time is short): a restart mid-transfer and one during a rollback. */
const short = process.env.FERRY_PROOF_SHORT === '1';
const scenarios = short ? SCENARIOS.filter((sc) => ['Synchronizing', 'RollingBack'].includes(sc.phase)) : SCENARIOS;

describe('Temporal dev server restarted in each phase (SQLite file, same port)', () => {
  for (const sc of scenarios) {
    const name = `${sc.phase}${sc.variant ? `, ${sc.variant}` : ''} (${sc.signal})`;
    it(`${name} → restart → ${sc.outcome}`, async () => {
      stack = await startRestartStack();
      const s = stack;
      const before = await baseline(s.sim);
      const pairs = await VmimPairWatch.start(s.sim);
      await sc.hold(s);
      const i = input(sc.vm, { options: { ...PATIENT, ...sc.options } });
      const workflowId = migrationWorkflowId(i);
      const handle = await startMigration(s, i);
      await sc.steer?.(s, handle);
      await waitForPhase(handle, sc.shows ?? sc.phase, 60_000);
      await eventually(`${sc.phase} held`, () => sc.reached(s, handle), 60_000, 100);

      const tDown = Date.now();
      await s.temporal.stop(sc.signal);
      await sc.release(s);
      if (sc.downUntil) await eventually(`${sc.phase}: the clusters moved on while Temporal was down`, () => sc.downUntil!(s), 60_000, 100);
      if (sc.extraOutageMs) await delay(sc.extraOutageMs); // the outage's length is the fault itself, not a wait for something
      await s.temporal.start();
      const tUp = Date.now();
      // The workflow's state came back from the file: the phase it was in, or one it reached by work
      // that finished during the outage.
      const now = (await handle.query(statusQuery)).phase;
      assert.ok(atOrAfter(sc.shows ?? sc.phase, now), `after the restart the migration is ${now}, before ${sc.shows ?? sc.phase}`);
      await sc.decide?.(s, handle);
      const result = (await handle.result()) as MigrationResult;
      const tDone = Date.now();

      if (sc.retried) {
        // The attempt whose completion the outage swallowed ran again: visible as its attempt 2.
        const events = (await handle.fetchHistory()).events ?? [];
        const scheduled = new Map(
          events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType?.name]),
        );
        const again = events.filter(
          (e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 && scheduled.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId)) === sc.retried,
        );
        assert.ok(again.length > 0, `no second attempt of ${sc.retried} in the history`);
      }
      await pairs.stop();
      const found = [
        ...(await checkRun(s.sim, { workflowId, vm: sc.vm, outcome: sc.outcome }, before)),
        ...pairs.violations(),
        ...(await secretLeaks(s.client, s.sim, { workflowIds: [workflowId], logs: s.logs })),
      ];
      recordRun({
        suite: 'restart',
        scenario: `dev-server ${name}`,
        outcome: result.outcome,
        expected: sc.outcome,
        violations: found,
        faults: { 'temporal-restart': 1 },
      });
      console.log(`dev-server ${name}: down → back ${secs(tUp - tDown)}, back → ${result.outcome} ${secs(tDone - tUp)}`);
      assert.equal(result.outcome, sc.outcome);
      assert.equal(result.attempts, sc.attempts);
      assert.deepEqual(found, []);
    });
  }
});
