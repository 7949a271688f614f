/**
 * VMs of one plan that would collide with each other on the destination: the same VM name or the same
 * DataVolume/claim name in one namespace, or the same MAC address on the cluster. Each VM's preflight
 * checks it against what is on the destination already; this checks the plan's VMs against each other.
 *
 * The plan's VMs claim their names and MACs in plan order; a VM that preflight blocks for another
 * reason writes nothing and claims nothing (the plan skips or aborts it). A later VM that needs a
 * claimed name or MAC gets a blocker naming both VMs; the plan's `onBlocked` then applies as to any
 * blocker. Pure and deterministic: the plan workflow calls it on its preflight reports.
 */
import type { PreflightIssue } from './contract.js';

/** What one VM of the plan will take on the destination, from its preflight. */
export interface Footprint {
  /** The VM's migration workflow ID (matches the plan's VM). */
  workflowId: string;
  /** `<namespace>/<name>` on the source. */
  vm: string;
  destinationCluster: string;
  destinationNamespace: string;
  /** The VM's name on the destination. */
  name: string;
  disks: { kind: 'DataVolume' | 'PersistentVolumeClaim'; name: string }[];
  /** Normalized MAC addresses. */
  macs: string[];
}

/** The blockers, per VM in the given order, that collisions with earlier VMs of the plan cause. */
export function planCollisions(vms: readonly { footprint?: Footprint; blocked: boolean }[]): PreflightIssue[][] {
  const claims = new Map<string, Footprint>();
  return vms.map(({ footprint: f, blocked }) => {
    if (!f) return [];
    const out: PreflightIssue[] = [];
    const where = `the destination cluster ${f.destinationCluster}`;
    const keys: string[] = [];
    const vmKey = `vm/${f.destinationCluster}/${f.destinationNamespace}/${f.name}`;
    keys.push(vmKey);
    const first = claims.get(vmKey);
    if (first) {
      out.push({
        code: 'VMNameCollision',
        message: `VM ${f.vm} and VM ${first.vm} of this plan would both become VirtualMachine ${f.destinationNamespace}/${f.name} on ${where}: ${first.vm} comes first in the plan and keeps the name, so ${f.vm} cannot be migrated with it; give one of them another targetNamespace in the plan, or migrate them in separate plans to different namespaces`,
      });
    }
    for (const d of f.disks) {
      // A DataVolume's claim has its name: a DataVolume and a claim of one name collide too.
      const key = `disk/${f.destinationCluster}/${f.destinationNamespace}/${d.name}`;
      if (keys.includes(key)) continue;
      keys.push(key);
      const other = claims.get(key);
      if (!other) continue;
      const theirs = other.disks.find((x) => x.name === d.name)!;
      out.push({
        code: 'DiskNameCollision',
        message: `${d.kind} ${f.destinationNamespace}/${d.name} of VM ${f.vm} and ${theirs.kind} ${f.destinationNamespace}/${d.name} of VM ${other.vm} of this plan would be created under the same name on ${where}: ${other.vm} comes first in the plan and keeps the name, so ${f.vm} cannot be migrated with it; give one of them another targetNamespace in the plan, or rename the disk of one of them on the source`,
      });
    }
    const sharedWith = new Map<Footprint, string[]>();
    for (const mac of f.macs) {
      const key = `mac/${f.destinationCluster}/${mac}`;
      keys.push(key);
      const other = claims.get(key);
      if (other && other !== f) sharedWith.set(other, [...(sharedWith.get(other) ?? []), mac]);
    }
    for (const [other, macs] of sharedWith) {
      const s = macs.length > 1;
      out.push({
        code: 'MacConflict',
        message: `MAC address${s ? 'es' : ''} ${macs.join(', ')} of VM ${f.vm} ${s ? 'are' : 'is'} also used by VM ${other.vm} of this plan, and MAC addresses must be unique on ${where}: ${other.vm} comes first in the plan and keeps ${s ? 'them' : 'it'}, so ${f.vm} cannot be migrated with it; change the MAC of one of the two VMs`,
      });
    }
    if (!blocked && !out.length) for (const k of keys) if (!claims.has(k)) claims.set(k, f);
    return out;
  });
}

/**
 * Add the plan-internal collisions to the VMs' blockers, in plan order. `reports` are the preflight
 * reports of the plan's VMs (any order; matched by workflow ID); one without a footprint (its VM could
 * not be read, or a worker that predates footprints made it) takes part in nothing.
 */
export function addPlanCollisions(vms: { workflowId: string; blockers?: PreflightIssue[] }[], reports: readonly { footprint?: Footprint }[]): void {
  const byId = new Map(reports.flatMap((r) => (r.footprint ? [[r.footprint.workflowId, r.footprint] as const] : [])));
  if (byId.size < 2) return;
  const found = planCollisions(vms.map((v) => ({ ...(byId.has(v.workflowId) ? { footprint: byId.get(v.workflowId)! } : {}), blocked: !!v.blockers?.length })));
  found.forEach((issues, i) => {
    if (issues.length) vms[i]!.blockers = [...(vms[i]!.blockers ?? []), ...issues];
  });
}
