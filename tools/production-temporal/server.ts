/**
 * ferry's production Temporal without Docker: what docker-compose.temporal.yml runs, as processes.
 * PostgreSQL (postgres.ts), Temporal's schema set up and upgraded with temporal-sql-tool, the Temporal
 * server (built from Go, build.ts) on loopback ports with the compose file's dynamic config, the
 * compose file's default namespace and retention, and ferry's search attributes registered on SQL
 * visibility with the Temporal CLI. Optionally TLS (with mTLS) on the frontend.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ferrySearchAttributes } from '../../workflows/search-attributes.js';
import { describeExit, exitOf, type ExitStatus, forEachLine, freePort, isPortOpen, LineTail, LOOPBACK, reapOnParentExit, stopChild } from '../processes.js';
import { ensureTemporalCli, type Log } from '../temporal-cli.js';
import { ensureServerBinaries, type ServerBinaries } from './build.js';
import { readComposeTemporal } from './compose.js';
import { startPostgres, type Postgres } from './postgres.js';
import { serverConfigYaml, type ServerPorts } from './server-config.js';
import type { TlsFiles } from './tls.js';

const execFileAsync = promisify(execFile);
const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

export interface ProductionTemporalOptions {
  /** Folder for the database, config and logs; default a new temporary folder, removed by stop(). */
  dir?: string;
  /** Keep `dir` after stop(); default: keep only a folder the caller named. */
  keep?: boolean;
  /** Frontend gRPC port; default a free one. */
  port?: number;
  /** TLS on the frontend; `requireClientAuth` (default true) makes it mTLS. */
  tls?: TlsFiles & { requireClientAuth?: boolean };
  /** See PostgresOptions.durable; default true. */
  durable?: boolean;
  /** The Temporal CLI (namespace and search attributes); default ensureTemporalCli(). */
  cli?: string;
  /** Progress lines (not the server's output, which goes to `<dir>/temporal-server.log`). */
  log?: Log;
}

/** How a client reaches the frontend: what ferry, its worker and the Temporal CLI need. */
export interface ClientTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  serverName: string;
}

export interface Timings {
  postgresMs: number;
  schemaMs: number;
  serverStartMs: number;
  namespaceAndSearchAttributesMs: number;
  totalMs: number;
}

