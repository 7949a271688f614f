/**
 * Finding, installing and running the Temporal CLI (`temporal`). Its `server start-dev` is ferry's
 * Temporal server for development, tests and CI: one binary with the server, SQLite and the Web UI.
 *
 * No top-level side effects: importers decide when to look, install or spawn.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  describeExit,
  exitOf,
  type ExitStatus,
  findOnPath,
  forEachLine,
  freePort,
  isExecutableFile,
  isPortOpen,
  LineTail,
  LOOPBACK,
  reapOnParentExit,
  stopChild,
} from './processes.js';
import { ferrySearchAttributes } from '../workflows/search-attributes.js';

export { freePort, isPortOpen, preferredPort, type ExitStatus } from './processes.js';

/**
 * The newest CLI tag that `go install` accepts (later tags use a `replace` directive); it embeds
 * Temporal server 1.29.1 and Web UI 2.42.1.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Environment variable naming an existing CLI binary; it wins over PATH and the local tools folder. */
export const TEMPORAL_CLI_ENV = 'TEMPORAL_CLI';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Where `go install` puts the CLI when ferry builds it (git-ignored). */
export const LOCAL_BIN = join(REPO_ROOT, '.tools', 'bin');

export type Log = (line: string) => void;

const cliFileName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';
const localCli = join(LOCAL_BIN, cliFileName);

// ---------------------------------------------------------------------------------------------------
// Finding and installing
// ---------------------------------------------------------------------------------------------------

/**
 * The Temporal CLI to use: `$TEMPORAL_CLI`, else `temporal` on PATH, else `<repo>/.tools/bin/temporal`.
 * A set but unusable `TEMPORAL_CLI` is an error rather than a fallthrough, so a typo cannot silently
 * pick a different binary.
 */
export function findTemporalCli(): string | undefined {
  const fromEnv = process.env[TEMPORAL_CLI_ENV];
  if (fromEnv) {
    const path = resolve(fromEnv);
    if (!isExecutableFile(path)) {
      throw new Error(
        `${TEMPORAL_CLI_ENV}=${fromEnv} does not name an executable file. ` + `Point ${TEMPORAL_CLI_ENV} at a Temporal CLI binary, or unset it to search PATH and ${LOCAL_BIN}.`,
      );
    }
    return path;
  }
  return findOnPath(cliFileName) ?? (isExecutableFile(localCli) ? localCli : undefined);
}

/** What to tell a user who has no CLI; every failure to find or build one ends with this. */
export function installInstructions(): string {
  return [
    `The Temporal CLI was not found (looked at $${TEMPORAL_CLI_ENV}, PATH and ${localCli}). Either:`,
    `  - install Go >= 1.25 (https://go.dev/dl/) and run`,
    `      GOBIN=${LOCAL_BIN} go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`,
    `    (\`npm run temporal:install\` runs exactly that; it takes several minutes), or`,
    `  - set ${TEMPORAL_CLI_ENV} to the path of an existing \`temporal\` binary (CLI >= 1.5, e.g. from https://temporal.io/setup/cli).`,
  ].join('\n');
}

/**
 * Find the CLI, or build it with `go install` into `<repo>/.tools/bin` when Go is available.
 * The build takes minutes, so progress goes to `log`.
 */
export async function ensureTemporalCli(opts: { log?: Log } = {}): Promise<string> {
  const found = findTemporalCli();
  if (found) return found;
  const go = findOnPath(process.platform === 'win32' ? 'go.exe' : 'go');
  if (!go) throw new Error(`Go is not on PATH, so the Temporal CLI cannot be built.\n${installInstructions()}`);
  await goInstallCli(go, opts.log ?? (() => {}));
  if (!isExecutableFile(localCli)) {
    throw new Error(`go install succeeded but ${localCli} is missing.\n${installInstructions()}`);
  }
  return localCli;
}

