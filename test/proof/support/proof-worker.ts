/**
 * ferry's worker as child processes that die: `ProofWorkers.start` runs the proof worker
 * (proof-worker-main.ts) with kill points, and whenever one dies by SIGKILL — at a kill point, or
 * because the test killed it — starts a fresh one, as a Deployment would. It counts kills and keeps
 * every line the workers printed (for the leak check).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../tools/temporal-cli.js';
import { workflowBundle, type StackBase } from '../../support/e2e.js';
import type { KillPoint } from './kill-points.js';

let bundleFile: Promise<string> | undefined;

/** The workflow bundle in a file, made once per test process: a restarted worker starts in about a second, not four. */
function bundleOnDisk(): Promise<string> {
  bundleFile ??= workflowBundle().then((b) => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferry-proof-bundle-')), 'workflow-bundle.js');
    writeFileSync(file, b.code);
    return file;
  });
  return bundleFile;
}

export interface ProofWorkersOptions {
  killAt?: KillPoint[];
  /** Extra environment (e.g. another kubeconfig). */
  env?: NodeJS.ProcessEnv;
}

export class ProofWorkers {
  /** Workers that died by SIGKILL: at a kill point or by `kill()`. */
  kills = 0;
  spawned = 0;
  readonly output: string[] = [];
  private child: ChildProcess | undefined;
  private stopping = false;
  private readonly killWaiters: { n: number; resolve: () => void }[] = [];

  private constructor(
    private readonly stack: StackBase,
    private readonly files: { kills: string; state: string; bundle: string },
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async start(stack: StackBase, opts: ProofWorkersOptions = {}): Promise<ProofWorkers> {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-proof-worker-'));
    const kills = join(dir, 'kills.json');
    writeFileSync(kills, JSON.stringify(opts.killAt ?? []));
    const workers = new ProofWorkers(stack, { kills, state: join(dir, 'used'), bundle: await bundleOnDisk() }, opts.env ?? {});
    workers.spawn();
    return workers;
  }

  /** Indexes of the kill points that fired. */
  used(): number[] {
    return existsSync(this.files.state) ? readFileSync(this.files.state, 'utf8').split('\n').filter(Boolean).map(Number) : [];
  }

  /** SIGKILL the running worker now (a fresh one follows). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Resolves once `n` workers in all have died by SIGKILL. */
  killed(n: number): Promise<void> {
    if (this.kills >= n) return Promise.resolve();
    return new Promise((resolve) => this.killWaiters.push({ n, resolve }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 35_000);
    await exited;
    clearTimeout(timer);
  }

  private spawn(): void {
    this.spawned++;
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'proof', 'support', 'proof-worker-main.ts')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.stack.server.address,
        FERRY_KUBECONFIG: this.stack.kubeconfigFile,
        FERRY_PROOF_KILLS: this.files.kills,
        FERRY_PROOF_STATE: this.files.state,
        FERRY_PROOF_BUNDLE: this.files.bundle,
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => this.output.push(chunk.toString('utf8'));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') {
        this.kills++;
        for (const w of this.killWaiters.filter((w) => this.kills >= w.n)) w.resolve();
      }
      if (this.stopping) return;
      if (signal !== 'SIGKILL') this.output.push(`proof worker exited with ${signal ?? code}\n`);
      this.spawn();
    });
  }
}
