/**
 * The plan's carried state as data: the old carry (every VM listed) converts to the bounded one, the
 * lists stop at NOTABLE_MAX while the counts go on, and what `ferry plan status` and the Web UI show
 * for the VMs the lists leave out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planTable } from '../../client/plan-progress.js';
import { freshCarry, fromCarryV1, recordEnd, type PlanCarryV1 } from '../../workflows/plan-carry.js';
import { NOTABLE_MAX, planChildrenQuery, type PlanStatus, type PlanVmStatus } from '../../workflows/plan-contract.js';
import { planDetails } from '../../workflows/plan-details.js';

const vm = (i: number, state: PlanVmStatus['state'], more: Partial<PlanVmStatus> = {}): PlanVmStatus => ({
  vm: `ns/vm-${i}`,
  workflowId: `migration/source/ns/vm-${i}`,
  state,
  ...more,
});

describe('the old carry', () => {
  it('converts: the first Pending VM is the next to start, later skips are kept ahead, the VMs in flight stay in flight', () => {
    const states: PlanVmStatus['state'][] = ['Succeeded', 'Skipped', 'Failed', 'Synchronizing', 'RolledBack', 'Pending', 'Skipped', 'Pending', 'Skipped'];
    const old: PlanCarryV1 = {
      phase: 'Migrating',
      startedAt: '2026-12-01T00:00:00.000Z',
      runs: 2,
      peakInFlight: 2,
      vms: states.map((s, i) => vm(i, s, s === 'Failed' ? { error: 'boom' } : {})),
    };
    const carry = fromCarryV1(old);
    assert.equal(carry.version, 2);
    assert.equal(carry.next, 5);
    assert.deepEqual(carry.skip, [6, 8]);
    assert.deepEqual(carry.ended, { Succeeded: 1, RolledBack: 1, Failed: 1, Skipped: 3 });
    assert.deepEqual(
      carry.active.map((v) => [v.vm, v.state]),
      [['ns/vm-3', 'Synchronizing']],
    );
    assert.deepEqual(
      carry.notable.skipped.map((v) => v.vm),
      ['ns/vm-1', 'ns/vm-6', 'ns/vm-8'],
    );
    assert.deepEqual(carry.notable.failed, [vm(2, 'Failed', { error: 'boom' })]);
    assert.deepEqual([carry.phase, carry.runs, carry.peakInFlight, carry.startedAt], ['Migrating', 2, 2, '2026-12-01T00:00:00.000Z']);
  });

  it('of a cancelled plan: nothing Pending, nothing left to start', () => {
    const carry = fromCarryV1({
      phase: 'Cancelling',
      startedAt: 'x',
      runs: 1,
      peakInFlight: 1,
      cancelReason: 'window',
      vms: [vm(0, 'Synchronizing'), vm(1, 'Skipped'), vm(2, 'Skipped')],
    });
    assert.deepEqual([carry.next, carry.skip, carry.ended.Skipped, carry.cancelReason], [3, [], 2, 'window']);
  });
});

describe('bounded lists', () => {
  it('name the first NOTABLE_MAX of each end and count every one; long errors are cut', () => {
    const carry = freshCarry('x');
    for (let i = 0; i < 5000; i++) recordEnd(carry, vm(i, i % 2 ? 'Failed' : 'Succeeded', { error: 'e'.repeat(5000) }));
    assert.deepEqual(carry.ended, { Succeeded: 2500, RolledBack: 0, Failed: 2500, Skipped: 0 });
    assert.equal(carry.notable.failed.length, NOTABLE_MAX);
    assert.ok(carry.notable.failed.every((v) => v.error!.length <= 1000));
    assert.ok(JSON.stringify(carry).length < 150_000);
  });
});

function status(over: Partial<PlanStatus> = {}): PlanStatus {
  return {
    workflowId: 'plan/big',
    name: 'big',
    phase: 'Migrating',
    source: 'source',
    destination: 'destination',
    maxInFlight: 20,
    total: 6000,
    counts: { Pending: 3000, Succeeded: 2000, Failed: 500, Skipped: 500 },
    inFlight: 0,
    peakInFlight: 20,
    stalled: [],
    failed: Array.from({ length: NOTABLE_MAX }, (_, i) => vm(i, 'Failed', { error: 'boom' })),
    skipped: Array.from({ length: NOTABLE_MAX }, (_, i) => vm(1000 + i, 'Skipped', { blockers: [{ code: 'VMNotRunning', message: 'not running' }] })),
    unlisted: { failed: 500 - NOTABLE_MAX, skipped: 500 - NOTABLE_MAX },
    active: [],
    childrenQuery: planChildrenQuery('big'),
    startedAt: 'x',
    runs: 4,
    ...over,
  };
}

describe('what the CLI and the Web UI show of a big plan', () => {
  it('ferry plan status: the listed VMs, how many more, and the visibility query for them', () => {
    const text = planTable(status());
    assert.match(text, /Failed or rolled back \(500, the first 100 listed\):/);
    assert.match(text, /… and 400 more: temporal workflow list --query "WorkflowType = 'migrateVm' AND FerryPlan = 'big' AND FerryPhase IN \('Failed', 'RolledBack'\)"/);
    assert.match(text, /Skipped \(500, the first 100 listed\):/);
    assert.match(text, /Every VM migration of the plan: temporal workflow list --query "WorkflowType = 'migrateVm' AND FerryPlan = 'big'"/);
    assert.equal(text.split('\n').filter((l) => l.startsWith('ns/vm-')).length, 2 * NOTABLE_MAX);
  });

  it('the Web UI: exact totals, 20 lines per list, the rest pointed to', () => {
    const text = planDetails(status());
    assert.match(text, /\*\*500 failed or rolled back:\*\*/);
    assert.match(text, /- … and 480 more \(all of them: `temporal workflow list --query "WorkflowType = 'migrateVm' AND FerryPlan = 'big' AND FerryPhase IN/);
    assert.match(text, /\*\*500 skipped:\*\*/);
    assert.match(text, /- … and 480 more \(a skipped VM has no migration/);
    assert.equal(text.split('\n').filter((l) => l.startsWith('- `ns/vm-')).length, 40);
  });
});
