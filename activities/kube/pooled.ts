/**
 * client-node 2.0.1 builds a new undici Agent — a new connection pool — for every API request, so
 * every request pays a TCP + TLS handshake and leaves an idle socket behind (measured: 4.5 ms vs
 * 0.6 ms per request, thousands of open sockets under load). This KubeConfig keeps one dispatcher per
 * cluster and user, so connections are reused. The override relies on client-node's (private)
 * `createDispatcher`; if a future version renames it, requests still work, just unpooled (and
 * uncounted: the dispatcher is also where ferry_kube_requests_total counts them, requests.ts).
 *
 * It also bounds every request in time. undici waits 300 s for an answer by default, so a connection
 * that was accepted and then went silent (a hung API server, a dead load balancer, a half-open
 * socket) would hold an activity for five minutes per request; here a request that gets no answer
 * within `requestTimeoutMs` fails as a network error and is retried like one. Watches are exempt:
 * client-node ends a watch that receives nothing for its own inactivity timeout (set to the same
 * value in watch.ts). Connecting (TCP and TLS) is bounded by undici's 10 s connect timeout.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher as UndiciDispatcher } from 'undici';
import { countingDispatcher } from './requests.js';

type Dispatcher = unknown;

/** How long a request may wait for its answer (and between chunks of it) before it fails. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
type CreateDispatcher = (cluster: unknown, agentOptions: unknown) => Dispatcher;

export class PooledKubeConfig extends KubeConfig {
  private readonly dispatchers = new Map<string, Dispatcher>();
  /** The cluster's name in ferry (the ClusterClient's), for the request counter; else the context's. */
  clusterName: string | undefined;
  /** See the module comment; set before the first request (the dispatcher reads it per request). */
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;

  constructor() {
    super();
    const proto = KubeConfig.prototype as unknown as { createDispatcher?: CreateDispatcher };
    const original = proto.createDispatcher;
    if (typeof original !== 'function') return;
    (this as unknown as { createDispatcher: CreateDispatcher }).createDispatcher = (cluster, agentOptions) => {
      const key = JSON.stringify([this.getCurrentCluster()?.server, this.getCurrentUser()?.name, this.currentContext]);
      let d = this.dispatchers.get(key);
      if (d === undefined) {
        d = original.call(this, cluster, agentOptions);
        // undefined: client-node's plain-HTTP case, which takes the global dispatcher (not counted).
        if (d !== undefined)
          d = countingDispatcher(
            boundedDispatcher(d as UndiciDispatcher, () => this.requestTimeoutMs),
            () => this.clusterName ?? this.currentContext,
          );
        this.dispatchers.set(key, d);
      }
      return d;
    };
  }
}

/** `dispatcher` with an answer timeout on every request but watches (see the module comment). */
export function boundedDispatcher(dispatcher: UndiciDispatcher, timeoutMs: () => number): UndiciDispatcher {
  return dispatcher.compose((dispatch) => (opts, handler) => {
    if (/[?&]watch=(true|1)(&|$)/.test(opts.path)) return dispatch(opts, handler);
    const t = timeoutMs();
    return dispatch({ ...opts, headersTimeout: opts.headersTimeout ?? t, bodyTimeout: opts.bodyTimeout ?? t }, handler);
  });
}
