/**
 * What the Temporal Web UI shows for a plan: counts per phase, the overall progress, every stalled VM
 * with its diagnosis, the failures, and the commands that act on the plan.
 */
import { cancelPlanUpdate, planStatusQuery, retryStalledUpdate } from './messages.js';
import { isPlanEnded, isVmDone, type Plan, type PlanStatus, type PlanVmState } from './plan-contract.js';

export function planSummary(p: Plan): string {
  return `Migration plan ${p.name}: ${p.vms.length} VM(s) ${p.source.cluster} → ${p.destination.cluster}${p.destination.namespace ? `/${p.destination.namespace}` : ''}, ${p.maxInFlight} at a time`;
}

export function planCommands(workflowId: string, namespace = 'default'): string[] {
  const ns = namespace === 'default' ? '' : ` --namespace ${namespace}`;
  return [
    `temporal workflow update execute -w '${workflowId}' --name ${retryStalledUpdate.name}${ns}`,
    `temporal workflow update execute -w '${workflowId}' --name ${cancelPlanUpdate.name} --input '{"reason":"..."}'${ns}`,
  ];
}

/** How many VMs have ended (any outcome), for the overall bar. */
export function planDone(s: PlanStatus): number {
  return Object.entries(s.counts).reduce((n, [state, count]) => n + (isVmDone(state as PlanVmState) ? count : 0), 0);
}

const LIST_LIMIT = 20;
/** A line for the VMs a list leaves out: where to find them. */
const more = (n: number, where: string) => (n > 0 ? [`- … and ${n} more (${where})`] : []);

export function planDetails(s: PlanStatus, namespace = 'default'): string {
  const done = planDone(s);
  const lines = [
    `### Plan ${s.phase}: ${done}/${s.total} VM(s) done, ${s.inFlight} in flight (max ${s.maxInFlight})`,
    '',
    Object.entries(s.counts)
      .map(([k, n]) => `${k}: **${n}**`)
      .join(' · '),
  ];
  if (s.stalled.length) {
    lines.push('', `**${s.stalled.length} stalled** (retry them all with \`retryStalled\`):`);
    for (const v of s.stalled.slice(0, LIST_LIMIT)) lines.push(`- \`${v.vm}\` (\`${v.workflowId}\`): ${v.diagnosis ?? 'no diagnosis yet'}`);
    lines.push(...more(s.stalled.length - LIST_LIMIT, `\`ferry plan status\` or the \`${planStatusQuery.name}\` query lists them all`));
  }
  const failed = s.failed.length + s.unlisted.failed;
  if (failed) {
    lines.push('', `**${failed} failed or rolled back:**`);
    for (const v of s.failed.slice(0, LIST_LIMIT)) lines.push(`- \`${v.vm}\`: ${v.state}${v.error ? `: ${v.error}` : ''}`);
    lines.push(
      ...more(failed - Math.min(LIST_LIMIT, s.failed.length), `all of them: \`temporal workflow list --query "${s.childrenQuery} AND FerryPhase IN ('Failed', 'RolledBack')"\``),
    );
  }
  const skipped = s.skipped.length + s.unlisted.skipped;
  if (skipped) {
    lines.push('', `**${skipped} skipped:**`);
    for (const v of s.skipped.slice(0, LIST_LIMIT)) lines.push(`- \`${v.vm}\`: ${v.blockers?.map((b) => `[${b.code}] ${b.message}`).join('; ') ?? v.error ?? ''}`);
    lines.push(...more(skipped - Math.min(LIST_LIMIT, s.skipped.length), 'a skipped VM has no migration; `ferry plan validate` names every blocker'));
  }
  if (!isPlanEnded(s.phase)) lines.push('', 'Act on the plan with:', '```', ...planCommands(s.workflowId, namespace), '```');
  if (s.runs) lines.push('', `Continued as new ${s.runs} time(s) to keep the history bounded.`);
  return lines.join('\n');
}
