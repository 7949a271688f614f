/**
 * Reading a Kubernetes API request path (`/api/v1/namespaces/demo/secrets/x`, `/apis/g/v/...`) into its
 * resource, namespace, name and verb; and the error an injected fault answers with. Shared by the
 * simulated API server and the real bed's fault proxy, so a fault rule means the same on both.
 */
import { ApiError } from './errors.js';
import type { InjectedError, Verb } from './faults.js';

export interface RawRoute {
  /** `v1` for the core group, else `group/version`. */
  gv: string;
  route?: { plural: string; namespace?: string; name?: string; subresource?: string };
}

export function parseRoute(segs: string[]): RawRoute {
  let gv: string;
  let rest: string[];
  if (segs[0] === 'api') {
    gv = segs[1] ?? '';
    rest = segs.slice(2);
  } else {
    gv = segs.length >= 3 ? `${segs[1]}/${segs[2]}` : '';
    rest = segs.slice(3);
  }
  if (!rest.length) return { gv };
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    return { gv, route: { namespace: rest[1]!, plural: rest[2]!, ...opt('name', rest[3]), ...opt('subresource', rest[4]) } };
  }
  return { gv, route: { plural: rest[0]!, ...opt('name', rest[1]), ...opt('subresource', rest[2]) } };
}

function opt<K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, string>);
}

export function verbOf(method: string, route: { name?: string }, watch: boolean): Verb | 'deletecollection' {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : route.name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }
}

export function isWatch(url: URL): boolean {
  return url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
}

/** What a request hit by an injected fault is answered with: the real server's Status for that code. */
export function injectedFaultError(fault: InjectedError, plural: string, user: string, verb: string): ApiError {
  switch (fault.code) {
    case 429:
      return new ApiError(429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later', {
        retryAfterSeconds: fault.retryAfterSeconds ?? 1,
      });
    case 503:
      return new ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request (injected fault)');
    case 403:
      return new ApiError(403, 'Forbidden', `${plural} is forbidden: User "${user}" cannot ${verb} resource "${plural}" (injected fault)`);
    default:
      return new ApiError(fault.code, 'InternalError', `Internal error occurred: injected fault (${fault.code})`);
  }
}
