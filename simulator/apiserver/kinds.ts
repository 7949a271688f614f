/**
 * The kinds the simulated API server serves. One table drives routing, discovery (what kubectl and
 * client-node read to map kinds to URLs) and the storage key layout.
 */
export interface KindInfo {
  group: string; // '' for the core group
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Serves `/status`; without it, status is an ordinary field written by create and update. */
  hasStatus: boolean;
  categories?: string[];
}

const kubevirtCategories = ['all'];

function kind(
  group: string,
  version: string,
  k: string,
  plural: string,
  opts: { shortNames?: string[]; namespaced?: boolean; hasStatus?: boolean; categories?: string[] } = {},
): KindInfo {
  return {
    group,
    version,
    kind: k,
    listKind: `${k}List`,
    plural,
    singular: k.toLowerCase(),
    shortNames: opts.shortNames ?? [],
    namespaced: opts.namespaced ?? true,
    hasStatus: opts.hasStatus ?? true,
    ...(opts.categories ? { categories: opts.categories } : {}),
  };
}

export const KINDS: readonly KindInfo[] = [
  kind('', 'v1', 'Namespace', 'namespaces', { shortNames: ['ns'], namespaced: false }),
  kind('', 'v1', 'ConfigMap', 'configmaps', { shortNames: ['cm'], hasStatus: false }),
  kind('', 'v1', 'Secret', 'secrets', { hasStatus: false }),
  kind('', 'v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', { shortNames: ['pvc'] }),
  kind('kubevirt.io', 'v1', 'KubeVirt', 'kubevirts', { shortNames: ['kv', 'kvs'], categories: kubevirtCategories }),
  kind('kubevirt.io', 'v1', 'VirtualMachine', 'virtualmachines', { shortNames: ['vm', 'vms'], categories: kubevirtCategories }),
  // KubeVirt's VMI CRD declares no status subresource: status is written with the object itself.
  kind('kubevirt.io', 'v1', 'VirtualMachineInstance', 'virtualmachineinstances', {
    shortNames: ['vmi', 'vmis'],
    hasStatus: false,
    categories: kubevirtCategories,
  }),
  kind('kubevirt.io', 'v1', 'VirtualMachineInstanceMigration', 'virtualmachineinstancemigrations', {
    shortNames: ['vmim', 'vmims'],
    categories: kubevirtCategories,
  }),
  kind('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachineInstancetype', 'virtualmachineinstancetypes', {
    shortNames: ['vminstancetype', 'vminstancetypes', 'vmf', 'vmfs'],
    hasStatus: false,
  }),
  kind('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachineClusterInstancetype', 'virtualmachineclusterinstancetypes', {
    shortNames: ['vmclusterinstancetype', 'vmclusterinstancetypes', 'vmcf', 'vmcfs'],
    namespaced: false,
    hasStatus: false,
  }),
  kind('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachinePreference', 'virtualmachinepreferences', {
    shortNames: ['vmpref', 'vmprefs', 'vmp', 'vmps'],
    hasStatus: false,
  }),
  kind('instancetype.kubevirt.io', 'v1beta1', 'VirtualMachineClusterPreference', 'virtualmachineclusterpreferences', {
    shortNames: ['vmcp', 'vmcps'],
    namespaced: false,
    hasStatus: false,
  }),
  kind('cdi.kubevirt.io', 'v1beta1', 'DataVolume', 'datavolumes', { shortNames: ['dv', 'dvs'], categories: ['all'] }),
];

export function groupVersion(k: KindInfo): string {
  return k.group === '' ? k.version : `${k.group}/${k.version}`;
}

const byRoute = new Map(KINDS.map((k) => [`${groupVersion(k)}/${k.plural}`, k]));
const byKind = new Map(KINDS.map((k) => [k.kind, k]));

export function kindForRoute(gv: string, plural: string): KindInfo | undefined {
  return byRoute.get(`${gv}/${plural}`);
}

export function kindInfo(kindName: string): KindInfo {
  const k = byKind.get(kindName);
  if (!k) throw new Error(`simulator does not serve kind ${kindName}`);
  return k;
}

/** Groups in discovery order, each with its single served version. */
export function apiGroups(): { name: string; version: string }[] {
  const seen = new Map<string, string>();
  for (const k of KINDS) if (k.group !== '' && !seen.has(k.group)) seen.set(k.group, k.version);
  return [...seen].map(([name, version]) => ({ name, version }));
}
