/**
 * What `ferry watch` (and `migrate --wait`) show, as pure functions of the migrations' status answers
 * and the time: a frame redrawn in place on a terminal, one plain line per change otherwise, and the
 * exit code a finished migration stands for. No I/O here, so it is unit-tested directly.
 */
import type { MigrationResult, MigrationStatus } from '../workflows/contract.js';
import { etaText, percentCopied, ratesText } from '../workflows/progress.js';
import { formatDuration } from '../workflows/duration.js';
import { isTerminal, PHASE, type Phase } from '../workflows/phases.js';
import { EXIT, type ExitCode } from './cli.js';
import { bytes } from './format.js';

/** How a migration ended, as the exit code of `migrate --wait` / `watch` and one line of text. */
export interface Ending {
  code: ExitCode;
  outcome: 'Succeeded' | 'RolledBack' | 'Failed';
  text: string;
}

/** One watched migration: its workflow, the last status it answered, and how it ended once it has. */
export interface Watched {
  workflowId: string;
  status?: MigrationStatus;
  /** Why the last status query failed (shown instead of a stale status). */
  error?: string;
  end?: Ending;
}

/** The workflow's result, or its failure with the phase its status showed last. */
export type Settled = { ok: true; result: MigrationResult } | { ok: false; message: string; finalPhase?: string };

export function ending(s: Settled): Ending {
  if (s.ok) {
    const r = s.result;
    if (r.outcome === 'Succeeded') {
      return { code: EXIT.ok, outcome: 'Succeeded', text: `Succeeded after ${r.attempts} attempt(s) in ${(r.durationMs / 1000).toFixed(1)} s (migration ID ${r.migrationId})` };
    }
    return { code: EXIT.rolledBack, outcome: 'RolledBack', text: `RolledBack: ${r.reason ?? 'no reason given'}; the source VM keeps running` };
  }
  // A Temporal cancellation (or a failure after the rollback) ends the workflow as cancelled/failed,
  // but the status shows RolledBack: the source VM runs, so it counts as rolled back.
  if (s.finalPhase === 'RolledBack') return { code: EXIT.rolledBack, outcome: 'RolledBack', text: `RolledBack: ${s.message}` };
  return { code: EXIT.failed, outcome: 'Failed', text: `Failed: ${s.message}` };
}

/** The exit code of several endings: 1 if any failed, else 3 if any rolled back, else 0. */
export function overallCode(endings: readonly Ending[]): ExitCode {
  if (endings.some((e) => e.code === EXIT.failed)) return EXIT.failed;
  if (endings.some((e) => e.code === EXIT.rolledBack)) return EXIT.rolledBack;
  return EXIT.ok;
}

/** Whole percent of the state transferred, from the status's observed progress; undefined when unknown. */
export function percent(s: MigrationStatus | undefined): number | undefined {
  return percentCopied(s?.observed?.progress);
}

/** A progress bar of `width` cells. */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

/** A duration for people: whole seconds ("0s", "12s", "4m12s"). */
const human = (ms: number) => (ms < 1000 ? '0s' : formatDuration(Math.floor(ms / 1000) * 1000));

/** "4m12s left", or "passed 5s ago". */
export function timeLeft(deadline: string, now: Date): string {
  const ms = Date.parse(deadline) - now.getTime();
  if (!Number.isFinite(ms)) return deadline;
  return ms >= 0 ? `${human(ms)} left` : `passed ${human(-ms)} ago`;
}

/** How long since an ISO time, e.g. "1m5s". */
export function since(iso: string, now: Date): string {
  const ms = now.getTime() - Date.parse(iso);
  return Number.isFinite(ms) ? human(Math.max(0, ms)) : '?';
}

// ---- plain lines (stdout is not a terminal) -------------------------------------------------------

/** The part of a plain line that changes: a new line is printed only when this differs. */
export function changeKey(w: Watched): string {
  const s = w.status;
  const pct = percent(s);
  const parts = [w.workflowId, s?.phase ?? 'Unknown', pct === undefined ? '-' : `${pct}%`];
  if (s && s.attempt > 1) parts.push(`attempt ${s.attempt}`);
  const p = s?.observed?.progress;
  if (p && s?.phase === 'Synchronizing')
    parts.push(`${bytes(p.processedBytes)} / ${bytes(p.totalBytes)}`, ...[ratesText(p), etaText(p)].filter((x): x is string => x !== undefined));
  else if (s?.phase === 'Synchronizing' && s.observed?.progressUnavailable) parts.push(`progress unavailable: ${s.observed.progressUnavailable}`);
  if (s?.phase === 'Stalled' && s.stall) parts.push(`stalled in ${s.stall.phase} (${s.stall.deadline} deadline passed): ${s.stall.diagnosis}`);
  if (w.error && !w.end) parts.push(`status unavailable: ${w.error}`);
  return parts.join('  ');
}

/** One line for a log: timestamp, workflow ID, phase, progress, and what else changed. No escapes. */
export function changeLine(w: Watched, now: Date): string {
  return `${now.toISOString()}  ${changeKey(w)}`;
}

// ---- the terminal frame -------------------------------------------------------------------------

type Color = 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold' | 'boldRed';
const SGR: Record<Color, string> = { red: '31', green: '32', yellow: '33', cyan: '36', dim: '2', bold: '1', boldRed: '1;31' };
/** A piece of a line, optionally coloured. */
type Seg = string | [string, Color];

