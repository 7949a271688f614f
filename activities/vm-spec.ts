/**
 * Reading what a VirtualMachine refers to: the claims behind its disks, the Secrets and ConfigMaps it
 * mounts (the list Forklift copies, research/forklift-live.md §3.1–3.2), its instancetype and
 * preference, its run strategy and MAC addresses. Pure functions over the VM's JSON.
 */
import { field, type KubeObject } from './kube/kinds.js';

type Ref = { name?: unknown; optional?: unknown; secretName?: unknown; claimName?: unknown };
type Volume = { name: string } & Record<string, (Ref & Record<string, unknown>) | undefined>;

export function volumes(vm: KubeObject): Volume[] {
  return field<Volume[]>(vm, 'spec.template.spec.volumes') ?? [];
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const unique = (xs: unknown[]): string[] => [...new Set(xs.filter(str))];

export function dataVolumeNames(vm: KubeObject): string[] {
  return unique(volumes(vm).map((v) => v.dataVolume?.name));
}

/** Claims of `persistentVolumeClaim` (and `ephemeral.persistentVolumeClaim`) volumes. */
export function claimNames(vm: KubeObject): string[] {
  return unique(volumes(vm).map((v) => v.persistentVolumeClaim?.claimName ?? field(v, 'ephemeral.persistentVolumeClaim.claimName')));
}

export interface DiskRef {
  kind: 'DataVolume' | 'PersistentVolumeClaim';
  /** The DataVolume or claim name; a DataVolume's claim has the same name. */
  name: string;
}

/** Every disk the VM's volumes are backed by, DataVolumes first, each once. */
export function diskRefs(vm: KubeObject): DiskRef[] {
  const dvs = dataVolumeNames(vm);
  return [
    ...dvs.map((name) => ({ kind: 'DataVolume' as const, name })),
    ...claimNames(vm)
      .filter((n) => !dvs.includes(n))
      .map((name) => ({ kind: 'PersistentVolumeClaim' as const, name })),
  ];
}

export function configMapNames(vm: KubeObject): string[] {
  return unique(volumes(vm).flatMap((v) => [v.configMap?.name, field(v, 'sysprep.configMap.name')]));
}

export function secretNames(vm: KubeObject): string[] {
  const names: unknown[] = [];
  for (const v of volumes(vm)) {
    names.push(v.secret?.secretName);
    for (const ci of [v.cloudInitNoCloud, v.cloudInitConfigDrive]) {
      // KubeVirt's field is `secretRef`; Forklift's list also names `userDataSecretRef`.
      names.push(field(ci, 'secretRef.name'), field(ci, 'userDataSecretRef.name'), field(ci, 'networkDataSecretRef.name'));
    }
    names.push(field(v, 'sysprep.secret.name'), v.containerDisk?.imagePullSecret);
  }
  for (const ac of field<unknown[]>(vm, 'spec.template.spec.accessCredentials') ?? []) {
    names.push(field(ac, 'sshPublicKey.source.secret.secretName'), field(ac, 'userPassword.source.secret.secretName'));
  }
  return unique(names);
}

/** ConfigMap and Secret volumes marked `optional: true`: their absence does not stop the VM. */
export function optionalNames(vm: KubeObject): Set<string> {
  const out = new Set<string>();
  for (const v of volumes(vm)) {
    if (v.configMap?.optional === true && str(v.configMap.name)) out.add(`ConfigMap/${v.configMap.name}`);
    if (v.secret?.optional === true && str(v.secret.secretName)) out.add(`Secret/${v.secret.secretName}`);
  }
  return out;
}

export interface TypeRef {
  name: string;
  /** The kind as written, or the cluster kind when omitted. */
  kind: string;
  namespaced: boolean;
}

/**
 * `spec.instancetype` / `spec.preference`. Namespaced iff the kind equals (case-insensitively)
 * VirtualMachineInstancetype / VirtualMachinePreference; an omitted kind means the cluster kind.
 */
export function typeRef(vm: KubeObject, which: 'instancetype' | 'preference'): TypeRef | undefined {
  const ref = field<{ name?: unknown; kind?: unknown }>(vm, `spec.${which}`);
  if (!str(ref?.name)) return undefined;
  const kind = typeof ref.kind === 'string' ? ref.kind.toLowerCase() : '';
  const namespaced = which === 'instancetype' ? kind === 'virtualmachineinstancetype' : kind === 'virtualmachinepreference';
  const resolved =
    which === 'instancetype'
      ? namespaced
        ? 'VirtualMachineInstancetype'
        : 'VirtualMachineClusterInstancetype'
      : namespaced
        ? 'VirtualMachinePreference'
        : 'VirtualMachineClusterPreference';
  return { name: ref.name, kind: resolved, namespaced };
}

/** spec.runStrategy, or what the deprecated spec.running means (true → Always, false/absent → Halted). */
export function runStrategyOf(vm: KubeObject): string {
  const s = field<unknown>(vm, 'spec.runStrategy');
  if (str(s)) return s;
  return field<unknown>(vm, 'spec.running') === true ? 'Always' : 'Halted';
}

/** MACs compared as KubeVirt would: case and separator do not matter. */
export function normalizeMac(mac: string): string {
  return mac.trim().toLowerCase().replace(/-/g, ':');
}

export function macAddresses(vm: KubeObject): string[] {
  return unique(
    (field<{ macAddress?: unknown }[]>(vm, 'spec.template.spec.domain.devices.interfaces') ?? []).map((i) => (str(i.macAddress) ? normalizeMac(i.macAddress) : undefined)),
  );
}

/** `<ns>/<name>` of a Multus network reference; unqualified names live in the VM's namespace. */
export function qualifiedNetwork(networkName: string, namespace: string): string {
  return networkName.includes('/') ? networkName : `${namespace}/${networkName}`;
}

/** The VM's `spec.dataVolumeTemplates` entry for a DataVolume, shaped like a DataVolume (for sizing). */
export function dataVolumeTemplate(vm: KubeObject, name: string): KubeObject | undefined {
  const t = (field<Partial<KubeObject>[]>(vm, 'spec.dataVolumeTemplates') ?? []).find((d) => d?.metadata?.name === name);
  if (!t) return undefined;
  const { apiVersion: _a, kind: _k, metadata, ...rest } = t;
  return { ...rest, apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { ...metadata, name } };
}
