/**
 * Running the worker image with podman as a hardened pod would run it: read-only root file system,
 * /tmp a tmpfs (optional), the non-root user, no added capabilities, the kubeconfig mounted read-only; the host's
 * network, so the container reaches a Temporal server and clusters listening on the host's loopback.
 *
 * Two adjustments for the VMs ferry is built on, neither of which changes what the image does:
 * cgroups are hybrid v1/v2 (crun refuses them, so runc with the cgroupfs manager), and root lacks
 * CAP_SYS_RESOURCE, so podman's default rlimits (nofile 1048576) cannot be set: the container gets
 * the host's open-file limit and a lower process limit instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitOf, type ExitStatus, forEachLine } from '../processes.js';
import { FERRY_UID } from './base.js';
import { requireTool, storeFlags, tool } from './containers.js';

export const PODMAN_RUNTIME_FLAGS = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
const KUBECONFIG_IN_CONTAINER = '/etc/ferry/kubeconfig';

function openFileLimit(): string {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line?.split(/\s{2,}/).slice(1, 3) ?? [];
  return soft && hard && /^\d+$/.test(soft) && /^\d+$/.test(hard) ? `${soft}:${hard}` : '1024:4096';
}

export interface WorkerContainerOptions {
  image: string;
  /** Container name and hostname: the worker's Temporal identity is `<pid>@<hostname>`. */
  name: string;
  temporalAddress: string;
  /** A kubeconfig on the host; a copy owned by the container's user is mounted read-only. */
  kubeconfigFile: string;
  env?: Record<string, string>;
  /** Mount a tmpfs at /tmp (what deploy/ gives the pod); without it nothing at all is writable. */
  tmp?: boolean;
}

export interface WorkerContainer {
  name: string;
  child: ChildProcess;
  exited: Promise<ExitStatus>;
  /** Everything the container printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when a line matches; rejects if the container ends first or after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** `podman exec` a command in the running container (as its user); stdout. */
  exec(args: string[]): Promise<string>;
  /** SIGTERM (the worker shuts down gracefully), then removes the container. */
  stop(): Promise<ExitStatus>;
}

export function podmanRunArgs(o: WorkerContainerOptions, kubeconfigDir: string): string[] {
  const env = { TEMPORAL_ADDRESS: o.temporalAddress, TEMPORAL_NAMESPACE: 'default', FERRY_KUBECONFIG: KUBECONFIG_IN_CONTAINER, ...o.env };
  return [
    ...PODMAN_RUNTIME_FLAGS,
    'run',
    '--rm',
    '--name',
    o.name,
    '--hostname',
    o.name,
    '--network',
    'host',
    '--read-only',
    '--read-only-tmpfs=false',
    ...(o.tmp === false ? [] : ['--tmpfs', '/tmp:rw,nosuid,nodev,mode=1777,size=64m']),
    '--cap-drop',
    'all',
    '--security-opt',
    'no-new-privileges',
    '--user',
    `${FERRY_UID}:${FERRY_UID}`,
    '--ulimit',
    `nofile=${openFileLimit()}`,
    '--ulimit',
    'nproc=4096:4096',
    '--volume',
    `${kubeconfigDir}:/etc/ferry:ro`,
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    o.image,
  ];
}

export function startWorkerContainer(o: WorkerContainerOptions): WorkerContainer {
  const podman = requireTool('podman');
  // As a Secret volume with fsGroup would be: readable by the container's user only.
  const kubeconfigDir = mkdtempSync(join(tmpdir(), 'ferry-image-kubeconfig-'));
  const mounted = join(kubeconfigDir, 'kubeconfig');
  copyFileSync(o.kubeconfigFile, mounted);
  chownSync(mounted, FERRY_UID, FERRY_UID);
  chmodSync(mounted, 0o400);
  chmodSync(kubeconfigDir, 0o755);

  const child = spawn(podman, [...storeFlags(), ...podmanRunArgs(o, kubeconfigDir)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = exitOf(child);
  void exited.then(() => rmSync(kubeconfigDir, { recursive: true, force: true }));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (line: string): void => {
    lines.push(line);
    for (const w of waiters) w();
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  let ended = false;
  void exited.then(() => {
    ended = true;
    for (const w of waiters) w();
  });

  return {
    name: o.name,
    child,
    exited,
    output: () => lines.join('\n'),
    waitForLine: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) finish(() => resolve(hit));
          else if (ended) finish(() => reject(new Error(`the container ${o.name} ended before printing ${re}:\n${lines.join('\n')}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${o.name}:\n${lines.join('\n')}`))), timeoutMs);
        const finish = (f: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      }),
    exec: (args) => tool('podman', [...PODMAN_RUNTIME_FLAGS, 'exec', o.name, ...args]),
    stop: async () => {
      if (!ended)
        await tool('podman', [...PODMAN_RUNTIME_FLAGS, 'stop', '--time', '40', o.name]).catch(() =>
          tool('podman', [...PODMAN_RUNTIME_FLAGS, 'rm', '--force', o.name]).catch(() => child.kill('SIGKILL')),
        );
      return exited;
    },
  };
}
