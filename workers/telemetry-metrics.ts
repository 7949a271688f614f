/**
 * The worker's /metrics (Prometheus text format), served by the Temporal SDK's Rust core: the SDK's
 * own worker metrics (`temporal_*`) and ferry's (`ferry_*`, workflows/metric-names.ts), recorded
 * through the SDK's metric meters. Off unless FERRY_METRICS_ADDRESS is set (the Deployment sets
 * 0.0.0.0:9464); counters end in `_total` and durations are in seconds, as Prometheus expects.
 */
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { countKubeRequestsWith } from '../activities/kube/requests.js';
import { FERRY_METRICS, PHASE_DURATION_BUCKETS } from '../workflows/metric-names.js';

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
