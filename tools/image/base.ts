/**
 * `tsx tools/image/base.ts`: the two base images the Containerfile builds on here, made from this
 * machine's own files because no image registry is reachable (real users build on the official
 * node:20 images instead):
 *
 * - runtime: the Node binary as /usr/local/bin/node, the shared libraries it and the native Node
 *   modules in node_modules (Temporal's core bridge, swc) link against (from ldd), the CA bundle,
 *   /etc/passwd and /etc/group with root and the non-root user `ferry` (65532), /tmp (1777). No shell,
 *   no package manager: like a distroless image.
 * - build: the runtime plus npm (as /usr/local/bin/npm, npx), /bin/sh (dash: npm runs scripts with
 *   it) and the few coreutils an npm script may call.
 *
 * Each is committed with buildah from `scratch` and tagged with a hash of its files, so an unchanged
 * machine reuses the images it has. Prints the two references as `BUILD_IMAGE=…` and `RUNTIME_IMAGE=…`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findOnPath } from '../processes.js';
import { REPO_ROOT } from '../temporal-cli.js';
import { imageExists, tool } from './containers.js';

/** The non-root user the image runs as: distroless's `nonroot` number, so policies written for it fit. */
export const FERRY_UID = 65532;

export type Flavor = 'build' | 'runtime';

export interface BaseImages {
  build: string;
  runtime: string;
}

const STAGING = join(REPO_ROOT, '.tools', 'image', 'rootfs');
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** What an npm script in the build stage may reasonably call besides node and npm. */
const BUILD_COMMANDS = ['sh', 'env', 'rm', 'mkdir', 'cp', 'mv', 'ls', 'cat', 'chmod', 'ln', 'touch', 'dirname', 'basename', 'test'];
const PATH = '/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Copy a host file into `root` at the same path, recreating every symbolic link on the way (Debian's
 * /lib → usr/lib, /bin/sh → dash, libfoo.so.1 → libfoo.so.1.2.3), so the image resolves paths as the
 * host does.
 */
function place(hostPath: string, root: string): void {
  const parts = resolve(hostPath).split(sep).filter(Boolean);
  let dir = '/';
  for (const [i, part] of parts.entries()) {
    const here = join(dir, part);
    const inRoot = join(root, here);
    const st = lstatSync(here);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(here);
      if (!existsSync(inRoot) && !isLink(inRoot)) {
        mkdirSync(dirname(inRoot), { recursive: true });
        symlinkSync(target, inRoot);
      }
      place(join(resolve(dir, target), ...parts.slice(i + 1)), root);
      return;
    }
    if (i < parts.length - 1) {
      mkdirSync(inRoot, { recursive: true });
      dir = here;
    } else if (st.isDirectory()) {
      cpSync(here, inRoot, { recursive: true, verbatimSymlinks: true });
    } else {
      mkdirSync(dirname(inRoot), { recursive: true });
      copyFileSync(here, inRoot);
      chmodSync(inRoot, st.mode & 0o7777);
    }
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The shared libraries (and the dynamic loader) a binary or native module needs, from ldd. */
function librariesOf(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return []; // not a dynamic ELF for this machine (another platform's prebuilt module)
  }
  if (/not found/.test(out)) throw new Error(`ldd ${binary}: a library is missing on this machine:\n${out}`);
  return [...out.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((m) => m[1]!);
}

/** Every native Node module in node_modules (their libraries must be in the image). */
function nativeModules(): string[] {
  const top = join(REPO_ROOT, 'node_modules');
  if (!existsSync(join(top, '@temporalio', 'core-bridge')))
    throw new Error(`${top} has no @temporalio/core-bridge: run \`npm ci\` first (the base images need its native module's libraries)`);
  return (readdirSync(top, { recursive: true, encoding: 'utf8' }) as string[]).filter((p) => p.endsWith('.node')).map((p) => join(top, p));
}

function nodeAndNpm(): { node: string; version: string; npmDir: string } {
  const node = realpathSync(process.execPath);
  const version = process.versions.node;
  if (Number(version.split('.')[0]) < 20) throw new Error(`the base images take this machine's Node, which is ${version}; ferry needs Node ≥ 20.3`);
  const npm = findOnPath('npm');
  if (!npm) throw new Error('npm is not on PATH: the build base needs it (it comes with Node)');
  // npm's launcher is bin/npm-cli.js inside its package.
  const npmDir = dirname(dirname(realpathSync(npm)));
  if (!existsSync(join(npmDir, 'package.json'))) throw new Error(`could not find npm's package from ${npm} (expected ${npmDir}/package.json)`);
  return { node, version, npmDir };
}

function write(root: string, path: string, text: string, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
}

/** Lay out one flavor's root file system in `root` (emptied first). */
function populate(flavor: Flavor, root: string): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const { node, npmDir } = nodeAndNpm();

  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  copyFileSync(node, join(root, 'usr/local/bin/node'));
  chmodSync(join(root, 'usr/local/bin/node'), 0o755);
  const binaries = [node, ...nativeModules()];

  if (flavor === 'build') {
    cpSync(npmDir, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    for (const name of BUILD_COMMANDS) {
      const path = findOnPath(name);
      if (!path) throw new Error(`${name} is not on PATH: the build base needs it for npm scripts`);
      place(path, root);
      binaries.push(realpathSync(path));
    }
    // RUN steps in shell form exec /bin/sh; npm's launchers start with #!/usr/bin/env node.
    place('/bin/sh', root);
    place('/usr/bin/env', root);
  }
  for (const lib of new Set(binaries.flatMap(librariesOf))) place(lib, root);

  if (!existsSync(CA_BUNDLE)) throw new Error(`${CA_BUNDLE} is missing: install Debian's ca-certificates`);
  place(CA_BUNDLE, root);
  write(root, 'etc/passwd', `root:x:0:0:root:/root:/sbin/nologin\nferry:x:${FERRY_UID}:${FERRY_UID}:ferry:/home/ferry:/sbin/nologin\n`);
  write(root, 'etc/group', `root:x:0:\nferry:x:${FERRY_UID}:\n`);
  // Looked up by glibc's resolver; the runtime bind-mounts /etc/hosts and /etc/resolv.conf.
  write(root, 'etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  mkdirSync(join(root, 'root'), { recursive: true, mode: 0o700 });
  mkdirSync(join(root, 'home/ferry'), { recursive: true });
  chownSync(join(root, 'home/ferry'), FERRY_UID, FERRY_UID);
}

/** A hash of every path, mode and content under `root`: the image's identity. */
function contentKey(root: string, config: unknown): string {
  const hash = createHash('sha256').update(JSON.stringify(config));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path);
      hash.update(`${relative(root, path)}\0${st.mode}\0${st.uid}\0`);
      if (st.isSymbolicLink()) hash.update(readlinkSync(path));
      else if (st.isDirectory()) walk(path);
      else hash.update(readFileSync(path));
    }
  };
  walk(root);
  return hash.digest('hex').slice(0, 12);
}