export interface Style {
  /** ANSI colours (only on a terminal, and not with NO_COLOR). */
  color: boolean;
  /** Terminal width: lines are cut (or wrapped) to it so redrawing in place stays exact. */
  width: number;
}

/** Segments joined, cut to `width` characters, coloured when asked. */
function line(segs: Seg[], style: Style): string {
  let room = Math.max(1, style.width - 1);
  let out = '';
  for (const seg of segs) {
    if (room <= 0) break;
    const [text, color] = typeof seg === 'string' ? [seg, undefined] : seg;
    const cut = text.length > room ? `${text.slice(0, Math.max(0, room - 1))}…` : text;
    room -= cut.length;
    out += style.color && color ? `\x1b[${SGR[color]}m${cut}\x1b[0m` : cut;
  }
  return out;
}

/** Words wrapped to lines of at most `width` characters, each starting with `indent`. */
export function wrap(text: string, width: number, indent: string): string[] {
  const room = Math.max(10, width - 1 - indent.length);
  const out: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + word.length > room) {
      out.push(indent + cur);
      cur = '';
    }
    cur = cur ? `${cur} ${word}` : word;
    while (cur.length > room) {
      out.push(indent + cur.slice(0, room));
      cur = cur.slice(room);
    }
  }
  if (cur) out.push(indent + cur);
  return out;
}

function phaseColor(phase: string, stalled: boolean): Color {
  if (stalled) return 'boldRed';
  return phase in PHASE ? PHASE[phase as Phase].color : 'cyan';
}

const BAR_WIDTH = 24;

/** The lines for one migration. */
export function migrationLines(w: Watched, now: Date, style: Style): string[] {
  const s = w.status;
  const phase = w.end && (!s || !isTerminal(s.phase)) ? w.end.outcome : (s?.phase ?? 'Unknown');
  const stalled = s?.phase === 'Stalled' && !w.end;
  const head: Seg[] = [[w.workflowId, 'bold'], '  ', s?.vm ?? '', '  ', [stalled ? 'STALLED' : phase, phaseColor(phase, stalled)]];
  if (s && s.attempt > 1) head.push(`  attempt ${s.attempt}`);
  const lines = [line(head, style)];

  if (s) {
    const p = s.observed?.progress;
    const pct = percent(s);
    const detail: Seg[] = ['  '];
    if (p && pct !== undefined) {
      detail.push(
        [bar(p.processedBytes / p.totalBytes, BAR_WIDTH), stalled ? 'red' : w.end?.code === EXIT.ok || pct === 100 ? 'green' : 'cyan'],
        ` ${String(pct).padStart(3)}%  ${bytes(p.processedBytes)} / ${bytes(p.totalBytes)}`,
      );
      for (const more of [ratesText(p), etaText(p)]) if (more && !w.end) detail.push(`  ${more}`);
      detail.push('  ');
    } else if (!w.end && !stalled) {
      detail.push([bar(0, BAR_WIDTH), 'dim'], '    -  ');
    }
    if (!w.end && !p && s.phase === 'Synchronizing' && s.observed?.progressUnavailable)
      lines.push(line(['  ', [`progress unavailable: ${s.observed.progressUnavailable}`, 'dim']], style));
    if (!w.end) {
      detail.push(stalled ? ['stalled', 'red'] : `in ${s.phase}`, ` for ${since(s.phaseSince, now)}`);
      if (s.deadline) detail.push(stalled ? '  decision window ' : '  deadline ', [timeLeft(s.deadline, now), Date.parse(s.deadline) < now.getTime() ? 'red' : 'dim']);
    }
    if (detail.length > 1) lines.push(line(detail, style));
  }
  if (stalled && s?.stall) {
    const head = `the ${s.stall.deadline} deadline passed in ${s.stall.phase}:`;
    for (const l of [...wrap(head, style.width, '  '), ...wrap(s.stall.diagnosis, style.width, '    ')]) lines.push(line([[l, 'red']], style));
    lines.push(line([['  decide: ', 'dim'], `ferry retry ${w.workflowId}`, ['  (or extend --by 10m, cancel)', 'dim']], style));
  }
  if (w.end) lines.push(line(['  ', [w.end.text, phaseColor(w.end.outcome, false)]], style));
  else if (w.error) lines.push(line(['  ', [`status unavailable: ${w.error}`, 'yellow']], style));
  return lines;
}

/** The whole frame: a header, then each migration. */
export function frame(items: readonly Watched[], now: Date, style: Style): string[] {
  const ended = items.filter((w) => w.end).length;
  const stalled = items.filter((w) => !w.end && w.status?.phase === 'Stalled').length;
  const head: Seg[] = [
    ['ferry watch', 'bold'],
    `  ${items.length} migration(s): ${items.length - ended} running`,
    ...(stalled ? (['  ', [`${stalled} stalled`, 'boldRed']] as Seg[]) : []),
    ...(ended ? [`  ${ended} ended`] : []),
    `  ${now.toISOString().slice(11, 19)}Z`,
    ['  (Ctrl-C to stop watching)', 'dim'],
  ];
  return [line(head, style), ...items.flatMap((w) => ['', ...migrationLines(w, now, style)])];
}

/** The escape sequence that moves back over the previous frame of `previousLines` lines and clears it. */
export function rewind(previousLines: number): string {
  return previousLines > 0 ? `\x1b[${previousLines}A\r\x1b[0J` : '';
}
