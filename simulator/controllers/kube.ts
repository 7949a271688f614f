/**
 * The simulated KubeVirt components' Kubernetes client: @kubernetes/client-node only, the same way an
 * out-of-process controller would talk to a real kube-apiserver. Objects are handled as plain JSON.
 */
import * as k8s from '@kubernetes/client-node';
import { kindInfo, groupVersion, type KindInfo } from '../apiserver/kinds.js';
import type { KubeObject } from '../apiserver/object.js';

export type { KubeObject };

export function errorCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** Turns client-node's typed models (Dates, class instances) into the plain JSON the server sent. */
const plain = <T>(o: unknown): T => JSON.parse(JSON.stringify(o)) as T;

export class KubeClient {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly core: k8s.CoreV1Api;

  constructor(readonly kc: k8s.KubeConfig) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Collection path for list and watch: all namespaces when `ns` is omitted. */
  static path(k: KindInfo, ns?: string): string {
    const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
    return k.namespaced && ns ? `${base}/namespaces/${ns}/${k.plural}` : `${base}/${k.plural}`;
  }

  async list(kind: string, ns?: string): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const k = kindInfo(kind);
    let res: { items: KubeObject[]; metadata?: { resourceVersion?: string } };
    if (k.group) {
      res = (
        ns && k.namespaced
          ? await this.custom.listNamespacedCustomObject({ group: k.group, version: k.version, namespace: ns, plural: k.plural })
          : await this.custom.listClusterCustomObject({ group: k.group, version: k.version, plural: k.plural })
      ) as typeof res;
    } else {
      res = plain(await this.objects.list(groupVersion(k), k.kind, ns));
    }
    // A list names its items' kind once, at the top; every later write of an item needs it on the item.
    const items = res.items.map((o) => ({ ...o, apiVersion: groupVersion(k), kind: k.kind }));
    return { items, resourceVersion: res.metadata?.resourceVersion ?? '' };
  }

  async get(kind: string, ns: string | undefined, name: string): Promise<KubeObject | undefined> {
    const k = kindInfo(kind);
    try {
      if (k.group) {
        return (
          k.namespaced
            ? await this.custom.getNamespacedCustomObject({ group: k.group, version: k.version, namespace: ns!, plural: k.plural, name })
            : await this.custom.getClusterCustomObject({ group: k.group, version: k.version, plural: k.plural, name })
        ) as KubeObject;
      }
      return plain(await this.objects.read({ apiVersion: groupVersion(k), kind: k.kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } }));
    } catch (e) {
      if (errorCode(e) === 404) return undefined;
      throw e;
    }
  }

  async create(obj: KubeObject): Promise<KubeObject> {
    const k = kindInfo(obj.kind);
    if (k.group) {
      const body = obj as object;
      return (
        k.namespaced
          ? await this.custom.createNamespacedCustomObject({ group: k.group, version: k.version, namespace: obj.metadata.namespace!, plural: k.plural, body })
          : await this.custom.createClusterCustomObject({ group: k.group, version: k.version, plural: k.plural, body })
      ) as KubeObject;
    }
    return plain(await this.objects.create(obj as k8s.KubernetesObject));
  }

  /** PUT with the object's resourceVersion: a 409 means someone else wrote first; requeue and retry. */
  async update(obj: KubeObject): Promise<KubeObject> {
    const k = kindInfo(obj.kind);
    const name = obj.metadata.name!;
    if (k.group) {
      const body = obj as object;
      return (
        k.namespaced
          ? await this.custom.replaceNamespacedCustomObject({ group: k.group, version: k.version, namespace: obj.metadata.namespace!, plural: k.plural, name, body })
          : await this.custom.replaceClusterCustomObject({ group: k.group, version: k.version, plural: k.plural, name, body })
      ) as KubeObject;
    }
    return plain(await this.objects.replace(obj as k8s.KubernetesObject));
  }

  /** PUT to `/status`; kinds without a status subresource (a VMI) write status with `update`. */
  async updateStatus(obj: KubeObject): Promise<KubeObject> {
    const k = kindInfo(obj.kind);
    const name = obj.metadata.name!;
    if (!k.hasStatus) throw new Error(`${k.kind} has no status subresource: write its status with update()`);
    if (k.kind === 'PersistentVolumeClaim') {
      return plain(await this.core.replaceNamespacedPersistentVolumeClaimStatus({ name, namespace: obj.metadata.namespace!, body: obj as k8s.V1PersistentVolumeClaim }));
    }
    if (!k.group) throw new Error(`status updates for ${k.kind} are not used by the simulator`);
    const body = obj as object;
    return (
      k.namespaced
        ? await this.custom.replaceNamespacedCustomObjectStatus({ group: k.group, version: k.version, namespace: obj.metadata.namespace!, plural: k.plural, name, body })
        : await this.custom.replaceClusterCustomObjectStatus({ group: k.group, version: k.version, plural: k.plural, name, body })
    ) as KubeObject;
  }

  /** DELETE; a 404 counts as done. */
  async delete(kind: string, ns: string | undefined, name: string): Promise<void> {
    const k = kindInfo(kind);
    try {
      if (k.group) {
        if (k.namespaced) await this.custom.deleteNamespacedCustomObject({ group: k.group, version: k.version, namespace: ns!, plural: k.plural, name });
        else await this.custom.deleteClusterCustomObject({ group: k.group, version: k.version, plural: k.plural, name });
      } else {
        await this.objects.delete({ apiVersion: groupVersion(k), kind: k.kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } });
      }
    } catch (e) {
      if (errorCode(e) !== 404) throw e;
    }
  }
}
