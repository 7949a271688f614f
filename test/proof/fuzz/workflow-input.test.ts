/**
 * Fuzzing the workflows' inputs where the workflows check them (surfaces 1, 2c and 4): the migration
 * input and the plan input (the zod schemas and the issue lines the workflows fail with), any JSON
 * value as the argument of `temporal workflow start --input`, and the arguments of the operator
 * controls' updates and signals. Every invalid input is refused with plain lines naming the field;
 * the valid inputs generated alongside are accepted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { describeInputIssues, migrationInputSchema } from '../../../workflows/contract.js';
import { EXTEND_MAX_MS, extendBy, refuseRequest, type ControlName } from '../../../workflows/control-request.js';
import { planInputSchema } from '../../../workflows/plan-contract.js';
import { recordRun } from '../support/figures.js';
import { Count, defineOwn, inRange, mutants, namesField, params, plainProblems, preview, RUNS, SEED, type Mutant } from './fuzz.js';
import { migrationRules, planRules, validMigration, validPlan } from './inputs.js';

type Schema = typeof migrationInputSchema | typeof planInputSchema;

/** Why a refusal of `m` is not good enough (empty: it is). */
export function refusalProblems(lines: string[], m: Pick<Mutant, 'fields'>, prefix = ''): string[] {
  if (!lines.length) return ['refused with no message'];
  const problems = plainProblems(lines.join('\n'));
  // One broken field must be named; of several, a later one can hide an earlier (a parent replaced).
  const named = m.fields.filter((f) => lines.some((l) => namesField(l, f, prefix)));
  if (m.fields.length === 1 ? !named.length : !named.length) problems.push(`names none of ${m.fields.join(', ')}`);
  return problems;
}

function refusalOf(schema: Schema, value: unknown): string[] | undefined {
  const r = schema.safeParse(value);
  return r.success ? undefined : describeInputIssues(r.error);
}

function fuzzSchema(surface: string, schema: Schema, valid: fc.Arbitrary<Record<string, unknown>>, rules: typeof migrationRules): void {
  it(`${surface}: ${RUNS} structured mutations are each refused naming the field; valid inputs are accepted`, () => {
    const invalid = new Count();
    const violations: string[] = [];
    fc.assert(
      fc.property(mutants(valid, rules), (m) => {
        invalid.add();
        const lines = refusalOf(schema, m.value);
        if (!lines) throw new Error(`accepted an invalid input (${m.what.join('; ')})`);
        const problems = refusalProblems(lines, m);
        if (problems.length) throw new Error(`${problems.join('; ')} (${m.what.join('; ')}):\n${lines.join('\n')}`);
      }),
      params(`${surface} invalid`),
    );
    const accepted = new Count();
    fc.assert(
      fc.property(valid, (v) => {
        accepted.add();
        const lines = refusalOf(schema, v);
        if (lines) throw new Error(`refused a valid input ${preview(v)}:\n${lines.join('\n')}`);
      }),
      params(`${surface} valid`, Math.ceil(RUNS / 4)),
    );
    assert.ok(invalid.n >= RUNS, `${invalid.n} invalid inputs`);
    recordRun({ suite: 'fuzz', scenario: surface, outcome: 'refused', expected: 'refused', violations, faults: { inputs: invalid.n, valid: accepted.n }, seed: SEED });
  });
}

