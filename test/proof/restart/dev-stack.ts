/**
 * The end-to-end stack with a Temporal dev server that can be stopped and started again: the server
 * keeps its state in a SQLite file and comes back on the same port, so the worker's and the client's
 * connections (made once, at the start) must ride out the outage on their own, as they would in a
 * deployment whose Temporal is restarted under them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { Simulator } from '../../../simulator/sim.js';
import { startSim } from '../../../simulator/testing/sim.js';
import { freePort } from '../../../tools/processes.js';
import { startDevServer, type DevServer } from '../../../tools/temporal-cli.js';
import { KubeconfigRegistry } from '../../../workers/clusters.js';
import { createFerryWorker } from '../../../workers/worker.js';
import { workflowBundle, type Stack } from '../../support/e2e.js';

export type StopSignal = 'SIGTERM' | 'SIGKILL';

/** A dev server at a fixed address over a fixed database file, whichever process serves it now. */
export interface RestartableServer {
  readonly address: string;
  readonly dbFile: string;
  /** Whether a server process is up now. */
  readonly running: boolean;
  /** Stop the serving process with `signal` and wait until it is gone. */
  stop(signal?: StopSignal): Promise<void>;
  /** Start a new process on the same port and file; resolves once it answers health checks. */
  start(): Promise<void>;
}

export interface RestartStack extends Stack {
  temporal: RestartableServer;
  /** Log lines the in-process worker's activities wrote (secret scans read them). */
  logs: string[];
}

let runtimeInstalled = false;

export async function restartableDevServer(dir: string): Promise<RestartableServer & { current(): DevServer }> {
  const dbFile = join(dir, 'temporal.sqlite');
  const port = await freePort();
  let server: DevServer | undefined = await startDevServer({ port, uiPort: false, dbFile });
  const address = server.address;
  return {
    address,
    dbFile,
    get running() {
      return server !== undefined;
    },
    current() {
      if (!server) throw new Error('the Temporal dev server is stopped');
      return server;
    },
    async stop(signal: StopSignal = 'SIGTERM') {
      const s = server;
      if (!s) return;
      server = undefined;
      if (signal === 'SIGKILL') {
        process.kill(s.pid, 'SIGKILL');
        await s.exited;
      }
      await s.stop(); // SIGTERM (then SIGKILL after 10 s); after a SIGKILL it only waits
    },
    async start() {
      if (server) return;
      server = await startDevServer({ port, uiPort: false, dbFile });
    },
  };
}

/**
 * The simulator, a restartable dev server and ferry's worker in this process, connected once. The
 * stack's `server` follows whichever process serves now.
 */
export async function startRestartStack(): Promise<RestartStack> {
  if (!runtimeInstalled) {
    // WARN shows the core's retries while the server is away, which is what a reader of a failed run wants.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ferry-proof-restart-'));
  const [temporalStarted, simStarted] = await Promise.allSettled([restartableDevServer(dir), startSim()]);
  if (temporalStarted.status === 'rejected' || simStarted.status === 'rejected') {
    if (temporalStarted.status === 'fulfilled') await temporalStarted.value.stop();
    if (simStarted.status === 'fulfilled') await simStarted.value.stop();
    rmSync(dir, { recursive: true, force: true });
    throw temporalStarted.status === 'rejected' ? temporalStarted.reason : (simStarted as PromiseRejectedResult).reason;
  }
  const temporal = temporalStarted.value;
  const sim: Simulator = simStarted.value;
  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, sim.kubeconfig(), { mode: 0o600 });
  const clientConnection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection: clientConnection });
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfig());
  const workerConnection = await NativeConnection.connect({ address: temporal.address });
  const logs: string[] = [];
  const worker = await createFerryWorker({
    connection: workerConnection,
    client: clientConnection,
    namespace: 'default',
    clusters: new KubeconfigRegistry(kc),
    workflowBundle: await workflowBundle(),
    log: (line) => logs.push(line),
  });
  const workerRun = worker.run().finally(() => workerConnection.close());
  const server = {
    address: temporal.address,
    get cli() {
      return temporal.current().cli;
    },
    namespace: 'default',
    get pid() {
      return temporal.current().pid;
    },
    get exited() {
      return temporal.current().exited;
    },
    stop: () => temporal.stop(),
  } satisfies DevServer;
  const stack: RestartStack = {
    server,
    temporal,
    sim,
    client,
    kubeconfigFile,
    worker,
    workerRun,
    logs,
    async stop() {
      // The worker shuts down cleanly only while it can reach the server.
      await temporal.start().catch(() => {});
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun.catch(() => {});
      await clientConnection.close();
      await Promise.all([temporal.stop(), sim.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
