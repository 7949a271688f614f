/**
 * The destination namespace's prerequisites, all under the source names (so the VM spec needs no
 * volume rewrites, research/forklift-live.md §3):
 *
 * - namespaced instancetypes and preferences, ConfigMaps and Secrets the VM refers to: copied only if
 *   absent; one that exists already (anyone's) is used as-is and never overwritten. Secrets keep their
 *   `type` and `immutable` (Forklift drops the type);
 * - blank DataVolumes / empty PVCs at least the size of the source's, for KubeVirt to fill (disks.ts).
 *   One that exists and is not ours is a collision: a non-retryable NotOurs failure.
 *
 * Pure builders (`sharedObjectNames`, `sharedCopy`, `diskObject`) make every object from what was read
 * on the source; then each is ensured idempotently (ensure.ts). Returns exactly the objects this
 * migration created (now or in an earlier run of this activity), which is what rollback may delete.
 * Secret contents are never logged or returned: only names.
 */
import type { CreatedObject } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import { diskManifest, type DiskStorage, readSourceDisks, targetStorage } from './disks.js';
import { ensureObject, ensureOwned } from './ensure.js';
import { apiFailure, orFail } from './kube/errors.js';
import { apiVersion, Kinds, type KindName, type KubeObject, type ObjectMeta } from './kube/kinds.js';
import { ANN_SOURCE, isOwnedBy, ownedMeta } from './labels.js';
import { configMapNames, type DiskRef, optionalNames, secretNames, typeRef } from './vm-spec.js';

export { ANN_USE_POPULATOR } from './disks.js';

/** Annotations never carried over: client bookkeeping (may quote a Secret's data), and ferry's own marks. */
const dropKey = (k: string) => k === 'kubectl.kubernetes.io/last-applied-configuration' || k.startsWith('ferry.dev/');
const keep = (m: Record<string, string> | undefined) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !dropKey(k)));

/** Only these fields are copied; status and server-owned metadata never are. */
const COPIED_FIELDS: Partial<Record<KindName, string[]>> = {
  ConfigMap: ['data', 'binaryData', 'immutable'],
  Secret: ['type', 'data', 'immutable'],
  VirtualMachineInstancetype: ['spec'],
  VirtualMachinePreference: ['spec'],
};

/** Labels and annotations of what this attempt creates in the destination namespace. */
export function prerequisiteMeta(ref: AttemptRef, name: string): Pick<ObjectMeta, 'labels' | 'annotations'> {
  const m = ref.migration;
  const owned = ownedMeta(ref.workflowId, { attempt: ref.attempt, migrationId: ref.migrationId });
  return { labels: { ...owned.labels }, annotations: { ...owned.annotations, [ANN_SOURCE]: `${m.source.cluster}/${m.source.namespace}/${name}` } };
}

/** The shared objects the VM refers to, in creation order: namespaced instancetype and preference, ConfigMaps, Secrets. */
export function sharedObjectNames(vm: KubeObject): [KindName, string][] {
  const shared: [KindName, string][] = [];
  for (const which of ['instancetype', 'preference'] as const) {
    const t = typeRef(vm, which);
    if (t?.namespaced) shared.push([t.kind as KindName, t.name]);
  }
  shared.push(...configMapNames(vm).map((n): [KindName, string] => ['ConfigMap', n]), ...secretNames(vm).map((n): [KindName, string] => ['Secret', n]));
  return shared;
}

/** The destination copy of a shared object: its copied fields, the source's labels and annotations plus ferry's marks. Pure. */
export function sharedCopy(kind: KindName, source: KubeObject, ref: AttemptRef): KubeObject {
  const name = source.metadata.name;
  const meta = prerequisiteMeta(ref, name);
  const body: KubeObject = {
    apiVersion: apiVersion(Kinds[kind]),
    kind: Kinds[kind].kind,
    metadata: {
      name,
      namespace: ref.migration.destination.namespace,
      labels: { ...keep(source.metadata.labels), ...meta.labels },
      annotations: { ...keep(source.metadata.annotations), ...meta.annotations },
    },
  };
  for (const f of COPIED_FIELDS[kind] ?? []) if (source[f] !== undefined) body[f] = source[f];
  return body;
}

/** The blank DataVolume / empty claim of one disk. Pure. */
export function diskObject(disk: DiskRef, storage: DiskStorage, ref: AttemptRef): KubeObject {
  return diskManifest(disk, storage, { name: disk.name, namespace: ref.migration.destination.namespace, ...prerequisiteMeta(ref, disk.name) });
}

export function prerequisiteActivities(deps: ActivityDeps) {
  return {
    async createPrerequisites(ref: AttemptRef): Promise<CreatedObject[]> {
      const m = ref.migration;
      const src = deps.clusters.get(m.source.cluster);
      const dst = deps.clusters.get(m.destination.cluster);
      const srcNs = m.source.namespace;
      const ns = m.destination.namespace;
      const out: CreatedObject[] = [];
      const record = (kind: KindName, o: KubeObject) =>
        void out.push({ cluster: dst.name, kind, namespace: ns, name: o.metadata.name, ...(o.metadata.uid ? { uid: o.metadata.uid } : {}) });
      const get = (kind: KindName, namespace: string, name: string, c = src) =>
        orFail(c.get(kind, namespace, name), `reading ${kind} ${namespace}/${name}`, c.name, kind === 'Secret');

      const vm = await get('VirtualMachine', srcNs, m.source.name);
      if (!vm) throw apiFailure({ code: 404, body: { reason: 'NotFound', message: `the source VM is gone` } }, `reading VirtualMachine ${srcNs}/${m.source.name}`, src.name);

      // 1. Shared objects: used as-is when one with the name exists there, else copied from the source.
      const optional = optionalNames(vm);
      for (const [kind, name] of sharedObjectNames(vm)) {
        const there = await get(kind, ns, name, dst);
        if (there) {
          if (isOwnedBy(there.metadata, ref.workflowId)) record(kind, there);
          continue;
        }
        const s = await get(kind, srcNs, name);
        if (!s) {
          if (optional.has(`${kind}/${name}`)) continue;
          throw apiFailure(
            { code: 404, body: { reason: 'NotFound', message: `the VM refers to it but it exists on neither cluster; recreate it on either side` } },
            `copying ${kind} ${srcNs}/${name}`,
            src.name,
          );
        }
        const r = await ensureObject(dst, kind, sharedCopy(kind, s, ref), ref.workflowId);
        if (r.created || r.ours) record(kind, r.object);
      }

      // 2. Disks: blank, same names, at least the source's capacity, storage class mapped. Someone
      //    else's disk under one of these names: the migration would write into it. Refuse.
      for (const disk of await readSourceDisks(src, vm)) {
        const storage = targetStorage(disk, m.storageClassMap);
        if (!storage) {
          throw apiFailure(
            { code: 404, body: { reason: 'NotFound', message: 'cannot tell its size: neither the claim nor the DataVolume says' } },
            `sizing ${disk.kind} ${srcNs}/${disk.name}`,
            src.name,
          );
        }
        record(disk.kind, await ensureOwned(dst, disk.kind, diskObject(disk, storage, ref), ref.workflowId));
      }
      return out;
    },
  };
}
