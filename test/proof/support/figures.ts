/**
 * The proof suite's ledger: one JSON line per run (a migration under a fault, or a fuzzed surface), so
 * the table the suite prints — runs per scenario, outcomes, invariant violations, faults by kind — is
 * computed from what ran, not written by hand. `npm run proof:figures` prints it from the file.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../../tools/temporal-cli.js';

export type ProofSuite = 'kill' | 'restart' | 'outage' | 'chaos' | 'fuzz';

export interface RunFigure {
  suite: ProofSuite;
  scenario: string;
  /** What happened: a migration's outcome, or `refused` for a fuzzed input. */
  outcome: string;
  expected: string;
  /** Invariants that did not hold; the suite's promise is that this is always empty. */
  violations: string[];
  /** Faults injected in this run, by kind (e.g. `worker-kill`, `api-refused`, `inputs`). */
  faults: Record<string, number>;
  /** The seed that reproduces it, for randomized runs. */
  seed?: number;
}

export const FIGURES_FILE = process.env.FERRY_PROOF_FIGURES ?? join(REPO_ROOT, 'artifacts', 'proof', 'runs.jsonl');

export function recordRun(run: RunFigure, file = FIGURES_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ ...run, at: new Date().toISOString() })}\n`);
}

export function readRuns(file = FIGURES_FILE): RunFigure[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RunFigure);
}

interface Row {
  suite: ProofSuite;
  scenario: string;
  runs: number;
  outcomes: Map<string, number>;
  unexpected: number;
  violations: number;
  faults: Map<string, number>;
}

const SUITE_ORDER: ProofSuite[] = ['kill', 'restart', 'outage', 'chaos', 'fuzz'];

/** One row per suite (or per scenario with `byScenario`), in suite order. */
export function summarize(runs: RunFigure[], byScenario = false): Row[] {
  const rows = new Map<string, Row>();
  for (const r of runs) {
    const id = byScenario ? `${r.suite}\u0000${r.scenario}` : r.suite;
    let row = rows.get(id);
    if (!row) rows.set(id, (row = { suite: r.suite, scenario: byScenario ? r.scenario : '', runs: 0, outcomes: new Map(), unexpected: 0, violations: 0, faults: new Map() }));
    row.runs++;
    row.outcomes.set(r.outcome, (row.outcomes.get(r.outcome) ?? 0) + 1);
    if (r.outcome !== r.expected) row.unexpected++;
    row.violations += r.violations.length;
    for (const [kind, n] of Object.entries(r.faults)) row.faults.set(kind, (row.faults.get(kind) ?? 0) + n);
  }
  return [...rows.values()].sort((a, b) => SUITE_ORDER.indexOf(a.suite) - SUITE_ORDER.indexOf(b.suite) || a.scenario.localeCompare(b.scenario));
}

const counts = (m: Map<string, number>) =>
  [...m]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

/** The table as Markdown (the README's reliability section shows it). */
export function figuresTable(runs: RunFigure[], byScenario = false): string {
  const head = byScenario
    ? '| suite | scenario | runs | outcomes | unexpected | invariant violations | faults injected |'
    : '| suite | runs | outcomes | unexpected | invariant violations | faults injected |';
  const rule = byScenario ? '|---|---|---:|---|---:|---:|---|' : '|---|---:|---|---:|---:|---|';
  const lines = summarize(runs, byScenario).map((r) =>
    byScenario
      ? `| ${r.suite} | ${r.scenario} | ${r.runs} | ${counts(r.outcomes)} | ${r.unexpected} | ${r.violations} | ${counts(r.faults)} |`
      : `| ${r.suite} | ${r.runs} | ${counts(r.outcomes)} | ${r.unexpected} | ${r.violations} | ${counts(r.faults)} |`,
  );
  const total = runs.reduce((n, r) => n + r.violations.length, 0);
  return [head, rule, ...lines, '', `${runs.length} runs, ${total} invariant violations, ${runs.filter((r) => r.outcome !== r.expected).length} unexpected outcomes`].join('\n');
}

/** The violations themselves, so a red table says what broke. */
export function violationList(runs: RunFigure[]): string[] {
  return runs.flatMap((r) => [
    ...r.violations.map((v) => `${r.suite} / ${r.scenario}${r.seed !== undefined ? ` (seed ${r.seed})` : ''}: ${v}`),
    ...(r.outcome !== r.expected ? [`${r.suite} / ${r.scenario}: ended ${r.outcome}, expected ${r.expected}`] : []),
  ]);
}
