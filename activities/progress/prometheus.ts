/**
 * Reading a VMI's migration progress from a cluster's Prometheus-compatible query API (Prometheus,
 * Thanos querier — OpenShift's usual one, behind kube-rbac-proxy with a bearer token). One range
 * query per read; what goes wrong becomes a sentence for the status, never an exception and never the
 * token.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Observation } from '../../workflows/contract.js';
import { progressFromSamples, progressQuery, samplesOf } from './metrics.js';

/** What one read tells: progress, or why there is none (absent both: KubeVirt has published nothing yet). */
export interface ProgressReading {
  progress?: NonNullable<Observation['progress']>;
  unavailable?: string;
}

export interface ProgressSource {
  read(namespace: string, vmi: string): Promise<ProgressReading>;
}

export interface QueryEndpoint {
  /** The cluster whose virt-handlers this endpoint's Prometheus scrapes. */
  cluster: string;
  /** The API's base URL (`/api/v1/query` is appended). */
  url: string;
  /** PEM bundle to trust instead of the system's CAs. */
  ca?: string;
  /** The bearer token, read at each query so a rotated (projected) token is picked up. */
  token?: () => string | undefined;
  /** Label matchers added to every query (e.g. `cluster: source` on a multi-cluster Thanos). */
  labels?: Readonly<Record<string, string>>;
}

const TIMEOUT_MS = 5000;
const MAX_BODY = 4 * 1024 * 1024;

export function prometheusProgress(endpoint: QueryEndpoint, timeoutMs = TIMEOUT_MS): ProgressSource {
  const base = new URL(endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
  const https = base.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 4, ...(endpoint.ca ? { ca: endpoint.ca } : {}) }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const where = `the metrics endpoint of cluster "${endpoint.cluster}" (${base.host})`;

  const get = (url: URL) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const token = endpoint.token?.();
      const req = (https ? httpsRequest : httpRequest)(
        url,
        { agent, headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, timeout: timeoutMs },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
            if (body.length > MAX_BODY) req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });

  return {
    async read(namespace, vmi) {
      const url = new URL('api/v1/query', base);
      url.searchParams.set('query', progressQuery(namespace, vmi, endpoint.labels));
      let answer: { status: number; body: string };
      try {
        answer = await get(url);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        return { unavailable: `${where} is unreachable: ${err.code ? `${err.code} ` : ''}${err.message}` };
      }
      if (answer.status === 401) return { unavailable: `${where} refused ferry's credentials (401): give it a valid tokenFile in FERRY_PROGRESS_CONFIG` };
      if (answer.status === 403) {
        return { unavailable: `${where} denied the query (403): let ferry's identity read metrics there (on OpenShift, the cluster-monitoring-view role)` };
      }
      let body: unknown;
      try {
        body = JSON.parse(answer.body);
      } catch {
        return { unavailable: `${where} answered ${answer.status} with something other than JSON: is ${base.pathname} the query API's base path?` };
      }
      const read = samplesOf(body);
      if ('error' in read) return { unavailable: `${where}: ${read.error} (HTTP ${answer.status})` };
      const progress = progressFromSamples(read.samples);
      return progress ? { progress } : {};
    },
  };
}
