/**
 * ferry's access to one cluster: typed-enough CRUD for the kinds in kinds.ts over
 * @kubernetes/client-node, returning plain JSON objects. Errors are left as client-node throws them;
 * callers map them with errors.ts where they know what they were doing.
 */
import * as k8s from '@kubernetes/client-node';
import { isNotFound, isTransient, kubeError } from './errors.js';
import { Informers } from './informer.js';
import { apiVersion, Kinds, type KindName, type KindRef, type KubeObject } from './kinds.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, PooledKubeConfig } from './pooled.js';

/** client-node's core models carry Date objects; the rest of ferry works on the JSON the server sent. */
const plain = <T>(o: unknown): T => JSON.parse(JSON.stringify(o)) as T;
const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

const RETRIES = 4;
/**
 * No new try once this much time has passed since the first: against a hung API server every try
 * costs a request timeout, and an activity attempt (2 min start-to-close) must end before Temporal
 * schedules the next one.
 */
const RETRY_BUDGET_MS = 60_000;

/**
 * Transient API errors (5xx, 429, network) are retried here, per request, with a short backoff or the
 * server's Retry-After, before they reach the activity: one flaky request should not cost a whole
 * activity attempt (and its retry backoff). A retried create may answer AlreadyExists: callers handle
 * that as "read it back and check it is ours".
 */
async function withRetry<T>(fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const info = kubeError(e);
      if (!isTransient(e) || attempt >= RETRIES || Date.now() - started >= RETRY_BUDGET_MS) throw e;
      const wait = info.retryAfterSeconds ? info.retryAfterSeconds * 1000 : 100 * 2 ** attempt;
      await new Promise((r) => setTimeout(r, Math.min(wait, 5000)));
    }
  }
}

export class ClusterClient {
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly access: AccessReviews;
  /** The shared watches of this cluster (informer.ts): one per kind and namespace, whatever the number of migrations. */
  readonly informers: Informers;

  constructor(
    readonly name: string,
    readonly kc: k8s.KubeConfig,
  ) {
    if (kc instanceof PooledKubeConfig) kc.clusterName = name;
    this.informers = new Informers(this);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.access = new AccessReviews(kc);
  }

  /** The API server's URL as the kubeconfig names it, for messages (without any user info). */
  get server(): string {
    const raw = this.kc.getCurrentCluster()?.server ?? '';
    try {
      const u = new URL(raw);
      u.username = '';
      u.password = '';
      return u.toString().replace(/\/$/, '');
    } catch {
      return '(no server URL)';
    }
  }

  /** How long one request may wait for its answer; watches use it as their inactivity timeout. */
  get requestTimeoutMs(): number {
    return this.kc instanceof PooledKubeConfig ? this.kc.requestTimeoutMs : DEFAULT_REQUEST_TIMEOUT_MS;
  }

  private ref(kind: KindName): KindRef {
    return Kinds[kind];
  }

