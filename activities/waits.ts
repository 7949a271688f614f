/**
 * The waiting activities: each follows the four objects of a migration (both VMIMs, both VMIs) on the
 * clusters' shared watches (kube/informer.ts: one per cluster, kind and namespace), heartbeats what it sees (so a cancel reaches it and the Web UI shows it), reports meaningful
 * changes to the workflow, and returns when its goal is reached. They never time out on their own: the
 * workflow owns the deadlines and decides what a stall means.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type ApiUnreachable, FailureTypes, type Observation } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import { orFail } from './kube/errors.js';
import { field } from './kube/kinds.js';
import { ObjectWatch } from './kube/watch.js';
import { vmimName } from './labels.js';
import { meaningfulChange, observation, type Observed } from './observe.js';
import { ProgressPoller } from './progress/poller.js';

export type WaitGoal = 'receiverReady' | 'syncAddress' | 'handshake' | 'completion';

export interface WaitResult {
  goal: WaitGoal;
  syncAddress?: string;
  observed: Observation;
}

const MIN_REPORT_INTERVAL_MS = 1000;
/** Progress queries go to a shared monitoring stack: no more than one a second per migration. */
const MIN_PROGRESS_INTERVAL_MS = 1000;

/** Goal reached (a result), failed (throws), or not yet (undefined). */
function evaluate(goal: WaitGoal, o: Observed, obs: Observation): WaitResult | undefined {
  const failed = [o.sourceVMIM, o.targetVMIM].find((m) => field(m, 'status.phase') === 'Failed');
  if (failed && goal !== 'receiverReady') {
    throw ApplicationFailure.create({
      type: FailureTypes.MigrationFailed,
      message: `KubeVirt failed the migration: ${obs.failureReason ?? `VMIM ${failed.metadata.name} is Failed`}`,
      nonRetryable: true,
      details: [obs],
    });
  }
  switch (goal) {
    case 'receiverReady':
      return field(o.targetVMI, 'status.phase') === 'WaitingForSync' ? { goal, observed: obs } : undefined;
    case 'syncAddress': {
      const addr = field<string[]>(o.targetVMIM, 'status.synchronizationAddresses')?.[0];
      return addr ? { goal, syncAddress: addr, observed: obs } : undefined;
    }
    case 'handshake': {
      const p = field<string>(o.sourceVMIM, 'status.phase');
      return p && p !== 'Synchronizing' ? { goal, observed: obs } : undefined;
    }
    case 'completion': {
      const target = field(o.targetVMIM, 'status.phase') === 'Succeeded';
      // The source VMIM can miss its Succeeded (kubevirt#15299); the source VMI's state is the tiebreak.
      const source = field(o.sourceVMIM, 'status.phase') === 'Succeeded' || field(o.sourceVMI, 'status.migrationState.completed') === true || !o.sourceVMI;
      return target && source ? { goal, observed: obs } : undefined;
    }
  }
}

export function waitActivities(deps: ActivityDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    async waitFor(ref: AttemptRef, goal: WaitGoal): Promise<WaitResult> {
      const ctx = Context.current();
      const m = ref.migration;
      const src = deps.clusters.get(m.source.cluster);
      const dst = deps.clusters.get(m.destination.cluster);
      const resync = Math.max(m.options.pollInterval * 10, 5000);
      const watches = {
        targetVMI: new ObjectWatch(dst, 'VirtualMachineInstance', m.destination.namespace, m.source.name, resync),
        targetVMIM: new ObjectWatch(dst, 'VirtualMachineInstanceMigration', m.destination.namespace, vmimName(m.source.name, ref.migrationId, 'target'), resync),
        ...(goal === 'receiverReady'
          ? {}
          : {
              sourceVMIM: new ObjectWatch(src, 'VirtualMachineInstanceMigration', m.source.namespace, vmimName(m.source.name, ref.migrationId, 'source'), resync),
              sourceVMI: new ObjectWatch(src, 'VirtualMachineInstance', m.source.namespace, m.source.name, resync),
            }),
      };
      let wake: () => void = () => {};
      for (const w of Object.values(watches)) w.onChange(() => wake());
      // Bytes move only once both VMIMs exist: progress is read from the handshake on.
      const poller =
        goal === 'handshake' || goal === 'completion'
          ? new ProgressPoller(
              deps.progress?.(m.source.cluster),
              { cluster: m.source.cluster, namespace: m.source.namespace, vmi: m.source.name },
              Math.max(m.options.pollInterval, MIN_PROGRESS_INTERVAL_MS),
              () => wake(),
            ).start()
          : undefined;
      let lastReported: Observation | undefined;
      let lastReportAt = 0;
      // The first reads can take a request timeout or two against a hung API server: keep the heartbeat going meanwhile.
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        await orFail(
          Promise.all(Object.values(watches).map((w) => w.start())),
          `watching the migration of ${m.source.namespace}/${m.source.name}`,
          `${m.source.cluster}/${m.destination.cluster}`,
        ).finally(() => clearInterval(beat));
        for (;;) {
          const o: Observed = Object.fromEntries(Object.entries(watches).map(([k, w]) => [k, w.latest]));
          const obs = observation(o, now(), poller?.latest, unreachable(Object.values(watches), m.source.cluster));
          const done = evaluate(goal, o, obs);
          ctx.heartbeat(obs);
          if (done) return done; // the result carries the last observation

          if (meaningfulChange(lastReported, obs) && Date.now() - lastReportAt >= MIN_REPORT_INTERVAL_MS) {
            if (await report(deps, ctx, obs)) {
              lastReported = obs;
              lastReportAt = Date.now();
            }
          }
          // Sleep until something changes or the poll interval passes; a cancel interrupts the sleep.
          await Promise.race([new Promise<void>((r) => (wake = r)), ctx.sleep(m.options.pollInterval)]);
        }
      } finally {
        poller?.stop();
        for (const w of Object.values(watches)) w.stop();
      }
    },
  };
}

/** One entry per cluster whose API server a watch cannot reach, with the longest-standing failure. */
function unreachable(watches: ObjectWatch[], sourceCluster: string): ApiUnreachable[] {
  const byCluster = new Map<string, ApiUnreachable>();
  for (const w of watches) {
    const f = w.failure;
    if (!f) continue;
    const seen = byCluster.get(w.cluster.name);
    if (seen && seen.since <= f.since) continue;
    const side = w.cluster.name === sourceCluster ? 'source' : 'destination';
    byCluster.set(w.cluster.name, { side, cluster: w.cluster.name, server: w.cluster.server, error: f.error, since: f.since });
  }
  return [...byCluster.values()];
}

async function report(deps: ActivityDeps, ctx: Context, obs: Observation): Promise<boolean> {
  const exec = ctx.info.workflowExecution;
  if (!deps.report || !exec) return false;
  try {
    await deps.report(exec.workflowId, exec.runId, obs);
    return true;
  } catch {
    return false; // best effort: the heartbeat still carries it
  }
}
