/**
 * Running Debian's `buildah` (builds) and `podman` (runs) against one container store that ferry owns,
 * `.tools/image/containers/` (git-ignored), so nothing here touches a machine's own images and a clean
 * clone builds from nothing. Both need root on the machines ferry is built on (no user namespaces for
 * rootless storage); CI runs as root.
 *
 * The storage driver is `overlay` (a layer is a directory, not a copy: the build stage's 430 MB of
 * node_modules would be copied per step with `vfs`); `vfs` when the store is on overlayfs itself, or
 * FERRY_IMAGE_STORAGE_DRIVER=vfs for kernels without overlayfs.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, realpathSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findOnPath, runLogged } from '../processes.js';
import { REPO_ROOT } from '../temporal-cli.js';

const run = promisify(execFile);

export const CONTAINERS_DIR = join(REPO_ROOT, '.tools', 'image', 'containers');

/**
 * The store's real path: podman records its root in its database and refuses another spelling of it
 * (.tools may be a symbolic link shared between clones).
 */
function containersDir(): string {
  mkdirSync(CONTAINERS_DIR, { recursive: true });
  return realpathSync(CONTAINERS_DIR);
}

/** The worker image `npm run image:build` makes. */
export const WORKER_IMAGE = 'localhost/ferry-worker:dev';

const OVERLAYFS_MAGIC = 0x794c7630;

/** overlay, unless asked otherwise or the store itself sits on overlayfs (a clone inside a container), which overlay cannot stack on. */
function storageDriver(dir: string): string {
  const driver = process.env.FERRY_IMAGE_STORAGE_DRIVER ?? (statfsSync(dir).type === OVERLAYFS_MAGIC ? 'vfs' : 'overlay');
  if (driver !== 'overlay' && driver !== 'vfs') throw new Error(`FERRY_IMAGE_STORAGE_DRIVER must be "overlay" or "vfs" (got "${driver}")`);
  return driver;
}

/** The global flags that point buildah and podman at ferry's store. */
export function storeFlags(): string[] {
  const dir = containersDir();
  return ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', storageDriver(dir)];
}

export type Tool = 'buildah' | 'podman';

const installHint: Record<Tool, string> = {
  buildah: 'install it with `apt-get install buildah` (Debian/Ubuntu) and run as root',
  podman: 'install it with `apt-get install podman runc` (Debian/Ubuntu) and run as root',
};

export function requireTool(tool: Tool): string {
  const path = findOnPath(tool);
  if (!path) throw new Error(`${tool} is not on PATH: ${installHint[tool]}`);
  if (process.getuid?.() !== 0) throw new Error(`${tool} needs root here (ferry's image store is root-owned, and rootless storage needs user namespaces): run as root`);
  return path;
}

/** Run a short buildah/podman command against ferry's store; its stdout, trimmed. */
export async function tool(name: Tool, args: string[]): Promise<string> {
  const bin = requireTool(name);
  try {
    const { stdout } = await run(bin, [...storeFlags(), ...args], { maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** Run a long buildah command (a build), streaming its output to `log`; rejects with its last lines. */
export async function streamTool(name: Tool, args: string[], log: (line: string) => void): Promise<void> {
  await runLogged(requireTool(name), [...storeFlags(), ...args], { cwd: REPO_ROOT, log, what: `${name} ${args.slice(0, 2).join(' ')} …` });
}

export async function imageExists(ref: string): Promise<boolean> {
  return tool('buildah', ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', ref]).then(
    () => true,
    () => false,
  );
}

export interface Layer {
  /** What made the layer (the Containerfile step, or the base's commit comment). */
  createdBy: string;
  bytes: number;
}

/** The image's layers, oldest first, with their uncompressed sizes (podman's history). */
export async function layersOf(ref: string): Promise<Layer[]> {
  const out = await tool('podman', ['history', '--no-trunc', '--format', 'json', ref]);
  const rows = JSON.parse(out) as { created_by?: string; CreatedBy?: string; size?: number; Size?: number }[];
  return rows.reverse().map((r) => ({ createdBy: (r.created_by ?? r.CreatedBy ?? '').replace(/^\/bin\/sh -c #\(nop\) /, ''), bytes: r.size ?? r.Size ?? 0 }));
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
