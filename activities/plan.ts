/**
 * What a plan does once for all its VMs: preflight in batches (one activity per batch instead of one
 * per VM keeps a plan's history small), each VM checked by the same code as a single migration.
 */
import { Context } from '@temporalio/activity';
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
        reports.push(await preflight(item));
        Context.current().heartbeat(reports.length);
      }
      return reports;
    },
  };
}
