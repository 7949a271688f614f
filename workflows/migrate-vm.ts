/**
 * One live migration of one VM, as a durable workflow. It reads like the seed's steps:
 *
 *   validate → synchronize certificates → create prerequisites → create target VM → create the VMIM
 *   pair → synchronize VM state → finalize
 *
 * Every wait has a deadline. When one passes, the migration is Stalled: the diagnosis is recorded and
 * shown, and an operator may retry, extend or cancel; after the decision window the configured
 * fallback applies. Cancel (an update, a signal or a Temporal cancellation) rolls back: the source VM
 * keeps running and everything this migration created is removed. All Kubernetes I/O is in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { WaitGoal, WaitResult } from '../activities/waits.js';
import {
  type CreatedObject,
  describeInputIssues,
  FailureTypes,
  type Migration,
  migrationInputSchema,
  type MigrationResult,
  type MigrationStatus,
  type Observation,
  type StallInfo,
} from './contract.js';
import { currentDetails } from './details.js';
import { diagnose } from './diagnosis.js';
import { formatDuration, parseDuration } from './duration.js';
import {
  cancelSignal,
  cancelUpdate,
  type ControlAnswer,
  type ControlRequest,
  extendSignal,
  extendUpdate,
  type ExtendRequest,
  observeSignal,
  retrySignal,
  retryUpdate,
  statusQuery,
} from './messages.js';
import { isAfterCutover, isTerminal, type Phase, type StepPhase } from './phases.js';
import { planLink } from './plan-link.js';
import { FerryDestinationCluster, FerryPhase, FerryPlan, FerrySourceCluster, FerryStalled, FerryVm } from './search-attributes.js';

type Activities = ReturnType<typeof createActivities>;

const GiB = 1024 ** 3;

/**
 * Quick API calls: retried on transient errors, not forever. Whether a failure is retried is decided
 * where it is mapped (activities/kube/errors.ts sets `nonRetryable`), not by failure type here. Each
 * call carries a one-line summary, which the Web UI shows next to the activity.
 */
const api = (summary: string) =>
  proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
    summary,
  });

/** Waiting activities: long, heartbeating, cancelled through heartbeats. */
function waiting(pollIntervalMs: number, summary: string) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '30 days',
    heartbeatTimeout: Math.max(10_000, pollIntervalMs * 5),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
    summary,
  });
}

/**
 * CA sync waits for virt-operator to merge the peer CA. That can hang (operator down), so it gets a
 * deadline like every other wait: the handshake budget, plus a minute for the writes.
 */
function certificates(o: Migration['options'], summary: string) {
  return proxyActivities<Activities>({
    scheduleToCloseTimeout: o.handshakeTimeout + 60_000,
    heartbeatTimeout: Math.max(10_000, o.pollInterval * 5),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
    summary,
  });
}

/** Thrown inside an attempt when an operator (or the fallback) asks to start over or to stop. */
class Decision extends Error {
  constructor(
    readonly action: 'retry' | 'cancel',
    readonly reason: string,
    readonly automatic: boolean,
  ) {
    super(`${action}: ${reason}`);
  }
}

