/**
 * Reading a plan file: the one entry point the CLI needs, whatever format the file is in. Every
 * problem comes back at once as lines naming the file and the field as the person wrote it
 * (`plan.yaml: spec.vms[2].name: ...`), because a plan is edited by hand and fixed in one pass; and
 * the plan is checked with the same schema the plan workflow applies, so a file that loads here is
 * not refused later by the workflow.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { planInputSchema, type PlanInput } from '../../workflows/plan-contract.js';
import { quote } from '../../workflows/quote.js';
import { isObj, renderPath, type Conversion, type Doc } from './document.js';
import { FERRY_API_VERSION, FERRY_KIND, fromFerry, isFerryPlan } from './ferry-plan.js';
import { FORKLIFT_GROUP, fromForklift, isForkliftDocument } from './forklift.js';

export type PlanFormat = 'ferry' | 'forklift';

export interface LoadedPlan {
  /** Valid for planInputSchema; defaults (maxInFlight 20, onBlocked abort, ...) are left to it. */
  plan: PlanInput;
  /** Fields that were ignored, each naming the file and field; worth showing before starting. */
  warnings: string[];
  format: PlanFormat;
}

/** The plan file cannot be used: print `lines` and exit 2 (nothing was started). */
export class PlanFileError extends Error {
  constructor(
    readonly file: string,
    readonly lines: string[],
    /** Warnings found before the errors, for context. */
    readonly warnings: string[] = [],
  ) {
    super(lines.join('\n'));
    this.name = 'PlanFileError';
  }
}

export async function loadPlanFile(path: string): Promise<LoadedPlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PlanFileError(path, [`${path}: cannot read the plan file: ${(e as Error).message}`]);
  }
  return parsePlanText(text, path);
}

export function parsePlanText(text: string, fileName: string): LoadedPlan {
  const docs = readDocuments(text, fileName);
  const expected = `expected a ferry plan (apiVersion ${FERRY_API_VERSION}, kind ${FERRY_KIND}) or Forklift documents (${FORKLIFT_GROUP}/v1beta1 Plan, Provider, StorageMap, NetworkMap)`;
  if (!docs.length) throw new PlanFileError(fileName, [`${fileName}: the file is empty: ${expected}`]);

  let format: PlanFormat;
  let conversion: Conversion;
  if (docs.some((d) => isFerryPlan(d.value))) {
    if (docs.length > 1) throw new PlanFileError(fileName, [`${fileName}: a ferry plan file holds one document, found ${docs.length}`]);
    format = 'ferry';
    conversion = fromFerry(docs[0]!.value);
  } else if (docs.some((d) => isForkliftDocument(d.value))) {
    format = 'forklift';
    conversion = fromForklift(docs);
  } else {
    const kinds = docs.map((d) => `${String(d.value.apiVersion ?? '?')} ${String(d.value.kind ?? '?')}`).join(', ');
    throw new PlanFileError(fileName, [shortWords(`${fileName}: not a plan file (found ${kinds}): ${expected}`)]);
  }

  const warnings = conversion.warnings.map((w) => `${fileName}: ${shortWords(w)}`);
  if (conversion.errors.length)
    throw new PlanFileError(
      fileName,
      conversion.errors.map((e) => `${fileName}: ${shortWords(e)}`),
      warnings,
    );
  const checked = planInputSchema.safeParse(conversion.plan);
  if (!checked.success) throw new PlanFileError(fileName, describePlanIssues(checked.error, fileName, conversion.fieldPath).map(shortWords), warnings);
  return { plan: conversion.plan, warnings, format };
}

/**
 * The YAML documents of the file (JSON is YAML too), with `kind: List` exports flattened so the
 * output of `kubectl get ... -o yaml` can be used as it is. Syntax errors name line and column.
 */
