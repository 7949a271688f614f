/**
 * The argument of an operator control (retry, cancel, extend; a plan's retryStalled and cancelPlan),
 * checked before the control is taken. It arrives from anyone who can reach Temporal
 * (`temporal workflow update execute --input '<json>'`), so it may be any JSON value: a handler that
 * trusted its shape would throw a TypeError inside the workflow (for a signal, a workflow task that
 * fails on every retry), and an extension past the last representable date would make the
 * deadline an invalid time. A refusal names the field and what to send instead.
 */
import { formatDuration, formatLimit, parseDuration } from './duration.js';

/** Longest extension at once: the longest decision window; a longer wait is extended again. */
export const EXTEND_MAX_MS = 7 * 24 * 3_600_000;
/** A reason is recorded in the history and shown in status and results: a sentence, not a document. */
export const REASON_MAX = 1000;

export type ControlName = 'retry' | 'cancel' | 'extend' | 'retryStalled' | 'cancelPlan';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const shapeOf = (control: ControlName) => (control === 'extend' ? '{"by": "10m", "reason": "..."}' : '{"reason": "..."}');

/** Why the request is refused (one line naming the field), or undefined when it is well formed. */
export function refuseRequest(control: ControlName, req: unknown): string | undefined {
  const refused = `${control} refused`;
  // No argument at all is fine for the controls that need none (the Temporal CLI without --input).
  if ((req === undefined || req === null) && control !== 'extend') return undefined;
  if (!isPlainObject(req)) return `${refused}: the argument must be an object: ${shapeOf(control)} (got ${describe(req)})`;
  const known = control === 'extend' ? ['by', 'reason'] : ['reason'];
  const unknown = Object.keys(req).filter((k) => !known.includes(k));
  if (unknown.length) return `${refused}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: send ${shapeOf(control)}`;
  const reason = req.reason;
  if (reason !== undefined && typeof reason !== 'string') return `${refused}: "reason" must be text (got ${describe(reason)})`;
  if (typeof reason === 'string' && reason.length > REASON_MAX) return `${refused}: "reason" must be at most ${REASON_MAX} characters (got ${reason.length})`;
  if (control === 'extend') {
    const by = extendBy(req);
    if (by === undefined || by <= 0) return `${refused}: "by" must be a positive duration, e.g. {"by":"10m"}`;
    if (by > EXTEND_MAX_MS) return `${refused}: "by" must be at most ${formatLimit(EXTEND_MAX_MS)} (got ${formatDuration(by)}); extend again later for a longer wait`;
  }
  return undefined;
}

/** The extension in milliseconds; undefined unless `by` is a duration (milliseconds or "10m"). */
export function extendBy(req: unknown): number | undefined {
  const by = isPlainObject(req) ? req.by : undefined;
  return typeof by === 'number' || typeof by === 'string' ? parseDuration(by) : undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'string' ? 'a string' : typeof v;
}
