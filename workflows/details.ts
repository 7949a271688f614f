/**
 * What the Temporal Web UI shows for a migration: a one-line static summary, and current details
 * (Markdown) rebuilt from the status at each change: the step list with where it stands, progress,
 * and for a stall the diagnosis and the exact commands to retry, extend or cancel.
 */
import type { Migration, MigrationStatus } from './contract.js';
import { formatDuration } from './duration.js';
import { cancelUpdate, extendUpdate, retryUpdate } from './messages.js';
import { DEADLINES, isTerminal, PHASE, STEPS, stepIndex } from './phases.js';
import { percentCopied, progressText } from './progress.js';

export { percentCopied } from './progress.js';

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

const pct = (s: MigrationStatus) => percentCopied(s.observed?.progress);

/** The Temporal CLI commands that decide a stalled migration (`--namespace` only outside `default`). */
export function commands(workflowId: string, namespace = 'default'): string[] {
  const ns = namespace === 'default' ? '' : ` --namespace ${namespace}`;
  return [
    `temporal workflow update execute -w '${workflowId}' --name ${retryUpdate.name}${ns}`,
    `temporal workflow update execute -w '${workflowId}' --name ${extendUpdate.name} --input '{"by":"10m"}'${ns}`,
    `temporal workflow update execute -w '${workflowId}' --name ${cancelUpdate.name} --input '{"reason":"..."}'${ns}`,
  ];
}

const clock = (iso: string) => `${iso.slice(11, 19)} UTC`;
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

/**
 * Markdown for the Web UI's "Current details". The pane is cut to its content height, so what an
 * operator needs most (the headline, the facts, a stall's diagnosis and commands) comes first.
 */
export function currentDetails(s: MigrationStatus, namespace = 'default'): string {
  const current = s.stall ? stepIndex(s.stall.phase) : stepIndex(s.phase);
  const done = s.phase === 'Succeeded' ? STEPS.length : current;
  const ended = isTerminal(s.phase);
  const attempt = s.attempt > 1 ? ` (attempt ${s.attempt})` : '';
  const lines: string[] = [];
  const mark = PHASE[s.phase].mark;
  lines.push(s.stall ? `### ${mark} Stalled in ${s.stall.phase}${attempt}: ${DEADLINES[s.stall.deadline].headline}` : `### ${mark} ${s.phase}${attempt}`);
  if (s.phase === 'Succeeded') {
    const took = Date.parse(s.phaseSince) - Date.parse(s.history[0]?.at ?? s.phaseSince);
    lines.push(`Succeeded in ${formatDuration(took)} after ${s.attempt} attempt(s); the VM now runs on ${code(`${s.destination.cluster}/${s.destination.namespace}`)}.`);
  }
  const facts: string[] = [];
  facts.push(`**Since** ${clock(s.stall?.since ?? s.phaseSince)}`);
  if (s.deadline && !ended) facts.push(`**Deadline** ${clock(s.deadline)}`);
  if (s.migrationId) facts.push(`**Migration ID:** ${s.migrationId}`);
  const progress = s.observed?.progress;
  if (progress && !ended) facts.push(`**Copied** ${progressText(progress)}`);
  else if (s.phase === 'Synchronizing' && s.observed?.progressUnavailable) facts.push(`**Progress** unavailable: ${s.observed.progressUnavailable}`);
  lines.push('', ...facts.map((f) => `- ${f}`));
  if (s.stall) {
    lines.push(
      '',
      `**Diagnosis:** ${s.stall.diagnosis}`,
      '',
      'Decide with one of (retry after fixing the cause; extend to wait longer; cancel to roll back, the source VM keeps running):',
      '```',
      ...commands(s.workflowId, namespace),
      '```',
    );
  }
  if (s.error) lines.push('', `**Error:** ${code(s.error)}`);
  lines.push('');
  STEPS.forEach((step, i) => {
    const mark = i < done ? '✅' : i === current && !ended ? (s.stall ? '⛔' : '▶️') : '⬜';
    let line = `${mark} ${step.title}`;
    if (i === current && !ended) line += s.stall ? ': stalled, waiting for a decision' : `: ${step.doing}`;
    if (step.phase === 'Synchronizing' && pct(s) !== undefined) line += ` (${pct(s)}% copied)`;
    lines.push(`${line}  `);
  });
  const o = s.observed;
  const more: string[] = [];
  if (o?.sourceVMIM || o?.targetVMIM) more.push(`VMIM source ${code(o.sourceVMIM ?? '-')}, target ${code(o.targetVMIM ?? '-')}`);
  if (o?.syncAddress) more.push(`Sync address ${code(o.syncAddress)}`);
  // While stalled the diagnosis already says what the blocked condition says.
  if (o?.blocked && !s.stall) more.push(`Blocked (${o.blockedSide}): ${code(o.blocked)}`);
  if (more.length) lines.push('', ...more.map((m) => `- ${m}`));
  return lines.join('\n');
}
