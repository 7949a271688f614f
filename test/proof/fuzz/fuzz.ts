/**
 * What the fuzzers share: the seed and run count (fixed by default, so a run is reproducible;
 * FERRY_FUZZ_SEED / FERRY_FUZZ_RUNS change them), the check that a refusal is a plain message naming
 * the field, and structured mutations of valid inputs (wrong types, missing and unknown fields,
 * prototype keys, bad names, huge and unicode strings, deep nesting) that know which field they broke.
 */
import fc from 'fast-check';

export const SEED = Number(process.env.FERRY_FUZZ_SEED ?? 20261302);
/** At least this many inputs per surface (the proof suite's promise is ≥ 1,000). */
/** 1,000 inputs per surface; 200 in the short form (`FERRY_PROOF_SHORT=1`). */
export const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? (process.env.FERRY_PROOF_SHORT === '1' ? 200 : 1000));

/** fast-check parameters for one surface; prints the seed so a failure can be replayed. */
export function params(surface: string, runs = RUNS): fc.Parameters<unknown> {
  console.log(`fuzz ${surface}: seed ${SEED}, ${runs} runs (FERRY_FUZZ_SEED=${SEED} FERRY_FUZZ_RUNS=${runs} to replay)`);
  return {
    seed: SEED,
    numRuns: runs,
    endOnFailure: true,
    // The counterexample can hold megabytes of generated text: report the property's own message, cut short.
    reporter: (out) => {
      if (!out.failed) return;
      const why = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
      throw new Error(`${surface}: failed after ${out.numRuns} inputs (seed ${out.seed}, path ${out.counterexamplePath}): ${why.length > 3000 ? `${why.slice(0, 3000)}…` : why}`);
    },
  };
}

/** A refusal line is read by a person: it may quote what they wrote, but not a whole megabyte of it. */
const LINE_MAX = 600;

/** What must never show in a refusal: a stack, a JavaScript error leaking through, a stringified object. */
const LEAKS: [RegExp, string][] = [
  [/^\s+at\s/m, 'a stack trace line'],
  [/\b(TypeError|RangeError|ReferenceError|SyntaxError|InternalError)\b/, 'a JavaScript error name'],
  [/Cannot read propert|is not a function|is not iterable|undefined is not|Maximum call stack/i, 'a JavaScript error message'],
  [/\[object Object\]/, 'a stringified object'],
];

/** Problems with a refusal's text (empty: it is a plain message). */
export function plainProblems(text: string): string[] {
  const problems = LEAKS.filter(([re]) => re.test(text)).map(([, what]) => `contains ${what}`);
  const long = text.split('\n').find((l) => l.length > LINE_MAX);
  if (long) problems.push(`a line of ${long.length} characters (at most ${LINE_MAX}): ${long.slice(0, 120)}…`);
  if (!text.trim()) problems.push('is empty');
  return problems;
}

/** Whether `line` (after `prefix`) starts with the field `path` as a whole word and says something about it. */
export function namesField(line: string, path: string, prefix = ''): boolean {
  if (!line.startsWith(prefix + path)) return false;
  const rest = line.slice(prefix.length + path.length);
  return /^[\s:(.[]/.test(rest) && rest.replace(/^[\s:]+/, '').length >= 8;
}

// ---- values ------------------------------------------------------------------------------------

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'];

/** A key no schema knows: random, a prototype key, unicode or huge. */
export const unknownKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTO_KEYS),
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => `x${s}`),
  fc.constantFrom('naem', 'Name', 'sourceCluster', 'option', 'ünïcödé', '🚀', ''),
  fc.constant('k'.repeat(5000)),
);

/** Nested `[[[…]]]` or `{"a":{"a":…}}`, as deep as `depth`. */
export function deep(depth: number, asObject: boolean): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
}

/** Anything that is not a string. */
export const notString: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.integer({ min: 50, max: 3000 }).map((d) => deep(d, d % 2 === 0)),
);

/** Anything that is not a number. */
export const notNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map(String), // a number as a string
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.constant([1]),
  fc.constant({ value: 1 }),
);

/** Not a JSON object: everything else, including lists. */
export const notObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.constant('{"cluster":"source"}'),
);

const huge = fc.integer({ min: 1000, max: 200_000 }).map((n) => 'a'.repeat(n));
const unicode = fc.constantFrom('wéb-01', 'ｗｅｂ', 'web\u200b01', 'web-01\n', 'web 01', '🚀', 'web\u000001', 'ǅ', 'İ');

/** Strings that are not DNS-1123 labels (a namespace). */
export const badLabel: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '-demo', 'demo-', 'Demo', 'de_mo', 'de.mo', 'de mo', ' demo', '.', '-', 'a/b', 'demo!'),
  fc.integer({ min: 64, max: 300 }).map((n) => 'd'.repeat(n)),
  huge,
  unicode,
);

/** Strings that are not VM names (DNS-1123 subdomains of at most 63). */
export const badVmName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '-web', 'web-', 'Web-01', 'web_01', 'web 01', '.web', 'web.', 'a/b', 'web:01'),
  fc.integer({ min: 64, max: 300 }).map((n) => 'w'.repeat(n)),
  huge,
  unicode,
);

/** Strings that are not kubeconfig context names. */
export const badCluster: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' source', 'source ', 'sou rce', '-source', 'source-', '_x', 'x_', 'a\tb', 'src!', '{source}'),
  fc.integer({ min: 254, max: 600 }).map((n) => 'c'.repeat(n)),
  huge,
  unicode,
);

/** Values that are not durations at all (wrong type or not a duration string). */
export const notDuration: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('', 'soon', '5 minutes', '1y', '-5s', '5S', 'NaN', 'Infinity', '1e3', '0x10', '5m5', 'm5', '5mm', '1h-30m', '٥m'),
  fc.constantFrom(true, false, null, [], ['5m'], { m: 5 }),
  fc.integer({ min: -1e9, max: -1 }),
  huge,
);

