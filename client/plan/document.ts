/**
 * What the two plan formats share: both turn parsed YAML documents into one PlanInput, and both must
 * tell the loader where each PlanInput field came from in the file, so that a problem found later by
 * the plan schema is reported against the field the person wrote, not against ferry's internal shape.
 */
import type { PlanInput } from '../../workflows/plan-contract.js';
import { quote } from '../../workflows/quote.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object field that should be an object, or {} (what is missing is reported elsewhere). */
export const at = (o: unknown, key: string): Obj => (isObj(o) && isObj(o[key]) ? (o[key] as Obj) : {});

/** Where conversion problems go: errors make the plan unusable, warnings are shown. */
export interface Findings {
  error(line: string): void;
  warning(line: string): void;
}

/** One YAML document of the file; `index` counts from 1, as people do. */
export interface Doc {
  index: number;
  value: Obj;
}

/** The result of mapping one format onto PlanInput; `errors` non-empty means the plan is unusable. */
export interface Conversion {
  plan: PlanInput;
  warnings: string[];
  errors: string[];
  /** The file's field for a PlanInput path, e.g. ['vms', 2, 'name'] → 'spec.vms[2].name'. */
  fieldPath(path: readonly PropertyKey[]): string;
}

/** `a.b[2].c`, the way kubectl and people write field paths. */
export function renderPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

/** Go's `omitempty` view: a zero value is the same as an absent field, so it asks for nothing. */
export function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObj(v)) return Object.values(v).every(isZero);
  return false;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** How a document is named in messages: `Plan/demo-wave-1`. */
export function docName(d: Obj): string {
  const meta = isObj(d.metadata) ? d.metadata : {};
  return `${str(d.kind) ?? 'document'}/${str(meta.name) ?? '(no metadata.name)'}`;
}

/** A key as a message names it: as written when it reads as a field name, else quoted (and cut short if huge). */
export const fieldName = (key: string): string => (/^[\w.-]{1,60}$/.test(key) ? key : quote(key));
