/**
 * How the workflow calls its activities: three kinds, each with its own timeouts and retries. Every
 * call carries a one-line summary, which the Web UI shows next to the activity.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { MigrationOptions } from './contract.js';

type Activities = ReturnType<typeof createActivities>;

/**
 * Quick API calls: retried on transient errors, not forever. Whether a failure is retried is decided
 * where it is mapped (activities/kube/errors.ts sets `nonRetryable`), not by failure type here. The
 * worker heartbeats them (workers/activity-keepalive.ts): a worker that dies during one costs the
 * heartbeat timeout, not the two minutes of start-to-close.
 */
export const api = (summary: string) =>
  proxyActivities<Activities>({
    startToCloseTimeout: '2m',
    heartbeatTimeout: '10s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
    summary,
  });

/** Waiting activities: long, heartbeating, cancelled through heartbeats. */
export const waiting = (o: MigrationOptions, summary: string) =>
  proxyActivities<Activities>({
    startToCloseTimeout: '30 days',
    heartbeatTimeout: Math.max(10_000, o.pollInterval * 5),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
    summary,
  });

/**
 * CA sync waits for virt-operator to merge the peer CA. That can hang (operator down), so it gets a
 * deadline like every other wait: the handshake budget, plus a minute for the writes.
 */
export const certificates = (o: MigrationOptions, summary: string) =>
  proxyActivities<Activities>({
    scheduleToCloseTimeout: o.handshakeTimeout + 60_000,
    heartbeatTimeout: Math.max(10_000, o.pollInterval * 5),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
    summary,
  });

/** The least a rollback gets, however short the decision window: removing objects takes seconds. */
export const MIN_ROLLBACK_MS = 60_000;

/**
 * A rollback (or an attempt's removal): retried like a wait, but bounded by the decision window (at
 * least a minute). A cluster gone for good must end the migration with a clear failure, not hold it in
 * RollingBack forever with nothing to act on.
 */
export const rollbackBudget = (o: MigrationOptions) => Math.max(o.decisionWindow, MIN_ROLLBACK_MS);

export const rollingBack = (o: MigrationOptions, summary: string) =>
  proxyActivities<Activities>({
    scheduleToCloseTimeout: rollbackBudget(o),
    heartbeatTimeout: Math.max(10_000, o.pollInterval * 5),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
    summary,
  });