/** Characters YAML 1.2 does not allow in a stream (outside its printable set), which its parser lets through into keys. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NOT_PRINTABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]/;

function readDocuments(text: string, file: string): Doc[] {
  const lines = text.split(/\r?\n/);
  const control = lines.findIndex((l) => NOT_PRINTABLE.test(l));
  if (control >= 0) {
    const line = lines[control]!;
    const col = line.search(NOT_PRINTABLE) + 1;
    const code = line
      .codePointAt(col - 1)!
      .toString(16)
      .toUpperCase()
      .padStart(4, '0');
    throw new PlanFileError(file, [`${file}: line ${control + 1}, column ${col}: character U+${code} is not allowed in YAML or JSON text: remove it`]);
  }
  const errors: string[] = [];
  const docs: Doc[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    for (const e of doc.errors) {
      const at = e.linePos?.[0];
      // The parser recurses per nesting level: a file nested thousands deep ends its stack, not a syntax rule.
      const message = e.message
        .replace(/ at line \d+, column \d+:[\s\S]*$/, '')
        .split('\n')[0]!
        .replace(/^Maximum call stack size exceeded$/, 'nested too deeply: a plan file needs a few levels');
      errors.push(
        at
          ? `${file}: line ${at.line}, column ${at.col}: YAML syntax error: ${shortWords(message)}\n    ${at.line} | ${around(lines[at.line - 1] ?? '', at.col)}`
          : `${file}: YAML syntax error: ${shortWords(message)}`,
      );
    }
    if (doc.errors.length) return;
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (e) {
      // Aliases are resolved here: one to no anchor, or so many that expanding them would exhaust memory (an alias bomb).
      const message = (e as Error).message.replace(/^Excessive alias count indicates a resource exhaustion attack$/, 'too many aliases (*name) to expand: write the values out');
      return errors.push(`${file}: document ${i + 1}: ${shortWords(message)}`);
    }
    if (value === null || value === undefined) return;
    if (!isObj(value)) return errors.push(`${file}: document ${i + 1}: expected an object with apiVersion and kind, found ${Array.isArray(value) ? 'a list' : typeof value}`);
    if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
      value.items.forEach((item, j) => (isObj(item) ? docs.push({ index: i + 1, value: item }) : errors.push(`${file}: document ${i + 1}: items[${j}]: expected an object`)));
    } else {
      docs.push({ index: i + 1, value });
    }
  });
  if (errors.length) throw new PlanFileError(file, errors);
  return docs;
}

/**
 * Messages quote what the file holds (a VM name, a YAML token); a value of 70,000 characters must not
 * make a line of 70,000: every run longer than a person reads is cut, with its length.
 */
export function shortWords(line: string): string {
  return line.replace(/\S{81,}/g, (word) => `${word.slice(0, 60)}… (${word.length} characters)`);
}

/** The part of a long line around `col` (from 1), so a 20,000-character line shows what is wrong without being echoed whole. */
function around(line: string, col: number): string {
  const WIDTH = 120;
  if (line.length <= WIDTH) return line;
  const start = Math.max(0, Math.min(col - 1 - WIDTH / 2, line.length - WIDTH));
  return `${start > 0 ? '…' : ''}${line.slice(start, start + WIDTH)}${start + WIDTH < line.length ? '…' : ''}`;
}

/**
 * One line per problem, naming the field as the file spells it. Zod messages from the plan schema
 * often start with ferry's own name for the field ("vms[].name is required"); that name is replaced
 * by the file's, so the field is named once and correctly.
 */
export function describePlanIssues(error: z.ZodError, file: string, fieldPath: Conversion['fieldPath']): string[] {
  return error.issues.map((issue) => {
    const where = fieldPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return `${file}: ${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(quote).join(', ')}: remove or fix the spelling`;
    }
    for (let k = 0; k < issue.path.length; k++) {
      const tail = issue.path.slice(k);
      const forms = [renderPath(tail), renderPath(tail).replace(/\[\d+\]/g, '[]'), tail.map(String).join('.')];
      const own = forms.find((f) => issue.message.startsWith(f) && /^($|[\s:(])/.test(issue.message.slice(f.length)));
      if (own) return `${file}: ${where}${issue.message.slice(own.length)}`;
    }
    return `${file}: ${where}: ${issue.message}`;
  });
}
