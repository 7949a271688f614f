/**
 * What the Temporal Web UI shows for a migration: a one-line static summary, and current details
 * (Markdown) rebuilt from the status at each change: the step list with where it stands, progress,
 * and for a stall the diagnosis and the exact commands to retry, extend or cancel.
 */
import type { Migration, MigrationStatus } from './contract.js';
import { formatDuration } from './duration.js';
import { isTerminal, STEPS, stepIndex } from './phases.js';

export function staticSummary(m: Migration): string {
  return `Live-migrate VM ${m.source.namespace}/${m.source.name}: ${m.source.cluster} → ${m.destination.cluster}/${m.destination.namespace}`;
}

export function staticDetails(m: Migration): string {
  return [
    `**VM** \`${m.source.namespace}/${m.source.name}\``,
    `**From** cluster \`${m.source.cluster}\`, namespace \`${m.source.namespace}\``,
    `**To** cluster \`${m.destination.cluster}\`, namespace \`${m.destination.namespace}\``,
    `**Stall fallback** ${m.options.stallFallback} after ${formatDuration(m.options.decisionWindow)}`,
  ].join('  \n');
}

const pct = (s: MigrationStatus) => {
  const p = s.observed?.progress;
  return p && p.totalBytes > 0 ? Math.min(100, Math.floor((100 * p.processedBytes) / p.totalBytes)) : undefined;
};

export function commands(workflowId: string): string[] {
  return [
    `temporal workflow update execute -w '${workflowId}' --name retry`,
    `temporal workflow update execute -w '${workflowId}' --name extend --input '{"by":"10m"}'`,
    `temporal workflow update execute -w '${workflowId}' --name cancel --input '{"reason":"..."}'`,
  ];
}

export function currentDetails(s: MigrationStatus): string {
  const current = s.stall ? stepIndex(s.stall.phase) : stepIndex(s.phase);
  const done = s.phase === 'Succeeded' ? STEPS.length : current;
  const lines: string[] = [];
  lines.push(`### ${s.phase}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`);
  if (s.stall) {
    lines.push(`**Stalled in ${s.stall.phase}** since ${s.stall.since}: ${s.stall.diagnosis}`);
    lines.push('', 'Decide with one of:', '```', ...commands(s.workflowId), '```');
  }
  if (s.error) lines.push(`**Error:** ${s.error}`);
  lines.push('');
  STEPS.forEach((step, i) => {
    const mark = i < done ? '✅' : i === current && !isTerminal(s.phase) ? (s.stall ? '⛔' : '▶️') : '⬜';
    let line = `${mark} ${step.title}`;
    if (i === current && !isTerminal(s.phase)) line += `: ${step.doing}`;
    if (step.phase === 'Synchronizing' && pct(s) !== undefined) line += ` (${pct(s)}% copied)`;
    lines.push(line + '  ');
  });
  const o = s.observed;
  if (o && (o.sourceVMIM || o.targetVMIM)) {
    lines.push('', `VMIM source: \`${o.sourceVMIM ?? '-'}\`, target: \`${o.targetVMIM ?? '-'}\`${o.syncAddress ? `, sync address \`${o.syncAddress}\`` : ''}`);
  }
  if (o?.blocked) lines.push(`Blocked (${o.blockedSide}): ${o.blocked}`);
  if (s.deadline && !isTerminal(s.phase)) lines.push(`Deadline: ${s.deadline}`);
  if (s.migrationId) lines.push(`Migration ID: \`${s.migrationId}\``);
  return lines.join('\n');
}
