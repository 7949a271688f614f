/**
 * The worker's /metrics (Prometheus text format), served by the Temporal SDK's Rust core: the SDK's
 * own worker metrics (`temporal_*`) and ferry's (`ferry_*`, workflows/metric-names.ts), recorded
 * through the SDK's metric meters. Off unless FERRY_METRICS_ADDRESS is set (the Deployment sets
 * 0.0.0.0:9464); counters end in `_total` and durations are in seconds, as Prometheus expects.
 */
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { countKubeRequestsWith } from '../activities/kube/requests.js';
import { FERRY_METRICS, PHASE_DURATION_BUCKETS } from '../workflows/metric-names.js';
import { zeroSeries } from '../workflows/metrics.js';
import { TASK_QUEUE } from '../workflows/contract.js';

/** `host:port`, `[v6]:port` or a bare port (all interfaces); undefined when unset or empty. */
export function metricsAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.FERRY_METRICS_ADDRESS?.trim();
  if (!raw) return undefined;
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):)?(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new Error(`FERRY_METRICS_ADDRESS must be host:port, [ipv6]:port or a port, e.g. 0.0.0.0:9464 (got "${raw}"); unset it to serve no metrics`);
  }
  return `${m[1] ?? '0.0.0.0'}:${port}`;
}

export function metricsTelemetry(bindAddress: string): NonNullable<RuntimeOptions['telemetryOptions']> {
  return {
    metrics: {
      prometheus: {
        bindAddress,
        countersTotalSuffix: true,
        useSecondsForDurations: true,
        histogramBucketOverrides: { [FERRY_METRICS.phaseDuration.name]: PHASE_DURATION_BUCKETS },
      },
    },
  };
}

/**
 * Install the SDK's Runtime with the metrics exporter FERRY_METRICS_ADDRESS asks for; before any
 * connection is made (the Runtime is created with the first one). Answers the address, if any.
 */
export function installMetrics(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const address = metricsAddress(env);
  if (address) {
    try {
      Runtime.install({ telemetryOptions: metricsTelemetry(address) });
    } catch (e) {
      // The SDK's message ("Address already in use") does not say which setting chose the address.
      throw new Error(`FERRY_METRICS_ADDRESS is ${address}, but /metrics cannot be served there: ${e instanceof Error ? e.message : String(e)}. Choose a free port, or unset it`);
    }
  }
  countKubeRequestsWith(Runtime.instance().metricMeter);
  return address;
}

/**
 * Every stall and end series of migrateVm at 0 for each pair of this worker's clusters, under the
 * labels the SDK's workflow meter adds: an alert on increase() then sees the first stall or failure of
 * a migration this process took over from another worker (its start was replayed, not counted).
 */
export function zeroMigrationSeries(clusters: readonly string[], namespace: string): void {
  const meter = Runtime.instance().metricMeter.withTags({ namespace, taskQueue: TASK_QUEUE, workflowType: 'migrateVm' });
  for (const source_cluster of clusters)
    for (const destination_cluster of clusters) for (const inPlan of [false, true]) zeroSeries(meter, { source_cluster, destination_cluster }, inPlan);
}
