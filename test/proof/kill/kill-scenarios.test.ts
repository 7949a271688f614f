/**
 * The kill matrix beyond a plain migration: ferry's worker is SIGKILLed at deterministic points of a
 * stall and its retry, of a cancel, and of a plan, and a fresh worker takes over each time. As in
 * kill-matrix.test.ts each point is bound to its own VM (its own child, for a plan) and the VMs run at
 * once, so every death also hits the other migrations in flight.
 *
 * Boundaries covered (`FERRY_PROOF_SHORT=1` keeps the two marked *):
 *
 * stall + retry (the destination's sync controller stopped, so every VM stalls at the handshake;
 * retried by update, then healed) → Succeeded, attempts 2:
 *   - inside the stalled handshake wait of attempt 1 (the test kills the worker once every VM shows Stalled)
 *   - before / after removeAttempt (the failed attempt's cleanup)            (* after)
 *   - before createPrerequisites of attempt 2
 *   - before / after createTargetVM of attempt 2
 *   - inside waitFor:receiverReady of attempt 2
 *   - before / after createTargetMigration of attempt 2                       (* before)
 *   - inside waitFor:syncAddress of attempt 2
 *   - before / after createSourceMigration of attempt 2
 *   - inside waitFor:handshake and waitFor:completion of attempt 2
 *   - before / after finalize
 *
 * cancel → RolledBack, the source running, nothing labelled left:
 *   - inside waitFor:handshake, then cancelled (held there by the stopped sync controller)   (*)
 *   - before rollback, cancelled while waiting for the handshake                             (*)
 *   - after rollback (its work done, its completion never reported)
 *   - before rollback, cancelled while Stalled
 *
 * plan of three VMs → Succeeded, every VM Succeeded:
 *   - before / after preflightMany (the plan's batch preflight)              (* after)
 *   - before / after syncCertificates (once for the plan)
 *   - before createTargetVM of child 1, after createSourceMigration of child 1
 *   - inside waitFor:handshake of child 2                                     (*)
 *   - after finalize of child 3
 */
import { deliverUpdate } from '../../../client/deliver-update.js';
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { fleetVmName } from '../../../simulator/fleet.js';
import { eventually, simControl } from '../../../simulator/testing/sim.js';
import { migrationWorkflowId, TASK_QUEUE, type MigrationInput, type MigrationResult } from '../../../workflows/contract.js';
import { cancelUpdate, retryUpdate, statusQuery } from '../../../workflows/messages.js';
import { planWorkflowId, vmMigrationInput, type PlanInput, type PlanResult } from '../../../workflows/plan-contract.js';
import { failureMessage, input, startMigration, startStack, type Stack } from '../../support/e2e.js';
import { recordRun } from '../support/figures.js';
import { baseline, checkRun, secretLeaks, VmimPairWatch, type Baseline, type RunOutcome } from '../support/invariants.js';
import { describePoint, type KillPoint } from '../support/kill-points.js';
import { ProofWorkers } from '../support/proof-worker.js';

const short = process.env.FERRY_PROOF_SHORT === '1';

/** Deadlines long enough that a worker's death is not itself a stall: only the scenario's hold stalls. */
const PATIENT = { receiverReadyTimeout: '3m', syncAddressTimeout: '3m', handshakeTimeout: '3m', minCompletionTimeout: '5m' };

type Point = Omit<KillPoint, 'workflowId'> & { short?: boolean };

let stack: Stack | undefined;
let workers: ProofWorkers | undefined;
afterEach(async () => {
  await workers?.stop();
  await stack?.stop();
  workers = undefined;
  stack = undefined;
});

/**
 * An operator's retry or cancel as `ferry retry|cancel` sends it (client/deliver-update.ts): a worker
 * that dies holding the workflow task that carries the update fails the call, and the resend under the
 * same update ID is the same decision once a fresh worker takes the task.
 */
