/**
 * A wait under a deadline: a heartbeating activity watches the clusters for a goal while the
 * workflow holds the deadline. When it passes, the migration is Stalled — diagnosed, shown, and
 * waiting for an operator within the decision window — but the activity keeps watching, so a stall
 * that clears by itself resumes the step. Retry and cancel arrive as cancellation of the enclosing
 * scope, which also cancels the watch.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import type { WaitResult } from '../activities/waits.js';
import { waiting } from './activity-options.js';
import type { Controls } from './controls.js';
import { diagnose } from './diagnosis.js';
import type { MigrationRun } from './migration-run.js';
import { DEADLINES, type DeadlineName, type StepPhase } from './phases.js';

export async function waitFor(run: MigrationRun, controls: Controls, goal: DeadlineName, budgetMs: number): Promise<WaitResult> {
  const m = run.migration;
  const step = DEADLINES[goal].phase satisfies StepPhase;
  const started = Date.now();
  let result: WaitResult | undefined;
  let failure: unknown;
  const watch = new CancellationScope();
  void watch
    .run(() => waiting(m.options, `wait for ${goal}: ${run.status.vm}`).waitFor(run.attemptRef(), goal))
    .then(
      (r) => (result = r),
      (e: unknown) => (failure = e ?? new Error('the watch failed')),
    );
  run.deadline.set(started + budgetMs);
  try {
    for (;;) {
      const woke = await run.deadline.wait(() => result !== undefined || failure !== undefined);
      if (woke === 'ready') break;
      if (woke === 'moved') {
        if (run.phase === 'Stalled') run.resume('deadline extended by an operator');
      } else if (run.phase !== 'Stalled') {
        const observed = run.status.observed ?? { at: new Date().toISOString() };
        const diagnosis = diagnose(goal, Date.now() - started, run.status.observed, m);
        log.warn(`migration stalled in ${step}: ${diagnosis}`);
        run.stall({ phase: step, since: new Date().toISOString(), deadline: goal, diagnosis, observed });
        // With the `wait` fallback the window is shown but never acts.
        run.deadline.set(Date.now() + m.options.decisionWindow, m.options.stallFallback !== 'wait');
      } else {
        await controls.fallback(m.options);
      }
    }
  } finally {
    run.deadline.clear();
    if (result === undefined && failure === undefined) watch.cancel();
  }
  if (failure !== undefined) throw failure;
  if (run.phase === 'Stalled') run.resume('recovered without intervention');
  run.status.observed = result!.observed;
  return result!;
}
