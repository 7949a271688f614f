/**
 * Every decision path of the migration workflow, in seconds: the real workflow code on Temporal's
 * time-skipping test server, with stand-in activities (fake-activities.ts). Thirty-minute decision
 * windows pass as soon as nothing else can happen; assertions are on the workflow's result or failure,
 * its status history (phases, notes and their workflow-clock times) and the activities it called.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it as test } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../workers/worker.js';
import { FailureTypes, type MigrationResult, type MigrationStatus } from '../../workflows/contract.js';
import { cancelSignal, cancelUpdate, extendSignal, extendUpdate, retryUpdate, statusQuery } from '../../workflows/messages.js';
import type { Phase } from '../../workflows/phases.js';
import { startTimeSkipping } from '../support/time-skipping.js';
import { type ActivityName, failure, FakeClusters, routedActivities } from './fake-activities.js';

const taskQueue = 'migrate-vm-time-skipping';
/** Workflows the running case started. */
const opened: WorkflowHandle[] = [];
/**
 * Each case takes about a second; a hang fails its own case, not the file. A workflow a case leaves
 * running (a stuck wait retrying its activity) holds the test server's clock still while its activity
 * runs, so the time skips of later cases would come late or never: each case ends its own workflows.
 */
const it = (name: string, fn: () => Promise<void>): void =>
  void test(name, { timeout: 20_000 }, async () => {
    try {
      await fn();
    } finally {
      await Promise.all(opened.splice(0).map((h) => h.terminate('the test case is over').catch(() => undefined)));
      if (!(await clockSkips())) {
        console.error('# the test server clock stopped skipping: restarting it for the next case');
        await stopEnvironment();
        await startEnvironment();
      }
    }
  });
const MINUTE = 60_000;

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const fakes = new Map<string, FakeClusters>();
let n = 0;

let bundle: WorkflowBundleWithSourceMap;

async function startEnvironment(): Promise<void> {
  env = await startTimeSkipping();
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: routedActivities((id) => fakes.get(id) ?? new FakeClusters()),
  });
  running = worker.run();
}

async function stopEnvironment(): Promise<void> {
  worker?.shutdown();
  await running;
  await env?.teardown();
}

/**
 * Whether the test server's clock still skips. On a loaded machine the Java test server sometimes
 * keeps it locked for good after a case whose workflow was cancelled while its activity retried; every
 * later case that needs a deadline to pass would then hang. A minute of workflow time must pass within
 * a few seconds of real time.
 */
async function clockSkips(): Promise<boolean> {
  const before = await env.currentTimeMs();
  const slept = await Promise.race([env.sleep(MINUTE).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000))]);
  return slept && (await env.currentTimeMs()) - before >= MINUTE;
}

before(async () => {
  // A stuck wait fails every attempt on purpose (fake-activities.ts): keep those retries out of the log.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') });
  await startEnvironment();
});

after(stopEnvironment);

interface Started {
  fake: FakeClusters;
  handle: WorkflowHandle;
}

async function begin(options: Record<string, unknown> = {}, setup: (f: FakeClusters) => void = () => undefined): Promise<Started> {
  const fake = new FakeClusters();
  setup(fake);
  const workflowId = `migration/ts/${process.pid}/${++n}`;
  fakes.set(workflowId, fake);
  const handle = await env.client.workflow.start('migrateVm', {
    taskQueue,
    workflowId,
    args: [{ source: { cluster: 'source', namespace: 'demo', name: 'web-01' }, destination: { cluster: 'destination', namespace: 'target' }, options }],
  });
  opened.push(handle);
  return { fake, handle };
}

const status = (h: WorkflowHandle) => h.query(statusQuery);

