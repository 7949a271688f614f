/**
 * The end-to-end stack on ferry's production Temporal (tools/production-temporal: PostgreSQL, the
 * Temporal server built from Go) instead of the dev server: the simulator's two clusters, ferry's
 * workers as separate processes (`npm run worker`, as deployed), and a client. Shaped like the e2e
 * stack (test/support/e2e.ts), so its helpers (input, startMigration, waitForPhase) apply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type ConnectionOptions, type WorkflowHandle } from '@temporalio/client';
import type { Simulator } from '../../simulator/sim.js';
import { exitOf, type ExitStatus } from '../../tools/processes.js';
import { startProductionTemporal, type ProductionTemporal, type ProductionTemporalOptions } from '../../tools/production-temporal/server.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import type { StackBase } from '../support/e2e.js';
import { startSim } from '../../simulator/testing/sim.js';

export interface ProductionStack extends StackBase {
  temporal: ProductionTemporal;
  sim: Simulator;
  /** Every worker process started for this stack; stop() kills those still running. */
  workers: Set<WorkerProcess>;
}

const log = (line: string) => void process.stderr.write(`[production-temporal] ${line}\n`);

/** The client options for `t`: TLS from its client certificate when the frontend has TLS. */
export function connectionOptions(t: ProductionTemporal): ConnectionOptions {
  return {
    address: t.address,
    ...(t.tls
      ? {
          tls: {
            serverNameOverride: t.tls.serverName,
            serverRootCACertificate: readFileSync(t.tls.caFile),
            clientCertPair: { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) },
          },
        }
      : {}),
  };
}

export async function startProductionStack(opts: Omit<ProductionTemporalOptions, 'log'> = {}): Promise<ProductionStack> {
  const [temporalStarted, simStarted] = await Promise.allSettled([startProductionTemporal({ durable: false, ...opts, log }), startSim()]);
  if (temporalStarted.status === 'rejected' || simStarted.status === 'rejected') {
    if (temporalStarted.status === 'fulfilled') await temporalStarted.value.stop();
    if (simStarted.status === 'fulfilled') await simStarted.value.stop();
    throw temporalStarted.status === 'rejected' ? temporalStarted.reason : (simStarted as PromiseRejectedResult).reason;
  }
  const t = temporalStarted.value;
  const sim = simStarted.value;
  const dir = mkdtempSync(join(tmpdir(), 'ferry-production-e2e-'));
  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, sim.kubeconfig(), { mode: 0o600 });
  chmodSync(dir, 0o700);
  const connection = await Connection.connect(connectionOptions(t));
  const workers = new Set<WorkerProcess>();
  const stack: ProductionStack = {
    server: t,
    temporal: t,
    sim,
    client: new Client({ connection, namespace: t.namespace }),
    kubeconfigFile,
    workers,
    async stop() {
      await Promise.all([...workers].map((w) => w.kill('SIGKILL')));
      await connection.close();
      await Promise.all([t.stop(), sim.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** The identity Temporal records for this worker (the SDK's default: `<pid>@<hostname>`). */
  identity: string;
  /** Resolves once the worker says it polls; rejects if it exits first. */
  ready: Promise<void>;
  exited: Promise<ExitStatus>;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<ExitStatus>;
}

/**
 * `npm run worker` as a separate process, connected by the environment only: the server's client
 * environment (address, namespace, TLS) unless `env` replaces it.
 */
export function startWorker(stack: ProductionStack, env: Record<string, string | undefined> = stack.temporal.clientEnv()): WorkerProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...base, FERRY_KUBECONFIG: stack.kubeconfigFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('the worker process did not start');
  let out = '';
  const exited = exitOf(child);
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/^ferry worker: Temporal /m.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((s) => reject(new Error(`the worker exited (code ${s.code}, signal ${s.signal}) before polling:\n${out}`)));
  });
  ready.catch(() => {}); // observed by whoever awaits it
  const w: WorkerProcess = {
    child,
    identity: `${child.pid}@${hostname()}`,
    ready,
    exited,
    output: () => out,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const s = await exited;
      stack.workers.delete(w);
      return s;
    },
  };
  stack.workers.add(w);
  void exited.then(() => stack.workers.delete(w));
  return w;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** Who started each activity task of a workflow, and which attempt it was, from its history. */
export function activityStarts(events: HistoryEvent[]): { identity: string; attempt: number; eventId: number }[] {
  return events
    .filter((e) => e.activityTaskStartedEventAttributes)
    .map((e) => ({ identity: e.activityTaskStartedEventAttributes!.identity ?? '', attempt: e.activityTaskStartedEventAttributes!.attempt ?? 1, eventId: Number(e.eventId) }));
}

/** Count of `items` by key, as a plain object sorted by key. */
export function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const i of items) counts[key(i)] = (counts[key(i)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Milliseconds since `t0`, as seconds with one decimal, for the printed measurements. */
export const seconds = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
