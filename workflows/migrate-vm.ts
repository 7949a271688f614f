/**
 * One live migration of one VM, as a durable workflow. It reads like the seed's steps, with
 * validation before them and finalization after:
 *
 *   validate → 1. synchronize certificates → 2. create prerequisites → 3. create the destination VM →
 *   4. create the VMIM pair → 5. synchronize VM state → finalize
 *
 * Every wait has a deadline (wait.ts). When one passes, the migration is Stalled: the diagnosis is
 * recorded and shown, and an operator may retry, extend or cancel (controls.ts); after the decision
 * window the configured fallback applies. Steps 2–5 run as one attempt in its own cancellation scope,
 * which a retry cancels and starts again from a clean destination. Cancel (an update, a signal or a
 * Temporal cancellation) rolls back: the source VM keeps running and everything this migration
 * created is removed. All Kubernetes I/O is in activities.
 */
import { ActivityFailure, allHandlersFinished, ApplicationFailure, CancellationScope, CancelledFailure, condition, TimeoutFailure, uuid4 } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import { api, certificates, rollbackBudget, rollingBack } from './activity-options.js';
import { type CreatedObject, FailureTypes, type Migration, type MigrationResult, type PreflightReport } from './contract.js';
import { Controls } from './controls.js';
import { errorMessage } from './errors.js';
import { formatDuration } from './duration.js';
import { validInput } from './input.js';
import { MigrationRun } from './migration-run.js';
import { isAfterCutover } from './phases.js';
import { waitFor } from './wait.js';

const GiB = 1024 ** 3;

export async function migrateVm(input: unknown): Promise<MigrationResult> {
  const run = new MigrationRun(await validInput(input));
  const controls = new Controls(run);
  controls.install();
  try {
    await controls.forwardPath(async () => {
      const report = await validate(run);
      await synchronizeCertificates(run);
      const completionBudget = completionBudgetOf(run.migration, report);
      for (;;) {
        const retry = await controls.attempt(async () => {
          await createPrerequisites(run);
          await createDestinationVm(run, controls);
          await createMigrationPair(run, controls);
          await synchronizeVmState(run, controls, completionBudget);
        });
        if (!retry) break;
        // A retry decided while a cluster was unreachable can find the guest already moved: finalize it.
        if (!(await removeAttempt(run, `retry: ${retry.reason}`))) break;
      }
    });
    return await finalize(run);
  } catch (e) {
    return await unwind(run, controls, e);
  } finally {
    await run.end();
  }
}

/** Validate: every blocker reported at once, nothing written. */
async function validate(run: MigrationRun): Promise<PreflightReport> {
  // Not cancelled halfway either: a cancel meanwhile applies once the report is in (nothing written).
  const report = await uninterrupted(() => api(`preflight ${run.where}`).preflight(run.ids()));
  run.status.warnings = report.warnings;
  run.runStrategy = report.runStrategy;
  if (report.blockers.length) {
    throw ApplicationFailure.create({
      type: FailureTypes.PreflightBlocked,
      message: `preflight found ${report.blockers.length} blocker(s); nothing was changed:\n- ${report.blockers.map((b) => `[${b.code}] ${b.message}`).join('\n- ')}`,
      nonRetryable: true,
      details: [report.blockers],
    });
  }
  return report;
}

/** 1. Each side's KubeVirt trusts the other's CA. A plan does this once for all its VMs. */
async function synchronizeCertificates(run: MigrationRun): Promise<void> {
  const m = run.migration;
  run.enter('SyncingCertificates', run.inPlan() ? `certificates synchronized by plan ${m.plan}` : undefined);
  if (run.inPlan()) return;
  // Run to its end like a create: a cancel meanwhile applies once the trust is in place.
  await uninterrupted(() =>
    certificates(m.options, `sync KubeVirt CAs ${m.source.cluster} ⇄ ${m.destination.cluster}`).syncCertificates({
      source: m.source.cluster,
      destination: m.destination.cluster,
      pollIntervalMs: m.options.pollInterval,
    }),
  );
}

/** 2. Instancetypes, preferences, ConfigMaps, Secrets and blank disks in the destination namespace. */
async function createPrerequisites(run: MigrationRun): Promise<void> {
  run.status.migrationId = uuid4();
  const m = run.migration;
  run.enter('CreatingPrerequisites');
  await create(run, () => api(`create prerequisites in ${m.destination.cluster}/${m.destination.namespace}`).createPrerequisites(run.attemptRef()));
}

