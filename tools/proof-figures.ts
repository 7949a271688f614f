/**
 * `npm run proof:figures [-- --by-scenario] [--file F]`: the proof suite's table from its ledger
 * (test/proof/support/figures.ts), and every violation or unexpected outcome below it. Exits 1 when
 * there is any, so CI can gate on it.
 */
import { parseArgs } from 'node:util';
import { FIGURES_FILE, figuresTable, readRuns, violationList } from '../test/proof/support/figures.js';

const { values } = parseArgs({ options: { 'by-scenario': { type: 'boolean', default: false }, file: { type: 'string', default: FIGURES_FILE } } });
const runs = readRuns(values.file);
if (!runs.length) {
  console.error(`no proof runs recorded in ${values.file}: run npm run test:proof first`);
  process.exit(2);
}
console.log(figuresTable(runs, values['by-scenario']));
const bad = violationList(runs);
for (const line of bad) console.log(`VIOLATION ${line}`);
process.exit(bad.length ? 1 : 0);