export async function migrateVm(input: unknown): Promise<MigrationResult> {
  const parsed = migrationInputSchema.safeParse(input);
  if (!parsed.success) {
    const issues = describeInputIssues(parsed.error);
    const plan = (input as { plan?: unknown } | null)?.plan;
    const toPlan = planLink(plan === undefined ? undefined : String(plan));
    toPlan?.report({ phase: 'Failed', attempt: 1, error: `invalid migration input: ${issues.join('; ')}` });
    await toPlan?.flush();
    throw ApplicationFailure.create({
      type: FailureTypes.InvalidInput,
      message: `invalid migration input:\n- ${issues.join('\n- ')}`,
      nonRetryable: true,
      details: [issues],
    });
  }
  const m: Migration = parsed.data;
  const info = workflowInfo();
  const toPlan = planLink(m.plan);
  const startedAt = Date.now();
  const nowIso = () => new Date().toISOString();

  const status: MigrationStatus = {
    workflowId: info.workflowId,
    vm: `${m.source.namespace}/${m.source.name}`,
    source: m.source,
    destination: m.destination,
    phase: 'Validating',
    attempt: 1,
    phaseSince: nowIso(),
    created: [],
    history: [{ phase: 'Validating', at: nowIso() }],
    warnings: [],
  };
  let decision: Decision | undefined;
  let deadlineAt: number | undefined;
  let deadlineMoved = false;
  let autoRetries = 0;
  let waitingNow = false;

  const publish = () => setCurrentDetails(currentDetails(status, info.namespace));
  const setPhase = (phase: Phase, note?: string) => {
    status.phase = phase;
    status.phaseSince = nowIso();
    status.history.push({ phase, at: status.phaseSince, ...(note ? { note } : {}) });
    upsertSearchAttributes([
      { key: FerryPhase, value: phase },
      { key: FerryStalled, value: phase === 'Stalled' },
    ]);
    publish();
    toPlan?.report({
      phase,
      attempt: status.attempt,
      ...(phase === 'Stalled' && status.stall ? { diagnosis: status.stall.diagnosis } : {}),
      ...(isTerminal(phase) && status.error ? { error: status.error } : {}),
    });
  };
  const setDeadline = (at: number | undefined) => {
    deadlineAt = at;
    if (at === undefined) delete status.deadline;
    else status.deadline = new Date(at).toISOString();
  };

  upsertSearchAttributes([
    { key: FerryVm, value: status.vm },
    { key: FerrySourceCluster, value: m.source.cluster },
    { key: FerryDestinationCluster, value: m.destination.cluster },
    { key: FerryPhase, value: 'Validating' },
    { key: FerryStalled, value: false },
    ...(m.plan ? [{ key: FerryPlan, value: m.plan }] : []),
  ]);
  publish();

  // ---- operator controls ----------------------------------------------------------------------
  const answer = (message: string, extra: Partial<ControlAnswer> = {}): ControlAnswer => ({ accepted: true, phase: status.phase, attempt: status.attempt, message, ...extra });
  const refuseRetry = (): string | undefined =>
    status.phase === 'Stalled' ? undefined : `retry refused: only a Stalled migration can be retried (phase is ${status.phase})`;
  const refuseCancel = (): string | undefined => {
    if (isTerminal(status.phase)) return `cancel refused: the migration already ended (${status.phase})`;
    if (isAfterCutover(status.phase)) return `cancel refused: the migration is past cutover (${status.phase}); the VM now runs on ${m.destination.cluster}`;
    if (status.phase === 'RollingBack' || decision?.action === 'cancel') return 'cancel refused: already rolling back';
    return undefined;
  };
  const refuseExtend = (req: ExtendRequest | undefined): string | undefined => {
    if (!req || parseDuration(req.by) === undefined || parseDuration(req.by)! <= 0) return 'extend refused: "by" must be a positive duration, e.g. {"by":"10m"}';
    if (!waitingNow) return `extend refused: no deadline is running (phase is ${status.phase})`;
    return undefined;
  };
  const doRetry = (req?: ControlRequest) => {
    decision = new Decision('retry', req?.reason ?? 'operator asked to retry', false);
    return answer(`retrying: attempt ${status.attempt + 1} starts after the current one is cleaned up`);
  };
  const doCancel = (req?: ControlRequest) => {
    decision = new Decision('cancel', req?.reason ?? 'operator cancelled', false);
    return answer('cancelling: rolling back; the source VM keeps running');
  };
  const doExtend = (req: ExtendRequest) => {
    const by = parseDuration(req.by)!;
    if (status.phase === 'Stalled' && status.stall) {
      // A stalled wait resumes: the step gets `by` from now, not from the end of the decision window.
      const phase = status.stall.phase;
      delete status.stall;
      setPhase(phase, 'deadline extended by an operator');
      setDeadline(Date.now() + by);
    } else {
      setDeadline(Math.max(Date.now(), deadlineAt ?? Date.now()) + by);
    }
    deadlineMoved = true;
    return answer(`deadline extended by ${formatDuration(by)}`, { deadline: status.deadline! });
  };
  // A validator that throws rejects the update: the caller gets the reason, history gets nothing.
  const refuse = (why: string | undefined) => {
    if (why) throw new Error(why);
  };
  setHandler(statusQuery, () => status);
  setHandler(retryUpdate, doRetry, { validator: (_req?: ControlRequest) => refuse(refuseRetry()) });
  setHandler(cancelUpdate, doCancel, { validator: (_req?: ControlRequest) => refuse(refuseCancel()) });
  setHandler(extendUpdate, doExtend, { validator: (req: ExtendRequest) => refuse(refuseExtend(req)) });
  setHandler(retrySignal, (req) => void (refuseRetry() ? log.warn(refuseRetry()!) : doRetry(req)));
  setHandler(cancelSignal, (req) => void (refuseCancel() ? log.warn(refuseCancel()!) : doCancel(req)));
  setHandler(extendSignal, (req) => void (refuseExtend(req) ? log.warn(refuseExtend(req)!) : doExtend(req)));
  setHandler(observeSignal, (o: Observation) => {
    status.observed = o;
    publish();
  });

  // ---- the steps ------------------------------------------------------------------------------
  const ids = { workflowId: info.workflowId, migration: m };
  const w = (summary: string) => waiting(m.options.pollInterval, summary);
  const where = `${status.vm} ${m.source.cluster} → ${m.destination.cluster}/${m.destination.namespace}`;
  let migrationId = '';
  let runStrategy = 'Always';
  const attemptRef = () => ({ ...ids, attempt: status.attempt, migrationId, runStrategy });
  const record = (objs: CreatedObject[]) => {
    for (const o of objs) if (!status.created.some((c) => c.cluster === o.cluster && c.kind === o.kind && c.namespace === o.namespace && c.name === o.name)) status.created.push(o);
  };

  /**
   * Race a waiting activity against its deadline and against operator decisions. A passed deadline
   * stalls the migration; the activity keeps watching, so a stall that resolves itself resumes.
   */
  async function waitFor(goal: WaitGoal, phase: StepPhase, deadline: StallInfo['deadline'], timeoutMs: number): Promise<WaitResult> {
    let result: WaitResult | undefined;
    let failure: unknown;
    const scope = new CancellationScope();
    const started = Date.now();
    void scope
      .run(() => w(`wait for ${goal}: ${status.vm}`).waitFor(attemptRef(), goal))
      .then(
        (r) => (result = r),
        (e) => (failure = e),
      );
    setDeadline(started + timeoutMs);
    waitingNow = true;
    publish();
    try {
      for (;;) {
        if (decision) throw decision;
        deadlineMoved = false;
        const inWindow = status.phase !== 'Stalled' || m.options.stallFallback !== 'wait';
        // condition(fn, 0) would mean "no timeout": a deadline already due gets the shortest timer.
        const until = deadlineAt !== undefined && inWindow ? Math.max(1, deadlineAt - Date.now()) : undefined;
        const woke = until === undefined
          ? await condition(() => result !== undefined || failure !== undefined || !!decision || deadlineMoved)
          : await condition(() => result !== undefined || failure !== undefined || !!decision || deadlineMoved, until);
        if (result) {
          if (status.phase === 'Stalled') {
            delete status.stall;
            setPhase(phase, 'recovered without intervention');
          }
          status.observed = result.observed;
          return result;
        }
        if (failure !== undefined) throw failure;
        if (decision) throw decision;
        if (deadlineMoved) continue;
        if (woke) continue;
        if (status.phase !== 'Stalled') {
          // The deadline passed: stall, explain, and open the decision window.
          status.stall = { phase, since: nowIso(), deadline, diagnosis: diagnose(deadline, Date.now() - started, status.observed, m), observed: status.observed ?? { at: nowIso() } };
          log.warn(`migration stalled in ${phase}: ${status.stall.diagnosis}`);
          setPhase('Stalled', status.stall.diagnosis);
          setDeadline(Date.now() + m.options.decisionWindow);
          publish();
          continue;
        }
        // Nobody decided within the window: apply the fallback.
        if (m.options.stallFallback === 'retry' && autoRetries < m.options.maxAutoRetries) {
          decision = new Decision('retry', `no decision within ${formatDuration(m.options.decisionWindow)}: automatic retry ${autoRetries + 1} of ${m.options.maxAutoRetries}`, true);
        } else {
          const why = m.options.stallFallback === 'retry' ? `automatic retries exhausted (${m.options.maxAutoRetries})` : `no decision within ${formatDuration(m.options.decisionWindow)}`;
          decision = new Decision('cancel', `${why}: stall fallback cancels`, true);
        }
      }
    } finally {
      waitingNow = false;
      setDeadline(undefined);
      if (result === undefined && failure === undefined) scope.cancel();
    }
  }

  /** Between steps, act on a decision taken while an activity ran. */
  const decided = () => {
    if (decision) throw decision;
  };

  async function attempt(): Promise<void> {
    migrationId = uuid4();
    status.migrationId = migrationId;

    setPhase('CreatingPrerequisites');
    record(await api(`create prerequisites in ${m.destination.cluster}/${m.destination.namespace}`).createPrerequisites(attemptRef()));
    decided();

    setPhase('CreatingTarget');
    record([await api(`create receiver VM ${m.destination.namespace}/${m.source.name}`).createTargetVM(attemptRef())]);
    decided();
    await waitFor('receiverReady', 'CreatingTarget', 'receiverReady', m.options.receiverReadyTimeout);

    setPhase('CreatingMigrations');
    record([await api(`create target VMIM on ${m.destination.cluster}`).createTargetMigration(attemptRef())]);
    decided();
    const { syncAddress } = await waitFor('syncAddress', 'CreatingMigrations', 'syncAddress', m.options.syncAddressTimeout);
    record([await api(`create source VMIM on ${m.source.cluster} → ${syncAddress}`).createSourceMigration(attemptRef(), syncAddress!)]);
    decided();

    setPhase('Synchronizing');
    await waitFor('handshake', 'Synchronizing', 'handshake', m.options.handshakeTimeout);
    await waitFor('completion', 'Synchronizing', 'completion', completionBudget);
  }

  let completionBudget = m.options.minCompletionTimeout;
  try {
    // 1. Validate: every blocker reported at once, nothing written.
    const report = await api(`preflight ${where}`).preflight(ids);
    status.warnings = report.warnings;
    runStrategy = report.runStrategy;
    if (report.blockers.length) {
      throw ApplicationFailure.create({
        type: FailureTypes.PreflightBlocked,
        message: `preflight found ${report.blockers.length} blocker(s); nothing was changed:\n- ${report.blockers.map((b) => `[${b.code}] ${b.message}`).join('\n- ')}`,
        nonRetryable: true,
        details: [report.blockers],
      });
    }
    const dataGiB = Math.max(1, Math.ceil((report.memoryBytes + report.diskBytes) / GiB));
    completionBudget = Math.max(m.options.minCompletionTimeout, m.options.completionTimeoutPerGiB * dataGiB);

    // 2. Certificates: each side's KubeVirt trusts the other's CA. A plan does this once for all its VMs.
    setPhase('SyncingCertificates', toPlan ? `certificates synchronized by plan ${m.plan}` : undefined);
    if (!toPlan) await certificates(m.options, `sync KubeVirt CAs ${m.source.cluster} ⇄ ${m.destination.cluster}`).syncCertificates({ source: m.source.cluster, destination: m.destination.cluster, pollIntervalMs: m.options.pollInterval });
    decided();

    // 3–6. Prerequisites, target VM, VMIM pair, state transfer; retried from scratch on request.
    for (;;) {
      try {
        await attempt();
        break;
      } catch (e) {
        if (!(e instanceof Decision) || e.action !== 'retry') throw e;
        decision = undefined;
        if (e.automatic) autoRetries++;
        delete status.stall;
        setPhase('RollingBack', `retry: ${e.reason}`);
        await CancellationScope.nonCancellable(() => w(`remove attempt ${status.attempt} of ${status.vm}`).removeAttempt(ids));
        status.created = status.created.filter((c) => !['VirtualMachineInstanceMigration', 'VirtualMachine', 'DataVolume', 'PersistentVolumeClaim'].includes(c.kind));
        status.attempt++;
      }
    }

    // 7. Finalize. Past cutover nothing may interrupt it.
    setPhase('Finalizing');
    await CancellationScope.nonCancellable(() => api(`finalize ${where}`).finalize(attemptRef()));
    setPhase('Succeeded');
    return { outcome: 'Succeeded', attempts: status.attempt, migrationId, created: status.created, durationMs: Date.now() - startedAt };
  } catch (e) {
    if (isAfterCutover(status.phase)) {
      // Past cutover the guest lives on the destination (or is being handed over): removing anything
      // there could lose the VM. Stop, say so, and leave both sides as they are for an operator.
      const reason = errorMessage(e);
      status.error = reason;
      setPhase('Failed', `finalize failed past cutover: ${reason}`);
      throw ApplicationFailure.create({
        type: FailureTypes.MigrationFailed,
        message: `finalize failed past cutover (${reason}); nothing was removed: the VM's state is on ${m.destination.cluster}/${m.destination.namespace}. Check the target VMI there and the source VM on ${m.source.cluster} before acting.`,
        nonRetryable: true,
      });
    }
    const cancelled = isCancellation(e);
    const wanted = e instanceof Decision && e.action === 'cancel';
    const blocked = e instanceof ActivityFailure && e.cause instanceof ApplicationFailure && e.cause.type === FailureTypes.PreflightBlocked;
    const preflightFailed = status.phase === 'Validating';
    const reason = wanted ? e.reason : cancelled ? 'the workflow was cancelled' : errorMessage(e);
    status.error = reason;
    if (preflightFailed || blocked) {
      // Nothing was written: nothing to roll back.
      if (cancelled) {
        setPhase('RolledBack', 'cancelled before anything was written');
        throw e;
      }
      setPhase('Failed', reason);
      throw e instanceof ApplicationFailure ? e : ApplicationFailure.create({ type: FailureTypes.PreflightBlocked, message: reason, nonRetryable: true });
    }
    delete status.stall;
    setPhase('RollingBack', reason);
    const rb = await CancellationScope.nonCancellable(() => w(`roll back ${status.vm} on ${m.destination.cluster}`).rollback(ids));
    if (rb.sourceVMIPhase !== 'Running') {
      setPhase('Failed', `rolled back, but the source VMI is ${rb.sourceVMIPhase ?? 'missing'}`);
      throw ApplicationFailure.create({ type: FailureTypes.MigrationFailed, message: `${reason}; rolled back, but the source VMI is ${rb.sourceVMIPhase ?? 'missing'}: check the source VM`, nonRetryable: true });
    }
    status.created = [];
    if (wanted || cancelled) {
      setPhase('RolledBack', reason);
      await condition(() => true); // let handlers finish before returning
      if (cancelled) throw e;
      return { outcome: 'RolledBack', attempts: status.attempt, migrationId, reason, created: [], durationMs: Date.now() - startedAt };
    }
    setPhase('Failed', reason);
    throw ApplicationFailure.create({ type: FailureTypes.MigrationFailed, message: `${reason}; rolled back: the source VM keeps running`, nonRetryable: true });
  } finally {
    // Whatever ended this run (even a failure no branch above expected), the plan must hear an end.
    if (!isTerminal(status.phase)) toPlan?.report({ phase: 'Failed', attempt: status.attempt, error: status.error ?? 'the migration ended unexpectedly' });
    await toPlan?.flush();
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof ActivityFailure && e.cause) return e.cause.message;
  return e instanceof Error ? e.message : String(e);
}
