/**
 * Errors the API server answers with, as `kind: Status` objects carrying the reasons and codes a real
 * kube-apiserver uses, so clients (client-node, kubectl, ferry's error mapping) see what they would
 * see against a real cluster.
 */
import type { KindInfo } from './kinds.js';

export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'MethodNotAllowed'
  | 'Expired'
  | 'Gone'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'UnsupportedMediaType';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message: string; field?: string }[];
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** `virtualmachines.kubevirt.io`, as the apiserver names a resource in messages. */
export function qualifiedResource(k: KindInfo): string {
  return k.group ? `${k.plural}.${k.group}` : k.plural;
}

function detailsOf(k: KindInfo, name: string): StatusDetails {
  return { name, ...(k.group ? { group: k.group } : {}), kind: k.plural };
}

export const notFound = (k: KindInfo, name: string) => new ApiError(404, 'NotFound', `${qualifiedResource(k)} "${name}" not found`, detailsOf(k, name));

export const alreadyExists = (k: KindInfo, name: string) => new ApiError(409, 'AlreadyExists', `${qualifiedResource(k)} "${name}" already exists`, detailsOf(k, name));

export const conflict = (k: KindInfo, name: string) =>
  new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(k)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(k, name),
  );

export const invalid = (k: KindInfo, name: string, causes: { field: string; message: string }[]) =>
  new ApiError(422, 'Invalid', `${k.kind}.${k.group || 'core'} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, {
    ...detailsOf(k, name),
    kind: k.kind,
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })),
  });

/** What a validating webhook's denial looks like once the apiserver relays it. */
export const webhookDenied = (webhook: string, k: KindInfo, name: string, message: string) =>
  new ApiError(422, 'Invalid', `admission webhook "${webhook}" denied the request: ${message}`, {
    ...detailsOf(k, name),
    causes: [{ reason: 'FieldValueInvalid', message }],
  });

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

export const expired = (message: string) => new ApiError(410, 'Expired', message);
