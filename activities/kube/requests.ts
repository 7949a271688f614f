/**
 * Counts every Kubernetes API request the worker makes (ferry_kube_requests_total) where they all
 * pass: the undici dispatcher PooledKubeConfig keeps per cluster, under client-node's API calls,
 * its watches and the access reviews alike. Each retry of withRetry is its own request here.
 * The meter is the worker's (set once at start); until then, and outside a worker, nothing is counted.
 */
import type { MetricCounter, MetricMeter } from '@temporalio/common';
import type { Dispatcher } from 'undici';
import { FERRY_METRICS } from '../../workflows/metric-names.js';

let requests: MetricCounter | undefined;

/** The worker's meter (Runtime.instance().metricMeter): process-wide, like the worker's /metrics. */
export function countKubeRequestsWith(meter: MetricMeter): void {
  const s = FERRY_METRICS.kubeRequests;
  requests = meter.createCounter(s.name, s.unit, s.help);
}

/**
 * The Kubernetes verb of a request, from its method and path (as the API server's audit log names
 * them): GET is get on a named object, list on a collection, watch with `watch=true`.
 */
export function kubeVerb(method: string, path: string): string {
  const [pathname = '', query = ''] = path.split('?', 2);
  const m = method.toUpperCase();
  if (m === 'POST') return 'create';
  if (m === 'PUT') return 'update';
  if (m === 'PATCH') return 'patch';
  const named = namesAnObject(pathname);
  if (m === 'DELETE') return named ? 'delete' : 'deletecollection';
  if (m === 'GET') {
    if (/(^|&)watch=(true|1)(&|$)/.test(query)) return 'watch';
    return named ? 'get' : 'list';
  }
  return m.toLowerCase();
}

/** /api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]] and /apis/GROUP/VERSION/…; discovery paths are gets. */
function namesAnObject(pathname: string): boolean {
  const parts = pathname.split('/').filter(Boolean);
  let rest: string[];
  if (parts[0] === 'api') rest = parts.slice(2);
  else if (parts[0] === 'apis') rest = parts.slice(3);
  else return true;
  if (rest.length === 0) return true;
  // namespaces/NS alone is the Namespace object NS; namespaces/NS/PLURAL… is a namespaced resource.
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  return rest.length >= 2;
}

/** `dispatcher`, with each request it carries counted under `cluster()` once its status (or error) is known. */
export function countingDispatcher(dispatcher: Dispatcher, cluster: () => string): Dispatcher {
  return dispatcher.compose((dispatch) => (opts, handler) => {
    let counted = false;
    const count = (code: string) => {
      if (counted) return;
      counted = true;
      requests?.add(1, { cluster: cluster(), verb: kubeVerb(opts.method, opts.path), code });
    };
    const h = handler as unknown as Record<PropertyKey, unknown>;
    // undici 7 calls the handler's new-style hooks; everything else passes through unchanged.
    const observed = new Proxy(h, {
      get(target, prop) {
        const v = Reflect.get(target, prop) as unknown;
        if (typeof v !== 'function') return v;
        const f = v as (...args: unknown[]) => unknown;
        if (prop === 'onResponseStart') return (controller: unknown, status: number, ...rest: unknown[]) => (count(String(status)), f.call(target, controller, status, ...rest));
        // A request ferry gave up on itself (a watch stopped, a cancelled retry) did fail nobody: `aborted`, not `error`.
        if (prop === 'onResponseError')
          return (controller: unknown, err: unknown, ...rest: unknown[]) => (count(isAbort(err) ? 'aborted' : 'error'), f.call(target, controller, err, ...rest));
        return f.bind(target);
      },
    });
    return dispatch(opts, observed as unknown as Dispatcher.DispatchHandler);
  });
}

function isAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string } | null;
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED' || e?.name === 'RequestAbortedError';
}
