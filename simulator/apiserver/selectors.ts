/**
 * Label and field selectors with the syntax kube-apiserver accepts
 * (`a=b,c!=d,e in (x,y),f notin (z),g,!h`; fields by dotted path).
 */
import { getPath } from '../paths.js';
import { badRequest } from './errors.js';
import type { KubeObject } from './object.js';

type Requirement = { key: string; op: 'eq' | 'neq'; value: string } | { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | 'notexists' };

export type Selector = (obj: KubeObject) => boolean;

export const everything: Selector = () => true;

/** Splits on commas that are not inside a parenthesised value set. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

function parseRequirement(term: string, what: string): Requirement {
  let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) };
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]! };
  m = /^!\s*([^=!\s]+)$/.exec(term);
  if (m) return { key: m[1]!, op: 'notexists' };
  if (/^[^=!\s()]+$/.test(term)) return { key: term, op: 'exists' };
  throw badRequest(`unable to parse requirement: invalid ${what} selector term "${term}"`);
}

function matches(r: Requirement, value: string | undefined): boolean {
  switch (r.op) {
    case 'eq':
      return value === r.value;
    case 'neq':
      return value !== r.value;
    case 'in':
      return value !== undefined && r.values.includes(value);
    case 'notin':
      return value === undefined || !r.values.includes(value);
    case 'exists':
      return value !== undefined;
    case 'notexists':
      return value === undefined;
  }
}

export function labelSelector(s: string | null | undefined): Selector {
  if (!s) return everything;
  const reqs = splitTerms(s).map((t) => parseRequirement(t, 'label'));
  return (obj) => reqs.every((r) => matches(r, obj.metadata.labels?.[r.key]));
}

function fieldValue(obj: KubeObject, path: string): string | undefined {
  const cur = getPath(obj, path);
  if (cur === undefined || cur === null) return undefined;
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

export function fieldSelector(s: string | null | undefined): Selector {
  if (!s) return everything;
  const reqs = splitTerms(s).map((t) => {
    const r = parseRequirement(t, 'field');
    if (r.op !== 'eq' && r.op !== 'neq') throw badRequest(`field selectors support only =, == and !=: "${t}"`);
    return r;
  });
  // A field that is absent compares as the empty string, as kube-apiserver does for `spec.nodeName=`.
  return (obj) => reqs.every((r) => matches(r, fieldValue(obj, r.key) ?? ''));
}

export function both(a: Selector, b: Selector): Selector {
  if (a === everything) return b;
  if (b === everything) return a;
  return (o) => a(o) && b(o);
}
