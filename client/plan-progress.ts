/**
 * What `ferry plan status|watch` show, as pure functions of the plan's status answer: a table, an
 * aggregate frame (overall bar plus one line per VM in flight) for a terminal, plain change lines
 * otherwise, and the exit code a finished plan stands for.
 */
import type { PlanResult, PlanStatus, PlanVmStatus } from '../workflows/plan-contract.js';
import { planDone } from '../workflows/plan-details.js';
import { EXIT, type ExitCode } from './cli.js';
import { bar, since, wrap, type Style } from './progress.js';
import { table } from './format.js';

/** 0 every VM migrated; 3 the plan ended with VMs skipped, rolled back or cancelled; 1 a VM (or the plan) failed. */
export function planExitCode(r: PlanResult | undefined): ExitCode {
  if (!r) return EXIT.failed;
  if (r.failed > 0) return EXIT.failed;
  if (r.outcome === 'Succeeded') return EXIT.ok;
  return EXIT.rolledBack;
}

export function countsText(s: PlanStatus): string {
  const c = s.counts;
  const parts = [`${c.Succeeded ?? 0} succeeded`];
  for (const [k, label] of [
    ['Failed', 'failed'],
    ['RolledBack', 'rolled back'],
    ['Skipped', 'skipped'],
    ['Stalled', 'stalled'],
    ['Pending', 'pending'],
  ] as const) {
    if (c[k]) parts.push(`${c[k]} ${label}`);
  }
  return parts.join(', ');
}

export function planTable(s: PlanStatus): string {
  const rows: [string, string][] = [
    ['Plan', `${s.name} (${s.workflowId})`],
    ['Phase', s.phase],
    ['From → to', `${s.source} → ${s.destination}`],
    ['Progress', `${planDone(s)}/${s.total} done: ${countsText(s)}`],
    ['In flight', `${s.inFlight} (max ${s.maxInFlight}, peak ${s.peakInFlight})`],
    ['Started', s.startedAt],
    ['Runs', `${s.runs + 1} (continued as new ${s.runs} time(s))`],
  ];
  if (s.error) rows.push(['Error', s.error]);
  const out = [table(['FIELD', 'VALUE'], rows, { header: false })];
  /** `count` VMs of this kind; the status names `vms` of them, and `rest` says where the others are. */
  const vmRows = (title: string, vms: PlanVmStatus[], what: (v: PlanVmStatus) => string, count = vms.length, rest = '') => {
    if (!count) return;
    out.push(
      '',
      `${title} (${count}${count > vms.length ? `, the first ${vms.length} listed` : ''}):`,
      table(
        ['VM', 'STATE', 'DETAIL'],
        vms.map((v) => [v.vm, v.state, what(v)]),
      ),
    );
    if (count > vms.length) out.push(`… and ${count - vms.length} more: ${rest}`);
  };
  const children = (phases: string) => `temporal workflow list --query "${s.childrenQuery} AND FerryPhase IN (${phases})"`;
  vmRows('Stalled', s.stalled, (v) => v.diagnosis ?? '');
  vmRows('Failed or rolled back', s.failed, (v) => v.error ?? '', s.failed.length + s.unlisted.failed, children("'Failed', 'RolledBack'"));
  vmRows(
    'Skipped',
    s.skipped,
    (v) => v.blockers?.map((b) => `[${b.code}] ${b.message}`).join('; ') ?? v.error ?? '',
    s.skipped.length + s.unlisted.skipped,
    'skipped VMs have no migration; `ferry plan validate` names every blocker',
  );
  vmRows(
    'In flight',
    s.active.filter((v) => v.state !== 'Stalled'),
    (v) => (v.attempt && v.attempt > 1 ? `attempt ${v.attempt}` : ''),
  );
  out.push('', `Every VM migration of the plan: temporal workflow list --query "${s.childrenQuery}"`);
  return out.join('\n');
}

const MAX_VM_LINES = 25;
const color = (style: Style, code: string, text: string) => (style.color ? `\x1b[${code}m${text}\x1b[0m` : text);
const cut = (text: string, width: number) => (text.length > width - 1 ? `${text.slice(0, Math.max(0, width - 2))}…` : text);

/** The terminal frame: header, overall bar, then one line per VM in flight (stalled first). */
export function planFrame(s: PlanStatus, now: Date, style: Style): string[] {
  const done = planDone(s);
  const lines = [
    cut(
      `${color(style, '1', `ferry plan watch ${s.name}`)}  ${s.phase}  ${s.source} → ${s.destination}  ${now.toISOString().slice(11, 19)}Z  (Ctrl-C to stop watching)`,
      style.width + 20,
    ),
    cut(`${bar(s.total ? done / s.total : 0, 30)} ${done}/${s.total} done  ${s.inFlight} in flight (max ${s.maxInFlight})`, style.width),
    cut(`  ${countsText(s)}`, style.width),
    '',
  ];
  const active = [...s.active].sort((a, b) => Number(b.state === 'Stalled') - Number(a.state === 'Stalled'));
  const w = Math.max(10, ...active.map((v) => v.vm.length));
  for (const v of active.slice(0, MAX_VM_LINES)) {
    const head = `  ${v.vm.padEnd(w)}  ${v.state.padEnd(21)} ${v.since ? since(v.since, now) : ''}${v.attempt && v.attempt > 1 ? `  attempt ${v.attempt}` : ''}`;
    if (v.state === 'Stalled') {
      lines.push(color(style, '1;31', cut(head, style.width)));
      for (const l of wrap(v.diagnosis ?? '', style.width, '      ').slice(0, 2)) lines.push(color(style, '31', l));
    } else lines.push(cut(head, style.width));
  }
  if (active.length > MAX_VM_LINES) lines.push(`  … and ${active.length - MAX_VM_LINES} more in flight`);
  if (s.stalled.length) lines.push('', `  decide: ferry plan retry ${s.name}   |   ferry plan cancel ${s.name}`);
  return lines;
}

/** Plain lines for a log: the aggregate when it changes, and each VM's change of state. */
export function planChangeLines(prev: PlanStatus | undefined, s: PlanStatus, now: Date): string[] {
  const t = now.toISOString();
  const out: string[] = [];
  const before = new Map<string, string>();
  if (prev) for (const v of [...prev.active, ...prev.stalled, ...prev.failed, ...prev.skipped]) before.set(v.vm, v.state);
  const report = (v: PlanVmStatus) => {
    if (before.get(v.vm) === v.state) return;
    const detail = v.state === 'Stalled' ? `: ${v.diagnosis ?? ''}` : v.error ? `: ${v.error}` : '';
    out.push(`${t}  ${v.vm}  ${v.state}${v.attempt && v.attempt > 1 ? ` (attempt ${v.attempt})` : ''}${detail}`);
  };
  for (const v of [...s.active, ...s.failed, ...s.skipped]) report(v);
  const aggregate = (x: PlanStatus) => `${x.phase} ${planDone(x)}/${x.total} done (${countsText(x)}), ${x.inFlight} in flight`;
  if (!prev || aggregate(prev) !== aggregate(s)) out.push(`${t}  plan ${s.name}: ${aggregate(s)}`);
  return out;
}
