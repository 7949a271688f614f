/**
 * What must hold on the clusters after a migration that rode out a Temporal restart, read off both
 * clusters as any client would: exactly one running VMI of the VM on the side the outcome says, no
 * VMIM left on either side, the source VM halted after success, and after a rollback nothing labelled
 * as this migration's on the destination. A stand-in for the proof suite's shared `checkRun` until
 * that lands (test/proof/support/invariants.ts), with the same answer: a list of violations.
 */
import { ownedSelector } from '../../../activities/labels.js';
import type { Simulator } from '../../../simulator/sim.js';
import { clients, kubevirt, path } from '../../../simulator/testing/sim.js';

export interface RunToCheck {
  workflowId: string;
  vm: string;
  namespace?: string;
  outcome: 'Succeeded' | 'RolledBack' | 'Failed';
}

const KUBEVIRT_KINDS: [group: string, version: string, plural: string][] = [
  ['kubevirt.io', 'v1', 'virtualmachines'],
  ['kubevirt.io', 'v1', 'virtualmachineinstances'],
  ['kubevirt.io', 'v1', 'virtualmachineinstancemigrations'],
  ['cdi.kubevirt.io', 'v1beta1', 'datavolumes'],
];

export async function violations(sim: Simulator, run: RunToCheck): Promise<string[]> {
  const ns = run.namespace ?? 'demo';
  const out: string[] = [];
  const src = clients(sim, 'source');
  const dst = clients(sim, 'destination');
  const phaseOf = async (side: 'source' | 'destination') =>
    path(await kubevirt(side === 'source' ? src : dst).tryGet('virtualmachineinstances', ns, run.vm), 'status.phase') as string | undefined;
  const [srcVMI, dstVMI] = [await phaseOf('source'), await phaseOf('destination')];
  const running = [srcVMI === 'Running' && 'source', dstVMI === 'Running' && 'destination'].filter(Boolean);
  const expected = run.outcome === 'Succeeded' ? 'destination' : 'source';
  if (running.length !== 1 || running[0] !== expected) {
    out.push(`expected exactly one running VMI of ${ns}/${run.vm}, on the ${expected}; source VMI ${srcVMI ?? 'absent'}, destination VMI ${dstVMI ?? 'absent'}`);
  }
  for (const [side, c] of [
    ['source', src],
    ['destination', dst],
  ] as const) {
    const left = await kubevirt(c).list('virtualmachineinstancemigrations', ns);
    if (left.length) out.push(`VMIMs left on the ${side}: ${left.map((m) => m.metadata.name).join(', ')}`);
  }
  if (run.outcome === 'Succeeded') {
    const strategy = path(await kubevirt(src).get('virtualmachines', ns, run.vm), 'spec.runStrategy');
    if (strategy !== 'Halted') out.push(`the source VM ${ns}/${run.vm} is not halted after success (runStrategy ${String(strategy)})`);
  } else {
    const selector = ownedSelector(run.workflowId);
    for (const [group, version, plural] of KUBEVIRT_KINDS) {
      const { items } = (await dst.custom.listNamespacedCustomObject({ group, version, namespace: ns, plural, labelSelector: selector })) as {
        items: { metadata: { name: string } }[];
      };
      for (const o of items) out.push(`${plural}/${o.metadata.name} of this migration left on the destination after ${run.outcome}`);
    }
    for (const o of (await dst.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: selector })).items)
      out.push(`pvc/${o.metadata!.name} left on the destination`);
    for (const o of (await dst.core.listNamespacedSecret({ namespace: ns, labelSelector: selector })).items) out.push(`secret/${o.metadata!.name} left on the destination`);
    for (const o of (await dst.core.listNamespacedConfigMap({ namespace: ns, labelSelector: selector })).items) out.push(`configmap/${o.metadata!.name} left on the destination`);
  }
  return out;
}