  /** The object, or undefined when there is none. */
  async get(kind: KindName, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    try {
      return await withRetry(() => this.read(kind, namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async read(kind: KindName, namespace: string | undefined, name: string): Promise<KubeObject> {
    const r = this.ref(kind);
    const ns = namespace ?? '';
    switch (kind) {
      case 'ConfigMap':
        return plain(await this.core.readNamespacedConfigMap({ namespace: ns, name }));
      case 'Secret':
        return plain(await this.core.readNamespacedSecret({ namespace: ns, name }));
      case 'PersistentVolumeClaim':
        return plain(await this.core.readNamespacedPersistentVolumeClaim({ namespace: ns, name }));
      default:
        return (
          r.namespaced
            ? await this.custom.getNamespacedCustomObject({ group: r.group, version: r.version, namespace: ns, plural: r.plural, name })
            : await this.custom.getClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name })
        ) as KubeObject;
    }
  }

  async list(kind: KindName, namespace: string | undefined, labelSelector?: string): Promise<KubeObject[]> {
    return (await withRetry(() => this.listOnce(kind, namespace, labelSelector))).items;
  }

  /** One LIST request, no retries (informer.ts retries itself), with the collection's resourceVersion to watch from. */
  async listOnce(kind: KindName, namespace: string | undefined, labelSelector?: string): Promise<{ items: KubeObject[]; resourceVersion: string | undefined }> {
    const r = this.ref(kind);
    const sel = labelSelector ? { labelSelector } : {};
    let res: { items: unknown[]; metadata?: { resourceVersion?: string } };
    if (kind === 'ConfigMap') res = namespace ? await this.core.listNamespacedConfigMap({ namespace, ...sel }) : await this.core.listConfigMapForAllNamespaces(sel);
    else if (kind === 'Secret') res = namespace ? await this.core.listNamespacedSecret({ namespace, ...sel }) : await this.core.listSecretForAllNamespaces(sel);
    else if (kind === 'PersistentVolumeClaim') {
      res = namespace ? await this.core.listNamespacedPersistentVolumeClaim({ namespace, ...sel }) : await this.core.listPersistentVolumeClaimForAllNamespaces(sel);
    } else if (r.namespaced && namespace) {
      res = (await this.custom.listNamespacedCustomObject({ group: r.group, version: r.version, namespace, plural: r.plural, ...sel })) as typeof res;
    } else {
      res = (await this.custom.listClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, ...sel })) as typeof res;
    }
    const items = plain<KubeObject[]>(res.items).map((o) => ({ ...o, apiVersion: apiVersion(r), kind: r.kind }));
    return { items, resourceVersion: res.metadata?.resourceVersion };
  }

  create(kind: KindName, namespace: string | undefined, body: KubeObject): Promise<KubeObject> {
    return withRetry(() => this.createOnce(kind, namespace, body));
  }

