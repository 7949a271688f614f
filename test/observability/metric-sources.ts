/**
 * The metrics ferry's alerts and dashboard may use besides its own (workflows/metric-names.ts), each
 * named on purpose: the Temporal SDK's, which the worker's /metrics serves beside ferry's
 * (metrics.test.ts checks they are there), and KubeVirt virt-handler's migration progress (KubeVirt's
 * docs/observability/metrics.md), scraped from the clusters, not from ferry.
 */
export const TEMPORAL_SDK_SERIES = ['temporal_long_request_total', 'temporal_num_pollers', 'temporal_worker_task_slots_used'] as const;

export const KUBEVIRT_SERIES = [
  'kubevirt_vmi_migration_data_remaining_bytes',
  'kubevirt_vmi_migration_memory_transfer_rate_bytes',
  'kubevirt_vmi_migration_dirty_memory_rate_bytes',
] as const;

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords, label
 * names (in matchers or grouping clauses), durations or Grafana variables.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}
