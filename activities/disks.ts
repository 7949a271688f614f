/**
 * The one place that says what a VM's disks become on the destination: read once from the source
 * (`readSourceDisks`), then built by pure functions: the blank DataVolume or empty claim that
 * createPrerequisites ensures (`diskManifest`), and the receiver VM's `spec.dataVolumeTemplates`
 * (`receiverTemplates`). Every disk is recreated blank under its source name at least the source's
 * size, with its storage class mapped: KubeVirt's decentralized live migration copies the data into
 * it (research/kubevirt-decentralized-lm.md §1.5).
 *
 * The disk lifecycle is kept as on the source. A disk declared in the VM's `spec.dataVolumeTemplates`
 * stays a template of the receiver VM (with a blank source and the destination storage): KubeVirt's VM
 * controller adopts the existing orphan DataVolume of a template's name (`ClaimMatchedDataVolumes`,
 * pkg/virt-controller/watch/vm/vm.go) and only creates one when it is missing (`handleDataVolumes`), so
 * the DataVolume ferry made becomes controlled by the target VM, and deleting that VM deletes it. A
 * standalone DataVolume or claim (`volumes[].dataVolume` / `persistentVolumeClaim` without a template)
 * is no template there either, and stays standalone.
 */
import type { ClusterClient } from './kube/cluster.js';
import { orFail } from './kube/errors.js';
import { apiVersion, field, Kinds, type KubeObject, type ObjectMeta } from './kube/kinds.js';
import { formatBytes, parseBytes } from './kube/quantity.js';
import { dataVolumeTemplate, type DiskRef, diskRefs } from './vm-spec.js';

export const ANN_USE_POPULATOR = 'cdi.kubevirt.io/storage.usePopulator';

/** What the source says about one disk of the VM. */
export interface SourceDisk extends DiskRef {
  /** Declared in the VM's `spec.dataVolumeTemplates` (the VM owns it). */
  template: boolean;
  /** The claim on the source (a DataVolume's claim has its name), if any. */
  pvc?: KubeObject;
  /** The DataVolume on the source, or else its template shaped as one; only for DataVolume disks. */
  dv?: KubeObject;
}

/** `spec.storage` of a blank DataVolume (and the spec of an empty claim). */
export interface DiskStorage {
  accessModes?: string[];
  volumeMode?: string;
  storageClassName?: string;
  resources: { requests: { storage: string } };
}

const templateNames = (vm: KubeObject) =>
  new Set((field<{ metadata?: { name?: unknown } }[]>(vm, 'spec.dataVolumeTemplates') ?? []).map((t) => t?.metadata?.name).filter((n): n is string => typeof n === 'string'));

/** Read each disk of the VM on the source: its claim and DataVolume (or template). Two GETs a disk. */
export async function readSourceDisks(src: ClusterClient, vm: KubeObject): Promise<SourceDisk[]> {
  const ns = vm.metadata.namespace!;
  const templates = templateNames(vm);
  const get = (kind: 'PersistentVolumeClaim' | 'DataVolume', name: string) => orFail(src.get(kind, ns, name), `reading ${kind} ${ns}/${name}`, src.name);
  const out: SourceDisk[] = [];
  for (const disk of diskRefs(vm)) {
    const pvc = await get('PersistentVolumeClaim', disk.name);
    const dv = disk.kind === 'DataVolume' ? ((await get('DataVolume', disk.name)) ?? dataVolumeTemplate(vm, disk.name)) : undefined;
    out.push({ ...disk, template: disk.kind === 'DataVolume' && templates.has(disk.name), ...(pvc ? { pvc } : {}), ...(dv ? { dv } : {}) });
  }
  return out;
}

