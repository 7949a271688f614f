/**
 * A plan: many VMs from one cluster to another, as one parent workflow.
 *
 *   validate every VM (preflight, reported together; abort or skip blocked VMs) → synchronize the
 *   clusters' CAs once → migrate, one child workflow per VM, at most `maxInFlight` at a time
 *
 * Children report their phase changes by signal, so the plan's status (counts, stalled, failures) is
 * current without polling. Children are started with ABANDON so the plan can continue as new without
 * stopping them: a plan of thousands of VMs keeps a bounded history. Cancelling the plan asks each
 * child to cancel (each rolls back on its own) and starts no more.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  ContinueAsNew,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { addPlanCollisions } from './plan-collisions.js';
import { describeInputIssues, FailureTypes, migrationInputSchema, type MigrationInput, migrationWorkflowId, type Migration } from './contract.js';
import { staticDetails, staticSummary } from './details.js';
import {
  cancelPlanSignal,
  cancelPlanUpdate,
  cancelSignal,
  type ChildReport,
  childReportSignal,
  type ControlRequest,
  type PlanControlAnswer,
  planStatusQuery,
  retrySignal,
  retryStalledSignal,
  retryStalledUpdate,
} from './messages.js';
import type { Phase } from './phases.js';
import { isPlanEnded, isVmDone, type Plan, planInputSchema, type PlanPhase, type PlanResult, type PlanStatus, type PlanVmStatus, vmMigrationInput } from './plan-contract.js';
import { planDetails } from './plan-details.js';
import { FerryDestinationCluster, FerryPhase, FerryPlan, FerrySourceCluster } from './search-attributes.js';

type Activities = ReturnType<typeof createActivities>;

const PREFLIGHT_BATCH = 25;
const PREFLIGHT_PARALLEL = 4;

const { syncCertificates } = proxyActivities<Activities>({
  scheduleToCloseTimeout: '10m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
  summary: 'sync KubeVirt CAs between the clusters, once for the plan',
});
const { preflightMany } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
  summary: 'preflight a batch of the plan VMs',
});

/** What a plan carries across continue-as-new. */
export interface PlanCarry {
  phase: PlanPhase;
  startedAt: string;
  runs: number;
  peakInFlight: number;
  cancelReason?: string;
  vms: PlanVmStatus[];
}

const isEnded = (v: PlanVmStatus) => isVmDone(v.state);
const isActive = (v: PlanVmStatus) => v.state !== 'Pending' && !isEnded(v);

