/**
 * What ferry needs to be allowed on each side of a migration, as data, and the check that the cluster
 * grants it, asked before anything is written: a migration that would hit a 403 halfway (after the
 * receiver VM exists, say) is refused at preflight instead, naming the verb, the resource, the
 * namespace and the cluster. deploy/rbac.yaml grants exactly this (a unit test holds the two together).
 *
 * Cost: one SelfSubjectRulesReview per namespace and one SelfSubjectAccessReview per cluster-scoped
 * need, instead of one review per need; a review the rules cannot settle (an authorizer that cannot
 * list its rules, e.g. a webhook) is asked one by one. Grants are remembered for GRANT_TTL_MS
 * (kube/cluster.ts), so a plan's migrations share one set of reviews per namespace.
 */
import type { AccessReviews, PolicyRule, ResourceAttributes } from './kube/cluster.js';
import { Kinds, type KindName } from './kube/kinds.js';

export type Side = 'source' | 'destination';
/** Where a need applies: the VM's namespace on that side, KubeVirt's namespace (CA sync), or the cluster. */
export type Scope = 'workload' | 'kubevirt' | 'cluster';

export interface AccessNeed {
  side: Side;
  scope: Scope;
  kind: KindName | 'Namespace';
  verbs: string[];
  /** For needs on named objects only (the CA ConfigMaps). */
  names?: string[];
  why: string;
}

const need = (side: Side, scope: Scope, kind: AccessNeed['kind'], verbs: string[], why: string, names?: string[]): AccessNeed => ({
  side,
  scope,
  kind,
  verbs,
  why,
  ...(names ? { names } : {}),
});

export const KUBEVIRT_CA = 'kubevirt-ca';
export const KUBEVIRT_EXTERNAL_CA = 'kubevirt-external-ca';

/** Every request ferry makes, by side. */
export const ACCESS_NEEDS: readonly AccessNeed[] = [
  need('source', 'cluster', 'KubeVirt', ['list'], 'preflight reads the feature gate and sync address'),
  need('source', 'workload', 'VirtualMachine', ['get', 'patch'], 'the VM is read and halted after cutover'),
  need('source', 'workload', 'VirtualMachineInstance', ['get', 'list', 'watch'], 'the running VMI is followed (one list+watch of the namespace, shared by all migrations)'),
  need('source', 'workload', 'VirtualMachineInstanceMigration', ['get', 'list', 'watch', 'create', 'delete'], 'the source VMIM is created, followed and removed'),
  need('source', 'workload', 'DataVolume', ['get'], 'disk sizes are read'),
  need('source', 'workload', 'PersistentVolumeClaim', ['get'], 'disk sizes are read'),
  need('source', 'workload', 'Secret', ['get'], 'Secrets the VM uses are copied'),
  need('source', 'workload', 'ConfigMap', ['get'], 'ConfigMaps the VM uses are copied'),
  need('source', 'workload', 'VirtualMachineInstancetype', ['get'], 'namespaced instancetypes are copied'),
  need('source', 'workload', 'VirtualMachinePreference', ['get'], 'namespaced preferences are copied'),
  need('source', 'cluster', 'VirtualMachineClusterInstancetype', ['get'], 'the guest memory is read from the instancetype'),
  need('source', 'kubevirt', 'ConfigMap', ['get'], "the source's CA is read", [KUBEVIRT_CA]),
  need('source', 'kubevirt', 'ConfigMap', ['get', 'update'], "the destination's CA is added to the trusted ones", [KUBEVIRT_EXTERNAL_CA]),
  need('source', 'kubevirt', 'ConfigMap', ['create'], `${KUBEVIRT_EXTERNAL_CA} is created where virt-operator has not made it yet`),
  need('destination', 'cluster', 'KubeVirt', ['list'], 'preflight reads the feature gate and sync address'),
  need('destination', 'cluster', 'Namespace', ['get'], 'the destination namespace must exist'),
  need('destination', 'cluster', 'VirtualMachine', ['list'], 'MAC addresses must be unique on the destination'),
  need('destination', 'cluster', 'VirtualMachineClusterInstancetype', ['get'], 'cluster instancetypes must exist on the destination'),
  need('destination', 'cluster', 'VirtualMachineClusterPreference', ['get'], 'cluster preferences must exist on the destination'),
  need('destination', 'workload', 'VirtualMachine', ['get', 'list', 'create', 'patch', 'delete'], 'the receiver VM is created, started and (on rollback) removed'),
  need('destination', 'workload', 'VirtualMachineInstance', ['get', 'list', 'watch'], 'the receiver VMI is followed (one list+watch of the namespace, shared by all migrations)'),
  need('destination', 'workload', 'VirtualMachineInstanceMigration', ['get', 'list', 'watch', 'create', 'delete'], 'the target VMIM is created, followed and removed'),
  need('destination', 'workload', 'DataVolume', ['get', 'list', 'create', 'delete'], 'blank disks are created (and removed on rollback)'),
  need('destination', 'workload', 'PersistentVolumeClaim', ['get', 'list', 'create', 'delete'], 'empty claims are created (and removed on rollback)'),
  need('destination', 'workload', 'Secret', ['get', 'list', 'create', 'delete'], 'Secrets are copied (and removed on rollback)'),
  need('destination', 'workload', 'ConfigMap', ['get', 'list', 'create', 'delete'], 'ConfigMaps are copied (and removed on rollback)'),
  need('destination', 'workload', 'VirtualMachineInstancetype', ['get', 'list', 'create', 'delete'], 'namespaced instancetypes are copied'),
  need('destination', 'workload', 'VirtualMachinePreference', ['get', 'list', 'create', 'delete'], 'namespaced preferences are copied'),
  need('destination', 'kubevirt', 'ConfigMap', ['get'], "the destination's CA is read", [KUBEVIRT_CA]),
  need('destination', 'kubevirt', 'ConfigMap', ['get', 'update'], "the source's CA is added to the trusted ones", [KUBEVIRT_EXTERNAL_CA]),
  need('destination', 'kubevirt', 'ConfigMap', ['create'], `${KUBEVIRT_EXTERNAL_CA} is created where virt-operator has not made it yet`),
];

