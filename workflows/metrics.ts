/**
 * The workflow side of ferry's metrics (names and meanings in metric-names.ts). The SDK's workflow
 * meter drops every call made while a history replays, so a migration is counted once however often
 * a worker replays it; the SDK adds the `namespace`, `taskQueue` and `workflowType` labels.
 */
import type { MetricMeter } from '@temporalio/common';
import { metricMeter } from '@temporalio/workflow';
import type { Migration, StallInfo } from './contract.js';
import { FERRY_METRICS, type MetricSpec } from './metric-names.js';
import { DEADLINES, type DeadlineName, isTerminal, type Phase, TERMINAL_PHASES } from './phases.js';

const DEADLINE_NAMES = Object.keys(DEADLINES) as DeadlineName[];
const counter = (s: MetricSpec) => metricMeter.createCounter(s.name, s.unit, s.help);

/** One migration's metrics: the labels every series of it carries, and what each phase change counts. */
export class MigrationMetrics {
  private readonly clusters: { source_cluster: string; destination_cluster: string };
  private readonly inPlan: boolean;

  constructor(m: Migration) {
    this.clusters = { source_cluster: m.source.cluster, destination_cluster: m.destination.cluster };
    this.inPlan = m.plan !== undefined;
  }

  /**
   * Also creates the stall and end series at 0: a counter series born at 1 has no increase() in
   * Prometheus, so an alert on the first stall or failure of a worker's life would never fire.
   */
  started(): void {
    counter(FERRY_METRICS.migrationsStarted).add(1, { ...this.clusters, in_plan: this.inPlan });
    zeroSeries(metricMeter, this.clusters, this.inPlan);
  }

  /** Leaving `from` (entered at `sinceIso`) for `to`: its time, and a stall or an end when `to` is one. */
  phaseChanged(from: Phase, sinceIso: string, to: Phase, stall: StallInfo | undefined): void {
    const seconds = Math.max(0, (Date.now() - Date.parse(sinceIso)) / 1000);
    const h = FERRY_METRICS.phaseDuration;
    metricMeter.createHistogram(h.name, 'float', h.unit, h.help).record(seconds, { phase: from });
    if (to === 'Stalled' && stall) counter(FERRY_METRICS.stalls).add(1, { ...this.clusters, deadline: stall.deadline });
    if (isTerminal(to)) counter(FERRY_METRICS.migrationsEnded).add(1, { ...this.clusters, in_plan: this.inPlan, outcome: to });
  }
}

/**
 * The stall and end series of one pair of clusters at 0. A migration creates them when it starts; a
 * worker creates them for every pair of its clusters when it starts too, because a migration it takes
 * over mid-way replays its start (and the meter drops calls made while replaying).
 */
export function zeroSeries(meter: MetricMeter, clusters: { source_cluster: string; destination_cluster: string }, inPlan: boolean): void {
  const stalls = meter.createCounter(FERRY_METRICS.stalls.name, FERRY_METRICS.stalls.unit, FERRY_METRICS.stalls.help);
  for (const deadline of DEADLINE_NAMES) stalls.add(0, { ...clusters, deadline });
  const ended = meter.createCounter(FERRY_METRICS.migrationsEnded.name, FERRY_METRICS.migrationsEnded.unit, FERRY_METRICS.migrationsEnded.help);
  for (const outcome of TERMINAL_PHASES) ended.add(0, { ...clusters, in_plan: inPlan, outcome });
}

export function countDecision(action: 'retry' | 'cancel' | 'extend', automatic: boolean): void {
  counter(FERRY_METRICS.decisions).add(1, { action, by: automatic ? 'fallback' : 'operator' });
}

const PLAN_STATES = ['Pending', 'InFlight', 'Succeeded', 'RolledBack', 'Failed', 'Skipped'] as const;

/** A plan's VMs by state, as the gauge shows them (from the status counts): every state a migration is in between is InFlight. */
export function planVmCounts(counts: Readonly<Record<string, number>>): Record<(typeof PLAN_STATES)[number], number> {
  const out = Object.fromEntries(PLAN_STATES.map((s) => [s, 0])) as Record<(typeof PLAN_STATES)[number], number>;
  for (const [s, n] of Object.entries(counts)) {
    out[s === 'Pending' || s === 'Skipped' || s === 'Succeeded' || s === 'RolledBack' || s === 'Failed' ? s : 'InFlight'] += n;
  }
  return out;
}

export function planProgress(plan: string, counts: Readonly<Record<string, number>>): void {
  const g = FERRY_METRICS.planVms;
  const gauge = metricMeter.createGauge(g.name, 'int', g.unit, g.help);
  for (const [state, n] of Object.entries(planVmCounts(counts))) gauge.set(n, { plan, state });
}