export interface ProductionTemporal {
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly namespace: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  readonly version: string;
  /** The Temporal CLI that registered the namespace and search attributes (tests use it too). */
  readonly cli: string;
  readonly dir: string;
  readonly serverLog: string;
  readonly configFile: string;
  readonly postgres: Pick<Postgres, 'version' | 'port' | 'logFile'>;
  readonly metricsUrl: string;
  readonly tls?: ClientTls;
  readonly timings: Timings;
  /** The environment ferry, ferry's worker and the Temporal CLI read (envconfig's names). */
  clientEnv(): Record<string, string>;
  /** The same as Temporal CLI flags. */
  cliFlags(): string[];
  /** Server, then PostgreSQL; then the folder unless kept. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stop only the temporal-server process (SIGTERM with a grace period, or SIGKILL as a node's death
   * would); PostgreSQL keeps running. `pid` and `exited` then name the stopped process until
   * `startServer` runs. No-op when already stopped.
   */
  stopServer(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Start temporal-server again on the same ports, config and database; resolves once it is healthy. No-op when running. */
  startServer(): Promise<void>;
  /** stopServer then startServer: a restart of Temporal over its own database. */
  restartServer(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

export async function startProductionTemporal(opts: ProductionTemporalOptions = {}): Promise<ProductionTemporal> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  if (opts.port !== undefined && opts.port > SQL_PORT_LIMIT) {
    throw new Error(`the frontend port must be at most ${SQL_PORT_LIMIT} (got ${opts.port}): Temporal's PostgreSQL schema stores member ports as SMALLINT`);
  }
  const compose = readComposeTemporal();
  const [binaries, cli] = await Promise.all([ensureServerBinaries({ log, version: compose.serverVersion }), opts.cli ?? ensureTemporalCli({ log })]);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ferry-production-temporal-'));
  const keep = opts.keep ?? opts.dir !== undefined;
  mkdirSync(dir, { recursive: true });
  // PostgreSQL may run as another user (under root), who must pass through to its folder; nothing
  // here is listable by others, and the files with secrets are 0600.
  if (opts.dir === undefined) chmodSync(dir, 0o711);
  const cleanups: (() => Promise<void> | void)[] = [() => (keep ? undefined : rmSync(dir, { recursive: true, force: true }))];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };

  try {
    const pg = await startPostgres({ dir: join(dir, 'postgres'), durable: opts.durable, log });
    cleanups.push(() => pg.stop());
    const postgresMs = Date.now() - t0;

    const tSchema = Date.now();
    await setupSchemas(binaries, pg, log);
    const schemaMs = Date.now() - tSchema;

    const tServer = Date.now();
    const ports = await serverPorts(opts.port);
    const address = `${LOOPBACK}:${ports.frontend.grpc}`;
    const dynamicConfigFile = join(dir, 'dynamicconfig.yaml');
    writeFileSync(dynamicConfigFile, compose.dynamicConfigYaml);
    const configDir = join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    const configFile = join(configDir, 'production.yaml');
    const tls = opts.tls;
    writeFileSync(
      configFile,
      serverConfigYaml({
        host: LOOPBACK,
        postgres: pg,
        databases: DATABASES,
        ports,
        dynamicConfigFile,
        ...(tls
          ? {
              tls: {
                certFile: tls.serverCertFile,
                keyFile: tls.serverKeyFile,
                caFile: tls.caFile,
                requireClientAuth: tls.requireClientAuth ?? true,
                systemWorkerCertFile: tls.systemWorkerCertFile,
                systemWorkerKeyFile: tls.systemWorkerKeyFile,
                serverName: tls.serverName,
              },
            }
          : {}),
      }),
      { mode: 0o600 }, // it holds the database password
    );
    const clientTls: ClientTls | undefined = tls && { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile, serverName: tls.serverName };
    const flags = cliFlagsFor(address, clientTls);

    const serverLog = join(dir, 'temporal-server.log');
    // `let`: restartServer replaces the process; the cleanup stops whichever one serves now.
    let server = startServer(binaries, dir, serverLog);
    let serving = true;
    cleanups.push(() => server.stop());
    await waitHealthy(cli, flags, server, address, 90_000);
    const serverStartMs = Date.now() - tServer;

    const tNamespace = Date.now();
    await createNamespace(cli, flags, compose.namespace, compose.retention, log);
    await registerSearchAttributes(cli, flags, compose.namespace, log);
    const namespaceAndSearchAttributesMs = Date.now() - tNamespace;

    if (server.child.pid === undefined) throw new Error('temporal-server has no pid'); // unreachable once healthy
    const timings = { postgresMs, schemaMs, serverStartMs, namespaceAndSearchAttributesMs, totalMs: Date.now() - t0 };
    log(
      `Temporal server ${binaries.version} on ${address}${tls ? ` (TLS${(tls.requireClientAuth ?? true) ? ', client certificates required' : ''})` : ''} ` +
        `ready in ${(timings.totalMs / 1000).toFixed(1)} s`,
    );
    let stopped: Promise<void> | undefined;
    const stopServer = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
      if (!serving) return;
      serving = false;
      if (signal === 'SIGKILL') server.child.kill('SIGKILL');
      await server.stop(); // after a SIGKILL it only waits for the exit
    };
    const startServerAgain = async () => {
      if (serving || stopped) return;
      server = startServer(binaries, dir, serverLog);
      serving = true;
      await waitHealthy(cli, flags, server, address, 90_000);
    };
    return {
      address,
      namespace: compose.namespace,
      get pid() {
        return server.child.pid!;
      },
      get exited() {
        return server.exited;
      },
      version: binaries.version,
      cli,
      dir,
      serverLog: server.logFile,
      configFile,
      postgres: { version: pg.version, port: pg.port, logFile: pg.logFile },
      metricsUrl: `http://${LOOPBACK}:${ports.metrics}/metrics`,
      ...(clientTls ? { tls: clientTls } : {}),
      timings,
      clientEnv: () => clientEnvFor(address, compose.namespace, clientTls),
      cliFlags: () => [...flags],
      stop: () => (stopped ??= cleanup()),
      stopServer,
      startServer: startServerAgain,
      restartServer: async (signal) => {
        await stopServer(signal);
        await startServerAgain();
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export function clientEnvFor(address: string, namespace: string, tls?: ClientTls): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    ...(tls
      ? {
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.caFile,
          TEMPORAL_TLS_CLIENT_CERT_PATH: tls.certFile,
          TEMPORAL_TLS_CLIENT_KEY_PATH: tls.keyFile,
          TEMPORAL_TLS_SERVER_NAME: tls.serverName,
        }
      : {}),
  };
}

function cliFlagsFor(address: string, tls?: ClientTls): string[] {
  return ['--address', address, ...(tls ? ['--tls-ca-path', tls.caFile, '--tls-cert-path', tls.certFile, '--tls-key-path', tls.keyFile, '--tls-server-name', tls.serverName] : [])];
}

/** The CLI's environment: no TEMPORAL_* of the caller's, so only our flags decide where it connects. */
function cliEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
}

/**
 * PostgreSQL's schema keeps a member's port in a SMALLINT (cluster_membership.rpc_port): a port
 * above 32767 (every kernel-assigned one) fails the server's membership heartbeat at start. So the
 * server's ports come from below that.
 */
const SQL_PORT_LIMIT = 32767;

async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (SQL_PORT_LIMIT - 20_000));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, LOOPBACK, () => probe.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between 20000 and ${SQL_PORT_LIMIT} on ${LOOPBACK}`);
}

async function serverPorts(frontend?: number): Promise<ServerPorts> {
  const taken = new Set<number>(frontend === undefined ? [] : [frontend]);
  const next = () => freeLowPort(taken);
  return {
    frontend: { grpc: frontend ?? (await next()), http: await next(), membership: await next() },
    history: { grpc: await next(), membership: await next() },
    matching: { grpc: await next(), membership: await next() },
    worker: { grpc: await next(), membership: await next() },
    metrics: await freePort(),
  };
}

/** create-database, the base schema, then every versioned upgrade: what auto-setup does. */
async function setupSchemas(b: ServerBinaries, pg: Postgres, log: Log): Promise<void> {
  const base = ['--plugin', 'postgres12', '--endpoint', pg.host, '--port', String(pg.port), '--user', pg.user];
  // The password through the environment, never on a command line others can read (ps).
  const env = { ...process.env, SQL_PASSWORD: pg.password };
  const run = async (database: string, ...args: string[]) => {
    try {
      await execFileAsync(b.sqlTool, [...base, '--database', database, ...args], { env });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`temporal-sql-tool ${args[0]} (${database}) failed: ${(err.stderr || err.stdout || err.message).trim().split('\n').slice(-5).join('\n')}`);
    }
  };
  for (const [store, database] of Object.entries(DATABASES)) {
    await run(database, 'create-database');
    await run(database, 'setup-schema', '--version', '0.0');
    await run(database, 'update-schema', '--schema-dir', join(b.schemaDir, store, 'versioned'));
    log(`schema ${store} set up in database ${database}`);
  }
}

interface ServerProcess {
  child: ReturnType<typeof spawn>;
  exited: Promise<ExitStatus>;
  logFile: string;
  tail: LineTail;
  stop(): Promise<void>;
}

function startServer(b: ServerBinaries, root: string, logFile: string): ServerProcess {
  // --allow-no-auth: no authorizer is configured; on this setup the frontend's mTLS (if on) is the gate.
  const child = spawn(b.server, ['--root', root, '--config', 'config', '--env', 'production', '--allow-no-auth', 'start'], {
    cwd: root,
    // No TEMPORAL_* of the caller's: the server reads some (TEMPORAL_ROOT, TEMPORAL_ENVIRONMENT, ...) as flags.
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop the server before the database.
    detached: true,
  });
  const exited = exitOf(child);
  reapOnParentExit(child, exited);
  // Appended: a restarted server's lines follow the previous process's.
  const out = createWriteStream(logFile, { flags: 'a' });
  void exited.then(() => out.end());
  const tail = new LineTail(12);
  const onLine = (line: string) => {
    // Error lines carry whole stack traces: the message and cause are at the start.
    tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    out.write(`${line}\n`);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  let stopped: Promise<void> | undefined;
  return { child, exited, logFile, tail, stop: () => (stopped ??= stopChild(child, exited)) };
}

async function temporal(cli: string, args: string[]): Promise<{ ok: true; stdout: string } | { ok: false; problem: string }> {
  try {
    const { stdout } = await execFileAsync(cli, args, { timeout: 15_000, env: cliEnv() });
    return { ok: true, stdout };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { ok: false, problem: (err.stderr || err.message).trim().split('\n').at(-1) ?? '' };
  }
}

async function waitHealthy(cli: string, flags: string[], server: ServerProcess, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: ExitStatus | undefined;
  void server.exited.then((s) => (exit = s));
  let last = 'no check ran';
  for (;;) {
    if (exit) throw new Error(`temporal-server exited (${describeExit(exit)}) before becoming healthy; see ${server.logFile}:\n${server.tail.text()}`);
    const port = Number(address.split(':')[1]);
    // A TCP probe first: far cheaper than starting the CLI while nothing listens.
    if (await isPortOpen(port)) {
      const r = await temporal(cli, ['operator', 'cluster', 'health', ...flags]);
      if (r.ok && r.stdout.includes('SERVING')) return;
      last = r.ok ? r.stdout.trim() : r.problem;
    } else last = `nothing listens on ${address}`;
    if (Date.now() > deadline) throw new Error(`temporal-server at ${address} was not healthy after ${timeoutMs / 1000} s (last check: ${last}); see ${server.logFile}`);
    await delay(250);
  }
}

async function createNamespace(cli: string, flags: string[], namespace: string, retention: string, log: Log): Promise<void> {
  const r = await temporal(cli, ['operator', 'namespace', 'create', '--namespace', namespace, '--retention', retention, ...flags]);
  if (!r.ok && !/already exists|already registered/i.test(r.problem)) throw new Error(`creating namespace ${namespace} failed: ${r.problem}`);
  log(`namespace ${namespace} (retention ${retention})`);
}

/**
 * Idempotent (re-adding a key with the same type succeeds). A new namespace takes a few seconds to
 * reach the frontend's namespace cache, so "not found" is waited out, as the compose file does.
 */
async function registerSearchAttributes(cli: string, flags: string[], namespace: string, log: Log): Promise<void> {
  const args = ['operator', 'search-attribute', 'create', '--namespace', namespace, ...flags];
  for (const { name, type } of ferrySearchAttributes) args.push('--name', name, '--type', type);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await temporal(cli, args);
    if (r.ok) break;
    if (Date.now() > deadline) throw new Error(`registering ferry's search attributes on ${namespace} failed: ${r.problem}`);
    await delay(500);
  }
  log(`search attributes: ${ferrySearchAttributes.map((a) => `${a.name}=${a.type}`).join(', ')}`);
}
