/**
 * promtool for ferry's alert and recording rules: `check rules` (syntax, PromQL, templates, duplicate
 * rules) and `test rules` (unit tests of rules against series given in the test file).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensurePrometheusBinaries, type PrometheusBinaries } from './build.js';

export interface PromtoolResult {
  ok: boolean;
  /** promtool's stdout and stderr together: which file, which rule, what is wrong. */
  output: string;
}

async function promtool(args: string[], binaries?: PrometheusBinaries): Promise<PromtoolResult> {
  const b = binaries ?? (await ensurePrometheusBinaries());
  try {
    const { stdout, stderr } = await promisify(execFile)(b.promtool, args, { timeout: 60_000 });
    return { ok: true, output: `${stdout}${stderr}`.trim() };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string; code?: unknown };
    // Exit code 1 is promtool's "the rules are wrong"; anything else (not found, killed) is ours.
    if (typeof err.code !== 'number') throw new Error(`promtool ${args.join(' ')} did not run: ${err.message}`);
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() };
  }
}

export function checkRules(files: string[], binaries?: PrometheusBinaries): Promise<PromtoolResult> {
  if (files.length === 0) throw new Error('checkRules needs at least one rule file');
  return promtool(['check', 'rules', ...files], binaries);
}

export function testRules(files: string[], binaries?: PrometheusBinaries): Promise<PromtoolResult> {
  if (files.length === 0) throw new Error('testRules needs at least one rule test file');
  return promtool(['test', 'rules', ...files], binaries);
}
