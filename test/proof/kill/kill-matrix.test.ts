/**
 * The kill matrix: ferry's worker is SIGKILLed at every activity boundary of a migration — before each
 * step runs, after it finished but before Temporal heard, and inside every wait — and a fresh worker
 * takes over. Every migration must succeed with the invariants holding. Each kill point is bound to
 * its own VM, and the VMs migrate at once, so one worker death also hits every other migration in
 * flight (more kills than points, never fewer). `FERRY_PROOF_SHORT=1` runs three points.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { migrationWorkflowId, type MigrationResult } from '../../../workflows/contract.js';
import { fleetVmName } from '../../../simulator/fleet.js';
import { input, startMigration, startStack, type Stack } from '../../support/e2e.js';
import { recordRun } from '../support/figures.js';
import { baseline, checkRun, secretLeaks, VmimPairWatch } from '../support/invariants.js';
import { describePoint, type KillPoint, MIGRATION_STEPS as STEPS } from '../support/kill-points.js';
import { ProofWorkers } from '../support/proof-worker.js';

const WAITS = STEPS.filter((s) => s.startsWith('waitFor:'));

export const KILL_POINTS: Omit<KillPoint, 'workflowId'>[] = [
  ...STEPS.flatMap((step) => [
    { step, at: 'start' as const },
    { step, at: 'end' as const },
  ]),
  ...WAITS.map((step) => ({ step, at: 'heartbeat' as const })),
];

const short = process.env.FERRY_PROOF_SHORT === '1';
const points = short ? KILL_POINTS.filter((p) => ['createTargetVM:start', 'createSourceMigration:end', 'waitFor:handshake:heartbeat'].includes(`${p.step}:${p.at}`)) : KILL_POINTS;

/** Deadlines long enough that a worker's death is not itself a stall: this matrix proves takeover. */
const PATIENT = { receiverReadyTimeout: '3m', syncAddressTimeout: '3m', handshakeTimeout: '3m', minCompletionTimeout: '5m' };

let stack: Stack | undefined;
let workers: ProofWorkers | undefined;
after(async () => {
  await workers?.stop();
  await stack?.stop();
});

describe('kill matrix', () => {
  it(`a plain migration survives SIGKILL at each of ${points.length} boundaries`, async () => {
    stack = await startStack({ inProcessWorker: false });
    const s = stack;
    await s.sim.loadFleet({ namespace: 'demo', count: points.length, prefix: 'kill' });
    const before = await baseline(s.sim);
    const pairs = await VmimPairWatch.start(s.sim);
    const runs = points.map((p, i) => {
      const vm = fleetVmName('kill', i + 1);
      const migration = input(vm, { options: PATIENT });
      return { vm, point: { ...p, workflowId: migrationWorkflowId(migration) }, migration };
    });
    workers = await ProofWorkers.start(s, { killAt: runs.map((r) => r.point) });
    const t0 = Date.now();
    const results = await Promise.all(
      runs.map(async (r) => {
        const handle = await startMigration(s, r.migration);
        return (await handle.result()) as MigrationResult;
      }),
    );
    const seconds = Math.round((Date.now() - t0) / 1000);
    await pairs.stop();
    const fired = new Set(workers.used());
    const leaks = await secretLeaks(s.client, s.sim, { workflowIds: runs.map((r) => r.point.workflowId!), logs: workers.output });
    const problems: string[] = [...pairs.violations(), ...leaks];
    for (const [i, r] of runs.entries()) {
      const violations = await checkRun(s.sim, { workflowId: r.point.workflowId!, vm: r.vm, outcome: 'Succeeded' }, before);
      if (!fired.has(i)) violations.push(`kill point ${describePoint(r.point)} never fired`);
      if (i === 0) violations.push(...pairs.violations(), ...leaks);
      problems.push(...violations.filter((v) => !pairs.violations().includes(v) && !leaks.includes(v)));
      recordRun({ suite: 'kill', scenario: `plain: ${describePoint(r.point)}`, outcome: results[i]!.outcome, expected: 'Succeeded', violations, faults: { 'worker-kill': 1 } });
    }
    console.log(`kill matrix: ${points.length} points, ${workers.kills} worker deaths, ${workers.spawned} workers, all migrations done in ${seconds} s`);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      results.map((r) => r.outcome),
      runs.map(() => 'Succeeded'),
    );
    assert.ok(pairs.events > 0, 'the VMIM watch saw nothing: the pair check proves nothing');
    assert.ok(workers.kills >= points.length, `${workers.kills} kills for ${points.length} points`);
  });
});
