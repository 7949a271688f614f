/**
 * ferry's own metrics, once: the name each is created under, its kind, unit, labels and meaning. The
 * workflow and activity code create them from here, the worker sets the phase histogram's buckets from
 * here, and the alert rules' and dashboard's test checks every `ferry_*` name they use against
 * `exposedNames()`. No label holds a VM name: cardinality stays bounded by clusters, phases and plans.
 */

export interface MetricSpec {
  readonly name: string;
  readonly kind: 'counter' | 'histogram' | 'gauge';
  readonly unit: string;
  readonly labels: readonly string[];
  readonly help: string;
}

/** Workflow metrics also carry the SDK's `namespace`, `taskQueue` and `workflowType` labels (the SDK's spelling). */
export const FERRY_METRICS = {
  migrationsStarted: {
    name: 'ferry_migrations_started',
    kind: 'counter',
    unit: '',
    labels: ['source_cluster', 'destination_cluster', 'in_plan'],
    help: 'VM migrations started (one per migrateVm workflow run)',
  },
  migrationsEnded: {
    name: 'ferry_migrations_ended',
    kind: 'counter',
    unit: '',
    labels: ['source_cluster', 'destination_cluster', 'in_plan', 'outcome'],
    help: 'VM migrations ended, by outcome: Succeeded, RolledBack or Failed',
  },
  stalls: {
    name: 'ferry_migration_stalls',
    kind: 'counter',
    unit: '',
    labels: ['source_cluster', 'destination_cluster', 'deadline'],
    help: 'Migrations that stalled, by the deadline that passed: receiverReady, syncAddress, handshake, completion',
  },
  phaseDuration: {
    name: 'ferry_migration_phase_duration_seconds',
    kind: 'histogram',
    unit: 's',
    labels: ['phase'],
    help: 'Time a migration spent in a phase, recorded when it left the phase',
  },
  decisions: {
    name: 'ferry_operator_decisions',
    kind: 'counter',
    unit: '',
    labels: ['action', 'by'],
    help: 'Decisions on a running migration: action retry, cancel or extend; by operator or fallback (the stall fallback, when nobody decided)',
  },
  kubeRequests: {
    name: 'ferry_kube_requests',
    kind: 'counter',
    unit: '',
    labels: ['cluster', 'verb', 'code'],
    help: 'Kubernetes API requests the worker made, by cluster (kubeconfig context), verb and HTTP status code (error: no response)',
  },
  planVms: {
    name: 'ferry_plan_vms',
    kind: 'gauge',
    unit: '',
    labels: ['plan', 'state'],
    help: "A plan's VMs by state: Pending, InFlight, Succeeded, RolledBack, Failed, Skipped",
  },
} as const satisfies Record<string, MetricSpec>;

/** Bucket bounds of the phase histogram (seconds): from a quick create to a long transfer. */
export const PHASE_DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/**
 * The series names on /metrics: the worker's exporter adds `_total` to counters (countersTotalSuffix)
 * and a histogram is its `_bucket`, `_sum` and `_count`; no prefix is added to ferry's metrics.
 */
export function exposedNames(spec: MetricSpec): string[] {
  if (spec.kind === 'counter') return [`${spec.name}_total`];
  if (spec.kind === 'histogram') return ['_bucket', '_sum', '_count'].map((s) => spec.name + s);
  return [spec.name];
}

export const FERRY_SERIES: readonly string[] = Object.values(FERRY_METRICS).flatMap(exposedNames);
