/**
 * The Temporal server and its SQL schema tool, built from `go.temporal.io/server` (no prebuilt
 * binary can be downloaded here; the module has no `replace` directives, so `go install mod@version`
 * builds it). The version is the compose file's. Cached in `.tools/temporal-server-<version>/` with the
 * PostgreSQL schema files next to the binaries: only the first run on a machine pays the build.
 *
 * `npx tsx tools/production-temporal/install.ts` builds (if needed) and prints the folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findOnPath, isExecutableFile, runLogged } from '../processes.js';
import { REPO_ROOT, type Log } from '../temporal-cli.js';
import { readComposeTemporal } from './compose.js';

export const SERVER_MODULE = 'go.temporal.io/server';
/** The schema dialect ferry's compose file uses (`DB: postgres12`). */
const SCHEMA = join('schema', 'postgresql', 'v12');

export interface ServerBinaries {
  version: string;
  dir: string;
  server: string;
  sqlTool: string;
  /** `<dir>/schema/postgresql/v12`, holding `temporal/` and `visibility/`. */
  schemaDir: string;
}

export function serverToolsDir(version: string): string {
  return join(REPO_ROOT, '.tools', `temporal-server-${version}`);
}

function binariesIn(dir: string, version: string): ServerBinaries {
  return { version, dir, server: join(dir, 'temporal-server'), sqlTool: join(dir, 'temporal-sql-tool'), schemaDir: join(dir, SCHEMA) };
}

/** The Go to build with (PATH, then /usr/local/go/bin); `purpose` ends the error when there is none. */
export function goBinary(purpose = 'the Temporal server is built from its Go module. Install Go >= 1.25.'): string {
  const go = findOnPath('go') ?? (isExecutableFile('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error(`Go is not installed (looked on PATH and /usr/local/go/bin): ${purpose}`);
  return go;
}

// GOTOOLCHAIN=local: never download another Go; GOFLAGS cleared: `go install mod@version` refuses -mod.
export const goEnv = (extra: Record<string, string> = {}) => ({ ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', ...extra });

/** The already-built binaries of `version`, if they are there. */
export function findServerBinaries(version = readComposeTemporal().serverVersion): ServerBinaries | undefined {
  const b = binariesIn(serverToolsDir(version), version);
  return isExecutableFile(b.server) && isExecutableFile(b.sqlTool) && existsSync(b.schemaDir) ? b : undefined;
}

/** Build what is missing; progress goes to `log` (minutes on a cold Go cache). */
export async function ensureServerBinaries(opts: { log?: Log; version?: string } = {}): Promise<ServerBinaries> {
  const log = opts.log ?? (() => {});
  const version = opts.version ?? readComposeTemporal().serverVersion;
  const found = findServerBinaries(version);
  if (found) return found;
  const target = serverToolsDir(version);
  // Built aside and renamed, so an interrupted build never looks finished; unique per process.
  const tmp = `${target}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  await goInstall(version, tmp, log);
  renameSync(join(tmp, 'server'), join(tmp, 'temporal-server')); // go names binaries after the package folder
  renameSync(join(tmp, 'sql'), join(tmp, 'temporal-sql-tool'));
  copyTree(join(await moduleDir(version), SCHEMA), join(tmp, SCHEMA));
  if (existsSync(target))
    rmSync(tmp, { recursive: true, force: true }); // another build finished first
  else renameSync(tmp, target);
  log(`Temporal server ${version} and temporal-sql-tool built into ${target} in ${Math.round((Date.now() - started) / 1000)} s`);
  return binariesIn(target, version);
}

async function goInstall(version: string, bin: string, log: Log): Promise<void> {
  const packages = [`${SERVER_MODULE}/cmd/server@v${version}`, `${SERVER_MODULE}/cmd/tools/sql@v${version}`];
  const args = ['install', '-trimpath', '-ldflags', '-s -w', ...packages];
  log(`Building the Temporal server: GOBIN=${bin} go ${args.join(' ')} (several minutes with a cold Go cache)`);
  // cwd: the bin folder, outside any module, so nothing of ferry's can change the build.
  await runLogged(goBinary(), args, { cwd: bin, env: goEnv({ GOBIN: bin }), log, what: `go install of Temporal server ${version}`, tickEveryMs: 60_000 });
}

/** Where the Go module cache holds the server module (downloaded by the install). */
async function moduleDir(version: string): Promise<string> {
  const { stdout } = await promisify(execFile)(goBinary(), ['mod', 'download', '-json', `${SERVER_MODULE}@v${version}`], { env: goEnv(), cwd: REPO_ROOT });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${SERVER_MODULE}@v${version} named no module folder:\n${stdout}`);
  return dir;
}

/** Copy file contents (not the module cache's read-only modes, so the copy can be deleted later). */
function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) copyTree(src, join(to, name));
    else if (!name.endsWith('.go')) writeFileSync(join(to, name), readFileSync(src));
  }
}