/** A duration below `min` or above `max` (milliseconds), as a number or a string. */
export const outOfRange = (range: { min: number; max: number }): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.integer({ min: 0, max: range.min - 1 }),
    fc.integer({ min: 0, max: range.min - 1 }).map((n) => `${n}ms`),
    fc.integer({ min: range.max + 1, max: range.max * 1000 }),
    fc.integer({ min: Math.ceil(range.max / 1000) + 1, max: 1e9 }).map((n) => `${n}s`),
    fc.constantFrom('0s', '0', '99999999999999999999999d'),
  );

/** A valid duration in `range`, as milliseconds or a string. */
export const inRange = (range: { min: number; max: number }): fc.Arbitrary<number | string> =>
  fc.oneof(
    fc.integer({ min: range.min, max: range.max }),
    fc.integer({ min: Math.ceil(range.min / 1000), max: Math.floor(range.max / 1000) }).map((n) => `${n}s`),
    fc.integer({ min: range.min, max: range.max }).map(String),
  );

export const validLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
export const validVmName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/);
export const validCluster = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.@:/]{0,20}[A-Za-z0-9])?$/);

// ---- structured mutation -----------------------------------------------------------------------

export type Path = (string | number)[];

/** How a field of a schema can be broken, and the path a refusal must name. */
export interface FieldRule {
  path: Path;
  required: boolean;
  /** Values that make the field invalid. */
  bad: fc.Arbitrary<unknown>;
  /** A strict object: an unknown key in it is refused (named by this path, or `input` at the root). */
  strict?: boolean;
  /** The path a refusal names, when not the field's own (rendered). */
  named?: string;
}

export interface Mutant {
  value: unknown;
  /** Each mutation's field, as a refusal must name it (e.g. `source.name`, `vms[0]`). */
  fields: string[];
  /** What was done, for the failure report. */
  what: string[];
}

export const render = (path: Path, root = 'input'): string => (path.length ? path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${p}`)).join('') : root);

const clone = <T>(v: T): T => structuredClone(v);

function parentOf(root: Record<string, unknown>, path: Path, create: boolean): Record<string | number, unknown> | undefined {
  let cur: unknown = root;
  for (const key of path.slice(0, -1)) {
    const o = cur as Record<string | number, unknown>;
    if (o[key] === undefined && create) o[key] = {};
    cur = o[key];
    if (typeof cur !== 'object' || cur === null) return undefined;
  }
  return cur as Record<string | number, unknown>;
}

/** An own property even for `__proto__` (an assignment would set the prototype instead). */
export function defineOwn(o: object, key: string | number, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

type Mutation = (v: Record<string, unknown>) => { field: string; what: string } | undefined;

/**
 * One to three mutations of a valid value, each breaking one field (a bad value, a required field
 * removed, an unknown key in a strict object); mutations that do not apply to the value (a parent
 * missing) are skipped, and at least one applies.
 */
export function mutants(
  valid: fc.Arbitrary<Record<string, unknown>>,
  rules: FieldRule[],
  root = 'input',
  /** What an unknown key holds (Forklift ignores zero values, as Go's omitempty does, so its fuzzer passes non-zero ones). */
  extraValue: fc.Arbitrary<unknown> = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant({})),
): fc.Arbitrary<Mutant> {
  const fields = rules.filter((r) => r.path.length > 0);
  const badValue = fc.constantFrom(...fields).chain((r) => r.bad.map((bad) => ({ r, bad })));
  const setBad = badValue.map(({ r, bad }): Mutation => (v) => {
    const parent = parentOf(v, r.path, true);
    if (!parent) return undefined;
    defineOwn(parent, r.path.at(-1)!, bad);
    return { field: r.named ?? render(r.path, root), what: `${render(r.path, root)} = ${preview(bad)}` };
  });
  const remove = fc.constantFrom(...fields.filter((r) => r.required)).map((r): Mutation => (v) => {
    const parent = parentOf(v, r.path, false);
    if (!parent || !(r.path.at(-1)! in parent)) return undefined;
    delete parent[r.path.at(-1)!];
    return { field: r.named ?? render(r.path, root), what: `removed ${render(r.path, root)}` };
  });
  const extraKey = fc.tuple(fc.constantFrom(...rules.filter((r) => r.strict)), unknownKey, extraValue).map(([r, key, val]): Mutation => (v) => {
    const target = r.path.length ? parentOf(v, [...r.path, '*'], false) : v;
    if (!target || Object.hasOwn(target, key)) return undefined;
    defineOwn(target, key, val);
    return { field: r.named ?? render(r.path, root), what: `unknown key ${preview(key)} in ${render(r.path, root)}` };
  });
  const one = fc.oneof({ weight: 6, arbitrary: setBad }, { weight: 2, arbitrary: remove }, { weight: 2, arbitrary: extraKey });
  return fc.tuple(valid, fc.array(one, { minLength: 1, maxLength: 3 })).map(([base, ms]) => {
    const value = clone(base);
    const done = ms.map((m) => m(value)).filter((d) => d !== undefined);
    // None applied (every parent missing): an unknown key at the root always does.
    if (!done.length) {
      defineOwn(value, '__proto__', { polluted: true });
      done.push({ field: root, what: 'unknown key "__proto__" at the root' });
    }
    return { value, fields: [...new Set(done.map((d) => d.field))], what: done.map((d) => d.what) };
  });
}

export function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 60)}…(${s.length} chars)` : s;
}

/** A counter of inputs tried, to assert the promised count ran. */
export class Count {
  n = 0;
  add(): void {
    this.n++;
  }
}