/** Until the status satisfies `ok` (the workflow runs in real time between skips; queries are cheap). */
async function until(h: WorkflowHandle, ok: (s: MigrationStatus) => boolean, what: string): Promise<MigrationStatus> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = await status(h).catch(() => undefined);
    if (s && ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`${what}: not reached; status ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const inPhase = (h: WorkflowHandle, phase: Phase) => until(h, (s) => s.phase === phase, `phase ${phase}`);
/** Once the workflow waits in `step`, move the clock past its deadline (`budgetMs`): it stalls. */
async function stallIn(h: WorkflowHandle, step: Phase, budgetMs = 5 * MINUTE): Promise<MigrationStatus> {
  await inPhase(h, step);
  await env.sleep(budgetMs + 1000);
  return inPhase(h, 'Stalled');
}
const phases = (s: MigrationStatus) => s.history.map((e) => e.phase);
const noteOf = (s: MigrationStatus, phase: Phase) => s.history.filter((e) => e.phase === phase).map((e) => e.note ?? '');
/** Equal to within the workflow's own processing time (tasks take milliseconds of workflow clock too). */
function about(actualMs: number, expectedMs: number, what: string): void {
  assert.ok(Math.abs(actualMs - expectedMs) < 1000, `${what}: ${actualMs} ms, expected ${expectedMs} ms`);
}

/** Workflow-clock time between the first `from` entry and the first `to` entry after it. */
function gap(s: MigrationStatus, from: Phase, to: Phase): number {
  const i = s.history.findIndex((e) => e.phase === from);
  const j = s.history.findIndex((e, k) => k > i && e.phase === to);
  assert.ok(i >= 0 && j > i, `history has ${from} then ${to}: ${phases(s).join(' → ')}`);
  return Date.parse(s.history[j]!.at) - Date.parse(s.history[i]!.at);
}

async function failureOf(h: WorkflowHandle): Promise<Error> {
  const e = await h.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof WorkflowFailedError, `expected the workflow to fail, got ${String(e)}`);
  return e.cause as Error;
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof WorkflowUpdateFailedError && pattern.test(String((e.cause as Error | undefined)?.message)));
}

const STEPS_IN_ORDER: Phase[] = ['Validating', 'SyncingCertificates', 'CreatingPrerequisites', 'CreatingTarget', 'CreatingMigrations', 'Synchronizing', 'Finalizing', 'Succeeded'];

describe('migrateVm on the time-skipping server', () => {
  it("succeeds through the seed's steps in order, calling each activity once", async () => {
    const { fake, handle } = await begin();
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 1);
    assert.deepEqual(phases(await status(handle)), STEPS_IN_ORDER);
    assert.deepEqual(fake.calls, [
      'preflight',
      'syncCertificates',
      'createPrerequisites',
      'createTargetVM',
      'waitFor',
      'createTargetMigration',
      'waitFor',
      'createSourceMigration',
      'waitFor',
      'waitFor',
      'finalize',
    ]);
    assert.deepEqual(result.created.map((o) => o.kind).sort(), ['DataVolume', 'VirtualMachine', 'VirtualMachineInstanceMigration', 'VirtualMachineInstanceMigration']);
  });

  describe('stalls and the decision window (defaults: 5m handshake, 30m window)', () => {
    it('fallback wait (the default): the window passes and nothing happens; the stall then clears by itself', async () => {
      const { fake, handle } = await begin({}, (f) => f.stuck.add('handshake'));
      const stalled = await stallIn(handle, 'Synchronizing');
      assert.equal(stalled.stall?.deadline, 'handshake');
      assert.equal(Date.parse(stalled.deadline!) - Date.parse(stalled.stall!.since), 30 * MINUTE, 'the window is shown: 30 minutes');
      await env.sleep(45 * MINUTE);
      assert.equal((await status(handle)).phase, 'Stalled', 'still Stalled 45 minutes later: wait never acts');
      fake.heal('handshake');
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'Succeeded');
      const s = await status(handle);
      assert.deepEqual(noteOf(s, 'Synchronizing'), ['', 'recovered without intervention']);
      assert.equal(fake.count('rollback') + fake.count('removeAttempt'), 0);
    });

    it('fallback cancel: rolls back when nobody decides within the 30-minute window', async () => {
      const { fake, handle } = await begin({ stallFallback: 'cancel' }, (f) => f.stuck.add('handshake'));
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'RolledBack');
      assert.equal(result.reason, 'no decision within 30m: stall fallback cancels');
      const s = await status(handle);
      assert.deepEqual(phases(s).slice(-4), ['Synchronizing', 'Stalled', 'RollingBack', 'RolledBack']);
      about(gap(s, 'Synchronizing', 'Stalled'), 5 * MINUTE, 'stalled when the 5-minute handshake deadline passed');
      about(gap(s, 'Stalled', 'RollingBack'), 30 * MINUTE, 'rolled back when the window closed');
      assert.equal(fake.count('rollback'), 1);
    });

    it('fallback retry: retries until maxAutoRetries is exhausted, then cancels', async () => {
      const { fake, handle } = await begin({ stallFallback: 'retry', maxAutoRetries: 2 }, (f) => f.stuck.add('handshake'));
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'RolledBack');
      assert.equal(result.attempts, 3);
      assert.equal(result.reason, 'automatic retries exhausted (2): stall fallback cancels');
      const s = await status(handle);
      assert.deepEqual(noteOf(s, 'RollingBack'), [
        'retry: no decision within 30m: automatic retry 1 of 2',
        'retry: no decision within 30m: automatic retry 2 of 2',
        'automatic retries exhausted (2): stall fallback cancels',
      ]);
      assert.equal(phases(s).filter((p) => p === 'Stalled').length, 3);
      assert.equal(fake.count('removeAttempt'), 2);
      assert.equal(fake.count('rollback'), 1);
      assert.equal(fake.count('createPrerequisites'), 3, 'each attempt starts from scratch');
      assert.deepEqual(result.created, []);
    });

    it('fallback retry: a retry whose attempt no longer stalls succeeds', async () => {
      const { fake, handle } = await begin({ stallFallback: 'retry', maxAutoRetries: 2 }, (f) => {
        f.stuck.add('handshake');
        f.hold('removeAttempt');
      });
      const done = handle.result() as Promise<MigrationResult>;
      await fake.entered('removeAttempt');
      fake.heal('handshake');
      fake.release('removeAttempt');
      const result = await done;
      assert.equal(result.outcome, 'Succeeded');
      assert.equal(result.attempts, 2);
      assert.equal(fake.count('removeAttempt'), 1);
      const s = await status(handle);
      assert.equal(s.migrationId, result.migrationId);
      assert.equal(result.created.filter((o) => o.kind === 'VirtualMachine').length, 1, "the first attempt's objects are forgotten once removed");
    });

    it('a stall in another step (receiver not ready) recovers by itself within the window', async () => {
      const { fake, handle } = await begin({}, (f) => f.stuck.add('receiverReady'));
      const s = await stallIn(handle, 'CreatingTarget');
      assert.equal(s.stall?.phase, 'CreatingTarget');
      assert.equal(s.stall?.deadline, 'receiverReady');
      assert.match(s.stall!.diagnosis, /receiver VMI/);
      fake.heal('receiverReady');
      assert.equal(((await handle.result()) as MigrationResult).outcome, 'Succeeded');
      assert.deepEqual(noteOf(await status(handle), 'CreatingTarget'), ['', 'recovered without intervention']);
    });

    it('extend while stalled resumes the step with the new deadline; it stalls again when that passes', async () => {
      const { fake, handle } = await begin({ stallFallback: 'cancel' }, (f) => f.stuck.add('handshake'));
      await stallIn(handle, 'Synchronizing');
      const answer = await handle.executeUpdate(extendUpdate, { args: [{ by: '10m' }] });
      assert.equal(answer.phase, 'Synchronizing');
      const resumed = await until(handle, (s) => s.phase === 'Synchronizing' && s.history.length > 7, 'resumed');
      assert.equal(resumed.history.at(-1)?.note, 'deadline extended by an operator');
      assert.equal(resumed.deadline, answer.deadline);
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'RolledBack');
      const s = await status(handle);
      assert.equal(phases(s).filter((p) => p === 'Stalled').length, 2);
      const second = s.history.filter((e) => e.phase === 'Stalled')[1]!;
      about(Date.parse(second.at), Date.parse(answer.deadline!), 'the second stall comes at the extended deadline');
      assert.equal(fake.count('rollback'), 1);
    });

    it('extend while waiting moves the deadline: no stall at the old one, a stall at the new one', async () => {
      const { handle } = await begin({ stallFallback: 'cancel' }, (f) => f.stuck.add('handshake'));
      const waiting = await inPhase(handle, 'Synchronizing');
      await until(handle, (s) => s.deadline !== undefined, 'handshake deadline');
      const before = Date.parse((await status(handle)).deadline!);
      const answer = await handle.executeUpdate(extendUpdate, { args: [{ by: '10m', reason: 'big guest' }] });
      assert.equal(Date.parse(answer.deadline!), before + 10 * MINUTE);
      await env.sleep(6 * MINUTE);
      assert.equal((await status(handle)).phase, 'Synchronizing', 'not stalled at the old deadline');
      await handle.result();
      const s = await status(handle);
      const stalledAt = Date.parse(s.history.find((e) => e.phase === 'Stalled')!.at);
      about(stalledAt, before + 10 * MINUTE, 'stalled at the moved deadline');
      assert.ok(stalledAt - Date.parse(waiting.phaseSince) >= 15 * MINUTE);
    });

    it('extend by signal while stalled works like the update', async () => {
      const { fake, handle } = await begin({}, (f) => f.stuck.add('syncAddress'));
      await stallIn(handle, 'CreatingMigrations', 2 * MINUTE);
      await handle.signal(extendSignal, { by: '1h' });
      await until(handle, (s) => s.phase === 'CreatingMigrations' && s.history.at(-1)?.note === 'deadline extended by an operator', 'resumed by signal');
      fake.heal('syncAddress');
      assert.equal(((await handle.result()) as MigrationResult).outcome, 'Succeeded');
    });
  });

  describe('operator controls', () => {
    it('retry by update while stalled: the attempt is removed and a new one succeeds', async () => {
      const { fake, handle } = await begin({}, (f) => f.stuck.add('handshake'));
      await stallIn(handle, 'Synchronizing');
      fake.heal('handshake');
      const answer = await handle.executeUpdate(retryUpdate, { args: [{ reason: 'network fixed' }] });
      assert.match(answer.message, /attempt 2/);
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'Succeeded');
      assert.equal(result.attempts, 2);
      assert.deepEqual(noteOf(await status(handle), 'RollingBack'), ['retry: network fixed']);
    });

    it('refuses retry when not stalled and extend when no deadline runs, before anything changes', async () => {
      const { fake, handle } = await begin({}, (f) => f.hold('preflight'));
      await fake.entered('preflight');
      await refused(handle.executeUpdate(retryUpdate, { args: [{}] }), /only a Stalled migration can be retried \(phase is Validating\)/);
      await refused(handle.executeUpdate(extendUpdate, { args: [{ by: '10m' }] }), /no deadline is running/);
      await refused(handle.executeUpdate(extendUpdate, { args: [{ by: '0s' }] }), /"by" must be a positive duration/);
      fake.release('preflight');
      assert.equal(((await handle.result()) as MigrationResult).outcome, 'Succeeded');
      const history = await handle.fetchHistory();
      assert.ok(!history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes), 'a refused update leaves no trace in history');
    });

    const cancelIn: Array<{ phase: Phase; setup: (f: FakeClusters) => void; held?: ActivityName; written: boolean }> = [
      { phase: 'Validating', setup: (f) => f.hold('preflight'), held: 'preflight', written: false },
      { phase: 'SyncingCertificates', setup: (f) => f.hold('syncCertificates'), held: 'syncCertificates', written: true },
      { phase: 'CreatingPrerequisites', setup: (f) => f.hold('createPrerequisites'), held: 'createPrerequisites', written: true },
      { phase: 'CreatingTarget', setup: (f) => f.hold('createTargetVM'), held: 'createTargetVM', written: true },
      { phase: 'CreatingMigrations', setup: (f) => f.hold('createTargetMigration'), held: 'createTargetMigration', written: true },
      { phase: 'Synchronizing', setup: (f) => f.stuck.add('handshake'), written: true },
    ];
    for (const c of cancelIn) {
      it(`cancel by update in ${c.phase}: ${c.written ? 'rolls back' : 'nothing to roll back'}; the source keeps running`, async () => {
        const { fake, handle } = await begin({}, c.setup);
        if (c.held) await fake.entered(c.held);
        await inPhase(handle, c.phase);
        const answer = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'change window over' }] });
        assert.match(answer.message, /rolling back/);
        if (c.held) fake.release(c.held);
        const result = (await handle.result()) as MigrationResult;
        assert.equal(result.outcome, 'RolledBack');
        assert.equal(result.reason, 'change window over');
        const s = await status(handle);
        assert.equal(s.phase, 'RolledBack');
        assert.equal(fake.count('rollback'), c.written ? 1 : 0);
        if (c.held?.startsWith('create')) {
          // The create ran to its end (not abandoned), then nothing after it: straight to the rollback.
          assert.deepEqual(fake.calls.slice(fake.calls.indexOf(c.held)), [c.held, 'rollback']);
        }
        assert.equal(fake.count('finalize'), 0);
      });
    }

    it('cancel by update while stalled rolls back', async () => {
      const { fake, handle } = await begin({}, (f) => f.stuck.add('handshake'));
      await stallIn(handle, 'Synchronizing');
      await handle.executeUpdate(cancelUpdate, { args: [{}] });
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'RolledBack');
      assert.equal(result.reason, 'operator cancelled');
      assert.equal(fake.count('rollback'), 1);
    });

    it('cancel by signal rolls back; a second cancel is refused while rolling back', async () => {
      const { fake, handle } = await begin({}, (f) => {
        f.stuck.add('handshake');
        f.hold('rollback');
      });
      await inPhase(handle, 'Synchronizing');
      await handle.signal(cancelSignal, { reason: 'by signal' });
      await fake.entered('rollback');
      await inPhase(handle, 'RollingBack');
      await refused(handle.executeUpdate(cancelUpdate, { args: [{}] }), /already rolling back/);
      fake.release('rollback');
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.reason, 'by signal');
    });

    for (const phase of ['Validating', 'Synchronizing', 'Stalled'] as const) {
      it(`a Temporal cancellation in ${phase} rolls back and ends the workflow cancelled`, async () => {
        const { fake, handle } = await begin({}, (f) => (phase === 'Validating' ? f.hold('preflight') : f.stuck.add('handshake')));
        if (phase === 'Validating') await fake.entered('preflight');
        else if (phase === 'Stalled') await stallIn(handle, 'Synchronizing');
        else await inPhase(handle, 'Synchronizing');
        await handle.cancel();
        fake.release('preflight');
        const cause = await failureOf(handle);
        assert.ok(cause instanceof CancelledFailure, `cancelled, got ${String(cause)}`);
        const s = await status(handle);
        assert.equal(s.phase, 'RolledBack');
        assert.equal(s.error, 'the workflow was cancelled');
        assert.equal(fake.count('rollback'), phase === 'Validating' ? 0 : 1);
        if (phase === 'Validating') assert.equal(s.history.at(-1)?.note, 'cancelled before anything was written');
      });
    }

    it('refuses cancel past cutover; finalization completes', async () => {
      const { fake, handle } = await begin({}, (f) => f.hold('finalize'));
      await fake.entered('finalize');
      await refused(handle.executeUpdate(cancelUpdate, { args: [{}] }), /past cutover \(Finalizing\)/);
      fake.release('finalize');
      assert.equal(((await handle.result()) as MigrationResult).outcome, 'Succeeded');
      assert.equal(fake.count('rollback'), 0);
    });
  });

  describe('failures, typed by kind', () => {
    it('a finalize failure past cutover fails without removing anything', async () => {
      const { fake, handle } = await begin({}, (f) => f.failures.set('finalize', failure(FailureTypes.MigrationFailed, 'the source VMI is still Running after the handover')));
      const cause = await failureOf(handle);
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, FailureTypes.MigrationFailed);
      assert.match(cause.message, /finalize failed past cutover \(the source VMI is still Running after the handover\); nothing was removed/);
      assert.equal(fake.count('rollback'), 0);
      assert.equal((await status(handle)).phase, 'Failed');
    });

    it('preflight blockers fail as PreflightBlocked, listing every blocker, nothing written', async () => {
      const { fake, handle } = await begin({}, (f) => {
        f.report = {
          ...f.report,
          blockers: [
            { code: 'VMNotRunning', message: 'VM demo/web-01 is not running' },
            { code: 'NameCollision', message: 'a VM web-01 exists in target' },
          ],
        };
      });
      const cause = await failureOf(handle);
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, FailureTypes.PreflightBlocked);
      assert.match(cause.message, /2 blocker\(s\); nothing was changed:\n- \[VMNotRunning\].*\n- \[NameCollision\]/);
      assert.deepEqual(fake.calls, ['preflight']);
    });

    it('a Forbidden preflight keeps its type (it is RBAC, not a blocker)', async () => {
      const { fake, handle } = await begin({}, (f) =>
        f.failures.set('preflight', failure(FailureTypes.Forbidden, 'ferry may not list virtualmachines.kubevirt.io in namespace demo on the source cluster source')),
      );
      const cause = await failureOf(handle);
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, FailureTypes.Forbidden);
      assert.match(cause.message, /ferry may not list virtualmachines/);
      assert.deepEqual(fake.calls, ['preflight']);
      assert.equal((await status(handle)).phase, 'Failed');
    });

    it('a create that is not ours fails the migration after rolling back', async () => {
      const { fake, handle } = await begin({}, (f) => f.failures.set('createTargetVM', failure(FailureTypes.NotOurs, "VirtualMachine target/web-01 exists and is not ferry's")));
      const cause = await failureOf(handle);
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, FailureTypes.MigrationFailed);
      assert.match(cause.message, /is not ferry's; rolled back: the source VM keeps running/);
      assert.equal(fake.count('rollback'), 1);
      assert.deepEqual(phases(await status(handle)).slice(-2), ['RollingBack', 'Failed']);
    });

    it('KubeVirt failing the migration during the transfer rolls back and fails', async () => {
      const { fake, handle } = await begin({}, (f) => f.failures.set('waitFor', failure(FailureTypes.MigrationFailed, 'KubeVirt failed the migration: target pod evicted')));
      const cause = await failureOf(handle);
      assert.match(cause.message, /KubeVirt failed the migration: target pod evicted; rolled back/);
      assert.equal(fake.count('rollback'), 1);
    });

    it('a rollback that finds the source VMI not Running fails and says so', async () => {
      const { fake, handle } = await begin({ stallFallback: 'cancel' }, (f) => {
        f.stuck.add('handshake');
        f.sourceVMIPhase = 'Failed';
      });
      const cause = await failureOf(handle);
      assert.match(cause.message, /rolled back, but the source VMI is Failed: check the source VM/);
      assert.equal(fake.count('rollback'), 1);
      assert.equal((await status(handle)).phase, 'Failed');
    });

    it('invalid input fails as InvalidInput naming the field, before any activity', async () => {
      const fake = new FakeClusters();
      const workflowId = `migration/ts/${process.pid}/${++n}`;
      fakes.set(workflowId, fake);
      const handle = await env.client.workflow.start('migrateVm', {
        taskQueue,
        workflowId,
        args: [{ source: { cluster: 'source', namespace: 'demo' }, destination: { cluster: 'destination' } }],
      });
      const cause = await failureOf(handle);
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, FailureTypes.InvalidInput);
      assert.match(cause.message, /source\.name/);
      assert.deepEqual(fake.calls, []);
    });
  });

  // Last: on the Java test server (1.31.0) a cancel accepted while a released activity completes leaves
  // its clock locked for the workflows after it, so this case runs after every other.
  describe('between attempts', () => {
    it('cancel while a retry removes the attempt: accepted, no new attempt starts, rolled back', async () => {
      const { fake, handle } = await begin({}, (f) => {
        f.stuck.add('handshake');
        f.hold('removeAttempt');
      });
      await stallIn(handle, 'Synchronizing');
      await handle.executeUpdate(retryUpdate, { args: [{}] });
      await fake.entered('removeAttempt');
      await refused(handle.executeUpdate(retryUpdate, { args: [{}] }), /only a Stalled migration/);
      assert.match((await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'give up' }] })).message, /rolling back/);
      fake.release('removeAttempt');
      // Awaiting the result right away can stall the test server's clock while the released activity
      // completes; the status says when the rollback is done.
      await inPhase(handle, 'RolledBack');
      const result = (await handle.result()) as MigrationResult;
      assert.equal(result.outcome, 'RolledBack');
      assert.equal(result.reason, 'give up');
      assert.deepEqual(fake.calls.slice(fake.calls.indexOf('removeAttempt')), ['removeAttempt', 'rollback']);
      assert.equal(fake.count('createPrerequisites'), 1);
    });
  });
});
