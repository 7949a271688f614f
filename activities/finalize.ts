/**
 * After KubeVirt reports the move complete: verify the target VMI runs the migrated guest, make the run
 * strategies what they must be (KubeVirt normally does both; ferry checks and enforces), and remove
 * the VMIM pair. The source VM is halted only after the target is verified running (invariant 1).
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes } from '../workflows/contract.js';
import type { ActivityDeps, AttemptRef } from './context.js';
import { orFail } from './kube/errors.js';
import { field } from './kube/kinds.js';
import { vmimName } from './labels.js';

export interface FinalizeResult {
  targetRunStrategy: string;
  sourceRunStrategy: string;
  /** What ferry had to correct itself because KubeVirt had not (yet). */
  enforced: string[];
}

export function finalizeActivities(deps: ActivityDeps) {
  return {
    async finalize(ref: AttemptRef): Promise<FinalizeResult> {
      const m = ref.migration;
      const src = deps.clusters.get(m.source.cluster);
      const dst = deps.clusters.get(m.destination.cluster);
      const vm = m.source.name;
      const enforced: string[] = [];

      const targetVMI = await orFail(dst.get('VirtualMachineInstance', m.destination.namespace, vm), 'reading the target VMI', dst.name);
      const running = field(targetVMI, 'status.phase') === 'Running' && field(targetVMI, 'status.migrationState.completed') === true;
      if (!running) {
        // Retryable: KubeVirt may still be switching over; the activity's retry policy bounds the wait.
        throw ApplicationFailure.create({
          type: FailureTypes.MigrationFailed,
          message: `target VMI ${m.destination.namespace}/${vm} is ${field(targetVMI, 'status.phase') ?? 'missing'}, not Running with a completed migration`,
          nonRetryable: false,
        });
      }

      const targetVM = await orFail(dst.get('VirtualMachine', m.destination.namespace, vm), 'reading the target VM', dst.name);
      let targetRunStrategy = field<string>(targetVM, 'spec.runStrategy') ?? 'unknown';
      if (targetRunStrategy !== ref.runStrategy) {
        await orFail(dst.mergePatch('VirtualMachine', m.destination.namespace, vm, { spec: { runStrategy: ref.runStrategy } }), 'restoring the target run strategy', dst.name);
        enforced.push(`target runStrategy ${targetRunStrategy} → ${ref.runStrategy}`);
        targetRunStrategy = ref.runStrategy;
      }

      const sourceVM = await orFail(src.get('VirtualMachine', m.source.namespace, vm), 'reading the source VM', src.name);
      let sourceRunStrategy = field<string>(sourceVM, 'spec.runStrategy') ?? (field<boolean>(sourceVM, 'spec.running') ? 'Always' : 'Halted');
      if (sourceVM && sourceRunStrategy !== 'Halted') {
        await orFail(src.mergePatch('VirtualMachine', m.source.namespace, vm, { spec: { runStrategy: 'Halted', running: null } }), 'halting the source VM', src.name);
        enforced.push(`source runStrategy ${sourceRunStrategy} → Halted`);
        sourceRunStrategy = 'Halted';
      }

      await orFail(src.delete('VirtualMachineInstanceMigration', m.source.namespace, vmimName(vm, ref.migrationId, 'source')), 'removing the source VMIM', src.name);
      await orFail(dst.delete('VirtualMachineInstanceMigration', m.destination.namespace, vmimName(vm, ref.migrationId, 'target')), 'removing the target VMIM', dst.name);
      return { targetRunStrategy, sourceRunStrategy, enforced };
    },
  };
}