/** The disk's size in bytes: the largest of the claim's capacity and request and the DataVolume's request; 0 if none says. */
export function diskSize(d: Pick<SourceDisk, 'pvc' | 'dv'>): number {
  return Math.max(
    parseBytes(field(d.pvc, 'status.capacity.storage')),
    parseBytes(field(d.pvc, 'spec.resources.requests.storage')),
    parseBytes(field(d.dv, 'spec.storage.resources.requests.storage')),
    parseBytes(field(d.dv, 'spec.pvc.resources.requests.storage')),
  );
}

const pick = <T>(d: Pick<SourceDisk, 'pvc' | 'dv'>, what: string) =>
  field<T>(d.pvc, `spec.${what}`) ?? field<T>(d.dv, `spec.storage.${what}`) ?? field<T>(d.dv, `spec.pvc.${what}`);

/** The source's storage class of the disk, if it names one. */
export function sourceStorageClass(d: Pick<SourceDisk, 'pvc' | 'dv'>): string | undefined {
  return pick<string>(d, 'storageClassName');
}

/** The destination storage: at least the source's size, same modes, storage class through the map. Undefined when the size is unknown. */
export function targetStorage(d: Pick<SourceDisk, 'pvc' | 'dv'>, storageClassMap: Record<string, string>): DiskStorage | undefined {
  const size = diskSize(d);
  if (!size) return undefined;
  const sourceClass = sourceStorageClass(d);
  const storageClassName = sourceClass ? (storageClassMap[sourceClass] ?? sourceClass) : undefined;
  const accessModes = pick<string[]>(d, 'accessModes');
  const volumeMode = pick<string>(d, 'volumeMode');
  return {
    ...(accessModes?.length ? { accessModes } : {}),
    ...(volumeMode ? { volumeMode } : {}),
    ...(storageClassName ? { storageClassName } : {}),
    resources: { requests: { storage: formatBytes(size) } },
  };
}

/** A blank DataVolume's spec: KubeVirt's migration fills it. */
export function blankDataVolumeSpec(storage: DiskStorage): Record<string, unknown> {
  return { source: { blank: {} }, storage };
}

/** The blank DataVolume or empty claim for `disk` on the destination. Pure. */
export function diskManifest(disk: DiskRef, storage: DiskStorage, metadata: ObjectMeta): KubeObject {
  if (disk.kind === 'PersistentVolumeClaim') return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: { ...storage } };
  return {
    apiVersion: apiVersion(Kinds.DataVolume),
    kind: 'DataVolume',
    metadata: { ...metadata, annotations: { ...metadata.annotations, [ANN_USE_POPULATOR]: 'true' } },
    spec: blankDataVolumeSpec(storage),
  };
}

type Template = {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
} & Record<string, unknown>;

/**
 * The receiver VM's `spec.dataVolumeTemplates`: the source's templates, each with a blank source and
 * the destination storage of `storages` (by name; else computed from the template alone), its labels
 * and annotations those `meta` gives the DataVolume ferry creates, no namespace (KubeVirt creates
 * template DataVolumes in the VM's namespace). Pure.
 */
export function receiverTemplates(
  vm: KubeObject,
  storageClassMap: Record<string, string>,
  storages: ReadonlyMap<string, DiskStorage>,
  meta: (name: string) => Pick<ObjectMeta, 'labels' | 'annotations'>,
): Template[] | undefined {
  const templates = field<Template[]>(vm, 'spec.dataVolumeTemplates');
  if (!templates) return undefined;
  return templates.map((t) => {
    const name = t.metadata?.name;
    if (!name) return structuredClone(t);
    const storage = storages.get(name) ?? targetStorage({ dv: dataVolumeTemplate(vm, name) }, storageClassMap);
    const m = meta(name);
    const { metadata: _m, spec: _s, ...rest } = structuredClone(t);
    const source = storage ? diskManifest({ kind: 'DataVolume', name }, storage, { name, ...m }) : undefined;
    return {
      ...rest,
      metadata: { name, ...(source ? { labels: source.metadata.labels, annotations: source.metadata.annotations } : {}) },
      spec: source?.spec ?? { ...structuredClone(t.spec ?? {}), source: { blank: {} } },
    };
  });
}
