/**
 * How a plan hears from its children and its operators: the `planStatus` query, the children's
 * `childReport` signal, and retryStalled and cancelPlan as validated updates and as signals. A plan
 * control is passed on to the children concerned (each child decides for itself); the plan itself only
 * stops starting VMs once cancelled.
 */
import { getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
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
import { refuseRequest } from './control-request.js';
import { isPlanEnded } from './plan-contract.js';
import type { PlanRun } from './plan-run.js';

export class PlanControls {
  constructor(private readonly run: PlanRun) {}

  install(): void {
    const run = this.run;
    setHandler(planStatusQuery, () => run.status());
    setHandler(childReportSignal, (r: ChildReport) => run.applyReport(r));
    // A validator that throws rejects the update: the caller gets the reason, history gets nothing.
    const refuse = (why: string | undefined) => {
      if (why) throw new Error(why);
    };
    // The argument is checked first: it may be any JSON value (the Temporal CLI's --input).
    const refuseRetry = (req: unknown) => refuseRequest('retryStalled', req) ?? this.refuseRetry();
    const refuseCancel = (req: unknown) => refuseRequest('cancelPlan', req) ?? this.refuseCancel();
    setHandler(retryStalledUpdate, (req) => this.retryStalled(req), { validator: (req?: ControlRequest) => refuse(refuseRetry(req)) });
    setHandler(cancelPlanUpdate, (req) => this.cancel(req), { validator: (req?: ControlRequest) => refuse(refuseCancel(req)) });
    setHandler(retryStalledSignal, (req) => void (refuseRetry(req) ? undefined : this.retryStalled(req)));
    setHandler(cancelPlanSignal, (req) => void (refuseCancel(req) ? undefined : this.cancel(req)));
  }

  refuseCancel(): string | undefined {
    const state = this.run.state;
    if (state.cancelReason !== undefined) return 'cancel refused: the plan is already cancelling';
    if (isPlanEnded(state.phase)) return `cancel refused: the plan already ended (${state.phase})`;
    return undefined;
  }

  async cancel(req?: ControlRequest): Promise<PlanControlAnswer> {
    const run = this.run;
    const ids = run.cancel(req?.reason ?? 'operator cancelled the plan');
    const reason = `plan ${run.plan.name} cancelled: ${run.state.cancelReason}`;
    // Each child decides: before cutover it rolls back; past cutover it refuses and finishes.
    await signalAll(ids, (id) => getExternalWorkflowHandle(id).signal(cancelSignal, { reason }));
    return { accepted: true, message: `cancel sent to ${ids.length} VM migration(s) in flight; ${run.count('Skipped')} not started`, workflowIds: ids };
  }

  private stalledIds(): string[] {
    return this.run.stalled().map((v) => v.workflowId);
  }

  private refuseRetry(): string | undefined {
    return this.stalledIds().length ? undefined : 'retryStalled refused: no VM of this plan is Stalled';
  }

  private async retryStalled(req?: ControlRequest): Promise<PlanControlAnswer> {
    const ids = this.stalledIds();
    const reason = req?.reason ?? `plan ${this.run.plan.name}: retry stalled`;
    await signalAll(ids, (id) => getExternalWorkflowHandle(id).signal(retrySignal, { reason }));
    return { accepted: true, message: `retry sent to ${ids.length} stalled VM migration(s)`, workflowIds: ids };
  }
}

/** Best effort: a child that has closed meanwhile must not fail the control. */
async function signalAll(ids: string[], send: (id: string) => Promise<void>): Promise<void> {
  await Promise.all(ids.map((id) => send(id).catch(() => undefined)));
}
