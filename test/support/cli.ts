/**
 * The ferry CLI as a child process, as a user runs it, against a test stack: stdout and stderr are
 * pipes (not a terminal), the Temporal connection comes from the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import type { StackBase } from './e2e.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  out(): string;
  /** Resolves when stdout matches, fails after `timeoutMs` or when the process ends first. */
  waitFor(re: RegExp, timeoutMs: number): Promise<void>;
  done: Promise<Run>;
}

/** The CLI as a child process, as a user runs it; stdout and stderr are pipes (not a terminal). */
export function startFerry(stack: StackBase, args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const base: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: stack.server.address, TEMPORAL_NAMESPACE: 'default' };
  // Only what the test passes: a developer's own FERRY_KUBECONFIG must not leak in.
  delete base.FERRY_KUBECONFIG;
  const child = spawn(process.execPath, ['--import', 'tsx', 'client/main.ts', ...args], { cwd: REPO_ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ended = false;
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      ended = true;
      for (const w of waiters) w();
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    out: () => stdout,
    done,
    waitFor: (re, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (re.test(stdout)) finish(resolve);
          else if (ended) finish(() => reject(new Error(`ferry ${args.join(' ')} ended before printing ${re}; stdout:\n${stdout}\nstderr:\n${stderr}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; stdout:\n${stdout}\nstderr:\n${stderr}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      }),
  };
}

/** Run `ferry …` to its end. */
export function runFerry(stack: StackBase, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return startFerry(stack, args, env).done;
}