  private async createOnce(kind: KindName, namespace: string | undefined, body: KubeObject): Promise<KubeObject> {
    const r = this.ref(kind);
    const ns = namespace ?? '';
    switch (kind) {
      case 'ConfigMap':
        return plain(await this.core.createNamespacedConfigMap({ namespace: ns, body: body as k8s.V1ConfigMap }));
      case 'Secret':
        return plain(await this.core.createNamespacedSecret({ namespace: ns, body: body as k8s.V1Secret }));
      case 'PersistentVolumeClaim':
        return plain(await this.core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: body as k8s.V1PersistentVolumeClaim }));
      default:
        return (
          r.namespaced
            ? await this.custom.createNamespacedCustomObject({ group: r.group, version: r.version, namespace: ns, plural: r.plural, body })
            : await this.custom.createClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, body })
        ) as KubeObject;
    }
  }

  replace(kind: KindName, obj: KubeObject): Promise<KubeObject> {
    return withRetry(() => this.replaceOnce(kind, obj));
  }

  private async replaceOnce(kind: KindName, obj: KubeObject): Promise<KubeObject> {
    const r = this.ref(kind);
    const ns = obj.metadata.namespace ?? '';
    const name = obj.metadata.name;
    switch (kind) {
      case 'ConfigMap':
        return plain(await this.core.replaceNamespacedConfigMap({ namespace: ns, name, body: obj as k8s.V1ConfigMap }));
      case 'Secret':
      case 'PersistentVolumeClaim':
        throw new Error(`ferry never replaces a ${kind}`);
      default:
        return (await this.custom.replaceNamespacedCustomObject({ group: r.group, version: r.version, namespace: ns, plural: r.plural, name, body: obj })) as KubeObject;
    }
  }

  /** JSON merge patch of a custom resource (VMs: run strategy; ferry patches nothing else). */
  async mergePatch(kind: KindName, namespace: string, name: string, patch: object): Promise<KubeObject> {
    const r = this.ref(kind);
    if (!r.group) throw new Error(`ferry does not patch ${kind}`);
    return (await withRetry(() =>
      this.custom.patchNamespacedCustomObject({ group: r.group, version: r.version, namespace, plural: r.plural, name, body: patch }, merge),
    )) as KubeObject;
  }

  /** Delete; true if it was there. Foreground propagation so a VM's VMI goes with it. */
  async delete(kind: KindName, namespace: string | undefined, name: string): Promise<boolean> {
    try {
      await withRetry(() => this.deleteOnce(kind, namespace, name));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  private async deleteOnce(kind: KindName, namespace: string | undefined, name: string): Promise<void> {
    const r = this.ref(kind);
    const ns = namespace ?? '';
    switch (kind) {
      case 'ConfigMap':
        await this.core.deleteNamespacedConfigMap({ namespace: ns, name });
        return;
      case 'Secret':
        await this.core.deleteNamespacedSecret({ namespace: ns, name });
        return;
      case 'PersistentVolumeClaim':
        await this.core.deleteNamespacedPersistentVolumeClaim({ namespace: ns, name });
        return;
      default:
        if (r.namespaced) await this.custom.deleteNamespacedCustomObject({ group: r.group, version: r.version, namespace: ns, plural: r.plural, name });
        else await this.custom.deleteClusterCustomObject({ group: r.group, version: r.version, plural: r.plural, name });
    }
  }

  /** Collection path for watches. */
  path(kind: KindName, namespace?: string): string {
    const r = this.ref(kind);
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    return r.namespaced && namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
  }
}

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * How long a grant is remembered. Every migration's preflight asks the same questions of the same
 * namespaces (a plan of 1,000 VMs in one namespace asked them 1,000 times: a third of ferry's API
 * requests). Short, because a grant revoked after preflight is met only by a 403 halfway, which is
 * what preflight is for; a migration takes far longer than this anyway, so the window barely grows.
 * Denials are never remembered: fix the RBAC, retry, and the next check sees it.
 */
export const GRANT_TTL_MS = 10_000;

/** What the cluster says this client may do: the authorization API, answered for the caller itself. */
export class AccessReviews {
  private readonly api: k8s.AuthorizationV1Api;
  private readonly grants = new Map<string, number>();
  private readonly rulesByNamespace = new Map<string, { until: number; answer: Promise<{ rules: PolicyRule[]; incomplete: boolean }> }>();

  constructor(
    kc: k8s.KubeConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.api = kc.makeApiClient(k8s.AuthorizationV1Api);
  }

  /** The rules that apply in `namespace`; `incomplete` when the authorizer cannot list them all. */
  rules(namespace: string): Promise<{ rules: PolicyRule[]; incomplete: boolean }> {
    const cached = this.rulesByNamespace.get(namespace);
    if (cached && cached.until > this.now()) return cached.answer;
    const answer = withRetry(() =>
      this.api.createSelfSubjectRulesReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } } }),
    ).then((r) => ({ rules: (r.status?.resourceRules ?? []) as PolicyRule[], incomplete: r.status?.incomplete === true }));
    this.rulesByNamespace.set(namespace, { until: this.now() + GRANT_TTL_MS, answer });
    answer.catch(() => this.forgetRules(namespace));
    return answer;
  }

  /** The rules of `namespace` denied something: ask again next time, the RBAC may be fixed by then. */
  forgetRules(namespace: string): void {
    this.rulesByNamespace.delete(namespace);
  }

  async allowed(attrs: ResourceAttributes): Promise<boolean> {
    const key = JSON.stringify([attrs.verb, attrs.group, attrs.resource, attrs.namespace, attrs.name]);
    if ((this.grants.get(key) ?? 0) > this.now()) return true;
    const r = await withRetry(() =>
      this.api.createSelfSubjectAccessReview({ body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attrs } } }),
    );
    const allowed = r.status?.allowed === true;
    if (allowed) this.grants.set(key, this.now() + GRANT_TTL_MS);
    else this.grants.delete(key);
    return allowed;
  }
}

/** Name → client, as the worker resolved them from its kubeconfig. */
export interface ClusterRegistry {
  get(name: string): ClusterClient;
  names(): string[];
}
