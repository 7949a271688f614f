/**
 * The bed's own administrative access to a real kube-apiserver: plain HTTPS with the admin token, for
 * bootstrapping (CRDs, webhooks, RBAC, fixtures) and for requests client-node has no typed call for
 * (server-side apply, TokenRequest). Objects are plain JSON.
 */
import type { IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { kindInfo } from '../apiserver/kinds.js';
import type { KubeObject } from '../apiserver/object.js';

export interface RawResponse {
  status: number;
  body: unknown;
}

/** Kinds the bed writes that the simulator's kind table does not serve. */
const BOOTSTRAP_KINDS: Record<string, { group: string; version: string; plural: string; namespaced: boolean }> = {
  CustomResourceDefinition: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', namespaced: false },
  ValidatingWebhookConfiguration: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', namespaced: false },
  MutatingWebhookConfiguration: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', namespaced: false },
  ClusterRole: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', namespaced: false },
  Role: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', namespaced: true },
  ServiceAccount: { group: '', version: 'v1', plural: 'serviceaccounts', namespaced: true },
};

/**
 * The URL path of an object (with its name) or of its collection; a namespaced collection without a
 * namespace is the list across all namespaces.
 */
export function objectPath(kind: string, namespace: string | undefined, name?: string): string {
  const k = BOOTSTRAP_KINDS[kind] ?? kindInfo(kind);
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  const ns = k.namespaced && (namespace !== undefined || name !== undefined) ? `/namespaces/${namespace ?? 'default'}` : '';
  return `${base}${ns}/${k.plural}${name ? `/${name}` : ''}`;
}

/** A response's body, parsed as JSON when it is JSON, else the text. */
export async function readJson(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

export class AdminApi {
  private readonly agent: Agent;

  constructor(
    readonly url: string,
    private readonly caPem: string,
    private readonly token: string,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 8, ca: caPem });
  }

  raw(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<RawResponse> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.url),
        {
          method,
          agent: this.agent,
          ca: this.caPem,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${this.token}`,
            ...(payload !== undefined ? { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) } : {}),
          },
        },
        (res) => void readJson(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject),
      );
      // A server that accepts and then stalls must not stall the bed's deadlines with it.
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request that must succeed; the error names the request and the server's message. */
  async json<T = KubeObject>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const res = await this.raw(method, path, body, contentType);
    if (res.status < 200 || res.status > 299) {
      const message = (res.body as { message?: string } | undefined)?.message ?? JSON.stringify(res.body);
      throw Object.assign(new Error(`${method} ${path}: HTTP ${res.status}: ${message}`), { code: res.status });
    }
    return res.body as T;
  }

  get(kind: string, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.json('GET', objectPath(kind, namespace, name));
  }

  /**
   * Server-side apply: the CRDs are too large for client-side apply's last-applied annotation, and it
   * is what `kubectl apply --server-side` sends.
   */
  apply(o: KubeObject, fieldManager = 'ferry-bed'): Promise<KubeObject> {
    const path = `${objectPath(o.kind, o.metadata.namespace, o.metadata.name)}?fieldManager=${fieldManager}&force=true`;
    return this.json('PATCH', path, o, 'application/apply-patch+yaml');
  }

  /** Create, or leave alone what already exists (fixtures: a person may have changed them). */
  async createIfAbsent(o: KubeObject): Promise<void> {
    const res = await this.raw('POST', objectPath(o.kind, o.metadata.namespace ?? (o.kind === 'Namespace' ? undefined : 'default')), o);
    if (res.status === 409) return;
    if (res.status < 200 || res.status > 299) {
      const message = (res.body as { message?: string } | undefined)?.message ?? JSON.stringify(res.body);
      throw new Error(`creating ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}: HTTP ${res.status}: ${message}`);
    }
  }

  /** Poll until `check` passes; the error says what was awaited. */
  async until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        if (await check()) return;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
      await delay(100);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
