/**
 * The end-to-end stack: a real Temporal dev server (the CLI), the two-cluster simulator, and ferry's
 * worker connected to both, in this process (or, for crash tests, as a child process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Simulator, SimulatorOptions } from '../../simulator/sim.js';
import { REPO_ROOT, startDevServer, type DevServer } from '../../tools/temporal-cli.js';
import { type MigrationInput, migrationWorkflowId, TASK_QUEUE } from '../../workflows/contract.js';
import { errorMessage } from '../../workflows/errors.js';
import { statusQuery } from '../../workflows/messages.js';
import { KubeconfigRegistry } from '../../workers/clusters.js';
import { createFerryWorker } from '../../workers/worker.js';
import { bundleOptions } from '../../workers/workflow-code.js';
import { startSim } from '../../simulator/testing/sim.js';

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundle the workflow code once per test process (≈2 s) instead of once per worker. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ ...bundleOptions(), logger: new DefaultLogger('WARN') });
  return bundle;
}

/** What every end-to-end stack has, whichever bed runs the clusters. */
export interface StackBase {
  server: DevServer;
  client: Client;
  /** ferry's kubeconfig (contexts `source` and `destination`). */
  kubeconfigFile: string;
  worker?: Worker;
  workerRun?: Promise<void>;
  stop(): Promise<void>;
}

export interface Stack extends StackBase {
  sim: Simulator;
}

export interface StackOptions {
  inProcessWorker?: boolean;
  /** Start the dev server's Web UI on a free port (`stack.server.uiUrl`); default headless. */
  ui?: boolean;
  /** Register ferry's search attributes on the dev server (default true); false: a bare namespace. */
  searchAttributes?: boolean;
  /** The Web UI's port when `ui` (default a free one): a codec server must know the UI's origin before the UI starts. */
  uiPort?: number;
  /** The Web UI's codec server (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** Payload encryption (workers/codec/) for the stack's client and in-process worker; default none, as today. */
  dataConverter?: DataConverter;
}

/**
 * A Temporal dev server and ferry's worker (in this process unless `inProcessWorker: false`) for
 * clusters that `startClusters` brings up, in parallel with the server.
 */
export async function startStackWith<B>(
  startClusters: () => Promise<B>,
  bedOf: (b: B) => { kubeconfig: string; stop(): Promise<void> },
  opts: StackOptions = {},
): Promise<StackBase & { clusters: B }> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  // Whatever started is stopped when the other fails: a bed left running keeps the test process alive.
  const [serverStarted, clustersStarted] = await Promise.allSettled([
    startDevServer({
      ...(opts.ui ? { ...(opts.uiPort ? { uiPort: opts.uiPort } : {}), ...(opts.uiCodecEndpoint ? { uiCodecEndpoint: opts.uiCodecEndpoint } : {}) } : { uiPort: false }),
      ...(opts.searchAttributes === false ? { searchAttributes: false } : {}),
    }),
    startClusters(),
  ]);
  if (serverStarted.status === 'rejected' || clustersStarted.status === 'rejected') {
    if (serverStarted.status === 'fulfilled') await serverStarted.value.stop();
    if (clustersStarted.status === 'fulfilled') await bedOf(clustersStarted.value).stop();
    throw serverStarted.status === 'rejected' ? serverStarted.reason : (clustersStarted as PromiseRejectedResult).reason;
  }
  const server = serverStarted.value;
  const clusters = clustersStarted.value;
  const bed = bedOf(clusters);
  const dir = mkdtempSync(join(tmpdir(), 'ferry-e2e-'));
  const kubeconfigFile = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigFile, bed.kubeconfig, { mode: 0o600 });
  const clientConnection = await Connection.connect({ address: server.address });
  const client = new Client({ connection: clientConnection, ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}) });
  const stack: StackBase & { clusters: B } = {
    server,
    clusters,
    client,
    kubeconfigFile,
    async stop() {
      if (stack.worker && stack.worker.getState() === 'RUNNING') stack.worker.shutdown();
      await stack.workerRun?.catch(() => {});
      await clientConnection.close();
      await Promise.all([server.stop(), bed.stop()]);
    },
  };
  if (opts.inProcessWorker !== false) {
    const kc = new KubeConfig();
    kc.loadFromString(bed.kubeconfig);
    const connection = await NativeConnection.connect({ address: server.address });
    stack.worker = await createFerryWorker({
      connection,
      client: clientConnection,
      namespace: 'default',
      clusters: new KubeconfigRegistry(kc),
      workflowBundle: await workflowBundle(),
      ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    });
    stack.workerRun = stack.worker.run().finally(() => connection.close());
  }
  return stack;
}

/** The stack on the simulator bed. */
export async function startStack(opts: StackOptions & { sim?: SimulatorOptions } = {}): Promise<Stack> {
  const stack = await startStackWith(
    () => startSim(opts.sim),
    (sim) => ({ kubeconfig: sim.kubeconfig(), stop: () => sim.stop() }),
    opts,
  );
  return Object.assign(stack, { sim: stack.clusters });
}

/** ferry's worker as a separate process (`npm run worker`), for tests that kill it. */
export function spawnWorker(stack: StackBase, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: stack.server.address, TEMPORAL_NAMESPACE: 'default', FERRY_KUBECONFIG: stack.kubeconfigFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Fast deadlines for tests; every duration is an input. */
export const FAST = {
  receiverReadyTimeout: '20s',
  syncAddressTimeout: '20s',
  handshakeTimeout: '4s',
  completionTimeoutPerGiB: '5s',
  minCompletionTimeout: '60s',
  decisionWindow: '10m',
  pollInterval: '200ms',
} as const;

export function input(name: string, over: Partial<MigrationInput> & { options?: Record<string, unknown> } = {}): MigrationInput {
  return {
    source: { cluster: 'source', namespace: 'demo', name },
    destination: { cluster: 'destination' },
    ...over,
    options: { ...FAST, ...(over.options ?? {}) },
  } as MigrationInput;
}

export async function startMigration(stack: StackBase, i: MigrationInput): Promise<WorkflowHandle> {
  return stack.client.workflow.start('migrateVm', { taskQueue: TASK_QUEUE, workflowId: migrationWorkflowId(i), args: [i] });
}

export async function waitForPhase(handle: WorkflowHandle, phase: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      last = (await handle.query(statusQuery)).phase;
      if (last === phase) return;
    } catch {
      /* not started yet */
    }
    if (Date.now() > deadline) throw new Error(`workflow ${handle.workflowId} did not reach ${phase} within ${timeoutMs} ms (last phase ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The message of a workflow's failure (its cause: what the workflow said). */
export function failureMessage(e: unknown): string {
  if (!(e instanceof WorkflowFailedError)) throw new Error(`expected a failed workflow, got ${String(e)}`);
  return errorMessage(e);
}
