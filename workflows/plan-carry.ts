/**
 * What a plan carries across continue-as-new, as plain data (PlanRun, plan-run.ts, is the one place
 * that changes it): how many VMs ended each way, where the plan is in its VM list, the VMs in flight
 * and the first VMs of each unsuccessful end. Its size depends on maxInFlight and NOTABLE_MAX, not on
 * the plan's size, except for the preflight skips still ahead (a few bytes each). Pure: also read by
 * tests and the sizing script outside a workflow.
 */
import { NOTABLE_MAX, type PlanNotable, type PlanPhase, type PlanVmStatus } from './plan-contract.js';

export type EndState = 'Succeeded' | 'RolledBack' | 'Failed' | 'Skipped';
export const END_STATES: readonly EndState[] = ['Succeeded', 'RolledBack', 'Failed', 'Skipped'];
const NOTABLE_OF: Record<Exclude<EndState, 'Succeeded'>, keyof PlanNotable> = { Failed: 'failed', RolledBack: 'rolledBack', Skipped: 'skipped' };
/** An error or diagnosis kept in the carry is cut here: a child's failure message can be long. */
const TEXT_MAX = 1000;

/** What a plan carries across continue-as-new: bounded by maxInFlight and NOTABLE_MAX, not by the plan's size. */
export interface PlanCarry {
  version: 2;
  phase: PlanPhase;
  startedAt: string;
  runs: number;
  peakInFlight: number;
  cancelReason?: string;
  /** The index in the plan's `vms` of the next VM to start; from here on, each VM not in `skip` is Pending. */
  next: number;
  /** Indices (ascending, each ≥ `next`) of the VMs preflight skipped that the plan has not reached yet. */
  skip: number[];
  /** How many VMs ended each way (preflight skips are counted when decided). */
  ended: Record<EndState, number>;
  /** The VMs in flight: started, not ended. */
  active: PlanVmStatus[];
  notable: PlanNotable;
}

/** The carry of ferry before bounded carries: every VM's state, in plan order. */
export interface PlanCarryV1 {
  phase: PlanPhase;
  startedAt: string;
  runs: number;
  peakInFlight: number;
  cancelReason?: string;
  vms: PlanVmStatus[];
}

export const isEndState = (s: string): s is EndState => (END_STATES as readonly string[]).includes(s);
export const clip = (text: string | undefined) => (text && text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX - 1)}…` : text);

export function emptyNotable(): PlanNotable {
  return { failed: [], rolledBack: [], skipped: [] };
}

/** Count one ended VM, and name it when it did not succeed and its list has room. */
export function recordEnd(carry: Pick<PlanCarry, 'ended' | 'notable'>, v: PlanVmStatus): void {
  const state = v.state as EndState;
  carry.ended[state]++;
  if (state === 'Succeeded') return;
  const list = carry.notable[NOTABLE_OF[state]];
  if (list.length < NOTABLE_MAX) list.push({ ...v, ...(v.error ? { error: clip(v.error) } : {}) });
}

export function freshCarry(startedAt: string): PlanCarry {
  return {
    version: 2,
    phase: 'Validating',
    startedAt,
    runs: 0,
    peakInFlight: 0,
    next: 0,
    skip: [],
    ended: { Succeeded: 0, RolledBack: 0, Failed: 0, Skipped: 0 },
    active: [],
    notable: emptyNotable(),
  };
}

/**
 * A carry from a worker before bounded carries, as the bounded carry it stands for: a plan that
 * continued as new on the old code goes on here. The old list is in plan order; the first Pending VM
 * is the next to start (VMs start in order), the Skipped ones after it are preflight's skips.
 */
export function fromCarryV1(old: PlanCarryV1): PlanCarry {
  const carry = freshCarry(old.startedAt);
  Object.assign(carry, { phase: old.phase, runs: old.runs, peakInFlight: old.peakInFlight });
  if (old.cancelReason !== undefined) carry.cancelReason = old.cancelReason;
  const firstPending = old.vms.findIndex((v) => v.state === 'Pending');
  carry.next = firstPending < 0 ? old.vms.length : firstPending;
  old.vms.forEach((v, i) => {
    if (v.state === 'Pending') return;
    if (isEndState(v.state)) recordEnd(carry, v);
    else carry.active.push(v);
    if (i > carry.next && v.state === 'Skipped') carry.skip.push(i);
  });
  return carry;
}

export function isCarryV1(carry: PlanCarry | PlanCarryV1): carry is PlanCarryV1 {
  return (carry as Partial<PlanCarry>).version === undefined && Array.isArray((carry as PlanCarryV1).vms);
}