export function resourceOf(kind: AccessNeed['kind']): { group: string; resource: string } {
  if (kind === 'Namespace') return { group: '', resource: 'namespaces' };
  return { group: Kinds[kind].group, resource: Kinds[kind].plural };
}

/** Whether one RBAC rule grants `attrs` (the API server's matching: `*` matches all). */
export function ruleAllows(rule: PolicyRule, attrs: ResourceAttributes): boolean {
  const has = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);
  if (!has(rule.verbs, attrs.verb) || !has(rule.apiGroups, attrs.group) || !has(rule.resources, attrs.resource)) return false;
  if (!rule.resourceNames?.length) return true;
  return attrs.name !== undefined && rule.resourceNames.includes(attrs.name);
}

export interface Denial {
  side: Side;
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  why: string;
}

/** The readable `verb resource.group` of a denial, as `kubectl auth can-i` takes it. */
export function qualified(d: Pick<Denial, 'group' | 'resource'>): string {
  return d.group ? `${d.resource}.${d.group}` : d.resource;
}

/** The needs of `side` in `scopes` this client is denied; `namespaces` says which namespace each scope means. */
export async function deniedNeeds(reviews: AccessReviews, side: Side, scopes: Scope[], namespaces: { workload: string; kubevirt?: string }): Promise<Denial[]> {
  const rulesByNamespace = new Map<string, Promise<{ rules: PolicyRule[]; incomplete: boolean }>>();
  const rulesIn = (ns: string) => {
    let r = rulesByNamespace.get(ns);
    if (!r) rulesByNamespace.set(ns, (r = reviews.rules(ns)));
    return r;
  };
  const checks: Promise<Denial | undefined>[] = [];
  for (const n of ACCESS_NEEDS) {
    if (n.side !== side || !scopes.includes(n.scope)) continue;
    const namespace = n.scope === 'cluster' ? undefined : n.scope === 'workload' ? namespaces.workload : namespaces.kubevirt;
    if (n.scope === 'kubevirt' && !namespace) continue;
    const { group, resource } = resourceOf(n.kind);
    for (const verb of n.verbs) {
      for (const name of n.names ?? [undefined]) {
        const attrs: ResourceAttributes = { verb, group, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
        checks.push(
          (async () => {
            // Rules listed for a namespace cannot tell a ClusterRoleBinding from a RoleBinding, so
            // they settle namespaced needs only; cluster-scoped ones are always asked.
            if (namespace) {
              const { rules, incomplete } = await rulesIn(namespace);
              if (rules.some((r) => ruleAllows(r, attrs))) return undefined;
              if (!incomplete) {
                reviews.forgetRules(namespace);
                return { side, ...attrs, why: n.why };
              }
            }
            return (await reviews.allowed(attrs)) ? undefined : { side, ...attrs, why: n.why };
          })(),
        );
      }
    }
  }
  return (await Promise.all(checks)).filter((d): d is Denial => d !== undefined);
}

/** One line per denial: what, where, why it is needed, and the fix. */
export function denialMessage(d: Denial, cluster: string): string {
  const where = d.namespace ? `in namespace ${d.namespace}` : 'at cluster scope';
  const object = d.name ? ` (${d.name})` : '';
  return `ferry may not ${d.verb} ${qualified(d)}${object} ${where} on the ${d.side} cluster ${cluster}, which it needs because ${d.why}: grant "${d.verb}" on ${qualified(d)} to ferry's ServiceAccount there (deploy/rbac.yaml lists everything ferry needs; check with: kubectl auth can-i ${d.verb} ${qualified(d)}${d.namespace ? ` -n ${d.namespace}` : ''} --as=<ferry's user>)`;
}