/** 3. The receiver VM (runStrategy WaitAsReceiver), ready once its VMI waits for the state. */
async function createDestinationVm(run: MigrationRun, controls: Controls): Promise<void> {
  const m = run.migration;
  run.enter('CreatingTarget');
  await create(run, () => api(`create receiver VM ${m.destination.namespace}/${m.source.name}`).createTargetVM(run.attemptRef()));
  await waitFor(run, controls, 'receiverReady', m.options.receiverReadyTimeout);
}

/** 4. The target VMIM first; once it publishes its sync address, the source VMIM pointing at it. */
async function createMigrationPair(run: MigrationRun, controls: Controls): Promise<void> {
  const m = run.migration;
  run.enter('CreatingMigrations');
  await create(run, () => api(`create target VMIM on ${m.destination.cluster}`).createTargetMigration(run.attemptRef()));
  const { syncAddress } = await waitFor(run, controls, 'syncAddress', m.options.syncAddressTimeout);
  await create(run, () => api(`create source VMIM on ${m.source.cluster} → ${syncAddress}`).createSourceMigration(run.attemptRef(), syncAddress!));
}

/** 5. KubeVirt moves memory and disks: first the two sync controllers meet, then the transfer completes. */
async function synchronizeVmState(run: MigrationRun, controls: Controls, completionBudget: number): Promise<void> {
  run.enter('Synchronizing');
  await waitFor(run, controls, 'handshake', run.migration.options.handshakeTimeout);
  await waitFor(run, controls, 'completion', completionBudget);
}

/**
 * One create, run to its end and recorded. It is not cancelled halfway (an abandoned create could
 * land after the rollback removed everything); a decision taken meanwhile applies once it returns.
 */
async function create(run: MigrationRun, make: () => Promise<CreatedObject | CreatedObject[]>): Promise<void> {
  let made: CreatedObject[] = [];
  try {
    await uninterrupted(async () => {
      const result = await make();
      made = Array.isArray(result) ? result : [result];
    });
  } finally {
    run.record(made);
  }
}

/** Run a quick activity to its end, then honour a retry or cancel that came meanwhile. */
async function uninterrupted<T>(work: () => Promise<T>): Promise<T> {
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('decided before the activity started');
  const result = await CancellationScope.nonCancellable(work);
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure('decided while an activity ran');
  return result;
}

/** The transfer's budget: per GiB of memory and disk, never under the floor. */
function completionBudgetOf(m: Migration, report: PreflightReport): number {
  const dataGiB = Math.max(1, Math.ceil((report.memoryBytes + report.diskBytes) / GiB));
  return Math.max(m.options.minCompletionTimeout, m.options.completionTimeoutPerGiB * dataGiB);
}

/**
 * Clear one attempt (both VMIMs, the receiver VM, its disks) so the next starts from scratch. False
 * when there is nothing to clear because the attempt already succeeded (the guest runs on the destination).
 */
async function removeAttempt(run: MigrationRun, note: string): Promise<boolean> {
  run.enter('RollingBack', note);
  let removed: CreatedObject[];
  try {
    // Bounded like a rollback: out of time, it fails the forward path, whose rollback says what remains.
    removed = await CancellationScope.nonCancellable(() => rollingBack(run.migration.options, `remove attempt ${run.status.attempt} of ${run.status.vm}`).removeAttempt(run.ids()));
  } catch (e) {
    if (!isPastCutover(e)) throw e;
    run.status.history.at(-1)!.note = `${note}; not retried: ${errorMessage(e)}`;
    return false;
  }
  run.forget(removed);
  run.status.attempt++;
  return true;
}

/**
 * The last error of an activity that ran out of its time, or undefined: the window ran out either
 * during an attempt (a TimeoutFailure, the last error inside it) or between attempts (retry state
 * TIMEOUT, the last attempt's error as the cause).
 */
function outOfTime(e: unknown): string | undefined {
  if (!(e instanceof ActivityFailure)) return undefined;
  if (e.cause instanceof TimeoutFailure) return errorMessage(e.cause.cause ?? e.cause);
  if (e.retryState === RetryState.TIMEOUT) return errorMessage(e.cause ?? e);
  return undefined;
}

/** The cleanup found the migration already completed by KubeVirt (activities/cleanup.ts). */
function isPastCutover(e: unknown): boolean {
  return e instanceof ActivityFailure && e.cause instanceof ApplicationFailure && e.cause.type === FailureTypes.PastCutover;
}

/** Past cutover nothing may interrupt it. */
async function finalize(run: MigrationRun): Promise<MigrationResult> {
  run.enter('Finalizing');
  await CancellationScope.nonCancellable(() => api(`finalize ${run.where}`).finalize(run.attemptRef()));
  run.enter('Succeeded');
  const s = run.status;
  return { outcome: 'Succeeded', attempts: s.attempt, migrationId: s.migrationId ?? '', created: s.created, durationMs: run.durationMs() };
}

