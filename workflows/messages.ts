/**
 * How operators and activities talk to a running migration. Updates (validated, answered) are the
 * preferred controls; the same controls exist as signals for fire-and-forget use, and a Temporal
 * cancellation means `cancel`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationStatus, Observation } from './contract.js';
import type { PlanStatus } from './plan-contract.js';
import type { Phase } from './phases.js';

export interface ControlRequest {
  reason?: string;
}

export interface ExtendRequest extends ControlRequest {
  /** How much longer to wait: milliseconds or a duration string ("10m"). */
  by: string | number;
}

export interface ControlAnswer {
  accepted: true;
  phase: Phase;
  attempt: number;
  /** For extend: the new deadline. */
  deadline?: string;
  message: string;
}

export const statusQuery = defineQuery<MigrationStatus>('status');

export const retryUpdate = defineUpdate<ControlAnswer, [ControlRequest]>('retry');
export const cancelUpdate = defineUpdate<ControlAnswer, [ControlRequest]>('cancel');
export const extendUpdate = defineUpdate<ControlAnswer, [ExtendRequest]>('extend');

export const retrySignal = defineSignal<[ControlRequest]>('retry');
export const cancelSignal = defineSignal<[ControlRequest]>('cancel');
export const extendSignal = defineSignal<[ExtendRequest]>('extend');

/** Sent by the waiting activities (through the worker) when what they see changes. */
export const observeSignal = defineSignal<[Observation]>('observe');

// ---- plans --------------------------------------------------------------------------------------

/** A child migration tells its plan where it stands (sent on every phase change and at the end). */
export interface ChildReport {
  workflowId: string;
  phase: Phase;
  attempt: number;
  at: string;
  diagnosis?: string;
  error?: string;
}

export interface PlanControlAnswer {
  accepted: true;
  message: string;
  /** The VMs the control was sent to. */
  workflowIds: string[];
}

export const planStatusQuery = defineQuery<PlanStatus>('planStatus');
export const childReportSignal = defineSignal<[ChildReport]>('childReport');
export const retryStalledUpdate = defineUpdate<PlanControlAnswer, [ControlRequest]>('retryStalled');
export const cancelPlanUpdate = defineUpdate<PlanControlAnswer, [ControlRequest]>('cancelPlan');
export const retryStalledSignal = defineSignal<[ControlRequest]>('retryStalled');
export const cancelPlanSignal = defineSignal<[ControlRequest]>('cancelPlan');
