/** Durations in inputs: milliseconds as a number, or a string such as "250ms", "30s", "5m", "1h30m", "7d". */
import { z } from 'zod';
import { quote } from './quote.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== s) return undefined;
  return parts.reduce((acc, p) => acc + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', rest || (!h && !m) ? `${rest}s` : ''].join('');
}

/** A limit in the largest unit that states it exactly ("100ms", "1s", "24h", "7d"): a form the input accepts. */
export function formatLimit(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    // A day reads better as 24h; from two days on, in days.
    if (ms >= (unit === 'd' ? 2 : 1) * UNIT_MS[unit]! && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  }
  return `${ms}ms`;
}

/** The smallest and largest value a duration option admits, in milliseconds. */
export interface DurationRange {
  min: number;
  max: number;
}

const HOW = 'use milliseconds or a string like "30s", "5m", "1h", "7d"';

/** What the input said, for an error: a number (or a bare numeric string) is milliseconds. */
const given = (v: string | number) => {
  const shown = typeof v === 'number' || /^\d+(\.\d+)?$/.test(v.trim()) ? `${String(v).trim()}ms` : v.trim();
  return shown.length > 60 ? `${shown.slice(0, 60)}… (${shown.length} characters)` : shown;
};

/** A zod duration that accepts both forms and yields milliseconds; with a range, values outside it are refused, naming it. */
export const duration = (what: string, range?: DurationRange) =>
  z.union([z.number(), z.string()], { error: (iss) => `${what}: must be a duration (${HOW}; got ${iss.input === null ? 'null' : typeof iss.input})` }).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `${what}: ${quote(String(v))} is not a duration; ${HOW}` });
      return z.NEVER;
    }
    if (range && (ms < range.min || ms > range.max)) {
      ctx.addIssue({ code: 'custom', message: `${what}: must be between ${formatLimit(range.min)} and ${formatLimit(range.max)} (got ${given(v)})` });
      return z.NEVER;
    }
    return ms;
  });
