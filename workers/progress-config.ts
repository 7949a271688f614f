/**
 * Where the worker reads each cluster's live-migration progress: a Prometheus-compatible query API per
 * cluster (OpenShift's Thanos querier, a plain Prometheus, a multi-cluster Thanos narrowed by a label).
 * Optional: without it, or for a cluster it does not name, migrations show phases only and say so.
 *
 * FERRY_PROGRESS_CONFIG names a YAML (or JSON) file:
 *
 *   clusters:
 *     source:
 *       url: https://thanos-querier.openshift-monitoring.svc:9091
 *       caFile: /etc/ferry/progress/service-ca.crt     # else the system's CAs
 *       tokenFile: /var/run/secrets/ferry-progress/token # re-read at each query (rotated tokens)
 *       labels: { cluster: source }                     # optional extra matchers
 *
 * Every file is read at startup, so a broken mount stops the worker with the field and the fix instead
 * of showing "unavailable" in every migration. The token is never logged, only whether there is one.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { prometheusProgress, type ProgressSource } from '../activities/progress/prometheus.js';

const VARIABLE = 'FERRY_PROGRESS_CONFIG';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const labels = z.record(z.string(), z.string()).superRefine((record, ctx) => {
  for (const key of Object.keys(record)) {
    if (!LABEL_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'not a Prometheus label name: letters, digits and _, not starting with a digit' });
  }
});
const endpointSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL of the query API, e.g. https://thanos-querier.openshift-monitoring.svc:9091' }),
    caFile: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    labels: labels.optional(),
  })
  .strict()
  .refine((e) => !e.tokenFile || e.url.startsWith('https:'), {
    path: ['url'],
    message: 'a bearer token (tokenFile) goes only over https: use the https URL of the query API, or drop tokenFile',
  });
const configSchema = z.object({ clusters: z.record(z.string().min(1), endpointSchema) }).strict();

export type ProgressConfig = z.infer<typeof configSchema>;

export interface ProgressSources {
  forCluster(cluster: string): ProgressSource | undefined;
  /** For the worker's startup line: each cluster's endpoint host and whether a token is sent. */
  describe(): string;
}

function readable(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${VARIABLE}: ${field} is ${file}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}): mount it there or change ${field}`);
  }
}

/** The endpoints of a parsed config, each file checked; `knownClusters` are the worker's clusters. */
export function progressSources(raw: unknown, knownClusters: readonly string[], source = VARIABLE): ProgressSources {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new Error(`${source} is not a valid progress configuration:\n- ${issues.join('\n- ')}`);
  }
  const sources = new Map<string, ProgressSource>();
  const described: string[] = [];
  for (const [cluster, e] of Object.entries(parsed.data.clusters)) {
    if (!knownClusters.includes(cluster)) {
      throw new Error(`${source}: clusters.${cluster} is not a cluster this worker knows (${knownClusters.map((c) => `"${c}"`).join(', ')}): use a kubeconfig context name`);
    }
    const ca = e.caFile ? readable(e.caFile, `clusters.${cluster}.caFile`) : undefined;
    if (e.tokenFile && !readable(e.tokenFile, `clusters.${cluster}.tokenFile`).trim()) {
      throw new Error(`${source}: clusters.${cluster}.tokenFile ${e.tokenFile} is empty: put the bearer token in it`);
    }
    const tokenFile = e.tokenFile;
    sources.set(
      cluster,
      prometheusProgress({
        cluster,
        url: e.url,
        ...(ca ? { ca } : {}),
        ...(tokenFile ? { token: () => readFileSync(tokenFile, 'utf8').trim() } : {}),
        ...(e.labels ? { labels: e.labels } : {}),
      }),
    );
    described.push(`${cluster} → ${new URL(e.url).host}${e.tokenFile ? ' (bearer token)' : ''}`);
  }
  return { forCluster: (cluster) => sources.get(cluster), describe: () => described.join(', ') || 'none' };
}

/** From FERRY_PROGRESS_CONFIG, or undefined when it is unset. */
export function progressSourcesFromEnvironment(knownClusters: readonly string[], env: NodeJS.ProcessEnv = process.env): ProgressSources | undefined {
  const file = env[VARIABLE];
  if (!file) return undefined;
  const text = readable(file, 'the file');
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new Error(`${VARIABLE} is ${file}, which is not YAML or JSON: ${(e as Error).message}`);
  }
  return progressSources(raw, knownClusters, `${VARIABLE} (${file})`);
}
