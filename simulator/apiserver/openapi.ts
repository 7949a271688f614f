/**
 * A minimal OpenAPI v3 surface. kubectl (apply, create, replace) asks it whether the server supports
 * server-side field validation for a kind, and refuses to proceed when /openapi is missing; declaring
 * the `fieldValidation` parameter on each kind's PATCH path is what it looks for. No schemas are served.
 */
import { createHash } from 'node:crypto';
import { groupVersion, KINDS } from './kinds.js';

function gvPath(gv: string): string {
  return gv.includes('/') ? `apis/${gv}` : `api/${gv}`;
}

function documentFor(gv: string) {
  const paths: Record<string, unknown> = {};
  for (const k of KINDS.filter((x) => groupVersion(x) === gv)) {
    const base = k.namespaced ? `/${gvPath(gv)}/namespaces/{namespace}/${k.plural}/{name}` : `/${gvPath(gv)}/${k.plural}/{name}`;
    paths[base] = {
      patch: {
        'x-kubernetes-group-version-kind': { group: k.group, version: k.version, kind: k.kind },
        parameters: [
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
        ],
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.31.0' }, paths, components: { schemas: {} } };
}

const documents = new Map([...new Set(KINDS.map(groupVersion))].map((gv) => [gvPath(gv), documentFor(gv)]));

export function openapiRoot() {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [p, doc] of documents) {
    const hash = createHash('sha256').update(JSON.stringify(doc)).digest('hex').slice(0, 32).toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}

/** `segs` without the leading `openapi`, `v3`. */
export function openapiDocument(segs: string[]): unknown {
  return documents.get(segs.join('/'));
}

/**
 * OpenAPI v2, which kubectl before 1.27 (Debian's kubernetes-client is 1.20) fetches as protobuf to
 * validate `apply` and `create`, refusing them when it is missing. Served without definitions, so
 * kubectl skips schema validation, as it does for any kind it has no schema for.
 */
export function openapiV2(accept: string | undefined): { contentType: string; body: Buffer } {
  if (/protobuf/.test(accept ?? '')) {
    // gnostic openapi_v2.Document { swagger = 1; info = 2 { title = 1; version = 2 } }
    const field = (n: number, bytes: Buffer) => Buffer.concat([Buffer.from([(n << 3) | 2, bytes.length]), bytes]);
    const info = Buffer.concat([field(1, Buffer.from('Kubernetes')), field(2, Buffer.from('v1.31.0'))]);
    // As kube-openapi: Go's mime parser rejects the '@' of the protobuf media type, so it is sent as octet-stream.
    return { contentType: 'application/octet-stream', body: Buffer.concat([field(1, Buffer.from('2.0')), field(2, info)]) };
  }
  const doc = { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.31.0' }, paths: {}, definitions: {} };
  return { contentType: 'application/json', body: Buffer.from(JSON.stringify(doc)) };
}