/** The fields a migration input has: every refusal line of any JSON value starts with one. */
const MIGRATION_FIELDS = /^(input|source|destination|storageClassMap|networkMap|options|plan)([.[\s:(]|$)/;

/** JSON as the Temporal CLI delivers it: parsed from text, so `__proto__` is an own key. */
const json = fc
  .oneof(
    fc.jsonValue({ maxDepth: 5 }),
    fc.record({ source: fc.jsonValue({ maxDepth: 3 }), destination: fc.jsonValue({ maxDepth: 3 }), options: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
    fc
      .constantFrom('{"__proto__":{"source":{"cluster":"source","namespace":"demo","name":"web-01"}}}', '{"constructor":{"prototype":{"x":1}}}', '[{"source":{}}]')
      .map((t) => JSON.parse(t) as unknown),
  )
  .map((v) => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as unknown)));

describe('fuzz: workflow inputs', () => {
  fuzzSchema('migration-input', migrationInputSchema, validMigration, migrationRules);
  fuzzSchema('plan-input', planInputSchema, validPlan, planRules);

  it(`temporal-json: ${RUNS} arbitrary JSON values as migrateVm's argument are refused with lines naming a field`, () => {
    const count = new Count();
    fc.assert(
      fc.property(fc.oneof(json, fc.constant(undefined)), (v) => {
        count.add();
        const lines = refusalOf(migrationInputSchema, v);
        if (!lines) throw new Error(`accepted ${preview(v)}`);
        const problems = plainProblems(lines.join('\n'));
        const unnamed = lines.filter((l) => !MIGRATION_FIELDS.test(l));
        if (unnamed.length) problems.push(`lines naming no field: ${unnamed.join(' | ')}`);
        if (problems.length) throw new Error(`${problems.join('; ')} for ${preview(v)}:\n${lines.join('\n')}`);
      }),
      params('temporal-json'),
    );
    assert.ok(count.n >= RUNS);
    recordRun({ suite: 'fuzz', scenario: 'temporal-json', outcome: 'refused', expected: 'refused', violations: [], faults: { inputs: count.n }, seed: SEED });
  });

  describe('operator controls (update and signal arguments)', () => {
    const controls: ControlName[] = ['retry', 'cancel', 'extend', 'retryStalled', 'cancelPlan'];
    const reason = fc.string({ maxLength: 200 });
    const validRequest = (c: ControlName) =>
      c === 'extend'
        ? fc.record({ by: inRange({ min: 1000, max: EXTEND_MAX_MS }), reason }, { requiredKeys: ['by'] })
        : fc.oneof(fc.record({ reason }, { requiredKeys: [] }), fc.constant(undefined), fc.constant(null));
    const badRequest = fc.oneof(
      json,
      fc.record(
        { by: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(0, -1, 1e20, '9999999999d', '8d', 'soon', '')), reason: fc.jsonValue({ maxDepth: 2 }) },
        { requiredKeys: [] },
      ),
      fc.record({
        reason: fc.oneof(
          fc.integer(),
          fc.boolean(),
          fc.constant({}),
          fc.integer({ min: 1001, max: 100_000 }).map((n) => 'r'.repeat(n)),
        ),
      }),
      fc.tuple(fc.constantFrom('__proto__', 'constructor', 'reasons', 'By'), fc.string()).map(([k, v]) => {
        const o = { by: '10m' };
        defineOwn(o, k, v);
        return o;
      }),
    );

    it(`${RUNS} bad arguments per control are refused by a plain line naming the field; the accepted ones cannot break the handler`, () => {
      const count = new Count();
      let refused = 0;
      fc.assert(
        fc.property(fc.constantFrom(...controls), badRequest, (c, req) => {
          count.add();
          const why = refuseRequest(c, req);
          if (why === undefined) {
            // Accepted: what the handler will do with it must work (a reason is text; the new deadline is a date).
            const r = req as { reason?: unknown } | null | undefined;
            if (r?.reason !== undefined && typeof r.reason !== 'string') throw new Error(`accepted a reason that is not text: ${preview(req)}`);
            if (c === 'extend') new Date(Date.now() + 30 * 86_400_000 + extendBy(req)!).toISOString();
            return;
          }
          refused++;
          const problems = plainProblems(why);
          if (!why.startsWith(`${c} refused: `)) problems.push('does not say which control was refused');
          if (!/"by"|"reason"|the argument|unknown field/.test(why)) problems.push('names no field');
          if (problems.length) throw new Error(`${problems.join('; ')} for ${c} ${preview(req)}: ${why}`);
        }),
        params('controls', RUNS * controls.length),
      );
      fc.assert(
        fc.property(
          fc.constantFrom(...controls).chain((c) => validRequest(c).map((req) => ({ c, req }))),
          ({ c, req }) => {
            const why = refuseRequest(c, req);
            if (why !== undefined) throw new Error(`refused a valid ${c} ${preview(req)}: ${why}`);
          },
        ),
        params('controls valid', Math.ceil(RUNS / 4)),
      );
      assert.ok(count.n >= RUNS * controls.length);
      assert.ok(refused >= RUNS, `${refused} refused`);
      recordRun({ suite: 'fuzz', scenario: 'control-arguments', outcome: 'refused', expected: 'refused', violations: [], faults: { inputs: count.n, refused }, seed: SEED });
    });

    it('regressions: extend by a non-duration, by past the last date, a reason that is not text', () => {
      // Each used to throw inside the workflow: a TypeError (by: {}), a RangeError "Invalid time value" (by: 1e20).
      assert.match(refuseRequest('extend', {})!, /^extend refused: "by" must be a positive duration/);
      assert.match(refuseRequest('extend', { by: {} })!, /"by" must be a positive duration/);
      assert.match(refuseRequest('extend', { by: 1e20 })!, /^extend refused: "by" must be at most 7d/);
      assert.match(refuseRequest('extend', 'ten minutes')!, /the argument must be an object: \{"by": "10m", "reason": "..."\} \(got a string\)/);
      assert.match(refuseRequest('cancel', { reason: 42 })!, /^cancel refused: "reason" must be text \(got number\)/);
      assert.match(refuseRequest('retry', { resaon: 'typo' })!, /^retry refused: unknown field "resaon"/);
      assert.equal(refuseRequest('retry', undefined), undefined);
      assert.equal(refuseRequest('extend', { by: '10m', reason: 'vendor' }), undefined);
    });
  });
});
