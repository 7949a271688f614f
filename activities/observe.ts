/**
 * What ferry reads off the clusters while KubeVirt works: the phases of both VMIMs and VMIs, the sync
 * address, the blocked message (without the target's benign "waiting" text), and transfer progress
 * from the source cluster's metrics where it has an endpoint for them (KubeVirt's API has none).
 */
import type { ApiUnreachable, Observation } from '../workflows/contract.js';
import { outpaced } from '../workflows/progress.js';
import { field, type KubeObject } from './kube/kinds.js';
import type { ProgressReading } from './progress/prometheus.js';

export const BENIGN_TARGET_MESSAGE = 'waiting for incoming synchronization, unable to proceed';

interface Cond {
  type: string;
  status: string;
  message?: string;
}

export function blockedMessage(vmim: KubeObject | undefined): string | undefined {
  const c = (field<Cond[]>(vmim, 'status.conditions') ?? []).find((x) => x.type === 'decentralizedMigrationBlocked' && x.status === 'True');
  if (!c?.message || c.message === BENIGN_TARGET_MESSAGE) return undefined;
  return c.message;
}

export interface Observed {
  sourceVMIM?: KubeObject;
  targetVMIM?: KubeObject;
  sourceVMI?: KubeObject;
  targetVMI?: KubeObject;
}

export function observation(o: Observed, now: Date, reading: ProgressReading = {}, unreachable: ApiUnreachable[] = []): Observation {
  const phase = (x: KubeObject | undefined) => field<string>(x, 'status.phase') || undefined;
  const srcBlocked = blockedMessage(o.sourceVMIM);
  const dstBlocked = blockedMessage(o.targetVMIM);
  const failure =
    field<string>(o.sourceVMIM, 'status.migrationState.failureReason') ??
    field<string>(o.targetVMIM, 'status.migrationState.failureReason') ??
    (field<boolean>(o.sourceVMI, 'status.migrationState.failed') ? field<string>(o.sourceVMI, 'status.migrationState.failureReason') : undefined);
  const obs: Observation = { at: now.toISOString() };
  const set = <K extends keyof Observation>(k: K, v: Observation[K] | undefined) => {
    if (v !== undefined) obs[k] = v;
  };
  set('sourceVMIM', phase(o.sourceVMIM));
  set('targetVMIM', phase(o.targetVMIM));
  set('sourceVMI', phase(o.sourceVMI));
  set('targetVMI', phase(o.targetVMI));
  set('syncAddress', field<string>(o.sourceVMIM, 'spec.sendTo.connectURL') ?? field<string[]>(o.targetVMIM, 'status.synchronizationAddresses')?.[0]);
  if (srcBlocked) {
    obs.blocked = srcBlocked;
    obs.blockedSide = 'source';
  } else if (dstBlocked) {
    obs.blocked = dstBlocked;
    obs.blockedSide = 'target';
  }
  set('progress', reading.progress);
  set('progressUnavailable', reading.unavailable);
  set('failureReason', failure);
  if (unreachable.length) obs.unreachable = unreachable;
  return obs;
}

/** VMIM phases grouped the way an operator reads them; steps inside a group are not worth a signal. */
function phaseGroup(p: string | undefined): string {
  if (!p) return 'none';
  if (['Pending', 'Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady'].includes(p)) return 'preparing';
  return p;
}

/**
 * Worth telling the workflow (each report costs history events): a change of phase group on either
 * side, of the blocked message or failure, progress crossing a quarter, the copy starting or ceasing
 * to converge, progress becoming (un)available, or a cluster's API server becoming (un)reachable.
 */
export function meaningfulChange(prev: Observation | undefined, next: Observation): boolean {
  if (!prev) return true;
  const key = (o: Observation) =>
    JSON.stringify([
      phaseGroup(o.sourceVMIM),
      phaseGroup(o.targetVMIM),
      o.targetVMI,
      o.blocked,
      o.failureReason,
      o.syncAddress,
      o.progress && o.progress.totalBytes > 0 ? Math.floor((4 * o.progress.processedBytes) / o.progress.totalBytes) : -1,
      o.progress ? outpaced(o.progress) : undefined,
      // Whether, not why: a flaky endpoint's changing error text is not worth a signal each time.
      o.progressUnavailable !== undefined,
      // Which clusters, not the error text: a retrying connection's message changes.
      (o.unreachable ?? []).map((u) => u.cluster),
    ]);
  return key(prev) !== key(next);
}
