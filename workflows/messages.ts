/**
 * How operators and activities talk to a running migration. Updates (validated, answered) are the
 * preferred controls; the same controls exist as signals for fire-and-forget use, and a Temporal
 * cancellation means `cancel`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { MigrationStatus, Observation } from './contract.js';
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
