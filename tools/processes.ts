/**
 * Child processes ferry's tools start (the Temporal dev server, the real test bed's etcd and
 * kube-apiservers): finding executables, waiting for exit, stopping gracefully, and making sure none
 * outlives this process. Also loopback port helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

export const LOOPBACK = '127.0.0.1';
const STOP_GRACE_MS = 10_000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all. */
  error?: Error;
}

export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(fileName: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, fileName);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export async function stopChild(child: ChildProcess, exited: Promise<ExitStatus>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    await exited;
    return;
  }
  child.kill('SIGTERM');
  const ac = new AbortController();
  const gone = await Promise.race([exited.then(() => true), delay(STOP_GRACE_MS, false, { signal: ac.signal }).catch(() => true)]);
  ac.abort();
  if (!gone) child.kill('SIGKILL');
  await exited;
}

// ---------------------------------------------------------------------------------------------------
// Making sure no server outlives this process
// ---------------------------------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
const reapSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function signalLiveChildren(signal: NodeJS.Signals): void {
  for (const child of liveChildren) child.kill(signal);
}

const killLiveChildren = (): void => signalLiveChildren('SIGKILL');

/**
 * 'exit' handlers do not run when a signal's default action ends the process (the test runner's
 * timeout sends SIGTERM), so signals are watched too. If another listener exists (temporal-dev.ts, the
 * Temporal worker Runtime), that host owns shutdown: the servers just get SIGTERM so they wind down
 * gracefully and do not hold the event loop open. Otherwise the process is about to die: SIGKILL them
 * and re-raise the signal for its default action.
 */
function onReapSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) {
    signalLiveChildren('SIGTERM');
    return;
  }
  killLiveChildren();
  unhookParent();
  process.kill(process.pid, signal);
}

function hookParent(): void {
  process.on('exit', killLiveChildren);
  for (const signal of reapSignals) process.on(signal, onReapSignal);
}

function unhookParent(): void {
  process.off('exit', killLiveChildren);
  for (const signal of reapSignals) process.off(signal, onReapSignal);
}

export function reapOnParentExit(child: ChildProcess, exited: Promise<ExitStatus>): void {
  if (liveChildren.size === 0) hookParent();
  liveChildren.add(child);
  void exited.then(() => {
    liveChildren.delete(child);
    if (liveChildren.size === 0) unhookParent();
  });
}

/** Bind `port` (0: any) on `host` and release it; the port bound. */
function bindAndRelease(port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const bound = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolvePort(bound));
    });
  });
}

/** A free TCP port on `host`, found by binding port 0. */
export async function freePort(host = LOOPBACK): Promise<number> {
  return bindAndRelease(0, host);
}

/** `preferred` when it is free (stable URLs to bookmark), else any free port. */
export async function preferredPort(preferred: number, host = LOOPBACK): Promise<number> {
  return bindAndRelease(preferred, host).catch(() => freePort(host));
}

/** Whether something accepts TCP connections on `host:port`. */
export async function isPortOpen(port: number, host = LOOPBACK, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean): void => {
      socket.destroy();
      resolveOpen(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves (never rejects) when the child is gone, including when it could not be spawned at all. */
export function exitOf(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
    child.once('error', (error) => {
      if (child.pid === undefined) resolveExit({ code: null, signal: null, error }); // spawn failed
    });
  });
}

export function describeExit(status: ExitStatus): string {
  if (status.error) return status.error.message;
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

export function forEachLine(stream: Readable | null, onLine: (line: string) => void): void {
  if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

/** The last `max` lines of a process's output, for error messages. */
export class LineTail {
  private readonly lines: string[] = [];
  constructor(private readonly max: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  text(): string {
    return this.lines.length === 0 ? '(no output)' : this.lines.join('\n');
  }
}

export interface RunLoggedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Every line of output, as it comes. */
  log: (line: string) => void;
  /** What is running, for the failure message and the progress ticks (`go install of …`). */
  what: string;
  /** Say the command is still alive every so often: builds print nothing for minutes. */
  tickEveryMs?: number;
}

/** Run a long command (a build) to its end, streaming its output; on failure, an error with its last 40 lines. */
export async function runLogged(command: string, args: string[], o: RunLoggedOptions): Promise<void> {
  const child = spawn(command, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = new LineTail(40);
  const onLine = (line: string): void => {
    tail.push(line);
    o.log(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const started = Date.now();
  const ticker = o.tickEveryMs ? setInterval(() => o.log(`... still running ${o.what} (${Math.round((Date.now() - started) / 1000)} s)`), o.tickEveryMs) : undefined;
  try {
    const status = await exitOf(child);
    if (status.code !== 0) throw new Error(`${o.what} failed (${describeExit(status)}):\n${tail.text()}`);
  } finally {
    clearInterval(ticker);
  }
}