/**
 * The bases trust what this machine trusts: its CA bundle is copied in, and Node is told to use it on
 * top of its built-in roots (NODE_EXTRA_CA_CERTS), as it is on the host, where a TLS-inspecting proxy's
 * CA sits in that bundle and `npm ci` fails without it.
 */
function imageConfig(flavor: Flavor): { env: string[]; user: string; workdir: string; cmd: string; createdBy: string } {
  const trust = [`SSL_CERT_FILE=${CA_BUNDLE}`, `NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`];
  const createdBy = `tools/image/base.ts (${flavor}): this machine's Node ${process.versions.node}${flavor === 'build' ? ', npm, sh' : ''}, libraries, CA bundle, passwd/group`;
  return flavor === 'build'
    ? { env: [`PATH=${PATH}`, 'HOME=/root', ...trust], user: '0:0', workdir: '/', cmd: '["npm"]', createdBy }
    : { env: [`PATH=${PATH}`, 'HOME=/home/ferry', ...trust], user: `${FERRY_UID}:${FERRY_UID}`, workdir: '/', cmd: '["node"]', createdBy };
}

/** Commit one flavor unless an image with the same content exists; its reference. */
async function ensureBase(flavor: Flavor, log: (line: string) => void): Promise<string> {
  const root = join(STAGING, flavor);
  populate(flavor, root);
  const config = imageConfig(flavor);
  const ref = `localhost/ferry-base-${flavor}:node${process.versions.node}-${contentKey(root, config)}`;
  if (await imageExists(ref)) {
    log(`${ref}: up to date`);
    return ref;
  }
  const started = Date.now();
  const ctr = await tool('buildah', ['from', 'scratch']);
  try {
    const mount = await tool('buildah', ['mount', ctr]);
    // cp -a keeps owners, modes and links exactly (/tmp's sticky bit, /home/ferry's owner).
    execFileSync('cp', ['-a', `${root}/.`, mount]);
    await tool('buildah', ['umount', ctr]);
    await tool('buildah', [
      'config',
      ...config.env.flatMap((e) => ['--env', e]),
      '--user',
      config.user,
      '--workingdir',
      config.workdir,
      '--cmd',
      config.cmd,
      '--created-by',
      config.createdBy,
      '--label',
      `org.opencontainers.image.description=ferry ${flavor} base: this machine's Node ${process.versions.node} and the libraries it needs`,
      ctr,
    ]);
    await tool('buildah', ['commit', '--rm', ctr, ref]);
  } catch (e) {
    await tool('buildah', ['rm', ctr]).catch(() => {});
    throw e;
  }
  log(`${ref}: committed in ${((Date.now() - started) / 1000).toFixed(1)} s (${(dirSize(root) / 1024 / 1024).toFixed(1)} MiB)`);
  return ref;
}

function dirSize(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name));
    total += st.isDirectory() ? dirSize(join(dir, name)) : st.isFile() ? statSync(join(dir, name)).size : 0;
  }
  return total;
}

export async function ensureBaseImages(log: (line: string) => void = () => {}): Promise<BaseImages> {
  const build = await ensureBase('build', log);
  const runtime = await ensureBase('runtime', log);
  return { build, runtime };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  ensureBaseImages((line) => void process.stderr.write(`${line}\n`)).then(
    ({ build, runtime }) => console.log(`BUILD_IMAGE=${build}\nRUNTIME_IMAGE=${runtime}`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
