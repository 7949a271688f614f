/**
 * The real test bed's parts, built from their Go modules (no prebuilt binary can be downloaded here):
 * kube-apiserver, kube-controller-manager and etcd from `build/kubernetes`, and the CRDs KubeVirt's
 * virt-operator and CDI's operator install, printed by their own generators (`build/kubevirt-crds`,
 * `build/cdi-crds`).
 *
 * Each result is cached under `.tools/kube-bed/` keyed by a hash of its module's files, so only the first
 * run on a machine (or a change of a pinned version) pays the build: ~10 min for the binaries, a few
 * minutes for the CRDs, on 2 cores with a cold Go cache.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { describeExit, exitOf, findOnPath, forEachLine, isExecutableFile, LineTail } from '../processes.js';

export type Log = (line: string) => void;

const MODULES = fileURLToPath(new URL('./build/', import.meta.url));
export const KUBE_BED_TOOLS = fileURLToPath(new URL('../../.tools/kube-bed/', import.meta.url));

/** Checksum databases do not list these modules; the Go proxy serves them all the same. */
const GONOSUMDB = ['kubevirt.io/containerized-data-importer', 'kubevirt.io/virt-template-api', 'kubevirt.io/virt-template-client-go', 'kubevirt.io/virt-template-engine'].join(',');

export interface KubeBedParts {
  kubeApiserver: string;
  kubeControllerManager: string;
  etcd: string;
  /** Multi-document YAML: KubeVirt's CRDs, then CDI's. */
  crdFiles: string[];
  /** What the binaries report, e.g. `v1.34.2`. */
  kubernetesVersion: string;
  kubevirtVersion: string;
  cdiVersion: string;
}

function moduleHash(dir: string): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).sort()) {
    if (!/^(go\.mod|go\.sum|.*\.go)$/.test(file)) continue;
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(dir, file)));
  }
  return hash.digest('hex').slice(0, 12);
}

/** The version a module's go.mod requires of `path`. */
function requiredVersion(dir: string, path: string): string {
  const goMod = readFileSync(join(dir, 'go.mod'), 'utf8');
  const m = new RegExp(`^\\s*(?:require\\s+)?${path.replace(/\./g, '\\.')} (v[^\\s]+)`, 'm').exec(goMod);
  if (!m) throw new Error(`${join(dir, 'go.mod')} does not require ${path}`);
  return m[1]!;
}

function goBinary(): string {
  const go = findOnPath('go') ?? (isExecutableFile('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) throw new Error('Go is not installed (looked on PATH and /usr/local/go/bin): the real test bed is built from Go modules. Install Go >= 1.24.');
  return go;
}

async function runGo(args: string[], opts: { cwd: string; log: Log; stdoutFile?: string; what: string }): Promise<void> {
  const started = Date.now();
  opts.log(`${opts.what}: go ${args.join(' ')}`);
  const child = spawn(goBinary(), args, {
    cwd: opts.cwd,
    // GOTOOLCHAIN=local: the modules ask for an older Go than the machine's; never download another.
    env: { ...process.env, GONOSUMDB, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
    stdio: ['ignore', opts.stdoutFile ? 'pipe' : 'inherit', 'pipe'],
  });
  const tail = new LineTail(40);
  forEachLine(child.stderr, (line) => {
    tail.push(line);
    opts.log(line);
  });
  const written = opts.stdoutFile ? finished(child.stdout!.pipe(createWriteStream(opts.stdoutFile))) : Promise.resolve();
  const ticker = setInterval(() => opts.log(`... ${opts.what}: still building (${Math.round((Date.now() - started) / 1000)} s)`), 60_000);
  try {
    const status = await exitOf(child);
    if (status.code !== 0) throw new Error(`${opts.what} failed (${describeExit(status)}):\n${tail.text()}`);
    // 'exit' can come before the last of stdout is in the file.
    await written;
  } finally {
    clearInterval(ticker);
  }
  opts.log(`${opts.what}: done in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Build into a temporary folder and rename, so an interrupted build never looks finished. */
async function cached(target: string, build: (tmp: string) => Promise<void>): Promise<string> {
  if (existsSync(target)) return target;
  // Unique per process: two cold builds at once must not remove each other's work.
  const tmp = `${target}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(KUBE_BED_TOOLS, { recursive: true });
  await build(tmp);
  if (existsSync(target))
    rmSync(tmp, { recursive: true, force: true }); // another build finished first
  else renameSync(tmp, target);
  return target;
}

async function buildKubernetes(log: Log): Promise<{ dir: string; version: string }> {
  const moduleDir = join(MODULES, 'kubernetes');
  const version = requiredVersion(moduleDir, 'k8s.io/kubernetes');
  const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(version) ?? [];
  const dir = await cached(join(KUBE_BED_TOOLS, `kubernetes-${version}-${moduleHash(moduleDir)}`), async (tmp) => {
    mkdirSync(tmp, { recursive: true });
    // Without the version stamp the binaries say v0.0.0-master, which kubectl cannot parse.
    const stamp = ['gitVersion', version, 'gitMajor', major, 'gitMinor', minor];
    const ldflags = ['-s', '-w'];
    for (let i = 0; i < stamp.length; i += 2) ldflags.push(`-X k8s.io/component-base/version.${stamp[i]}=${stamp[i + 1]}`);
    await runGo(
      [
        'build',
        '-trimpath',
        '-ldflags',
        ldflags.join(' '),
        '-o',
        `${tmp}/`,
        'k8s.io/kubernetes/cmd/kube-apiserver',
        'k8s.io/kubernetes/cmd/kube-controller-manager',
        'go.etcd.io/etcd/server/v3',
      ],
      { cwd: moduleDir, log, what: `kube-apiserver, kube-controller-manager and etcd ${version}` },
    );
    renameSync(join(tmp, 'server'), join(tmp, 'etcd')); // go names the binary after the package path's last element
  });
  return { dir, version };
}

async function printCrds(name: string, dependency: string, log: Log): Promise<{ file: string; version: string }> {
  const moduleDir = join(MODULES, name);
  const version = requiredVersion(moduleDir, dependency);
  const file = await cached(join(KUBE_BED_TOOLS, `${name}-${version}-${moduleHash(moduleDir)}.yaml`), (tmp) =>
    runGo(['run', '-trimpath', '.'], { cwd: moduleDir, log, stdoutFile: tmp, what: `${name} ${version}` }),
  );
  return { file, version };
}

/** Everything the real bed needs, building what is missing. */
export async function ensureKubeBedParts(opts: { log?: Log } = {}): Promise<KubeBedParts> {
  const log = opts.log ?? (() => {});
  // One at a time: each build alone already uses every core.
  const kubernetes = await buildKubernetes(log);
  const kubevirt = await printCrds('kubevirt-crds', 'kubevirt.io/kubevirt', log);
  const cdi = await printCrds('cdi-crds', 'kubevirt.io/containerized-data-importer', log);
  return {
    kubeApiserver: join(kubernetes.dir, 'kube-apiserver'),
    kubeControllerManager: join(kubernetes.dir, 'kube-controller-manager'),
    etcd: join(kubernetes.dir, 'etcd'),
    crdFiles: [kubevirt.file, cdi.file],
    kubernetesVersion: kubernetes.version,
    kubevirtVersion: kubevirt.version,
    cdiVersion: cdi.version,
  };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  try {
    const parts = await ensureKubeBedParts({ log: (line) => void process.stderr.write(`${line}\n`) });
    process.stdout.write(`${JSON.stringify(parts, null, 2)}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