async function decide(h: WorkflowHandle, update: typeof retryUpdate | typeof cancelUpdate, reason: string): Promise<void> {
  const answer = await deliverUpdate(h, update, [{ reason }], { windowMs: 180_000 });
  assert.ok(answer.accepted, `${update.name} of ${h.workflowId} refused: ${answer.message}`);
}

/** A run's end: its result, or its failure's message as a `Failed` outcome (so a red run says why). */
async function endOf(h: WorkflowHandle): Promise<{ outcome: string; attempts?: number; reason?: string }> {
  try {
    return (await h.result()) as MigrationResult;
  } catch (e) {
    return { outcome: 'Failed', reason: `${failureMessage(e)}; ${String((e as { cause?: { cause?: unknown } }).cause?.cause ?? '')}` };
  }
}

const syncController = (s: Stack, running: boolean) => simControl(s.sim.destination, 'sync-controller', 'PUT', { running });

/** One VM's run under one kill point. */
interface Run {
  vm: string;
  workflowId: string;
  point?: KillPoint;
  /** The test's own kill, when the point is a moment no activity marks (a stalled wait). */
  testKill?: string;
  /** What else sets this run apart (how it was steered). */
  note?: string;
}

/**
 * The invariants for every run after the scenario ended, each run recorded; returns every problem
 * (violations, kill points that never fired) so the test fails on any.
 */
async function verify(
  s: Stack,
  w: ProofWorkers,
  scenario: string,
  runs: Run[],
  points: KillPoint[],
  outcomes: { outcome: string; expected: RunOutcome }[],
  before: Baseline,
  pairs: VmimPairWatch,
  extraWorkflowIds: string[] = [],
): Promise<string[]> {
  await pairs.stop();
  const fired = new Set(w.used());
  const shared = [...pairs.violations(), ...(await secretLeaks(s.client, s.sim, { workflowIds: [...runs.map((r) => r.workflowId), ...extraWorkflowIds], logs: w.output }))];
  const problems = [...shared];
  for (const [i, r] of runs.entries()) {
    const violations = await checkRun(s.sim, { workflowId: r.workflowId, vm: r.vm, outcome: outcomes[i]!.expected }, before);
    const index = r.point ? points.indexOf(r.point) : -1;
    if (r.point && !fired.has(index)) violations.push(`kill point ${describePoint(r.point)} of ${r.workflowId} never fired`);
    problems.push(...violations);
    if (i === 0) violations.push(...shared);
    recordRun({
      suite: 'kill',
      scenario: `${scenario}: ${r.point ? describePoint(r.point) : (r.testKill ?? 'no kill of its own')}${r.note ? `, ${r.note}` : ''}`,
      outcome: outcomes[i]!.outcome,
      expected: outcomes[i]!.expected,
      violations,
      faults: { 'worker-kill': 1 },
    });
  }
  return problems;
}

const STALL_RETRY_POINTS: Point[] = [
  { step: 'removeAttempt', at: 'start' },
  { step: 'removeAttempt', at: 'end', short: true },
  { step: 'createPrerequisites', at: 'start', attempt: 2 },
  { step: 'createTargetVM', at: 'start', attempt: 2 },
  { step: 'createTargetVM', at: 'end', attempt: 2 },
  { step: 'waitFor:receiverReady', at: 'heartbeat', attempt: 2 },
  { step: 'createTargetMigration', at: 'start', attempt: 2, short: true },
  { step: 'createTargetMigration', at: 'end', attempt: 2 },
  { step: 'waitFor:syncAddress', at: 'heartbeat', attempt: 2 },
  { step: 'createSourceMigration', at: 'start', attempt: 2 },
  { step: 'createSourceMigration', at: 'end', attempt: 2 },
  { step: 'waitFor:handshake', at: 'heartbeat', attempt: 2 },
  { step: 'waitFor:completion', at: 'heartbeat', attempt: 2 },
  { step: 'finalize', at: 'start', attempt: 2 },
  { step: 'finalize', at: 'end', attempt: 2 },
];

