/**
 * A private PostgreSQL for the production Temporal: Debian's postgresql-15 binaries, a fresh cluster
 * (initdb) in a folder of ours, listening on a free loopback port with its unix socket in that folder,
 * password (SCRAM) authentication for one role. Postgres refuses to run as root, so under root it runs
 * as the `postgres` user (Debian's package creates it), else `nobody`.
 */
import { execFile, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeExit, exitOf, type ExitStatus, forEachLine, freePort, isExecutableFile, LineTail, LOOPBACK, reapOnParentExit } from '../processes.js';
import type { Log } from '../temporal-cli.js';

/** Overrides where the PostgreSQL binaries are (a folder holding initdb and postgres). */
export const POSTGRES_BIN_ENV = 'FERRY_POSTGRES_BIN';
const DEFAULT_BIN = '/usr/lib/postgresql/15/bin';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

export interface PostgresOptions {
  /** An empty or missing folder of ours; the cluster goes to `<dir>/data`. */
  dir: string;
  /** Default a free port. */
  port?: number;
  /** The role Temporal connects as (the cluster's superuser). */
  user?: string;
  /**
   * fsync off and asynchronous commits: for tests on shared machines, where durability across a
   * power loss buys nothing and fsyncs cost seconds. Default durable.
   */
  durable?: boolean;
  log?: Log;
}

export interface Postgres {
  host: string;
  port: number;
  user: string;
  /** Generated per cluster; only written to files of mode 0600 and passed in environments. */
  password: string;
  dataDir: string;
  /** PostgreSQL's own log (its stderr). */
  logFile: string;
  version: string;
  readonly exited: Promise<ExitStatus>;
  /** Fast shutdown (SIGINT: sessions are ended), SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

export function postgresBin(): string {
  const dir = process.env[POSTGRES_BIN_ENV] ?? DEFAULT_BIN;
  for (const tool of ['initdb', 'postgres']) {
    if (!isExecutableFile(join(dir, tool))) {
      throw new Error(
        `PostgreSQL's ${tool} is not in ${dir}. Install Debian's PostgreSQL 15 (apt-get install postgresql-15), ` +
          `or set ${POSTGRES_BIN_ENV} to the folder holding initdb and postgres.`,
      );
    }
  }
  return dir;
}

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/** Root cannot run postgres: the first of these users that exists. */
function unprivilegedUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as (postgres refuses root): create one, e.g. useradd -r postgres');
}

export async function startPostgres(opts: PostgresOptions): Promise<Postgres> {
  const bin = postgresBin();
  const log = opts.log ?? (() => {});
  const user = opts.user ?? 'temporal';
  const runAs = unprivilegedUser();
  const asUser: SpawnOptions = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const own = (path: string) => runAs && chownSync(path, runAs.uid, runAs.gid);

  mkdirSync(opts.dir, { recursive: true });
  // The unprivileged user must reach its folders through ours, without reading what else is there.
  if (runAs) chmodSync(opts.dir, 0o711);
  const dataDir = join(opts.dir, 'data');
  const socketDir = join(opts.dir, 'socket');
  for (const d of [dataDir, socketDir]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    own(d);
  }
  const password = randomBytes(18).toString('base64url');
  const pwFile = join(opts.dir, 'initdb-password');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  own(pwFile);

  const initdbArgs = ['-D', dataDir, '-U', user, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'];
  if (opts.durable === false) initdbArgs.push('--no-sync');
  try {
    await promisify(execFile)(join(bin, 'initdb'), initdbArgs, { ...asUser, cwd: opts.dir, env: { ...process.env, LC_ALL: 'C' } } as never);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const denied = runAs && /Permission denied/.test(err.stderr ?? '');
    throw new Error(
      `initdb ${dataDir} failed${runAs ? ` (as user ${runAs.name})` : ''}: ${(err.stderr || err.message).trim()}` +
        (denied ? `\nUser ${runAs.name} must be able to pass through every folder above ${opts.dir} (chmod o+x), or pick a folder under /tmp.` : ''),
    );
  } finally {
    rmSync(pwFile, { force: true });
  }
  const version = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim();

  const port = opts.port ?? (await freePort());
  const settings: Record<string, string> = {
    listen_addresses: LOOPBACK,
    port: String(port),
    unix_socket_directories: socketDir,
    // Temporal's default and visibility stores keep up to 20 + 2 connections each per service.
    max_connections: '200',
    ...(opts.durable === false ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const logFile = join(opts.dir, 'postgres.log');
  // detached: its own process group, so a terminal's Ctrl-C does not stop it before the server using it.
  const child = spawn(join(bin, 'postgres'), args, { ...asUser, cwd: opts.dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const exited = exitOf(child);
  reapOnParentExit(child, exited);
  const tail = new LineTail(30);
  const logStream = createWriteStream(logFile);
  void exited.then(() => logStream.end());
  let ready: () => void = () => {};
  const readyLine = new Promise<void>((r) => (ready = r));
  forEachLine(child.stderr, (line) => {
    tail.push(line);
    logStream.write(`${line}\n`);
    if (/database system is ready to accept connections/.test(line)) ready();
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
    })());

  let startTimer: NodeJS.Timeout | undefined;
  const tooLong = new Promise<'timeout'>((resolve) => (startTimer = setTimeout(() => resolve('timeout'), START_TIMEOUT_MS)));
  const outcome = await Promise.race([readyLine.then(() => 'ready' as const), exited, tooLong]);
  clearTimeout(startTimer);
  if (outcome === 'timeout') {
    await stop();
    throw new Error(`PostgreSQL ${version} did not accept connections within ${START_TIMEOUT_MS / 1000} s (stopped it):\n${tail.text()}`);
  }
  if (outcome !== 'ready') {
    throw new Error(`PostgreSQL ${version} exited (${describeExit(outcome)}) before accepting connections:\n${tail.text()}`);
  }
  log(`PostgreSQL ${version} on ${LOOPBACK}:${port}${runAs ? ` (as user ${runAs.name})` : ''}, data in ${dataDir}`);
  return { host: LOOPBACK, port, user, password, dataDir, logFile, version, exited, stop };
}
