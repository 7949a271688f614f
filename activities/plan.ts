/**
 * What a plan does once for all its VMs: preflight in batches (one activity per batch instead of one
 * per VM keeps a plan's history small), each VM checked by the same code as a single migration. Each
 * report carries the VM's footprint (its name, disks and MACs on the destination) so that the plan can
 * check its VMs against each other (workflows/plan-collisions.ts) once every batch is in.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Migration, PreflightReport } from '../workflows/contract.js';
import type { ActivityDeps } from './context.js';
import type { KubeObject } from './kube/kinds.js';
import { addPlanCollisions, type Footprint } from '../workflows/plan-collisions.js';
import { inspectVm } from './preflight.js';
import { diskRefs, macAddresses } from './vm-spec.js';

export interface PreflightItem {
  workflowId: string;
  migration: Migration;
}

export type PlanPreflightReport = PreflightReport & { footprint?: Footprint };

/** What the VM of `item` takes on the destination. Pure. */
export function footprintOf(item: PreflightItem, vm: KubeObject): Footprint {
  const m = item.migration;
  return {
    workflowId: item.workflowId,
    vm: `${m.source.namespace}/${m.source.name}`,
    destinationCluster: m.destination.cluster,
    destinationNamespace: m.destination.namespace,
    name: m.source.name,
    disks: diskRefs(vm),
    macs: macAddresses(vm),
  };
}

/** One VM's preflight for a plan; an API refusal for that VM alone is its blocker, a transient error is thrown. */
async function preflightOne(deps: ActivityDeps, item: PreflightItem, accessIssues?: 'block' | 'warn'): Promise<PlanPreflightReport> {
  try {
    const { report, vm } = await inspectVm(deps, { ...item, ...(accessIssues ? { accessIssues } : {}) });
    return vm ? { ...report, footprint: footprintOf(item, vm) } : report;
  } catch (e) {
    // A transient API error retries the batch (the activity's retry policy).
    if (e instanceof ApplicationFailure && !e.nonRetryable) throw e;
    // One VM the API refuses to show (a 403 in its namespace, say) is that VM's blocker, not the
    // batch's failure: the plan's policy decides. The message is already mapped (no bodies).
    return { blockers: [{ code: 'PreflightError', message: e instanceof Error ? e.message : String(e) }], warnings: [], memoryBytes: 0, diskBytes: 0, runStrategy: 'Unknown' };
  }
}

/**
 * A whole plan's preflight outside a workflow (`ferry plan validate`): every VM, `parallel` at a
 * time, then the collisions between them; reports in the items' order, without footprints.
 */
export async function preflightPlan(deps: ActivityDeps, items: PreflightItem[], opts: { accessIssues?: 'block' | 'warn'; parallel?: number } = {}): Promise<PreflightReport[]> {
  const reports = new Array<PlanPreflightReport>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      reports[i] = await preflightOne(deps, items[i]!, opts.accessIssues);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.parallel ?? 8, items.length) }, lane));
  const vms = items.map((item, i) => ({ workflowId: item.workflowId, blockers: reports[i]!.blockers }));
  addPlanCollisions(vms, reports);
  return reports.map(({ footprint: _f, ...r }, i) => ({ ...r, blockers: vms[i]!.blockers }));
}

export function planActivities(deps: ActivityDeps) {
  return {
    async preflightMany(items: PreflightItem[]): Promise<PlanPreflightReport[]> {
      const reports: PlanPreflightReport[] = [];
      for (const item of items) {
        reports.push(await preflightOne(deps, item));
        Context.current().heartbeat(reports.length);
      }
      return reports;
    },
  };
}
