/** KubeVirt on both sides: installed, the gate on, a synchronization address advertised. */
import { field } from '../kube/kinds.js';
import { checkAccess } from './access.js';
import { issues, type Issues, type Scope } from './scope.js';

export const GATE = 'DecentralizedLiveMigration';
const GATES_FIELD = 'spec.configuration.developerConfiguration.featureGates';

export async function checkKubeVirt(s: Scope): Promise<Issues & { destinationSyncAddress?: string }> {
  const f = issues();
  let destinationSyncAddress: string | undefined;
  for (const [side, c] of [
    ['source', s.src],
    ['destination', s.dst],
  ] as const) {
    const kvs = await s.list(c, 'KubeVirt', 'listing KubeVirt CRs in all namespaces');
    const kv = kvs.find((k) => !k.metadata.deletionTimestamp) ?? kvs[0];
    if (!kv) {
      f.block(
        'KubeVirtNotFound',
        `no KubeVirt CR found in any namespace of the ${side} cluster ${c.name}: install KubeVirt (or OpenShift Virtualization) there, and check that ferry's worker may list kubevirts.kubevirt.io`,
      );
      continue;
    }
    const kvName = `KubeVirt ${kv.metadata.namespace ? `${kv.metadata.namespace}/` : ''}${kv.metadata.name}`;
    // CA sync works in KubeVirt's namespace (kubevirt, or openshift-cnv under HCO): known only now.
    if (kv.metadata.namespace) {
      const a = await checkAccess(s, side, ['kubevirt'], kv.metadata.namespace);
      f.blockers.push(...a.blockers);
      f.warnings.push(...a.warnings);
    }
    const gates = field<unknown[]>(kv, GATES_FIELD) ?? [];
    if (!gates.some((g) => typeof g === 'string' && g.toLowerCase() === GATE.toLowerCase())) {
      f.block('GateDisabled', `the ${GATE} feature gate is not enabled on the ${side} cluster ${c.name}: add "${GATE}" to ${GATES_FIELD} of ${kvName}`);
    }
    const addrs = (field<unknown[]>(kv, 'status.synchronizationAddresses') ?? []).filter((a): a is string => typeof a === 'string' && a.length > 0);
    if (!addrs.length) {
      f.block(
        'NoSyncAddress',
        `${kvName} on the ${side} cluster ${c.name} advertises no synchronization address (status.synchronizationAddresses is empty): enable the ${GATE} gate and check that virt-synchronization-controller is running and reachable`,
      );
    }
    if (side === 'destination' && addrs[0]) destinationSyncAddress = addrs[0];
  }
  return { blockers: f.blockers, warnings: f.warnings, ...(destinationSyncAddress ? { destinationSyncAddress } : {}) };
}
