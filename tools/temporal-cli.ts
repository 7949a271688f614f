/**
 * Finding, installing and running the Temporal CLI (which embeds the dev server and the Web UI).
 * Order: $TEMPORAL_CLI, `temporal` on PATH, the project-local .tools/bin (git-ignored); else it is
 * built with `go install` at the newest tag that go can install (later tags carry a replace directive).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ferrySearchAttributes } from '../workflows/search-attributes.js';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const LOCAL_BIN = join(REPO_ROOT, '.tools', 'bin');

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function findTemporalCli(env = process.env): string | undefined {
  if (env.TEMPORAL_CLI) {
    if (!executable(env.TEMPORAL_CLI)) throw new Error(`TEMPORAL_CLI is set to ${env.TEMPORAL_CLI}, which is not an executable file: fix or unset TEMPORAL_CLI`);
    return env.TEMPORAL_CLI;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const local = join(LOCAL_BIN, 'temporal');
  return executable(local) ? local : undefined;
}

export async function ensureTemporalCli(log: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<string> {
  const found = findTemporalCli();
  if (found) return found;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error(
      `the Temporal CLI was not found (TEMPORAL_CLI, PATH, ${LOCAL_BIN}) and Go is not installed to build it.\n` +
        `Install Go >= 1.25 and run:  GOBIN=${LOCAL_BIN} go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}\n` +
        `or point TEMPORAL_CLI at an existing temporal binary.`,
    );
  }
  mkdirSync(LOCAL_BIN, { recursive: true });
  log(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with ${go.stdout.trim()} (several minutes the first time)...`);
  await new Promise<void>((resolve, reject) => {
    const p = spawn('go', ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], { env: { ...process.env, GOBIN: LOCAL_BIN }, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed with exit code ${code}`))));
    p.on('error', reject);
  });
  const built = join(LOCAL_BIN, 'temporal');
  if (!existsSync(built)) throw new Error(`go install finished but ${built} is missing`);
  return built;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  pid: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli?: string;
  port?: number;
  /** Web UI port; false runs headless. */
  uiPort?: number | false;
  /** SQLite file; in-memory when omitted. */
  dbFile?: string;
  namespace?: string;
  log?: (s: string) => void;
}

/** The dev server's arguments: ferry's search attributes registered, Updates on. */
export function devServerArgs(port: number, uiPort: number | false, dbFile?: string, namespace?: string): string[] {
  return [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port),
    ...(uiPort === false ? ['--headless'] : ['--ui-port', String(uiPort)]),
    ...(dbFile ? ['--db-filename', dbFile] : []),
    ...(namespace && namespace !== 'default' ? ['--namespace', namespace] : []),
    '--log-level', 'warn',
    ...ferrySearchAttributes.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    '--dynamic-config-value', 'limit.maxIDLength=1000',
  ];
}

export async function startDevServer(o: DevServerOptions = {}): Promise<DevServer> {
  const cli = o.cli ?? (await ensureTemporalCli(o.log));
  const port = o.port ?? (await freePort());
  const uiPort = o.uiPort === undefined ? await freePort() : o.uiPort;
  if (o.dbFile) mkdirSync(dirname(o.dbFile), { recursive: true });
  const child: ChildProcess = spawn(cli, devServerArgs(port, uiPort, o.dbFile, o.namespace), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.stdout?.resume();
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`temporal server start-dev exited with ${child.exitCode}: ${stderr.trim().slice(-1500)}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`temporal server start-dev did not listen on ${port} within 60 s: ${stderr.trim().slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The port opens before the frontend serves: wait for the health check to pass.
  while (spawnSync(cli, ['operator', 'cluster', 'health', '--address', `127.0.0.1:${port}`], { encoding: 'utf8' }).status !== 0) {
    if (Date.now() > deadline) throw new Error(`temporal dev server on ${port} did not become healthy: ${stderr.trim().slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${port}`,
    ...(uiPort === false ? {} : { uiUrl: `http://127.0.0.1:${uiPort}` }),
    pid: child.pid!,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
