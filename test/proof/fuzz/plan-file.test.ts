/**
 * Fuzzing plan files as `ferry plan` reads them (client/plan/load.ts parsePlanText): ferry's
 * MigrationPlan and Forklift's Plan with its Provider/StorageMap/NetworkMap documents, as YAML and as
 * JSON. Structured mutations (wrong types, missing fields, bad names, duplicate VMs, prototype keys,
 * huge values) must each be refused by lines naming the field as the file spells it; text-level damage
 * (bad YAML, alias bombs, deep nesting, empty files, other documents) by lines naming the place; no
 * refusal may carry a stack or a JavaScript error, and valid files must load as what they say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parsePlanText, PlanFileError, type LoadedPlan } from '../../../client/plan/load.js';
import { recordRun } from '../support/figures.js';
import { Count, mutants, namesField, params, plainProblems, RUNS, SEED } from './fuzz.js';
import { planRules } from './inputs.js';
import {
  ferryDocument,
  ferryEnvelopeDamage,
  ferryField,
  fileText,
  forkliftCrossDamage,
  forkliftDocuments,
  forkliftExpected,
  forkliftRules,
  textDamage,
  validForklift,
  validPlan,
  type ForkliftModel,
} from './plan-files.js';

const FILE = 'plan.yaml';
const PREFIX = `${FILE}: `;

type Answer = { loaded: LoadedPlan } | { refused: string[] };

/** What `ferry plan` would do with the text: load it, or the refusal's lines (warnings included, as printed). */
function read(text: string): Answer {
  try {
    return { loaded: parsePlanText(text, FILE) };
  } catch (e) {
    if (e instanceof PlanFileError) return { refused: [...e.warnings, ...e.lines] };
    // Anything else escapes to the CLI's catch-all: exit 1 and a JavaScript message, not a field.
    throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} instead of refusing the file`);
  }
}

/** Why a refusal is not good enough: not plain, or none of its lines names one of `fields`. */
function refusalProblems(lines: string[], fields: string[]): string[] {
  const problems = plainProblems(lines.join('\n'));
  // A value nested thousands deep stops the YAML parser before any field is read: the place is named instead.
  const tooDeep = lines.some((l) => /^plan\.yaml: line \d+, column \d+: YAML syntax error: nested too deeply/.test(l));
  if (!tooDeep && !lines.some((l) => fields.some((f) => namesField(l, f, PREFIX)))) problems.push(`names none of ${fields.join(', ')}`);
  return problems;
}

/** A line that says where the problem is: a YAML position, a document, or one of the file's fields. */
const LOCATED = new RegExp(
  `^${FILE}: (line \\d+, column \\d+: |document \\d+|the file is empty|a ferry plan file holds|not a plan file|the file holds \\d+ Plans|no Plan document|` +
    `(apiVersion|kind|metadata|spec)([.:\\s[]|$)|(Provider|StorageMap|NetworkMap|Plan)/|[\\w.-]+: unknown field)`,
);

function refuse(text: string, why: string, check: (lines: string[]) => string[]): void {
  const answer = read(text);
  if ('loaded' in answer) throw new Error(`accepted an invalid plan file (${why}): ${text.slice(0, 300)}`);
  const problems = check(answer.refused);
  if (problems.length) throw new Error(`${problems.join('; ')} (${why}):\n${answer.refused.join('\n').slice(0, 2000)}`);
}

/** Whether two texts hold the same documents (both valid YAML). */
function sameDocuments(a: string, b: string): boolean {
  const docs = (t: string) => {
    const all = parseAllDocuments(t);
    if (!Array.isArray(all) || all.some((d) => d.errors.length)) return undefined;
    try {
      return JSON.stringify(all.map((d) => d.toJS() as unknown));
    } catch {
      return undefined;
    }
  };
  const before = docs(a);
  return before !== undefined && before === docs(b);
}

/** Text damage must be refused with lines that each say where; the file's text `asJson` decides which damage applies. */
function damaged(count: Count, surface: string, valid: fc.Arbitrary<string>, ignoresTopLevel = false): void {
  fc.assert(
    fc.property(valid, textDamage, (text, damage) => {
      const after = damage.apply(text);
      // A cut YAML file can still be valid YAML with a shorter value; a cut JSON file never is.
      if (damage.what.startsWith('cut') && !text.startsWith('{')) return;
      // Whitespace before a JSON document, say, changes nothing: not damage.
      if (damage.what.endsWith('start of a line') && sameDocuments(text, after)) return;
      // Forklift documents may carry fields ferry does not read (status, ...): a deep one the parser copes with is ignored, rightly.
      if (damage.extraTopLevel && ignoresTopLevel && 'loaded' in read(after)) return;
      count.add();
      refuse(after, damage.what, (lines) => {
        const problems = plainProblems(lines.join('\n'));
        const unlocated = lines.filter((l) => !l.startsWith('    ') && !l.startsWith('warning') && !LOCATED.test(l) && !/ignored|read as/.test(l));
        if (unlocated.length) problems.push(`lines that say nowhere: ${unlocated.join(' | ').slice(0, 400)}`);
        return problems;
      });
    }),
    params(`${surface} text damage`),
  );
}

describe('fuzz: plan files', () => {
  it(`ferry MigrationPlan: ${RUNS} structured mutations and ${RUNS} damaged texts are refused naming the field or place; valid files load`, () => {
    const invalid = new Count();
    fc.assert(
      fc.property(mutants(validPlan, planRules), fc.boolean(), (m, asJson) => {
        invalid.add();
        refuse(fileText([ferryDocument(m.value as Record<string, unknown>)], asJson), m.what.join('; '), (lines) => refusalProblems(lines, m.fields.map(ferryField)));
      }),
      params('plan-file-ferry invalid'),
    );
    const envelope = new Count();
    fc.assert(
      fc.property(validPlan, ferryEnvelopeDamage, fc.boolean(), (plan, damage, asJson) => {
        envelope.add();
        const doc = ferryDocument(plan);
        damage.edit(doc);
        refuse(fileText([doc], asJson), damage.what, (lines) => refusalProblems(lines, [damage.field, `"${damage.field}"`]));
      }),
      params('plan-file-ferry envelope', Math.ceil(RUNS / 2)),
    );
    const text = new Count();
    damaged(
      text,
      'plan-file-ferry',
      fc.tuple(validPlan, fc.boolean()).map(([plan, asJson]) => fileText([ferryDocument(plan)], asJson)),
    );
    const valid = new Count();
    fc.assert(
      fc.property(validPlan, fc.constantFrom('yaml', 'json', 'crlf', 'bom'), (plan, form) => {
        valid.add();
        let text = fileText([ferryDocument(plan)], form === 'json');
        if (form === 'crlf') text = text.replace(/\n/g, '\r\n');
        if (form === 'bom') text = `\uFEFF${text}`;
        const answer = read(text);
        if ('refused' in answer) throw new Error(`refused a valid ${form} plan file:\n${answer.refused.join('\n')}\n${text.slice(0, 500)}`);
        // As JSON: fast-check's records have no prototype, the loaded plan's do.
        assert.deepEqual(JSON.parse(JSON.stringify(answer.loaded.plan)), JSON.parse(JSON.stringify(plan)));
        assert.equal(answer.loaded.format, 'ferry');
      }),
      params('plan-file-ferry valid', Math.ceil(RUNS / 4)),
    );
    assert.ok(invalid.n + envelope.n + text.n >= RUNS);
    recordRun({
      suite: 'fuzz',
      scenario: 'plan-file-ferry',
      outcome: 'refused',
      expected: 'refused',
      violations: [],
      faults: { inputs: invalid.n + envelope.n + text.n, 'field-mutations': invalid.n, 'envelope-mutations': envelope.n, 'text-damage': text.n, valid: valid.n },
      seed: SEED,
    });
  });

  it(`Forklift Plan documents: ${RUNS} structured mutations and ${RUNS} damaged texts are refused naming the field or place; valid files load`, () => {
    const invalid = new Count();
    const nonZero = fc.oneof(fc.string({ minLength: 1, maxLength: 5 }), fc.integer({ min: 1 }), fc.constant({ a: 1 }));
    fc.assert(
      fc.property(mutants(validForklift as fc.Arbitrary<Record<string, unknown>>, forkliftRules, 'spec', nonZero), fc.boolean(), (m, asJson) => {
        invalid.add();
        refuse(fileText(forkliftDocuments(m.value as ForkliftModel), asJson), m.what.join('; '), (lines) => refusalProblems(lines, m.fields));
      }),
      params('plan-file-forklift invalid'),
    );
    const cross = new Count();
    fc.assert(
      fc.property(validForklift, forkliftCrossDamage, fc.boolean(), (model, damage, asJson) => {
        cross.add();
        const docs = damage.edit(model) ?? forkliftDocuments(model);
        refuse(fileText(docs, asJson), damage.what, (lines) => refusalProblems(lines, [damage.field]));
      }),
      params('plan-file-forklift cross-document', Math.ceil(RUNS / 4)),
    );
    const text = new Count();
    damaged(
      text,
      'plan-file-forklift',
      fc.tuple(validForklift, fc.boolean()).map(([model, asJson]) => fileText(forkliftDocuments(model), asJson)),
      true,
    );
    const valid = new Count();
    fc.assert(
      fc.property(validForklift, fc.boolean(), (model, asJson) => {
        valid.add();
        const answer = read(fileText(forkliftDocuments(model), asJson));
        if ('refused' in answer) throw new Error(`refused a valid Forklift plan file:\n${answer.refused.join('\n')}`);
        const want = forkliftExpected(model);
        const plan = answer.loaded.plan;
        assert.equal(answer.loaded.format, 'forklift');
        assert.deepEqual(
          { source: plan.source.cluster, destination: plan.destination.cluster, namespace: plan.destination.namespace, vms: plan.vms.map((vm) => `${vm.namespace}/${vm.name}`) },
          want,
        );
        // Warnings name their field too (a host Provider's empty url), and are plain.
        for (const w of answer.loaded.warnings) assert.deepEqual(plainProblems(w), [], w);
      }),
      params('plan-file-forklift valid', Math.ceil(RUNS / 4)),
    );
    assert.ok(invalid.n + cross.n + text.n >= RUNS);
    recordRun({
      suite: 'fuzz',
      scenario: 'plan-file-forklift',
      outcome: 'refused',
      expected: 'refused',
      violations: [],
      faults: { inputs: invalid.n + cross.n + text.n, 'field-mutations': invalid.n, 'cross-document': cross.n, 'text-damage': text.n, valid: valid.n },
      seed: SEED,
    });
  });

  describe('regressions (each crashed or misled before its fix)', () => {
    const forklift = (extraSpec: string) =>
      [
        'apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\nmetadata: {name: src}\nspec: {type: openshift, url: "https://a"}',
        'apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\nmetadata: {name: dst}\nspec: {type: openshift, url: "https://b"}',
        'apiVersion: forklift.konveyor.io/v1beta1\nkind: StorageMap\nmetadata: {name: s}\nspec: {map: [{source: {name: standard}, destination: {storageClass: standard}}]}',
        'apiVersion: forklift.konveyor.io/v1beta1\nkind: NetworkMap\nmetadata: {name: n}\nspec: {map: []}',
        `apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {name: w}\nspec:\n  type: live\n  targetNamespace: demo\n  provider: {source: {name: src}, destination: {name: dst}}\n  map: {storage: {name: s}, network: {name: n}}\n  vms: [{namespace: demo, name: web-01}]\n${extraSpec}`,
      ].join('\n---\n');
    const refusedWith = (text: string, re: RegExp) => {
      const answer = read(text);
      assert.ok('refused' in answer, 'accepted');
      assert.ok(
        answer.refused.some((l) => re.test(l)),
        answer.refused.join('\n'),
      );
      assert.deepEqual(plainProblems(answer.refused.join('\n')), []);
    };

    it('a Forklift Plan field named __proto__, constructor or toString is an unknown field, not a TypeError', () => {
      // Each used to find Object.prototype's member in the rules table: "rule is not a function".
      for (const key of ['__proto__', 'constructor', 'toString', 'valueOf'])
        refusedWith(forklift(`  ${key}: {a: 1}\n`), new RegExp(`^plan\\.yaml: spec\\.${key} \\(.*not a Forklift field`));
    });

    it('a storage class named __proto__ or toString is refused by name, not "mapped twice (to [object Object])"', () => {
      const text = forklift('').replace('source: {name: standard}', 'source: {name: __proto__}');
      refusedWith(text, /^plan\.yaml: StorageMap\/s spec\.map\[0\]/);
    });

    it('an alias bomb and an alias to no anchor are refused as YAML errors, not a ReferenceError', () => {
      refusedWith(
        `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
        /^plan\.yaml: document 1: /,
      );
      refusedWith('apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\nspec: *nowhere\n', /^plan\.yaml: document 1: .*nowhere/);
    });

    it('nesting 20,000 deep is refused with a short line, not "Maximum call stack size exceeded" and the whole line', () => {
      refusedWith(
        `apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\nspec: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`,
        /^plan\.yaml: line 3, column \d+: YAML syntax error: nested too deeply/,
      );
    });

    it('a ferry plan with a 5,000-character unknown key quotes it short', () => {
      refusedWith(
        `apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\nmetadata: {name: w}\nspec: {}\n? "${'k'.repeat(5000)}"\n: 1\n`,
        /^plan\.yaml: "k{60}…" \(5000 characters\): unknown field/,
      );
    });

    it('a 70,000-character VM name, a long YAML token and a missing apiVersion are quoted short', () => {
      refusedWith(
        forklift('').replace('vms: [{namespace: demo, name: web-01}]', `vms: [{name: ${'a'.repeat(70_000)}}]`),
        /^plan\.yaml: spec\.vms\[0\]\.namespace: required: the namespace of VM a{60}… \(70000 characters\)/,
      );
      refusedWith(
        `>${JSON.stringify({ apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name: 'x'.repeat(900) } })}`,
        /^plan\.yaml: line 1, column 2: YAML syntax error: .*… \(\d+ characters\)/,
      );
      const answer = read(forklift('').replace('apiVersion: forklift.konveyor.io/v1beta1\nkind: Provider\nmetadata: {name: dst}', 'kind: Provider\nmetadata: {name: dst}'));
      assert.ok('refused' in answer && answer.refused.some((l) => l.includes('(no apiVersion) Provider/dst')), JSON.stringify(answer));
    });

    it('a cut JSON plan names the line and column', () => {
      assert.equal(parseYaml('{"a": 1}').a, 1);
      refusedWith('{"apiVersion": "ferry.dev/v1alpha1", "kind": "Migr', /^plan\.yaml: line 1, column \d+: YAML syntax error/);
    });
  });
});
