/**
 * One line per run in artifacts/proof/runs.jsonl: a stand-in with the signature of the proof suite's
 * `recordRun` (test/proof/support/figures.ts) until that lands.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../tools/temporal-cli.js';

export interface RunRecord {
  suite: 'kill' | 'restart' | 'outage' | 'chaos' | 'fuzz';
  scenario: string;
  outcome: string;
  expected: string;
  violations: string[];
  faults: Record<string, number>;
  durationMs?: number;
}

export function recordRun(r: RunRecord): void {
  const dir = join(REPO_ROOT, 'artifacts', 'proof');
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, 'runs.jsonl'), `${JSON.stringify({ at: new Date().toISOString(), ...r })}\n`);
}
