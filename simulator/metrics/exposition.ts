/**
 * The Prometheus text exposition format, version 0.0.4: what virt-handler's `/metrics` answers and
 * Prometheus scrapes. Only what the simulator serves: counters and gauges, optional sample timestamps.
 */

/** The Content-Type of format 0.0.4, as client_golang sends it. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch; set when the value was collected earlier than the scrape. */
  timestampMs?: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Families without samples are left out, as client_golang's registry leaves out a collector's
 * families that yielded nothing: a scrape between migrations does not mention them at all.
 */
export function renderExposition(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`metric family name "${f.name}" is not a valid Prometheus metric name`);
    if (!f.samples.length) continue;
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).map(([k, v]) => {
        if (!LABEL_NAME.test(k)) throw new Error(`label name "${k}" of ${f.name} is not a valid Prometheus label name`);
        return `${k}="${escapeLabelValue(v)}"`;
      });
      const ts = s.timestampMs === undefined ? '' : ` ${Math.round(s.timestampMs)}`;
      out.push(`${f.name}${labels.length ? `{${labels.join(',')}}` : ''} ${formatValue(s.value)}${ts}`);
    }
  }
  return out.length ? out.join('\n') + '\n' : '';
}
