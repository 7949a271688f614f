/**
 * Regression, found by the chaos suite (seed 20261302, 50 runs: chaos-large/large-0004): an operator
 * cancelled during the transfer, the cancel was accepted (ferry had not reached cutover), and while
 * the rollback was on its way KubeVirt completed the hand-over. The rollback then deleted the receiver
 * VM, which by then held the guest, and KubeVirt had halted the source: the VM ran nowhere. The
 * rollback now refuses once KubeVirt has handed over, and the workflow finishes forward.
 *
 * Made deterministic with a kill point: the worker dies as the rollback starts, so the transfer (a
 * large guest's, several seconds) completes before a fresh worker runs the rollback.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fleetVmName } from '../../../simulator/fleet.js';
import { migrationWorkflowId, type MigrationResult } from '../../../workflows/contract.js';
import { cancelUpdate, statusQuery } from '../../../workflows/messages.js';
import { input, startMigration, startStack, type Stack } from '../../support/e2e.js';
import { eventually } from '../../../simulator/testing/sim.js';
import { recordRun } from '../support/figures.js';
import { baseline, checkRun } from '../support/invariants.js';
import { ProofWorkers } from '../support/proof-worker.js';

const NS = 'cancel-race';

let stack: Stack | undefined;
let workers: ProofWorkers | undefined;
after(async () => {
  await workers?.stop();
  await stack?.stop();
});

describe('a cancel that races KubeVirt completing the hand-over', () => {
  it('finishes the migration forward instead of deleting the VM that now holds the guest', async () => {
    stack = await startStack({ inProcessWorker: false });
    const s = stack;
    await s.sim.loadFleet({ namespace: NS, count: 1, prefix: 'race', memory: '16Gi' });
    const before = await baseline(s.sim);
    const vm = fleetVmName('race', 1);
    const migration = input(vm, { source: { cluster: 'source', namespace: NS, name: vm }, options: { handshakeTimeout: '60s', completionTimeoutPerGiB: '5s' } });
    const workflowId = migrationWorkflowId(migration);
    workers = await ProofWorkers.start(s, { killAt: [{ step: 'rollback', at: 'start', workflowId }] });
    const handle = await startMigration(s, migration);
    await eventually(
      'the transfer under way',
      async () => {
        const status = await handle.query(statusQuery);
        return status.phase === 'Synchronizing' && status.observed?.sourceVMIM === 'Running';
      },
      120_000,
      100,
    );
    const answer = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'cancel racing the hand-over' }] });
    assert.equal(answer.accepted, true);
    const result = (await handle.result()) as MigrationResult;
    assert.deepEqual(workers.used(), [0], 'the worker did not die at the rollback: the race was not staged');
    const violations = await checkRun(s.sim, { workflowId, vm, namespace: NS, outcome: 'Succeeded' }, before);
    const history = JSON.stringify((await handle.query(statusQuery)).history);
    recordRun({
      suite: 'chaos',
      scenario: 'regression: cancel racing the hand-over',
      outcome: result.outcome,
      expected: 'Succeeded',
      violations,
      faults: { 'worker-kill-point': 1, 'operator-cancel': 1 },
    });
    assert.equal(result.outcome, 'Succeeded');
    assert.deepEqual(violations, []);
    assert.match(history, /not rolled back: .*the migration completed before ferry could undo it/);
  });
});
