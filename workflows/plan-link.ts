/**
 * A plan's child migration reports each phase change to its plan. The plan may have continued as new
 * since it started the child, so the report goes to the plan's workflow ID, not to a run.
 */
import { CancellationScope, getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import { type ChildReport, childReportSignal } from './messages.js';

export interface PlanLink {
  report(r: Omit<ChildReport, 'workflowId' | 'at'>): void;
  /**
   * Waits until the last report is delivered. A signal sent in the workflow's final task is dropped
   * by the server once the sender has closed, so a child awaits this before it ends.
   */
  flush(): Promise<void>;
}

/** The link to the parent plan, or undefined for a migration started on its own. */
export function planLink(plan: string | undefined): PlanLink | undefined {
  const parent = workflowInfo().parent;
  if (!plan || !parent) return undefined;
  const handle = getExternalWorkflowHandle(parent.workflowId);
  let last: Promise<void> = Promise.resolve();
  return {
    report(r) {
      // A plan that is gone (terminated) must not fail the migration: reports are best effort.
      // Non-cancellable: the last reports (RollingBack, RolledBack) are sent after a Temporal cancel.
      const report: ChildReport = { ...r, workflowId: workflowInfo().workflowId, at: new Date().toISOString() };
      last = CancellationScope.nonCancellable(() => handle.signal(childReportSignal, report)).catch(() => undefined);
    },
    flush: () => last,
  };
}