export async function migratePlan(input: unknown, carry?: PlanCarry): Promise<PlanResult> {
  const parsed = planInputSchema.safeParse(input);
  if (!parsed.success) {
    const issues = describeInputIssues(parsed.error);
    throw ApplicationFailure.create({ type: FailureTypes.InvalidInput, message: `invalid plan input:\n- ${issues.join('\n- ')}`, nonRetryable: true, details: [issues] });
  }
  const plan: Plan = parsed.data;
  const info = workflowInfo();
  const nowIso = () => new Date().toISOString();
  /** Each VM's child input, as sent, and as the child will read it (for IDs, summaries, preflight). */
  const children = new Map<string, { input: MigrationInput; migration: Migration }>(plan.vms.map((vm) => {
    const input = vmMigrationInput(plan, vm);
    const migration = migrationInputSchema.parse(input);
    return [migrationWorkflowId(migration), { input, migration }];
  }));

  const state: PlanCarry = carry ?? {
    phase: 'Validating',
    startedAt: nowIso(),
    runs: 0,
    peakInFlight: 0,
    vms: [...children].map(([workflowId, c]) => ({ vm: vmOf(c.migration), workflowId, state: 'Pending' })),
  };
  const byId = new Map(state.vms.map((v) => [v.workflowId, v]));
  /** Children started by this run whose workflow has not closed (a slot is held until it has). */
  const closing = new Set<string>();

  const status = (): PlanStatus => {
    const counts: Record<string, number> = {};
    for (const v of state.vms) counts[v.state] = (counts[v.state] ?? 0) + 1;
    const active = state.vms.filter(isActive);
    return {
      workflowId: info.workflowId,
      name: plan.name,
      phase: state.phase,
      source: plan.source.cluster,
      destination: plan.destination.cluster,
      maxInFlight: plan.maxInFlight,
      total: state.vms.length,
      counts,
      inFlight: inFlight(),
      peakInFlight: state.peakInFlight,
      stalled: state.vms.filter((v) => v.state === 'Stalled'),
      failed: state.vms.filter((v) => v.state === 'Failed' || v.state === 'RolledBack'),
      skipped: state.vms.filter((v) => v.state === 'Skipped'),
      active,
      startedAt: state.startedAt,
      runs: state.runs,
      ...(state.cancelReason ? { error: `cancelled: ${state.cancelReason}` } : {}),
    };
  };
  // Details are rebuilt at most once per workflow task: a burst of child reports costs one update.
  let detailsDirty = true;
  const publish = () => {
    if (!detailsDirty) return;
    detailsDirty = false;
    setCurrentDetails(planDetails(status(), info.namespace));
  };
  const setPhase = (phase: PlanPhase) => {
    state.phase = phase;
    upsertSearchAttributes([{ key: FerryPhase, value: phase }]);
    detailsDirty = true;
  };

  upsertSearchAttributes([
    { key: FerryPlan, value: plan.name },
    { key: FerrySourceCluster, value: plan.source.cluster },
    { key: FerryDestinationCluster, value: plan.destination.cluster },
    { key: FerryPhase, value: state.phase },
  ]);

  // ---- children report; operators control ------------------------------------------------------
  setHandler(planStatusQuery, status);
  setHandler(childReportSignal, (r: ChildReport) => {
    const v = byId.get(r.workflowId);
    // After the end, the end wins. A VM still Pending was never started by this plan: a report for it
    // comes from a stale child (an earlier plan of the same name) and is not ours to adopt.
    if (!v || isEnded(v) || v.state === 'Pending') return;
    v.state = r.phase;
    v.attempt = r.attempt;
    v.since = r.at;
    if (r.diagnosis) v.diagnosis = r.diagnosis;
    else delete v.diagnosis;
    if (r.error) v.error = r.error;
    detailsDirty = true;
  });
  const stalledIds = () => state.vms.filter((v) => v.state === 'Stalled').map((v) => v.workflowId);
  const refuseRetry = () => (stalledIds().length ? undefined : 'retryStalled refused: no VM of this plan is Stalled');
  const refuseCancel = () => {
    if (state.cancelReason !== undefined) return 'cancel refused: the plan is already cancelling';
    if (isPlanEnded(state.phase)) return `cancel refused: the plan already ended (${state.phase})`;
    return undefined;
  };
  const signalAll = async (ids: string[], send: (id: string) => Promise<void>) => {
    await Promise.all(ids.map((id) => send(id).catch(() => undefined)));
  };
  const retryStalled = async (req?: ControlRequest): Promise<PlanControlAnswer> => {
    const ids = stalledIds();
    const reason = req?.reason ?? `plan ${plan.name}: retry stalled`;
    await signalAll(ids, (id) => getExternalWorkflowHandle(id).signal(retrySignal, { reason }));
    return { accepted: true, message: `retry sent to ${ids.length} stalled VM migration(s)`, workflowIds: ids };
  };
  const cancelPlan = async (req?: ControlRequest): Promise<PlanControlAnswer> => {
    state.cancelReason = req?.reason ?? 'operator cancelled the plan';
    setPhase('Cancelling');
    for (const v of state.vms) {
      if (v.state === 'Pending') {
        v.state = 'Skipped';
        v.error = `plan cancelled before it started: ${state.cancelReason}`;
      }
    }
    const ids = state.vms.filter(isActive).map((v) => v.workflowId);
    const reason = `plan ${plan.name} cancelled: ${state.cancelReason}`;
    // Each child decides: before cutover it rolls back; past cutover it refuses and finishes.
    await signalAll(ids, (id) => getExternalWorkflowHandle(id).signal(cancelSignal, { reason }));
    return { accepted: true, message: `cancel sent to ${ids.length} VM migration(s) in flight; ${state.vms.filter((v) => v.state === 'Skipped').length} not started`, workflowIds: ids };
  };
  const refuse = (why: string | undefined) => {
    if (why) throw new Error(why);
  };
  setHandler(retryStalledUpdate, retryStalled, { validator: (_req?: ControlRequest) => refuse(refuseRetry()) });
  setHandler(cancelPlanUpdate, cancelPlan, { validator: (_req?: ControlRequest) => refuse(refuseCancel()) });
  setHandler(retryStalledSignal, (req) => void (refuseRetry() ? undefined : retryStalled(req)));
  setHandler(cancelPlanSignal, (req) => void (refuseCancel() ? undefined : cancelPlan(req)));

  try {
    publish();
    // ---- 1. preflight every VM, together ---------------------------------------------------------
    if (state.phase === 'Validating') {
      await preflightAll(children, state);
      detailsDirty = true;
      const blocked = state.vms.filter((v) => v.blockers?.length);
      // A cancel during preflight wins over its findings: nothing was written, nothing will be.
      if (blocked.length && plan.onBlocked === 'abort' && state.cancelReason === undefined) {
        setPhase('Failed');
        publish();
        const lines = blocked.flatMap((v) => v.blockers!.map((b) => `${v.vm}: [${b.code}] ${b.message}`));
        throw ApplicationFailure.create({
          type: FailureTypes.PreflightBlocked,
          message: `plan aborted: preflight found blockers on ${blocked.length} of ${state.vms.length} VM(s); nothing was changed:\n- ${lines.join('\n- ')}`,
          nonRetryable: true,
          details: [blocked.map((v) => ({ vm: v.vm, blockers: v.blockers }))],
        });
      }
      for (const v of blocked) {
        if (v.state !== 'Pending') continue;
        v.state = 'Skipped';
        v.error = `skipped: preflight blockers ${v.blockers!.map((b) => b.code).join(', ')}`;
      }

      // ---- 2. certificates, once for every VM --------------------------------------------------
      if (state.cancelReason === undefined && state.vms.some((v) => v.state === 'Pending')) {
        setPhase('SyncingCertificates');
        publish();
        // Raced against a cancel: the sync may wait minutes for virt-operator.
        const scope = new CancellationScope();
        const sync = scope.run(() => syncCertificates({ source: plan.source.cluster, destination: plan.destination.cluster, pollIntervalMs: plan.options.pollInterval ?? 2000 }));
        await Promise.race([sync, condition(() => state.cancelReason !== undefined)]);
        if (state.cancelReason !== undefined) {
          scope.cancel();
          await sync.catch(() => undefined);
        }
      }
      if (state.cancelReason === undefined) setPhase('Migrating');
    }

    // ---- 3. the VMs, at most maxInFlight at a time ---------------------------------------------
    const historyFull = () => workflowInfo().historyLength >= plan.historyEventLimit || workflowInfo().continueAsNewSuggested;
    for (;;) {
      publish();
      const next = state.cancelReason === undefined ? state.vms.find((v) => v.state === 'Pending') : undefined;
      if (!next && inFlight() === 0) break;
      if (historyFull()) {
        // Children keep running (ABANDON); the next run picks up their reports.
        await condition(allHandlersFinished);
        state.runs++;
        return await continueAsNew<typeof migratePlan>(input, state);
      }
      if (next && inFlight() < plan.maxInFlight) {
        await startVm(next);
        continue;
      }
      // Every change (a report, a child's end, a control) marks the details dirty: wake on that.
      await condition(() => detailsDirty);
    }
  } catch (e) {
    if (e instanceof ContinueAsNew) throw e;
    if (!isCancellation(e) && state.phase !== 'Failed') {
      // Whatever failed the plan, its phase (search attribute, Web UI) must not stay in progress.
      setPhase('Failed');
      detailsDirty = true;
      publish();
    }
    if (isCancellation(e)) {
      // A Temporal cancel of the plan means: cancel the plan, and let the children roll back.
      await CancellationScope.nonCancellable(async () => {
        if (!refuseCancel()) await cancelPlan({ reason: 'the plan workflow was cancelled' });
        await condition(() => state.vms.every((v) => !isActive(v)));
      });
      setPhase('Cancelled');
      publish();
    }
    throw e;
  }

  const count = (s: string) => state.vms.filter((v) => v.state === s).length;
  const outcome: PlanResult['outcome'] = state.cancelReason !== undefined ? 'Cancelled' : count('Succeeded') === state.vms.length ? 'Succeeded' : 'Completed';
  setPhase(outcome);
  detailsDirty = true;
  publish();
  await condition(allHandlersFinished);
  return {
    name: plan.name,
    outcome,
    total: state.vms.length,
    succeeded: count('Succeeded'),
    rolledBack: count('RolledBack'),
    failed: count('Failed'),
    skipped: count('Skipped'),
    vms: state.vms,
    durationMs: Date.now() - Date.parse(state.startedAt),
  };

  async function startVm(v: PlanVmStatus): Promise<void> {
    const { input: childInput, migration: m } = children.get(v.workflowId)!;
    v.state = 'Validating';
    v.since = nowIso();
    state.peakInFlight = Math.max(state.peakInFlight, inFlight());
    detailsDirty = true;
    try {
      const child = await startChild('migrateVm', {
        workflowId: v.workflowId,
        args: [childInput],
        // The plan may continue as new while children run; they must not be closed with it.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        staticSummary: staticSummary(m),
        staticDetails: staticDetails(m),
      });
      // A cancel that came while this child was starting could not reach it: tell it now.
      if (state.cancelReason !== undefined) void getExternalWorkflowHandle(v.workflowId).signal(cancelSignal, { reason: `plan ${plan.name} cancelled: ${state.cancelReason}` }).catch(() => undefined);
      // A child reports its end just before it closes; its slot frees when it has closed. The result
      // also settles ends no report describes (e.g. a terminated child).
      closing.add(v.workflowId);
      const closed = () => {
        closing.delete(v.workflowId);
        detailsDirty = true;
      };
      void child.result().then(
        (r: { outcome: 'Succeeded' | 'RolledBack'; reason?: string }) => (settle(v, r.outcome, r.reason), closed()),
        (e: unknown) => (settle(v, 'Failed', messageOf(e)), closed()),
      );
    } catch (e) {
      if (isCancellation(e)) throw e;
      settle(v, 'Failed', `could not start: ${messageOf(e)} (is another migration of this VM running?)`);
    }
  }

  /** Active VMs, plus ended ones whose child workflow (started by this run) has not closed yet. */
  function inFlight() {
    let n = closing.size;
    for (const v of state.vms) if (isActive(v) && !closing.has(v.workflowId)) n++;
    return n;
  }

  function settle(v: PlanVmStatus, phase: Phase, error?: string) {
    if (isEnded(v)) return;
    v.state = phase;
    v.since = nowIso();
    delete v.diagnosis;
    if (error) v.error = error;
    detailsDirty = true;
  }
}

/** Preflight all VMs in batches; blockers are recorded on each VM, nothing is written anywhere. */
async function preflightAll(children: Map<string, { migration: Migration }>, state: PlanCarry): Promise<void> {
  const batches: PlanVmStatus[][] = [];
  for (let i = 0; i < state.vms.length; i += PREFLIGHT_BATCH) batches.push(state.vms.slice(i, i + PREFLIGHT_BATCH));
  let next = 0;
  const all: Awaited<ReturnType<typeof preflightMany>> = [];
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const reports = await preflightMany(batch.map((v) => ({ workflowId: v.workflowId, migration: children.get(v.workflowId)!.migration })));
      reports.forEach((r, i) => {
        if (r.blockers.length) batch[i]!.blockers = r.blockers;
      });
      all.push(...reports);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PREFLIGHT_PARALLEL, batches.length) }, lane));
  addPlanCollisions(state.vms, all); // the plan's VMs against each other, in plan order
}

function vmOf(m: Migration): string {
  return `${m.source.namespace}/${m.source.name}`;
}

function messageOf(e: unknown): string {
  const err = e as { cause?: { message?: string }; message?: string };
  return err.cause?.message || err.message || String(e);
}