/**
 * Whatever stopped the forward path: before anything was written there is nothing to undo; past
 * cutover nothing may be undone; in between, everything this migration created is rolled back.
 */
async function unwind(run: MigrationRun, controls: Controls, e: unknown): Promise<MigrationResult> {
  const m = run.migration;
  if (isAfterCutover(run.phase)) {
    // The guest lives on the destination (or is being handed over): removing anything there could
    // lose the VM. Stop, say so, and leave both sides as they are for an operator.
    const reason = errorMessage(e);
    run.fail(reason, 'Failed', `finalize failed past cutover: ${reason}`);
    throw ApplicationFailure.create({
      type: FailureTypes.MigrationFailed,
      message: `finalize failed past cutover (${reason}); nothing was removed: the VM's state is on ${m.destination.cluster}/${m.destination.namespace}. Check the target VMI there and the source VM on ${m.source.cluster} before acting.`,
      nonRetryable: true,
    });
  }
  const cancelled = controls.cancelReason(e);
  const reason = cancelled ?? errorMessage(e);
  if (run.phase === 'Validating') {
    if (cancelled) return endRolledBack(run, controls, e, reason, 'cancelled before anything was written');
    run.fail(reason, 'Failed');
    throw e instanceof ApplicationFailure ? e : sameFailure(e, reason);
  }
  run.status.error = reason;
  run.enter('RollingBack', reason);
  let rb;
  try {
    rb = await CancellationScope.nonCancellable(() => rollingBack(m.options, `roll back ${run.status.vm} on ${m.destination.cluster}`).rollback(run.ids()));
  } catch (rollbackError) {
    const last = outOfTime(rollbackError);
    if (last !== undefined) {
      // A cluster gone for good: the source VM was never halted (that happens only in Finalizing), but
      // what this migration made may remain. Say where, and why the rollback could not finish.
      const message = `${reason}; the rollback did not finish within ${formatDuration(rollbackBudget(m.options))} (${last}). The source VM on ${m.source.cluster} was not halted; objects labelled by this migration may remain on ${m.destination.cluster}/${m.destination.namespace} and VMIMs on ${m.source.cluster}/${m.source.namespace}: remove them once both API servers answer.`;
      run.enter('Failed', message);
      throw ApplicationFailure.create({ type: FailureTypes.MigrationFailed, message, nonRetryable: true });
    }
    if (!isPastCutover(rollbackError)) throw rollbackError;
    // Too late to roll back: KubeVirt moved the guest while ferry could not see it. Finish the move.
    run.status.history.at(-1)!.note = `${reason}; not rolled back: ${errorMessage(rollbackError)}`;
    delete run.status.error;
    return await finalize(run);
  }
  if (rb.sourceVMIPhase !== 'Running') {
    const vmi = rb.sourceVMIPhase ?? 'missing';
    run.enter('Failed', `rolled back, but the source VMI is ${vmi}`);
    throw ApplicationFailure.create({
      type: FailureTypes.MigrationFailed,
      message: `${reason}; rolled back, but the source VMI is ${vmi}: check the source VM`,
      nonRetryable: true,
    });
  }
  run.status.created = [];
  if (cancelled) return endRolledBack(run, controls, e, reason, reason);
  run.enter('Failed', reason);
  throw ApplicationFailure.create({ type: FailureTypes.MigrationFailed, message: `${reason}; rolled back: the source VM keeps running`, nonRetryable: true });
}

/** An operator's cancel returns RolledBack; a Temporal cancellation ends the workflow cancelled. */
async function endRolledBack(run: MigrationRun, controls: Controls, e: unknown, reason: string, note: string): Promise<MigrationResult> {
  run.fail(reason, 'RolledBack', note);
  // Under a Temporal cancellation the wait itself would be cancelled at once.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (!controls.cancelRequested()) throw e;
  const s = run.status;
  return { outcome: 'RolledBack', attempts: s.attempt, migrationId: s.migrationId ?? '', reason, created: [], durationMs: run.durationMs() };
}

/** A failure during validation keeps its type (Forbidden, NotOurs, …): it is not a preflight blocker. */
function sameFailure(e: unknown, reason: string): ApplicationFailure {
  const cause = e instanceof Error ? (e.cause as { type?: unknown } | undefined) : undefined;
  const type = typeof cause?.type === 'string' ? cause.type : FailureTypes.MigrationFailed;
  return ApplicationFailure.create({ type, message: reason, nonRetryable: true });
}
