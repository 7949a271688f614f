/**
 * Kubernetes API errors mapped once into the failures the workflow understands. Retryable: 5xx, 429
 * (honouring Retry-After), network errors. Not retryable: validation (400/422), auth (401/403), and
 * conflicts with objects ferry does not own. 401 (authentication: the credentials) and 403 (RBAC: the
 * permissions) are told apart, each with its fix. Failure messages carry the API's Status message but never
 * a request or response body, and nothing at all from a Secret.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../../workflows/contract.js';

export interface KubeErrorInfo {
  code?: number;
  reason?: string;
  message?: string;
  retryAfterSeconds?: number;
}

/** Reads an error thrown by client-node (ApiException) or by the network. */
export function kubeError(e: unknown): KubeErrorInfo {
  const err = e as { code?: unknown; body?: unknown; headers?: Record<string, string>; cause?: { code?: string }; message?: string };
  // A DOMException (client-node's watch timeout) has a numeric `code` too, its own: no HTTP answer.
  if (typeof err?.code !== 'number' || e instanceof DOMException) return { message: err?.cause?.code ?? (err as Error)?.message };
  let status: { reason?: string; message?: string; details?: { retryAfterSeconds?: number } } = {};
  try {
    status = typeof err.body === 'string' ? JSON.parse(err.body) : ((err.body as typeof status) ?? {});
  } catch {
    /* non-JSON body: keep only the code */
  }
  const header = Number(err.headers?.['retry-after']);
  const retryAfterSeconds = Number.isFinite(header) && header > 0 ? header : status.details?.retryAfterSeconds;
  return {
    code: err.code,
    ...(status.reason ? { reason: status.reason } : {}),
    ...(status.message ? { message: status.message } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
}

export const isNotFound = (e: unknown) => kubeError(e).code === 404;
/** Worth another request: no HTTP answer at all (network, timeout), 5xx or 429. */
export const isTransient = (e: unknown) => {
  const code = kubeError(e).code;
  return code === undefined || code === 429 || code >= 500;
};

/**
 * Why a request got no HTTP answer at all, in the words an operator checks the network with:
 * `connect ECONNREFUSED 127.0.0.1:6443`, a TLS handshake or an answer that never came. Undefined
 * when the API server did answer (with whatever status). Never quotes a request: no header, no token.
 */
export function unreachableReason(e: unknown): string | undefined {
  // client-node's ApiException has `code`, a refused watch `statusCode`: both are answers. A watch's
  // inactivity timeout is a DOMException, whose numeric `code` is no HTTP status.
  if (e instanceof DOMException && e.name === 'TimeoutError') return 'the connection went silent (watch timeout)';
  if (typeof (e as { code?: unknown })?.code === 'number' || typeof (e as { statusCode?: unknown })?.statusCode === 'number') return undefined;
  const err = e as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } } | undefined;
  const code = err?.cause?.code ?? err?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'the TCP connection or TLS handshake did not complete (connect timeout)';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'the API server accepted the request but sent no answer (request timeout)';
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'the API server stopped sending its answer (request timeout)';
  if (err?.name === 'TimeoutError') return 'the connection went silent (watch timeout)';
  const detail = err?.cause?.message ?? err?.message;
  return detail ? detail.replace(/\s+/g, ' ').slice(0, 200) : (code ?? 'network error');
}
export const isConflict = (e: unknown) => kubeError(e).code === 409;
export const isAlreadyExists = (e: unknown) => kubeError(e).code === 409 && kubeError(e).reason === 'AlreadyExists';

/**
 * The failure to throw for an API error during `what` on `cluster`. `sensitive` drops the server's
 * message (used for Secrets, whose validation errors may quote values).
 */
export function apiFailure(e: unknown, what: string, cluster: string, sensitive = false): ApplicationFailure {
  const info = kubeError(e);
  const detail = sensitive ? (info.reason ?? 'error') : (info.message ?? info.reason ?? 'error');
  const code = info.code;
  if (code === undefined) {
    return ApplicationFailure.create({ type: FailureTypes.ApiError, message: `${what} on cluster ${cluster}: network error (${detail})`, nonRetryable: false });
  }
  const message = `${what} on cluster ${cluster}: HTTP ${code} ${info.reason ?? ''}: ${detail}`.replace(/ {2,}/g, ' ');
  if (code === 429) {
    return ApplicationFailure.create({
      type: FailureTypes.ApiError,
      message,
      nonRetryable: false,
      ...(info.retryAfterSeconds ? { nextRetryDelay: `${info.retryAfterSeconds}s` } : {}),
    });
  }
  if (code >= 500) return ApplicationFailure.create({ type: FailureTypes.ApiError, message, nonRetryable: false });
  if (code === 401) {
    // client-node drops a 401's body, so there is no Status to quote: say what a 401 means.
    return ApplicationFailure.create({
      type: FailureTypes.Unauthorized,
      message:
        `${what} on cluster ${cluster}: HTTP 401 Unauthorized: authentication failed (not an RBAC denial): cluster ${cluster} did not accept the credentials of kubeconfig context "${cluster}" ` +
        '(the token is expired, revoked or for another cluster, or the context names the wrong user); renew them in the kubeconfig (the worker reads FERRY_KUBECONFIG when it starts: restart it after)',
      nonRetryable: true,
    });
  }
  if (code === 403) {
    return ApplicationFailure.create({
      type: FailureTypes.Forbidden,
      message:
        `${what} on cluster ${cluster}: HTTP 403 Forbidden: ${detail === 'Forbidden' ? '' : `${detail}: `}an RBAC denial: the credentials of kubeconfig context "${cluster}" are valid but lack this permission; ` +
        'grant it (README "RBAC the worker needs", deploy/rbac.yaml)',
      nonRetryable: true,
    });
  }
  return ApplicationFailure.create({ type: FailureTypes.ApiError, message, nonRetryable: true });
}

export function notOurs(cluster: string, kind: string, ns: string | undefined, name: string, owner?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureTypes.NotOurs,
    message: `${kind} ${ns ? `${ns}/` : ''}${name} on cluster ${cluster} already exists and was not created by this migration${owner ? ` (it belongs to ${owner})` : ''}: remove it or choose another destination namespace`,
    nonRetryable: true,
  });
}

/** Await `p`, turning any API error into the failure apiFailure maps it to: the one wrapper activities use. */
export function orFail<T>(p: Promise<T>, what: string, cluster: string, sensitive = false): Promise<T> {
  return p.catch((e: unknown) => {
    throw apiFailure(e, what, cluster, sensitive);
  });
}