async function goInstallCli(go: string, log: Log): Promise<void> {
  mkdirSync(LOCAL_BIN, { recursive: true });
  const target = `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`;
  log(`Building the Temporal CLI: GOBIN=${LOCAL_BIN} ${go} install ${target} (this takes several minutes)`);
  const child = spawn(go, ['install', target], {
    env: { ...process.env, GOBIN: LOCAL_BIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = new LineTail(40);
  const onLine = (line: string): void => {
    output.push(line);
    log(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  // Compiling prints nothing for minutes after the downloads; say we are still alive.
  const started = Date.now();
  const ticker = setInterval(() => log(`... still building (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    const status = await exitOf(child);
    if (status.code !== 0) {
      throw new Error(`go install ${target} failed (${describeExit(status)}):\n${output.text()}\n${installInstructions()}`);
    }
  } finally {
    clearInterval(ticker);
  }
  log(`Built ${localCli} in ${Math.round((Date.now() - started) / 1000)} s`);
}

// ---------------------------------------------------------------------------------------------------
// The dev server
// ---------------------------------------------------------------------------------------------------

/**
 * Dynamic config for every dev server ferry starts (values are JSON).
 * Updates carry the operator controls (retry / cancel / extend with validators).
 */
export const devServerDynamicConfig: Readonly<Record<string, string>> = {
  'frontend.enableUpdateWorkflowExecution': 'true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted': 'true',
  // Workflow IDs embed cluster, namespace and VM names. SQLite does not enforce column widths; note
  // that PostgreSQL/MySQL persistence stores workflow IDs in VARCHAR(255).
  'limit.maxIDLength': '1000',
};

export interface DevServerOptions {
  /** CLI binary; default `ensureTemporalCli()` (which may build it, taking minutes). */
  cli?: string;
  /** Frontend gRPC port; default a free port. */
  port?: number;
  /** Web UI port, or `false` for headless; default a free port. */
  uiPort?: number | false;
  /** SQLite file for persistence (its folder is created); default in-memory. */
  dbFile?: string;
  /** Extra namespace to create; `default` always exists. */
  namespace?: string;
  /** Register ferry's search attributes (default true); false gives a bare namespace, as a fresh production one is. */
  searchAttributes?: boolean;
  /** Receives the server's stdout and stderr, line by line. */
  log?: Log;
  /** How long to wait for the server to answer health checks; default 60 s. */
  healthTimeoutMs?: number;
}

export interface DevServer {
  /** `127.0.0.1:PORT`, for `Connection.connect({ address })` and `temporal --address`. */
  readonly address: string;
  readonly uiUrl?: string;
  readonly namespace: string;
  readonly pid: number;
  /** Settles when the server process ends, for whatever reason. */
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/** The `temporal` arguments for a dev server; exported so tests can check them without spawning. */
export function devServerArgs(opts: { port: number; uiPort: number | false; dbFile?: string; namespace?: string; searchAttributes?: boolean }): string[] {
  const args = ['server', 'start-dev', '--ip', LOOPBACK, '--port', String(opts.port)];
  args.push(...(opts.uiPort === false ? ['--headless'] : ['--ui-port', String(opts.uiPort)]));
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  if (opts.searchAttributes !== false) for (const { name, type } of ferrySearchAttributes) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(devServerDynamicConfig)) args.push('--dynamic-config-value', `${key}=${value}`);
  args.push('--log-level', 'warn');
  return args;
}

/** Start `temporal server start-dev` and resolve once it answers a gRPC health check. */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const cli = opts.cli ?? (await ensureTemporalCli({ log: opts.log }));
  if (opts.dbFile) mkdirSync(dirname(resolve(opts.dbFile)), { recursive: true });
  // A port found free can be taken before the server binds it; with ports we picked, just pick again.
  const pickedPorts = opts.port === undefined || opts.uiPort === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(cli, opts);
    } catch (e) {
      if (!(pickedPorts && e instanceof PortTakenError && attempt < 3)) throw e;
      opts.log?.(`port taken, retrying: ${e.message}`);
    }
  }
}

class PortTakenError extends Error {}

/**
 * The dev server also binds ports of its own choosing (HTTP, internal services), which another
 * process may hold: it then panics with this early in its output.
 */
const PORT_TAKEN = /address already in use|can't (?:set|use) .*port/i;

async function startOnce(cli: string, opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort === false ? false : (opts.uiPort ?? (await freePort()));
  const address = `${LOOPBACK}:${port}`;
  // Otherwise the health check could pass against whatever already listens there, before the CLI
  // notices the port is taken and exits.
  if (await isPortOpen(port)) throw new PortTakenError(`port ${port} is already in use on ${LOOPBACK} (another Temporal server?)`);
  const args = devServerArgs({ port, uiPort, dbFile: opts.dbFile, namespace: opts.namespace, searchAttributes: opts.searchAttributes });

  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitOf(child);
  reapOnParentExit(child, exited);
  const output = new LineTail(60);
  // A panic's cause is its first line; the tail kept for the message is all stack by then.
  let portTaken: string | undefined;
  const onLine = (line: string): void => {
    output.push(line);
    if (!portTaken && PORT_TAKEN.test(line)) portTaken = line;
    opts.log?.(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const stop = once(() => stopChild(child, exited));

  try {
    await waitHealthy(cli, address, exited, opts.healthTimeoutMs ?? 60_000);
  } catch (e) {
    await stop();
    const message = `${(e as Error).message}${portTaken ? `\n${portTaken}` : ''}\n--- temporal ${args.slice(0, 2).join(' ')} output (last lines) ---\n${output.text()}`;
    // An exit before healthy with ports we picked is most likely a port someone took meanwhile.
    throw portTaken || child.exitCode !== null ? new PortTakenError(message) : new Error(message);
  }
  if (child.pid === undefined) throw new Error('temporal server start-dev has no pid'); // unreachable once healthy
  return {
    address,
    ...(uiPort === false ? {} : { uiUrl: `http://${LOOPBACK}:${uiPort}` }),
    namespace: opts.namespace ?? 'default',
    pid: child.pid,
    exited,
    stop,
  };
}

async function waitHealthy(cli: string, address: string, exited: Promise<ExitStatus>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: ExitStatus | undefined;
  void exited.then((s) => (exit = s));
  let lastProblem = 'no check ran';
  for (;;) {
    if (exit) throw new Error(`temporal server start-dev exited (${describeExit(exit)}) before becoming healthy`);
    const problem = await healthProblem(cli, address);
    if (problem === undefined && !exit) return;
    lastProblem = problem ?? 'the server exited';
    if (Date.now() >= deadline) {
      throw new Error(`Temporal dev server at ${address} was not healthy after ${timeoutMs / 1000} s (last check: ${lastProblem})`);
    }
    await delay(200);
  }
}

const execFileAsync = promisify(execFile);

/** Why `address` is not healthy yet, or undefined when it is. */
async function healthProblem(cli: string, address: string): Promise<string | undefined> {
  const [host = LOOPBACK, port = '0'] = address.split(':');
  // A TCP probe first: it is far cheaper than starting the 250 MB CLI binary while nothing listens.
  if (!(await isPortOpen(Number(port), host))) return `nothing listens on ${address}`;
  try {
    const { stdout } = await execFileAsync(cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5_000 });
    return stdout.includes('SERVING') ? undefined : `health check said: ${stdout.trim()}`;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return `health check failed: ${(err.stderr || err.message).trim().split('\n').at(-1) ?? ''}`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}
