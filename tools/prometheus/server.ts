/**
 * A real Prometheus for the beds and the demo: scrapes the given metrics endpoints (the simulator's
 * virt-handler endpoints, real exporters) every second, on a loopback port, with its config and TSDB
 * in one folder. In front of it the query endpoint as production has it (auth-proxy.ts): HTTPS with
 * its own CA and a bearer token. Resolves once Prometheus is ready and every target's first scrape
 * is up, so a caller's first query already sees data.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describeExit, exitOf, type ExitStatus, forEachLine, freePort, LineTail, LOOPBACK, reapOnParentExit, stopChild } from '../processes.js';
import type { Log } from '../temporal-cli.js';
import { startAuthProxy } from './auth-proxy.js';
import { ensurePrometheusBinaries, type PrometheusBinaries } from './build.js';
import { checkDuration, prometheusConfigYaml, type ScrapeTarget } from './config.js';
import { generateQueryTls } from './tls.js';

export type { ScrapeTarget } from './config.js';

export interface PrometheusOptions {
  targets: ScrapeTarget[];
  /** Default '1s': a live migration's progress moves by the second. */
  scrapeInterval?: string;
  /** Default: the scrape interval. */
  evaluationInterval?: string;
  /** Alerting/recording rule files (checked by Prometheus at start; see promtool.ts). */
  ruleFiles?: string[];
  /** Folder for config, TSDB, TLS files and the log; default a new temporary one. */
  dir?: string;
  /** Keep `dir` after stop(); default: keep only a folder the caller named. */
  keep?: boolean;
  /** How long the start may take, until every target's first scrape is up; default 30 s. */
  readyTimeoutMs?: number;
  /** Default ensurePrometheusBinaries() (builds on first use). */
  binaries?: PrometheusBinaries;
  /** Progress lines; Prometheus's own output goes to `<dir>/prometheus.log`. */
  log?: Log;
}

export interface RunningPrometheus {
  /** Plain HTTP on loopback, no auth: for the test harness and debugging. */
  url: string;
  /** The production-like endpoint: HTTPS, `caFile`, `Authorization: Bearer <token>`; `/api/v1/*` only. */
  queryUrl: string;
  caFile: string;
  /** Random per start; never logged. */
  token: string;
  version: string;
  dir: string;
  logFile: string;
  configFile: string;
  exited: Promise<ExitStatus>;
  /** Proxy, then Prometheus, then the folder unless kept. Idempotent. */
  stop(): Promise<void>;
}

interface TargetState {
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const log = opts.log ?? (() => {});
  const scrapeInterval = checkDuration('scrapeInterval', opts.scrapeInterval ?? '1s');
  const evaluationInterval = checkDuration('evaluationInterval', opts.evaluationInterval ?? scrapeInterval);
  const binaries = opts.binaries ?? (await ensurePrometheusBinaries({ log }));
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ferry-prometheus-'));
  const keep = opts.keep ?? opts.dir !== undefined;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cleanups: (() => Promise<void> | void)[] = [() => (keep ? undefined : rmSync(dir, { recursive: true, force: true }))];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const started = Date.now();
    const tokenFile = (i: number): string => join(dir, `target-${i + 1}.token`);
    const configFile = join(dir, 'prometheus.yml');
    const yaml = prometheusConfigYaml({ targets: opts.targets, scrapeInterval, evaluationInterval, ruleFiles: (opts.ruleFiles ?? []).map((f) => resolve(f)), tokenFile });
    opts.targets.forEach((t, i) => t.bearerToken !== undefined && writeFileSync(tokenFile(i), t.bearerToken, { mode: 0o600 }));
    writeFileSync(configFile, yaml);

    const port = await freePort();
    const url = `http://${LOOPBACK}:${port}`;
    const logFile = join(dir, 'prometheus.log');
    const proc = spawnPrometheus(binaries, dir, configFile, port, logFile);
    cleanups.push(() => stopChild(proc.child, proc.exited));
    await waitReady(url, proc, opts.targets.length, opts.readyTimeoutMs ?? 30_000);

    const tls = await generateQueryTls(join(dir, 'tls'));
    const proxy = await startAuthProxy({ upstream: url, tls });
    cleanups.push(() => proxy.close());
    log(
      `Prometheus ${binaries.version} scraping ${opts.targets.length} target(s) every ${scrapeInterval}, all up in ${((Date.now() - started) / 1000).toFixed(1)} s; query endpoint ${proxy.url} (bearer token, CA ${tls.caFile})`,
    );
    let stopped: Promise<void> | undefined;
    return {
      url,
      queryUrl: proxy.url,
      caFile: tls.caFile,
      token: proxy.token,
      version: binaries.version,
      dir,
      logFile,
      configFile,
      exited: proc.exited,
      stop: () => (stopped ??= cleanup()),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

interface PrometheusProcess {
  child: ReturnType<typeof spawn>;
  exited: Promise<ExitStatus>;
  tail: LineTail;
}

function spawnPrometheus(b: PrometheusBinaries, dir: string, configFile: string, port: number, logFile: string): PrometheusProcess {
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    '--storage.tsdb.retention.time=1d',
    `--web.listen-address=${LOOPBACK}:${port}`,
    // Hidden flag, default 5s: how long the scrape manager waits before taking up the static
    // targets; the beds want the first scrape about a second after start, not six.
    '--scrape.discovery-reload-interval=500ms',
  ];
  // Its own process group: a terminal's Ctrl-C reaches only us, and we stop it in order.
  const child = spawn(b.prometheus, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = exitOf(child);
  reapOnParentExit(child, exited);
  const out = createWriteStream(logFile);
  void exited.then(() => out.end());
  const tail = new LineTail(12);
  const onLine = (line: string): void => {
    tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    out.write(`${line}\n`);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  return { child, exited, tail };
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

/** `/-/ready`, then every target's first scrape `up` in `/api/v1/targets`; fails early if Prometheus exits. */
async function waitReady(url: string, proc: PrometheusProcess, targetCount: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: ExitStatus | undefined;
  void proc.exited.then((s) => (exit = s));
  let waitingFor = 'Prometheus to answer /-/ready';
  while (Date.now() < deadline) {
    if (exit) throw new Error(`Prometheus exited (${describeExit(exit)}) while waiting for ${waitingFor}; its last lines:\n${proc.tail.text()}`);
    try {
      const ready = await getJson(`${url}/-/ready`);
      if (ready.status === 200) {
        const { body } = await getJson(`${url}/api/v1/targets?state=active`);
        const targets = (body as { data?: { activeTargets?: TargetState[] } }).data?.activeTargets ?? [];
        const notUp = targets.filter((t) => t.health !== 'up');
        if (targets.length === targetCount && notUp.length === 0) return;
        waitingFor =
          targets.length < targetCount
            ? `all ${targetCount} targets to be discovered (${targets.length} so far)`
            : `the first successful scrape of ${notUp.map((t) => `${t.scrapeUrl} (${t.scrapePool}: ${t.health}${t.lastError ? `, ${t.lastError}` : ''})`).join('; ')}`;
      }
    } catch {
      // not listening yet
    }
    await delay(100);
  }
  throw new Error(`Prometheus was not ready within ${timeoutMs} ms: still waiting for ${waitingFor}; its last lines:\n${proc.tail.text()}`);
}
