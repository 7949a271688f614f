/**
 * The destination namespace's prerequisites, all under the source names (so the VM spec needs no
 * volume rewrites, research/forklift-live.md §3):
 *
 * - namespaced instancetypes and preferences, ConfigMaps and Secrets the VM refers to: copied only if
 *   absent; one that exists already (anyone's) is used as-is and never overwritten. Secrets keep their
 *   `type` and `immutable` (Forklift drops the type);
 * - blank DataVolumes / empty PVCs at least the size of the source's, for KubeVirt to fill. One that
 *   exists and is not ours is a collision: a non-retryable NotOurs failure.
 *
 * Returns exactly the objects this migration created (now or in an earlier run of this activity), which
 * is what rollback may delete. Secret contents are never logged or returned: only names.
 */
import type { CreatedObject } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { apiFailure, isAlreadyExists, notOurs, orFail } from './kube/errors.js';
import { apiVersion, field, Kinds, type KindName, type KubeObject, type ObjectMeta } from './kube/kinds.js';
import { formatBytes, parseBytes } from './kube/quantity.js';
import { ANN_SOURCE, isOwnedBy, ownedMeta, ownerOf } from './labels.js';
import { configMapNames, dataVolumeTemplate, diskRefs, optionalNames, secretNames, typeRef } from './vm-spec.js';

export const ANN_USE_POPULATOR = 'cdi.kubevirt.io/storage.usePopulator';

/** Annotations never carried over: client bookkeeping (may quote a Secret's data), and ferry's own marks. */
const dropKey = (k: string) => k === 'kubectl.kubernetes.io/last-applied-configuration' || k.startsWith('ferry.dev/');
const keep = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !dropKey(k)));

/** Copy of a shared object's metadata: source labels and annotations plus ferry's ownership marks. */
function copyMeta(src: KubeObject, namespace: string, owned: ReturnType<typeof ownedMeta>): ObjectMeta {
  return {
    name: src.metadata.name,
    namespace,
    labels: { ...keep(src.metadata.labels), ...owned.labels },
    annotations: { ...keep(src.metadata.annotations), ...owned.annotations },
  };
}

/** Only these fields are copied; status and server-owned metadata never are. */
const COPIED_FIELDS: Partial<Record<KindName, string[]>> = {
  ConfigMap: ['data', 'binaryData', 'immutable'],
  Secret: ['type', 'data', 'immutable'],
  VirtualMachineInstancetype: ['spec'],
  VirtualMachinePreference: ['spec'],
};

