/**
 * A plan: many VMs from one cluster to another, as one parent workflow.
 *
 *   validate the input → preflight every VM (reported together; abort or skip blocked VMs) →
 *   synchronize the clusters' CAs once → migrate, one child workflow per VM, at most `maxInFlight` at
 *   a time → the result
 *
 * Children report their phase changes by signal, so the plan's status (counts, stalled, failures) is
 * current without polling (plan-controls.ts; the status itself is plan-run.ts). Children are started
 * with ABANDON so the plan can continue as new without stopping them: a plan of thousands of VMs keeps
 * a bounded history. Cancelling the plan asks each child to cancel (each rolls back on its own) and
 * starts no more.
 */
import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, ContinueAsNew, continueAsNew, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { describeInputIssues, FailureTypes } from './contract.js';
import { addPlanCollisions } from './plan-collisions.js';
import { type Plan, planInputSchema, type PlanResult, type PlanVmStatus } from './plan-contract.js';
import { PlanControls } from './plan-controls.js';
import { isActive, type PlanCarry, PlanRun } from './plan-run.js';

export type { PlanCarry } from './plan-run.js';

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
  // The worker keeps it alive between reports (workers/activity-keepalive.ts): a dead worker costs 30 s.
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
  summary: 'preflight a batch of the plan VMs',
});

export async function migratePlan(input: unknown, carry?: PlanCarry): Promise<PlanResult> {
  const run = new PlanRun(validPlan(input), carry);
  const controls = new PlanControls(run);
  controls.install();
  try {
    run.publish();
    // A run that continued as new has done these already.
    if (run.phase === 'Validating') {
      await preflight(run);
      await synchronizeCertificates(run);
      if (!run.cancelling) run.setPhase('Migrating');
    }
    if ((await migrateVms(run)) === 'history full') return await continueAsNew<typeof migratePlan>(input, run.nextRun());
  } catch (e) {
    if (e instanceof ContinueAsNew) throw e;
    await unwind(run, controls, e);
    throw e;
  }
  return await finish(run);
}

function validPlan(input: unknown): Plan {
  const parsed = planInputSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = describeInputIssues(parsed.error);
  throw ApplicationFailure.create({ type: FailureTypes.InvalidInput, message: `invalid plan input:\n- ${issues.join('\n- ')}`, nonRetryable: true, details: [issues] });
}

/** Every VM's blockers, reported together; per `onBlocked`, any blocker aborts the plan or skips its VM. */
async function preflight(run: PlanRun): Promise<void> {
  await preflightAll(run);
  run.touch();
  const blocked = run.vms.filter((v) => v.blockers?.length);
  // A cancel during preflight wins over its findings: nothing was written, nothing will be.
  if (blocked.length && run.plan.onBlocked === 'abort' && !run.cancelling) {
    run.setPhase('Failed');
    run.publish();
    const lines = blocked.flatMap((v) => v.blockers!.map((b) => `${v.vm}: [${b.code}] ${b.message}`));
    throw ApplicationFailure.create({
      type: FailureTypes.PreflightBlocked,
      message: `plan aborted: preflight found blockers on ${blocked.length} of ${run.vms.length} VM(s); nothing was changed:\n- ${lines.join('\n- ')}`,
      nonRetryable: true,
      details: [blocked.map((v) => ({ vm: v.vm, blockers: v.blockers }))],
    });
  }
  run.skipBlocked(blocked);
}

/** Preflight all VMs in batches; blockers are recorded on each VM, nothing is written anywhere. */
async function preflightAll(run: PlanRun): Promise<void> {
  const vms = run.vms;
  const batches: PlanVmStatus[][] = [];
  for (let i = 0; i < vms.length; i += PREFLIGHT_BATCH) batches.push(vms.slice(i, i + PREFLIGHT_BATCH));
  let next = 0;
  const all: Awaited<ReturnType<typeof preflightMany>> = [];
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const reports = await preflightMany(batch.map((v) => ({ workflowId: v.workflowId, migration: run.migrationOf(v.workflowId) })));
      reports.forEach((r, i) => {
        if (r.blockers.length) batch[i]!.blockers = r.blockers;
      });
      all.push(...reports);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PREFLIGHT_PARALLEL, batches.length) }, lane));
  addPlanCollisions(vms, all); // the plan's VMs against each other, in plan order
}

/** Certificates, once for every VM (the children skip their own sync); not if nothing is left to migrate. */
async function synchronizeCertificates(run: PlanRun): Promise<void> {
  if (run.cancelling || !run.vms.some((v) => v.state === 'Pending')) return;
  const plan = run.plan;
  run.setPhase('SyncingCertificates');
  run.publish();
  // Raced against a cancel: the sync may wait minutes for virt-operator.
  const scope = new CancellationScope();
  const sync = scope.run(() => syncCertificates({ source: plan.source.cluster, destination: plan.destination.cluster, pollIntervalMs: plan.options.pollInterval ?? 2000 }));
  await Promise.race([sync, condition(() => run.cancelling)]);
  if (run.cancelling) {
    scope.cancel();
    await sync.catch(() => undefined);
  }
}

/** The VMs, at most `maxInFlight` at a time, until none is left; or until the history is full. */
async function migrateVms(run: PlanRun): Promise<'done' | 'history full'> {
  for (;;) {
    run.publish();
    const next = run.cancelling ? undefined : run.vms.find((v) => v.state === 'Pending');
    if (!next && run.inFlight() === 0) return 'done';
    if (run.historyFull()) {
      // Children keep running (ABANDON); the next run picks up their reports.
      await condition(allHandlersFinished);
      return 'history full';
    }
    if (next && run.inFlight() < run.plan.maxInFlight) {
      await run.startVm(next);
      continue;
    }
    // Every change (a report, a child's end, a control) marks the details dirty: wake on that.
    await condition(() => run.changed);
  }
}

/** Every VM has ended: the plan's outcome, once the handlers still running have answered. */
async function finish(run: PlanRun): Promise<PlanResult> {
  const outcome: PlanResult['outcome'] = run.cancelling ? 'Cancelled' : run.count('Succeeded') === run.vms.length ? 'Succeeded' : 'Completed';
  run.setPhase(outcome);
  run.touch();
  run.publish();
  await condition(allHandlersFinished);
  return run.result(outcome);
}

/** What the plan's end is recorded as when it did not get to `finish`; the failure then stands. */
async function unwind(run: PlanRun, controls: PlanControls, e: unknown): Promise<void> {
  if (!isCancellation(e)) {
    // Whatever failed the plan, its phase (search attribute, Web UI) must not stay in progress.
    if (run.phase === 'Failed') return;
    run.setPhase('Failed');
    run.touch();
    run.publish();
    return;
  }
  // A Temporal cancel of the plan means: cancel the plan, and let the children roll back.
  await CancellationScope.nonCancellable(async () => {
    if (!controls.refuseCancel()) await controls.cancel({ reason: 'the plan workflow was cancelled' });
    await condition(() => run.vms.every((v) => !isActive(v)));
  });
  run.setPhase('Cancelled');
  run.publish();
}
