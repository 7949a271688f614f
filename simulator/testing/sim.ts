/**
 * Test helpers around the simulator: start both clusters in-process with fast timing, typed
 * client-node access, and polling for an observable condition.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import type { SimCluster } from '../cluster.js';
import { readJson } from '../kube-bed/admin-api.js';
import type { ClusterEndpoint } from '../kubeconfig.js';
import { Simulator, type SimulatorOptions } from '../sim.js';

/** The simulated KubeVirt components' timing in tests (both beds): fast steps, short backoffs. */
export const FAST_TIMING = { vmiStepMs: 10, migrationStepMs: 10, importMs: 50, progressIntervalMs: 200, syncDialTimeoutMs: 1500, syncMaxBackoffMs: 500 };

export async function startSim(opts: SimulatorOptions = {}): Promise<Simulator> {
  return Simulator.start({ ...opts, timing: { ...FAST_TIMING, ...opts.timing } });
}

export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
}

export function clients(sim: Simulator, cluster: 'source' | 'destination', as: 'admin' | 'viewer' = 'admin'): Clients {
  const kc = sim.cluster(cluster).kubeConfig(as);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) };
}

/** Poll `fn` until it returns a truthy value; fail with `what` and the last value after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string } };

const KV = { group: 'kubevirt.io', version: 'v1' };

/** Small typed wrappers for the KubeVirt kinds the tests touch. */
export function kubevirt(c: Clients) {
  const ns = (namespace: string, plural: string) => ({ ...KV, namespace, plural });
  return {
    get: (plural: string, namespace: string, name: string) => c.custom.getNamespacedCustomObject({ ...ns(namespace, plural), name }) as Promise<Obj>,
    tryGet: async (plural: string, namespace: string, name: string) => {
      try {
        return (await c.custom.getNamespacedCustomObject({ ...ns(namespace, plural), name })) as Obj;
      } catch (e) {
        if ((e as { code?: number }).code === 404) return undefined;
        throw e;
      }
    },
    list: async (plural: string, namespace: string) => ((await c.custom.listNamespacedCustomObject(ns(namespace, plural))) as { items: Obj[] }).items,
    create: (plural: string, namespace: string, body: object) => c.custom.createNamespacedCustomObject({ ...ns(namespace, plural), body }) as Promise<Obj>,
    delete: (plural: string, namespace: string, name: string) => c.custom.deleteNamespacedCustomObject({ ...ns(namespace, plural), name }),
    kubevirtCR: () => c.custom.getNamespacedCustomObject({ ...KV, namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt' }) as Promise<Obj>,
  };
}

/** A dotted field of a JSON object. */
export { getPath as path } from '../paths.js';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON when it is JSON, else the text. */
  body: unknown;
}

/**
 * One HTTPS request to a simulated cluster's API server, bypassing client-node: for headers and
 * endpoints client-node does not expose. Trusts only the cluster's API CA; `token: null` sends no
 * Authorization header.
 */
export function rawRequest(
  cluster: SimCluster,
  method: string,
  urlPath: string,
  opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return rawRequestTo(cluster.endpoint('admin'), method, urlPath, opts);
}

/** The same against any cluster endpoint (either bed); the token defaults to the endpoint's. */
export function rawRequestTo(
  endpoint: ClusterEndpoint,
  method: string,
  urlPath: string,
  opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const url = new URL(urlPath, endpoint.server);
  const token = opts.token === undefined ? endpoint.token : opts.token;
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca: endpoint.caPem,
        agent: false,
        headers: {
          accept: 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...opts.headers,
        },
      },
      (res) => void readJson(res).then((body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }), reject),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Call a simulator control endpoint (`/sim/v1/<path>`) as the cluster's admin and return its JSON
 * answer; a non-2xx answer is thrown as an Error carrying `status` and `body`.
 */
export async function simControl(cluster: SimCluster, controlPath: string, method = 'GET', body?: unknown): Promise<unknown> {
  const p = controlPath.startsWith('/') ? controlPath : `/sim/v1/${controlPath}`;
  const res = await rawRequest(cluster, method, p, body === undefined ? {} : { body });
  if (res.status < 200 || res.status > 299) {
    throw Object.assign(new Error(`${method} ${p}: HTTP ${res.status}: ${JSON.stringify(res.body)}`), { status: res.status, body: res.body });
  }
  return res.body;
}

export interface ApiStatusError {
  code: number;
  /** The Status object client-node received as the body (parsed), when there was one. */
  status?: { reason?: string; message?: string; code?: number; details?: Record<string, unknown> };
}

/**
 * Await `p`, expect it to reject with client-node's ApiException, and return its HTTP code and the
 * parsed Status body. Fails the test if `p` resolves or rejects with something else.
 */
export async function apiError(p: Promise<unknown>): Promise<ApiStatusError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error('expected the request to fail, but it succeeded');
  if (!(err instanceof k8s.ApiException)) throw err;
  const e = err as k8s.ApiException<unknown>;
  let status: ApiStatusError['status'];
  if (typeof e.body === 'string' && e.body) {
    try {
      status = JSON.parse(e.body) as ApiStatusError['status'];
    } catch {
      status = undefined;
    }
  } else if (e.body && typeof e.body === 'object') status = e.body as ApiStatusError['status'];
  return { code: e.code, ...(status ? { status } : {}) };
}