const CANCEL_POINTS: (Point & { whileStalled?: boolean })[] = [
  { step: 'waitFor:handshake', at: 'heartbeat', short: true },
  { step: 'rollback', at: 'start', short: true },
  { step: 'rollback', at: 'end' },
  { step: 'rollback', at: 'start', whileStalled: true },
];

const chosen = <P extends Point>(all: P[]) => (short ? all.filter((p) => p.short) : all);
/** The point as the worker reads it, without the test's own marks. */
const withoutFlags = (p: Point & { whileStalled?: boolean }): Omit<KillPoint, 'workflowId'> => ({
  step: p.step,
  at: p.at,
  ...(p.nth !== undefined ? { nth: p.nth } : {}),
  ...(p.attempt !== undefined ? { attempt: p.attempt } : {}),
});

describe('kill matrix: stall + retry, cancel, plan', () => {
  it(`a stall and its retry survive SIGKILL inside the stalled wait and at ${chosen(STALL_RETRY_POINTS).length} boundaries of the retry`, async () => {
    stack = await startStack({ inProcessWorker: false });
    const s = stack;
    const chosenPoints = chosen(STALL_RETRY_POINTS);
    // One VM per point, and one more whose only kill is the test's, inside the stalled wait.
    const count = chosenPoints.length + 1;
    await s.sim.loadFleet({ namespace: 'demo', count, prefix: 'stall' });
    const before = await baseline(s.sim);
    const pairs = await VmimPairWatch.start(s.sim);
    const runs: (Run & { migration: MigrationInput })[] = Array.from({ length: count }, (_, i) => {
      const vm = fleetVmName('stall', i + 1);
      // A short handshake deadline: the stall comes quickly; the other waits are patient.
      const migration = input(vm, { options: { ...PATIENT, handshakeTimeout: '5s' } });
      const workflowId = migrationWorkflowId(migration);
      const p = chosenPoints[i];
      return p ? { vm, workflowId, migration, point: { ...withoutFlags(p), workflowId } } : { vm, workflowId, migration, testKill: 'inside the stalled handshake wait' };
    });
    const points = runs.flatMap((r) => (r.point ? [r.point] : []));
    // No handshake without the destination's sync controller: every VM stalls at the same step.
    await syncController(s, false);
    workers = await ProofWorkers.start(s, { killAt: points });
    const w = workers;
    const t0 = Date.now();
    const handles = await Promise.all(runs.map((r) => startMigration(s, r.migration)));
    await eventually(
      'every migration Stalled at the handshake',
      async () => {
        const statuses = await Promise.all(handles.map((h) => h.query(statusQuery)));
        return statuses.every((st) => st.phase === 'Stalled' && st.stall?.deadline === 'handshake');
      },
      180_000,
      200,
    );
    // The stalled wait is a running activity (it keeps watching): a death now is a death inside it.
    assert.equal(w.kills, 0, 'a kill point fired before the retry');
    w.kill();
    await w.killed(1);
    // The stall survived the takeover: still Stalled, still attempt 1, answered by the new worker
    // (queries fail until it polls: the dead worker's sticky queue has to time out first).
    await eventually(
      'every migration still Stalled in attempt 1, answered by the fresh worker',
      async () => (await Promise.all(handles.map((h) => h.query(statusQuery)))).every((st) => st.phase === 'Stalled' && st.attempt === 1),
      120_000,
      200,
    );
    // Retried before the heal, and healed only once every first attempt is removed: healed sooner, the
    // first attempt's VMIMs would finish the handshake and the transfer on their own, and the cleanup
    // would rightly refuse to undo a completed migration (PastCutover) — nothing left to retry.
    await Promise.all(handles.map((h) => decide(h, retryUpdate, 'kill matrix: retry after a stall')));
    await eventually('every migration in attempt 2', async () => (await Promise.all(handles.map((h) => h.query(statusQuery)))).every((st) => st.attempt === 2), 180_000, 200);
    await syncController(s, true);
    const results = await Promise.all(handles.map(endOf));
    const seconds = Math.round((Date.now() - t0) / 1000);
    for (const [i, r] of results.entries()) if (r.reason && r.outcome === 'Failed') console.log(`${runs[i]!.workflowId} failed: ${r.reason}`);
    const problems = await verify(
      s,
      w,
      'stall + retry',
      runs,
      points,
      results.map((r) => ({ outcome: r.outcome, expected: 'Succeeded' })),
      before,
      pairs,
    );
    console.log(`kill matrix, stall + retry: ${runs.length} VMs, ${w.kills} worker deaths, ${w.spawned} workers, done in ${seconds} s`);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      results.map((r) => [r.outcome, r.attempts]),
      runs.map(() => ['Succeeded', 2]),
    );
    assert.ok(pairs.events > 0, 'the VMIM watch saw nothing: the pair check proves nothing');
    assert.ok(w.kills >= points.length + 1, `${w.kills} kills for ${points.length + 1} points`);
  });

  it(`a cancel survives SIGKILL at ${chosen(CANCEL_POINTS).length} points around its rollback`, async () => {
    stack = await startStack({ inProcessWorker: false });
    const s = stack;
    const chosenPoints = chosen(CANCEL_POINTS);
    await s.sim.loadFleet({ namespace: 'demo', count: chosenPoints.length, prefix: 'cancel' });
    const before = await baseline(s.sim);
    const pairs = await VmimPairWatch.start(s.sim);
    const runs = chosenPoints.map((p, i) => {
      const vm = fleetVmName('cancel', i + 1);
      // Held at the handshake by the stopped sync controller: patiently, or stalled on purpose.
      const migration = input(vm, { options: { ...PATIENT, ...(p.whileStalled ? { handshakeTimeout: '5s' } : {}) } });
      const workflowId = migrationWorkflowId(migration);
      return {
        vm,
        workflowId,
        migration,
        whileStalled: p.whileStalled === true,
        point: { ...withoutFlags(p), workflowId },
        note: p.whileStalled ? 'cancelled while Stalled' : undefined,
      };
    });
    const points = runs.map((r) => r.point);
    await syncController(s, false);
    workers = await ProofWorkers.start(s, { killAt: points });
    const w = workers;
    const t0 = Date.now();
    const handles = await Promise.all(runs.map((r) => startMigration(s, r.migration)));
    const inWait = points.findIndex((p) => p.at === 'heartbeat');
    await eventually(
      'every migration held at the handshake (Stalled where meant to), and the kill inside the wait done',
      async () => {
        if (inWait >= 0 && !w.used().includes(inWait)) return false;
        const statuses = await Promise.all(handles.map((h) => h.query(statusQuery)));
        return statuses.every((st, i) => (runs[i]!.whileStalled ? st.phase === 'Stalled' : st.phase === 'Synchronizing'));
      },
      180_000,
      200,
    );
    await Promise.all(handles.map((h) => decide(h, cancelUpdate, 'kill matrix: cancel')));
    const results = await Promise.all(handles.map(endOf));
    for (const [i, r] of results.entries()) if (r.outcome === 'Failed') console.log(`${runs[i]!.workflowId} failed: ${r.reason}`);
    await syncController(s, true);
    const seconds = Math.round((Date.now() - t0) / 1000);
    const problems = await verify(
      s,
      w,
      'cancel',
      runs,
      points,
      results.map((r) => ({ outcome: r.outcome, expected: 'RolledBack' })),
      before,
      pairs,
    );
    console.log(`kill matrix, cancel: ${runs.length} VMs, ${w.kills} worker deaths, ${w.spawned} workers, done in ${seconds} s`);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      results.map((r) => r.outcome),
      runs.map(() => 'RolledBack'),
    );
    assert.ok(w.kills >= points.length, `${w.kills} kills for ${points.length} points`);
  });

  it('a plan of three VMs survives SIGKILL at its own activities and inside its children', async () => {
    stack = await startStack({ inProcessWorker: false });
    const s = stack;
    const vms = [1, 2, 3].map((i) => fleetVmName('plan', i));
    await s.sim.loadFleet({ namespace: 'demo', count: vms.length, prefix: 'plan' });
    const before = await baseline(s.sim);
    const pairs = await VmimPairWatch.start(s.sim);
    const plan: PlanInput = {
      name: 'kill-matrix',
      source: { cluster: 'source' },
      destination: { cluster: 'destination' },
      vms: vms.map((name) => ({ namespace: 'demo', name })),
      options: { ...input(vms[0]!).options, ...PATIENT },
      maxInFlight: vms.length,
    } as PlanInput;
    const planId = planWorkflowId(plan.name);
    const childIds = plan.vms.map((vm) => migrationWorkflowId(vmMigrationInput(plan as Parameters<typeof vmMigrationInput>[0], vm as Parameters<typeof vmMigrationInput>[1])));
    // Where each point's run is counted: the plan's own points on the first child's line.
    const all: (Point & { workflowId: string; child?: number })[] = [
      { step: 'preflightMany', at: 'start', workflowId: planId },
      { step: 'preflightMany', at: 'end', workflowId: planId, short: true },
      { step: 'syncCertificates', at: 'start', workflowId: planId },
      { step: 'syncCertificates', at: 'end', workflowId: planId },
      { step: 'createTargetVM', at: 'start', workflowId: childIds[0]!, child: 0 },
      { step: 'createSourceMigration', at: 'end', workflowId: childIds[0]!, child: 0 },
      { step: 'waitFor:handshake', at: 'heartbeat', workflowId: childIds[1]!, child: 1, short: true },
      { step: 'finalize', at: 'end', workflowId: childIds[2]!, child: 2 },
    ];
    const points: KillPoint[] = (short ? all.filter((p) => p.short) : all).map((p) => ({ ...withoutFlags(p), workflowId: p.workflowId }));
    workers = await ProofWorkers.start(s, { killAt: points });
    const w = workers;
    const t0 = Date.now();
    const handle: WorkflowHandle = await s.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: planId, args: [plan] });
    const result = (await handle.result()) as PlanResult;
    const seconds = Math.round((Date.now() - t0) / 1000);
    await pairs.stop();
    const fired = new Set(w.used());
    const problems = [...pairs.violations(), ...(await secretLeaks(s.client, s.sim, { workflowIds: [planId, ...childIds], logs: w.output }))];
    for (const [i, p] of points.entries()) if (!fired.has(i)) problems.push(`kill point ${describePoint(p)} of ${p.workflowId} never fired`);
    // Each child's own end: the plan's result names only the VMs that did not succeed.
    const byChild = new Map(
      await Promise.all(
        childIds.map(
          async (id) =>
            [
              id,
              await s.client.workflow
                .getHandle(id)
                .result()
                .then(
                  (r: MigrationResult) => r.outcome,
                  () => 'Failed',
                ),
            ] as const,
        ),
      ),
    );
    for (const [i, vm] of vms.entries()) {
      const violations = await checkRun(s.sim, { workflowId: childIds[i]!, vm, outcome: 'Succeeded' }, before);
      problems.push(...violations);
    }
    for (const [i, p] of points.entries()) {
      const child = childIds.indexOf(p.workflowId!);
      recordRun({
        suite: 'kill',
        scenario: `plan: ${describePoint(p)} of ${child >= 0 ? `child ${child + 1}` : 'the plan'}`,
        outcome: child >= 0 ? String(byChild.get(p.workflowId!)) : result.outcome,
        expected: 'Succeeded',
        violations: i === 0 ? problems : fired.has(i) ? [] : [`kill point never fired`],
        faults: { 'worker-kill': 1 },
      });
    }
    console.log(`kill matrix, plan: ${vms.length} VMs, ${points.length} points, ${w.kills} worker deaths, ${w.spawned} workers, done in ${seconds} s`);
    assert.deepEqual(problems, []);
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.succeeded, vms.length);
    assert.deepEqual(
      childIds.map((id) => byChild.get(id)),
      vms.map(() => 'Succeeded'),
    );
    assert.ok(w.kills >= points.length, `${w.kills} kills for ${points.length} points`);
  });
});
