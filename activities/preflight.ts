/**
 * Preflight: everything that would make the migration fail, checked on both clusters before anything
 * is written, and reported together so an operator fixes them in one go. Reads only: nothing here
 * creates, patches or deletes. Each check (activities/preflight/*.ts) returns its issues; each issue
 * names the object and says how to fix it. Secrets are read only for their existence; nothing of
 * their content leaves this module.
 */
import type { PreflightReport } from '../workflows/contract.js';
import type { ActivityDeps } from './context.js';
import type { KubeObject } from './kube/kinds.js';
import { checkAccess } from './preflight/access.js';
import { checkDisks } from './preflight/disks.js';
import { checkMacs, checkVMName } from './preflight/identity.js';
import { checkKubeVirt } from './preflight/kubevirt.js';
import { checkDestinationNamespace } from './preflight/namespace.js';
import { checkNetworks } from './preflight/networks.js';
import { checkReferences } from './preflight/references.js';
import { type Issues, type PreflightInput, scopeOf } from './preflight/scope.js';
import { checkTypes } from './preflight/types.js';
import { checkDevices, checkMigratable, checkRunning, checkVMFound, memoryOf } from './preflight/vm.js';
import { runStrategyOf } from './vm-spec.js';

export { GATE } from './preflight/kubevirt.js';
export type { PreflightInput } from './preflight/scope.js';

/** The report, and the source VM it was made from (undefined when it could not be read). */
export async function inspectVm(deps: ActivityDeps, input: PreflightInput): Promise<{ report: PreflightReport; vm?: KubeObject }> {
  const s = scopeOf(deps, input);
  const report: PreflightReport = { blockers: [], warnings: [], memoryBytes: 0, diskBytes: 0, runStrategy: 'Unknown' };
  const add = (i: Issues) => {
    report.blockers.push(...i.blockers);
    report.warnings.push(...i.warnings);
  };

  const access = await Promise.all([checkAccess(s, 'source', ['workload', 'cluster']), checkAccess(s, 'destination', ['workload', 'cluster'])]);
  access.forEach(add);
  if (access.some((a) => a.denied > 0) && input.accessIssues !== 'warn') return { report };

  const kubevirt = await checkKubeVirt(s);
  add(kubevirt);
  if (kubevirt.destinationSyncAddress) report.destinationSyncAddress = kubevirt.destinationSyncAddress;
  add(await checkDestinationNamespace(s));

  // Without the VM nothing else can be checked.
  const vm = await s.get(s.src, 'VirtualMachine', s.srcNs, s.m.source.name);
  add(checkVMFound(s, vm));
  if (!vm) return { report: { ...report, runStrategy: 'Halted' } };
  report.runStrategy = runStrategyOf(vm);
  const vmi = await s.get(s.src, 'VirtualMachineInstance', s.srcNs, s.m.source.name);
  add(checkRunning(s, vm, vmi));
  add(checkMigratable(s, vm, vmi));
  add(checkDevices(s, vm));
  const types = await checkTypes(s, vm);
  add(types);
  report.memoryBytes = memoryOf(vm, vmi, types.typeMemory);
  const disks = await checkDisks(s, vm);
  add(disks);
  report.diskBytes = disks.diskBytes;
  add(await checkVMName(s));
  add(await checkMacs(s, vm));
  add(await checkReferences(s, vm));
  add(checkNetworks(s, vm));
  return { report, vm };
}

export function preflightActivities(deps: ActivityDeps) {
  return {
    /**
     * `accessIssues: 'warn'` reports missing permissions as warnings: for a dry run with someone
     * else's (read-only) credentials, where the worker's own are what counts.
     */
    async preflight(input: PreflightInput): Promise<PreflightReport> {
      return (await inspectVm(deps, input)).report;
    },
  };
}
