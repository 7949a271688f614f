/**
 * prometheus.yml for the beds: one scrape pool per target, because each cluster's metrics endpoint
 * has its own CA and token. Pure (no files written here), so it is checked without a Prometheus.
 */
import { stringify } from 'yaml';

export interface ScrapeTarget {
  /** The `job` label (e.g. `kubevirt-handler`); several targets may share it. */
  job: string;
  /** `https://host:port/metrics` (http too); a query string becomes scrape params. */
  url: string;
  /** CA the target's certificate is verified with; default the system's. */
  caFile?: string;
  insecureSkipVerify?: boolean;
  /** The name the certificate must carry, when it is not the URL's host. */
  serverName?: string;
  /** Sent as `Authorization: Bearer …`; Prometheus reads it from a 0600 file, never the config. */
  bearerToken?: string;
  /** Extra target labels, e.g. `{ cluster: 'source' }`. */
  labels?: Record<string, string>;
}

export interface ConfigInput {
  targets: ScrapeTarget[];
  scrapeInterval: string;
  evaluationInterval: string;
  ruleFiles: string[];
  /** The token file of target `i` (only asked for targets with a token). */
  tokenFile: (i: number) => string;
}

const DURATION = /^((\d+)(ms|s|m|h|d|w|y))+$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED = new Set(['job', 'instance']);

export function checkDuration(name: string, value: string): string {
  if (!DURATION.test(value)) throw new Error(`${name} must be a Prometheus duration such as '1s', '500ms' or '1m30s' (got ${JSON.stringify(value)})`);
  return value;
}

/** Pool names are unique in a config: the job's own name when it has one target, else `job-N`. */
export function scrapePoolNames(targets: ScrapeTarget[]): string[] {
  const count = new Map<string, number>();
  for (const t of targets) count.set(t.job, (count.get(t.job) ?? 0) + 1);
  return targets.map((t, i) => (count.get(t.job) === 1 ? t.job : `${t.job}-${i + 1}`));
}

function checkTarget(t: ScrapeTarget, i: number): URL {
  const where = `targets[${i}]`;
  if (!t.job || !/^\S+$/.test(t.job)) throw new Error(`${where}.job must be a non-empty name without spaces (got ${JSON.stringify(t.job)})`);
  let url: URL;
  try {
    url = new URL(t.url);
  } catch {
    throw new Error(`${where}.url must be an absolute URL like https://127.0.0.1:8443/metrics (got ${JSON.stringify(t.url)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${where}.url must be https:// or http:// (got ${url.protocol})`);
  if (!url.port) throw new Error(`${where}.url must name its port, e.g. https://127.0.0.1:8443/metrics (got ${t.url})`);
  if (url.username || url.password) throw new Error(`${where}.url must not carry credentials: use bearerToken`);
  if (t.caFile !== undefined && t.insecureSkipVerify) throw new Error(`${where}: caFile and insecureSkipVerify exclude each other; drop one`);
  for (const name of Object.keys(t.labels ?? {})) {
    if (!LABEL_NAME.test(name) || name.startsWith('__'))
      throw new Error(`${where}.labels: ${JSON.stringify(name)} is not a valid target label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)`);
    if (RESERVED.has(name)) throw new Error(`${where}.labels.${name}: set by ferry (job from ${where}.job, instance from the URL); remove it`);
  }
  return url;
}

export function prometheusConfigYaml(input: ConfigInput): string {
  checkDuration('scrapeInterval', input.scrapeInterval);
  checkDuration('evaluationInterval', input.evaluationInterval);
  if (input.targets.length === 0) throw new Error('targets must name at least one endpoint to scrape');
  const pools = scrapePoolNames(input.targets);
  const scrapeConfigs = input.targets.map((t, i) => {
    const url = checkTarget(t, i);
    const params: Record<string, string[]> = {};
    for (const [k, v] of url.searchParams) (params[k] ??= []).push(v);
    const tls = {
      ...(t.caFile ? { ca_file: t.caFile } : {}),
      ...(t.serverName ? { server_name: t.serverName } : {}),
      ...(t.insecureSkipVerify ? { insecure_skip_verify: true } : {}),
    };
    return {
      job_name: pools[i],
      scheme: url.protocol.slice(0, -1),
      metrics_path: url.pathname,
      ...(Object.keys(params).length > 0 ? { params } : {}),
      // A missing or odd Content-Type is read as the classic text format instead of failing the scrape.
      fallback_scrape_protocol: 'PrometheusText0.0.4',
      ...(Object.keys(tls).length > 0 ? { tls_config: tls } : {}),
      ...(t.bearerToken !== undefined ? { authorization: { type: 'Bearer', credentials_file: input.tokenFile(i) } } : {}),
      // `job` as a target label wins over the pool name, so targets sharing a job keep its name.
      static_configs: [{ targets: [url.host], labels: { job: t.job, ...t.labels } }],
    };
  });
  return stringify({
    global: { scrape_interval: input.scrapeInterval, evaluation_interval: input.evaluationInterval },
    ...(input.ruleFiles.length > 0 ? { rule_files: input.ruleFiles } : {}),
    scrape_configs: scrapeConfigs,
  });
}