export function prerequisiteActivities(deps: ActivityDeps) {
  return {
    async createPrerequisites(ref: AttemptRef): Promise<CreatedObject[]> {
      const m = ref.migration;
      const src = deps.clusters.get(m.source.cluster);
      const dst = deps.clusters.get(m.destination.cluster);
      const srcNs = m.source.namespace;
      const ns = m.destination.namespace;
      const ours = (o: KubeObject) => isOwnedBy(o.metadata, ref.workflowId);
      const sourceOf = (name: string) => `${m.source.cluster}/${srcNs}/${name}`;
      const out: CreatedObject[] = [];
      const record = (kind: KindName, o: KubeObject) =>
        void out.push({ cluster: dst.name, kind, namespace: ns, name: o.metadata.name, ...(o.metadata.uid ? { uid: o.metadata.uid } : {}) });

      const get = (c: ClusterClient, kind: KindName, namespace: string, name: string) =>
        orFail(c.get(kind, namespace, name), `reading ${kind} ${namespace}/${name}`, c.name, kind === 'Secret');

      /** Create; on AlreadyExists read back what is there (retrying if it vanished meanwhile). */
      const ensure = async (kind: KindName, body: KubeObject): Promise<{ object: KubeObject; created: boolean }> => {
        const name = body.metadata.name;
        for (let i = 0; ; i++) {
          try {
            return { object: await dst.create(kind, ns, body), created: true };
          } catch (e) {
            if (!isAlreadyExists(e)) throw apiFailure(e, `creating ${kind} ${ns}/${name}`, dst.name, kind === 'Secret');
          }
          const existing = await get(dst, kind, ns, name);
          if (existing) return { object: existing, created: false };
          if (i >= 2) throw apiFailure({ code: 503, body: { reason: 'Conflict', message: 'the object keeps appearing and vanishing' } }, `creating ${kind} ${ns}/${name}`, dst.name);
        }
      };

      const vm = await get(src, 'VirtualMachine', srcNs, m.source.name);
      if (!vm) throw apiFailure({ code: 404, body: { reason: 'NotFound', message: `the source VM is gone` } }, `reading VirtualMachine ${srcNs}/${m.source.name}`, src.name);

      // 1. Shared objects: used as-is when one with the name exists there, else copied from the source.
      const owned = ownedMeta(ref.workflowId, { attempt: ref.attempt, migrationId: ref.migrationId });
      const shared: [KindName, string][] = [];
      for (const which of ['instancetype', 'preference'] as const) {
        const t = typeRef(vm, which);
        if (t?.namespaced) shared.push([t.kind as KindName, t.name]);
      }
      shared.push(...configMapNames(vm).map((n): [KindName, string] => ['ConfigMap', n]), ...secretNames(vm).map((n): [KindName, string] => ['Secret', n]));
      const optional = optionalNames(vm);
      for (const [kind, name] of shared) {
        const there = await get(dst, kind, ns, name);
        if (there) {
          if (ours(there)) record(kind, there);
          continue;
        }
        const s = await get(src, kind, srcNs, name);
        if (!s) {
          if (optional.has(`${kind}/${name}`)) continue;
          throw apiFailure(
            { code: 404, body: { reason: 'NotFound', message: `the VM refers to it but it exists on neither cluster; recreate it on either side` } },
            `copying ${kind} ${srcNs}/${name}`,
            src.name,
          );
        }
        const body: KubeObject = { apiVersion: apiVersion(Kinds[kind]), kind: Kinds[kind].kind, metadata: copyMeta(s, ns, owned) };
        body.metadata.annotations![ANN_SOURCE] = sourceOf(name);
        for (const f of COPIED_FIELDS[kind] ?? []) if (s[f] !== undefined) body[f] = s[f];
        const r = await ensure(kind, body);
        if (r.created || ours(r.object)) record(kind, r.object);
      }

      // 2. Disks: blank, same names, at least the source's capacity, storage class mapped.
      for (const disk of diskRefs(vm)) {
        const pvc = await get(src, 'PersistentVolumeClaim', srcNs, disk.name);
        const dv = disk.kind === 'DataVolume' ? ((await get(src, 'DataVolume', srcNs, disk.name)) ?? dataVolumeTemplate(vm, disk.name)) : undefined;
        const size = Math.max(
          parseBytes(field(pvc, 'status.capacity.storage')),
          parseBytes(field(pvc, 'spec.resources.requests.storage')),
          parseBytes(field(dv, 'spec.storage.resources.requests.storage')),
          parseBytes(field(dv, 'spec.pvc.resources.requests.storage')),
        );
        if (!size) {
          throw apiFailure({ code: 404, body: { reason: 'NotFound', message: 'cannot tell its size: neither the claim nor the DataVolume says' } }, `sizing ${disk.kind} ${srcNs}/${disk.name}`, src.name);
        }
        const sourceClass = field<string>(pvc, 'spec.storageClassName') ?? field<string>(dv, 'spec.storage.storageClassName') ?? field<string>(dv, 'spec.pvc.storageClassName');
        const storageClassName = sourceClass ? (m.storageClassMap[sourceClass] ?? sourceClass) : undefined;
        const accessModes = field<string[]>(pvc, 'spec.accessModes') ?? field<string[]>(dv, 'spec.storage.accessModes') ?? field<string[]>(dv, 'spec.pvc.accessModes');
        const volumeMode = field<string>(pvc, 'spec.volumeMode') ?? field<string>(dv, 'spec.storage.volumeMode') ?? field<string>(dv, 'spec.pvc.volumeMode');
        const storage = {
          ...(accessModes?.length ? { accessModes } : {}),
          ...(volumeMode ? { volumeMode } : {}),
          ...(storageClassName ? { storageClassName } : {}),
          resources: { requests: { storage: formatBytes(size) } },
        };
        const metadata: ObjectMeta = {
          name: disk.name,
          namespace: ns,
          labels: { ...owned.labels },
          annotations: { ...owned.annotations, [ANN_SOURCE]: sourceOf(disk.name) },
        };
        const body: KubeObject =
          disk.kind === 'DataVolume'
            ? {
                apiVersion: apiVersion(Kinds.DataVolume),
                kind: 'DataVolume',
                metadata: { ...metadata, annotations: { ...metadata.annotations, [ANN_USE_POPULATOR]: 'true' } },
                spec: { source: { blank: {} }, storage },
              }
            : { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: storage };
        const r = await ensure(disk.kind, body);
        // Someone else's disk under this name: the migration would write into it. Refuse.
        if (!r.created && !ours(r.object)) throw notOurs(dst.name, disk.kind, ns, disk.name, ownerOf(r.object.metadata));
        record(disk.kind, r.object);
      }
      return out;
    },
  };
}
