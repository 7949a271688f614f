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
import { describeInputIssues, FailureTypes, type Migration } from './contract.js';
import { addPlanCollisions } from './plan-collisions.js';
import { NOTABLE_MAX, type Plan, planInputSchema, type PlanResult, planShapeSchema, type PlanVmStatus } from './plan-contract.js';
import { PlanControls } from './plan-controls.js';
import { type PlanCarry, type PlanCarryV1, PlanRun } from './plan-run.js';

export type { PlanCarry, PlanCarryV1 } from './plan-run.js';

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

export async function migratePlan(input: unknown, carry?: PlanCarry | PlanCarryV1): Promise<PlanResult> {
  const run = new PlanRun(validPlan(input, carry !== undefined), carry);
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

/**
 * The plan, validated. A run that continued as new has the input its first run validated VM by VM:
 * it only reads it again (defaults included), not every VM's child input.
 */
function validPlan(input: unknown, continued: boolean): Plan {
  const parsed = (continued ? planShapeSchema : planInputSchema).safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = describeInputIssues(parsed.error);
  throw ApplicationFailure.create({ type: FailureTypes.InvalidInput, message: `invalid plan input:\n- ${issues.join('\n- ')}`, nonRetryable: true, details: [issues] });
}

/** Every VM's blockers, reported together; per `onBlocked`, any blocker aborts the plan or skips its VM. */
async function preflight(run: PlanRun): Promise<void> {
  const vms = await preflightAll(run);
  run.touch();
  const blocked = vms.filter((v) => v.blockers?.length);
  // A cancel during preflight wins over its findings: nothing was written, nothing will be.
  if (blocked.length && run.plan.onBlocked === 'abort' && !run.cancelling) {
    run.setPhase('Failed');
    run.publish();
    // The failure names the first blocked VMs only: thousands of them would pass the payload limit.
    const named = blocked.slice(0, NOTABLE_MAX);
    const lines = named.flatMap((v) => v.blockers!.map((b) => `${v.vm}: [${b.code}] ${b.message}`));
    if (blocked.length > named.length) lines.push(`… and ${blocked.length - named.length} more blocked VM(s): \`ferry plan validate\` lists them all`);
    throw ApplicationFailure.create({
      type: FailureTypes.PreflightBlocked,
      message: `plan aborted: preflight found blockers on ${blocked.length} of ${run.total} VM(s); nothing was changed:\n- ${lines.join('\n- ')}`,
      nonRetryable: true,
      details: [named.map((v) => ({ vm: v.vm, blockers: v.blockers }))],
    });
  }
  run.skipBlocked(vms);
}

/** Preflight all VMs in batches: each VM of the plan, in order, with its blockers; nothing is written anywhere. */
async function preflightAll(run: PlanRun): Promise<PlanVmStatus[]> {
  const migrations = new Map<string, Migration>();
  const vms = run.plan.vms.map((_, i): PlanVmStatus => {
    const { vm, workflowId, migration } = run.childAt(i);
    migrations.set(workflowId, migration);
    return { vm, workflowId, state: 'Pending' };
  });
  const batches: PlanVmStatus[][] = [];
  for (let i = 0; i < vms.length; i += PREFLIGHT_BATCH) batches.push(vms.slice(i, i + PREFLIGHT_BATCH));
  let next = 0;
  const all: Awaited<ReturnType<typeof preflightMany>> = [];
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const reports = await preflightMany(batch.map((v) => ({ workflowId: v.workflowId, migration: migrations.get(v.workflowId)! })));
      reports.forEach((r, i) => {
        if (r.blockers.length) batch[i]!.blockers = r.blockers;
      });
      all.push(...reports);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PREFLIGHT_PARALLEL, batches.length) }, lane));
  addPlanCollisions(vms, all); // the plan's VMs against each other, in plan order
  return vms;
}

/** Certificates, once for every VM (the children skip their own sync); not if nothing is left to migrate. */
async function synchronizeCertificates(run: PlanRun): Promise<void> {
  if (run.cancelling || run.pending() === 0) return;
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
    const next = run.cancelling ? undefined : run.nextPending();
    if (next === undefined && run.inFlight() === 0) return 'done';
    if (run.historyFull()) {
      // Children keep running (ABANDON); the next run picks up their reports.
      await condition(allHandlersFinished);
      return 'history full';
    }
    if (next !== undefined && run.inFlight() < run.plan.maxInFlight) {
      await run.startVm();
      continue;
    }
    // Every change (a report, a child's end, a control) marks the details dirty: wake on that.
    await condition(() => run.changed);
  }
}

/** Every VM has ended: the plan's outcome, once the handlers still running have answered. */
async function finish(run: PlanRun): Promise<PlanResult> {
  const outcome: PlanResult['outcome'] = run.cancelling ? 'Cancelled' : run.count('Succeeded') === run.total ? 'Succeeded' : 'Completed';
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
    await condition(() => !run.hasActive());
  });
  run.setPhase('Cancelled');
  run.publish();
}
