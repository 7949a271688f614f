/**
 * Prometheus and promtool, built from the Go module `github.com/prometheus/prometheus` (no prebuilt
 * binary can be downloaded here; the module has no `replace` directives, so `go install mod@version`
 * builds it). The module's versions are `v0.3MM.P` for Prometheus `3.MM.P`; its VERSION file says
 * which release a module version is, and the build refuses a mismatch.
 *
 * Built lean for the beds: `remove_all_sd` drops every optional service-discovery plugin (the beds
 * use static targets; file, http and static SD stay) and the default `!builtinassets` leaves the web
 * UI's assets out (the HTTP API and `/-/ready` are unaffected; the UI pages answer 404/500).
 * Cached in `.tools/prometheus-<version>/`: only the first run on a machine pays the build.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goBinary, goEnv } from '../production-temporal/build.js';
import { isExecutableFile, runLogged } from '../processes.js';
import { TOOLS_DIR, type Log } from '../temporal-cli.js';

export const PROMETHEUS_MODULE = 'github.com/prometheus/prometheus';
/** The newest version the Go proxy serves here; it is Prometheus 3.16.0 (its VERSION file). */
export const PROMETHEUS_MODULE_VERSION = 'v0.316.0';
export const PROMETHEUS_VERSION = '3.16.0';
/** Build tags: see the module's README, "Service discovery plugins". */
export const PROMETHEUS_BUILD_TAGS = ['remove_all_sd'];

export interface PrometheusBinaries {
  version: string;
  dir: string;
  prometheus: string;
  promtool: string;
}

export function prometheusToolsDir(version = PROMETHEUS_VERSION, toolsDir = TOOLS_DIR): string {
  return join(toolsDir, `prometheus-${version}`);
}

function binariesIn(dir: string, version: string): PrometheusBinaries {
  return { version, dir, prometheus: join(dir, 'prometheus'), promtool: join(dir, 'promtool') };
}

/** Whether `binary --version` runs and names `version` (`prometheus, version 3.16.0 (…)`). */
export function answersVersion(binary: string, version: string): boolean {
  if (!isExecutableFile(binary)) return false;
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return out.includes(`version ${version} `);
  } catch {
    return false;
  }
}

/** The already-built binaries, if both are there and answer `--version` with the pinned release. */
export function findPrometheusBinaries(dir = prometheusToolsDir()): PrometheusBinaries | undefined {
  const b = binariesIn(dir, PROMETHEUS_VERSION);
  return answersVersion(b.prometheus, PROMETHEUS_VERSION) && answersVersion(b.promtool, PROMETHEUS_VERSION) ? b : undefined;
}

/** The two binaries, built first if missing (minutes on a cold Go cache; progress goes to `log`). */
export async function ensurePrometheusBinaries(opts: { log?: Log; dir?: string } = {}): Promise<PrometheusBinaries> {
  const log = opts.log ?? (() => {});
  const target = opts.dir ?? prometheusToolsDir();
  const found = findPrometheusBinaries(target);
  if (found) return found;
  // Built aside and renamed, so an interrupted build never looks finished; unique per process.
  const tmp = `${target}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const started = Date.now();
  await checkModuleRelease(tmp);
  await goInstall(tmp, log);
  if (!answersVersion(join(tmp, 'prometheus'), PROMETHEUS_VERSION))
    throw new Error(`go install built ${join(tmp, 'prometheus')} but it does not answer --version with ${PROMETHEUS_VERSION}`);
  if (findPrometheusBinaries(target)) {
    rmSync(tmp, { recursive: true, force: true }); // another process's build finished first
  } else {
    rmSync(target, { recursive: true, force: true }); // a stale or broken earlier build
    renameSync(tmp, target);
  }
  log(`Prometheus ${PROMETHEUS_VERSION} and promtool built into ${target} in ${Math.round((Date.now() - started) / 1000)} s`);
  return binariesIn(target, PROMETHEUS_VERSION);
}

const go = (): string => goBinary('Prometheus is built from its Go module. Install Go >= 1.26.7 (its go.mod).');

/** The module's VERSION file must be the release ferry pins, so the folder name never lies. */
async function checkModuleRelease(cwd: string): Promise<void> {
  const { stdout } = await promisify(execFile)(go(), ['mod', 'download', '-json', `${PROMETHEUS_MODULE}@${PROMETHEUS_MODULE_VERSION}`], { env: goEnv(), cwd });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  const versionFile = dir ? join(dir, 'VERSION') : '';
  const release = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : '(no VERSION file)';
  if (release !== PROMETHEUS_VERSION)
    throw new Error(
      `${PROMETHEUS_MODULE}@${PROMETHEUS_MODULE_VERSION} is Prometheus ${release}, not ${PROMETHEUS_VERSION}: update PROMETHEUS_VERSION in tools/prometheus/build.ts`,
    );
}

async function goInstall(bin: string, log: Log): Promise<void> {
  // common/version is what `--version` and /api/v1/status/buildinfo print; unset it says "(devel)".
  const v = 'github.com/prometheus/common/version';
  const ldflags = `-s -w -X ${v}.Version=${PROMETHEUS_VERSION} -X ${v}.Branch=HEAD -X ${v}.Revision=${PROMETHEUS_MODULE_VERSION} -X ${v}.BuildUser=ferry`;
  const packages = ['prometheus', 'promtool'].map((cmd) => `${PROMETHEUS_MODULE}/cmd/${cmd}@${PROMETHEUS_MODULE_VERSION}`);
  const args = ['install', '-trimpath', '-tags', PROMETHEUS_BUILD_TAGS.join(','), '-ldflags', ldflags, ...packages];
  log(`Building Prometheus ${PROMETHEUS_VERSION}: GOBIN=${bin} go ${args.join(' ')} (minutes with a cold Go cache)`);
  // cwd: the bin folder, outside any module, so nothing of ferry's can change the build.
  await runLogged(go(), args, { cwd: bin, env: goEnv({ GOBIN: bin }), log, what: `go install of Prometheus ${PROMETHEUS_VERSION}`, tickEveryMs: 60_000 });
}
