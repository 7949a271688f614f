/**
 * What a plan does once for all its VMs: preflight in batches (one activity per batch instead of one
 * per VM keeps a plan's history small), each VM checked by the same code as a single migration.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Migration, PreflightReport } from '../workflows/contract.js';
import type { ActivityDeps } from './context.js';
import { preflightActivities } from './preflight.js';

export interface PreflightItem {
  workflowId: string;
  migration: Migration;
}

export function planActivities(deps: ActivityDeps) {
  const { preflight } = preflightActivities(deps);
  return {
    async preflightMany(items: PreflightItem[]): Promise<PreflightReport[]> {
      const reports: PreflightReport[] = [];
      for (const item of items) {
        try {
          reports.push(await preflight(item));
        } catch (e) {
          // A transient API error retries the batch (the activity's retry policy).
          if (e instanceof ApplicationFailure && !e.nonRetryable) throw e;
          // One VM the API refuses to show (a 403 in its namespace, say) is that VM's blocker, not the
          // batch's failure: the plan's policy decides. The message is already mapped (no bodies).
          reports.push({ blockers: [{ code: 'PreflightError', message: e instanceof Error ? e.message : String(e) }], warnings: [], memoryBytes: 0, diskBytes: 0, runStrategy: 'Unknown' });
        }
        Context.current().heartbeat(reports.length);
      }
      return reports;
    },
  };
}
