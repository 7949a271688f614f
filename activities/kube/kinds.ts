/** The Kubernetes and KubeVirt kinds ferry reads and writes, with their API coordinates. */
export interface KindRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const k = (group: string, version: string, kind: string, plural: string, namespaced = true): KindRef => ({ group, version, kind, plural, namespaced });

export const Kinds = {
  ConfigMap: k('', 'v1', 'ConfigMap', 'configmaps'),
  Secret: k('', 'v1', 'Secret', 'secrets'),
  PersistentVolumeClaim: k('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  KubeVirt: k('kubevirt.io', 'v1', 'KubeVirt', 'kubevirts'),
  VirtualMachine: k('kubevirt.io', 'v1', 'VirtualMachine', 'virtualmachines'),
  VirtualMachineInstance: k('kubevirt.io', 'v1', 'VirtualMachineInstance', 'virtualmachineinstances'),
  VirtualMachineInstanceMigration: k('kubevirt.io', 'v1', 'VirtualMachineInstanceMigration', 'virtualmachineinstancemigrations'),
  VirtualMachineInstancetype: k('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachineInstancetype', 'virtualmachineinstancetypes'),
  VirtualMachinePreference: k('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachinePreference', 'virtualmachinepreferences'),
  VirtualMachineClusterInstancetype: k('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachineClusterInstancetype', 'virtualmachineclusterinstancetypes', false),
  VirtualMachineClusterPreference: k('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachineClusterPreference', 'virtualmachineclusterpreferences', false),
  DataVolume: k('cdi.kubevirt.io', 'v1beta1', 'DataVolume', 'datavolumes'),
} as const;

export type KindName = keyof typeof Kinds;

export function apiVersion(ref: KindRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
}

/** Objects stay loosely typed: ferry reads a few fields and copies the rest verbatim. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [field: string]: unknown;
}

export function field<T = unknown>(o: unknown, path: string): T | undefined {
  let cur = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur as T | undefined;
}
