/**
 * KubeVirt's live-migration progress as virt-handler publishes it: Prometheus metrics of the source
 * VMI, labelled `namespace`, `name` (the VMI) and `node`, present while libvirt's migration job runs
 * (pkg/monitoring/metrics/virt-handler/migrationdomainstats). There is no byte counter in KubeVirt's
 * API, so this is the only place progress exists on a real cluster. Pure: the query and the reading of
 * its answer.
 */
import type { Observation } from '../../workflows/contract.js';

type Progress = NonNullable<Observation['progress']>;

/** Each family, by the Progress field it fills. KubeVirt ≤ 1.7 named the total `…_data_total_bytes`. */
export const PROGRESS_METRICS = {
  totalBytes: ['kubevirt_vmi_migration_data_bytes_total', 'kubevirt_vmi_migration_data_total_bytes'],
  processedBytes: ['kubevirt_vmi_migration_data_processed_bytes'],
  remainingBytes: ['kubevirt_vmi_migration_data_remaining_bytes'],
  transferRate: ['kubevirt_vmi_migration_memory_transfer_rate_bytes'],
  dirtyRate: ['kubevirt_vmi_migration_dirty_memory_rate_bytes'],
} as const satisfies Record<keyof Progress, readonly string[]>;

const ALL_NAMES = Object.values(PROGRESS_METRICS).flat();

/** A PromQL string literal: backslashes, quotes and newlines escaped. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * One query for every family of one VMI. `extraLabels` narrow it where one query endpoint
 * serves several clusters (a Thanos or ACM observability setup that adds a `cluster` label).
 */
export function progressQuery(namespace: string, vmi: string, extraLabels: Readonly<Record<string, string>> = {}): string {
  // A range, not an instant vector: an instant query stamps every sample with the evaluation time, so
  // which of two series of one family (a restarted virt-handler's old one, a replica's) is current
  // could not be told. The range's last points carry their scrape times; 30 s also bounds how long a
  // finished transfer's stamped samples (never marked stale) look current.
  return `${seriesSelector(namespace, vmi, extraLabels)}[${PROGRESS_WINDOW}]`;
}

/** How far back a sample still counts as progress (virt-handler collects every 5 s). */
export const PROGRESS_WINDOW = '30s';

function seriesSelector(namespace: string, vmi: string, extraLabels: Readonly<Record<string, string>>): string {
  const matchers = [
    `__name__=~${promString(ALL_NAMES.join('|'))}`,
    `namespace=${promString(namespace)}`,
    `name=${promString(vmi)}`,
    ...Object.entries(extraLabels).map(([k, v]) => `${k}=${promString(v)}`),
  ];
  return `{${matchers.join(',')}}`;
}

/** One series and its last point (`[unix seconds, value]`), as the Prometheus HTTP API gives it. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * Progress from the query's samples; undefined until virt-handler reports a total. Where several series
 * carry one family (the VMI's node label changed, two Prometheus replicas), the newest sample wins.
 */
export function progressFromSamples(samples: readonly VectorSample[]): Progress | undefined {
  const newest = new Map<string, VectorSample>();
  for (const sample of samples) {
    const name = sample.metric.__name__;
    if (!name) continue;
    const prev = newest.get(name);
    if (!prev || sample.value[0] > prev.value[0]) newest.set(name, sample);
  }
  const read = (names: readonly string[]): number | undefined => {
    for (const name of names) {
      const v = Number(newest.get(name)?.value[1]);
      if (newest.has(name) && Number.isFinite(v)) return v;
    }
    return undefined;
  };
  const totalBytes = read(PROGRESS_METRICS.totalBytes);
  if (totalBytes === undefined) return undefined;
  const processedBytes = read(PROGRESS_METRICS.processedBytes) ?? 0;
  const remainingBytes = read(PROGRESS_METRICS.remainingBytes) ?? Math.max(0, totalBytes - processedBytes);
  const transferRate = read(PROGRESS_METRICS.transferRate);
  const dirtyRate = read(PROGRESS_METRICS.dirtyRate);
  return {
    totalBytes,
    processedBytes,
    remainingBytes,
    ...(transferRate !== undefined ? { transferRate } : {}),
    ...(dirtyRate !== undefined ? { dirtyRate } : {}),
  };
}

interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Each series' last point of a `/api/v1/query` range answer (a matrix), or a reason it is not one. */
export function samplesOf(body: unknown): { samples: VectorSample[] } | { error: string } {
  const b = body as { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } } | null;
  if (!b || typeof b !== 'object') return { error: 'the answer is not a Prometheus API response' };
  if (b.status !== 'success') return { error: `the query failed: ${typeof b.error === 'string' ? b.error : 'no error given'}` };
  if (b.data?.resultType !== 'matrix' || !Array.isArray(b.data.result)) return { error: `expected a range vector (matrix), got ${String(b.data?.resultType)}` };
  const samples: VectorSample[] = [];
  for (const r of b.data.result as MatrixSeries[]) {
    const last = Array.isArray(r?.values) ? r.values.at(-1) : undefined;
    if (r && typeof r.metric === 'object' && Array.isArray(last)) samples.push({ metric: r.metric, value: last });
  }
  return { samples };
}
