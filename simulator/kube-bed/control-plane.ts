/**
 * One real Kubernetes control plane on loopback: etcd with its own data dir, kube-apiserver (TLS from
 * the cluster's own CA, static tokens for the bed's admin and KubeVirt's components, RBAC
 * authorization, a ServiceAccount token issuer) and kube-controller-manager running the controllers a
 * migration depends on (garbage collector, namespace deletion). Each runs as a child process whose
 * output goes to a log file in the cluster's folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { exitOf, type ExitStatus, describeExit, freePort, LOOPBACK, reapOnParentExit, stopChild } from '../../tools/processes.js';
import type { KubeBedParts } from '../../tools/kube-bed/build.js';
import { kubeconfigYaml } from '../kubeconfig.js';
import { createCA, issue, type CertAuthority } from '../pki.js';
import { AdminApi } from './admin-api.js';

/** The user KubeVirt's simulated components authenticate as (in `system:masters`, like an operator install). */
export const COMPONENTS_USER = 'system:serviceaccount:kubevirt:kubevirt-controller';
export const ADMIN_USER = 'ferry-bed-admin';
/** Audience and issuer of the ServiceAccount tokens this API server issues. */
export const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

interface Process {
  name: string;
  child: ChildProcess;
  exited: Promise<ExitStatus>;
}

export interface ControlPlaneOptions {
  name: string;
  /** Folder for etcd's data, keys, configs and logs. */
  dir: string;
  parts: KubeBedParts;
  log?: (line: string) => void;
}

export class ControlPlane {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly ca: CertAuthority,
    readonly adminToken: string,
    readonly componentsToken: string,
    readonly dir: string,
    private readonly processes: Process[],
  ) {}

  /**
   * Ports are found free and then bound by another process; one taken meanwhile (by a dev server's
   * internal services, say) makes etcd or the API server exit: start again with new ones.
   */
  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await ControlPlane.startOnce(opts);
      } catch (e) {
        if (!(e instanceof PortTaken) || attempt >= 3) throw e;
        opts.log?.(`[${opts.name}] ${e.message}; starting again`);
        rmSync(opts.dir, { recursive: true, force: true });
      }
    }
  }

  private static async startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const { dir, parts } = opts;
    mkdirSync(dir, { recursive: true });
    const log = opts.log ?? (() => {});
    const processes: Process[] = [];
    const spawnLogged = (name: string, binary: string, args: string[]): Process => {
      // The child writes its log itself: nothing is lost when this process is busy or stops first.
      const out = openSync(join(dir, `${name}.log`), 'a');
      const child = spawn(binary, args, { cwd: dir, stdio: ['ignore', out, out] });
      closeSync(out);
      const exited = exitOf(child);
      reapOnParentExit(child, exited);
      const p = { name, child, exited };
      processes.push(p);
      return p;
    };
    try {
      const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
      const etcdUrl = `http://${LOOPBACK}:${etcdClient}`;
      const etcd = spawnLogged('etcd', parts.etcd, [
        '--name',
        opts.name,
        '--data-dir',
        join(dir, 'etcd'),
        '--listen-client-urls',
        etcdUrl,
        '--advertise-client-urls',
        etcdUrl,
        '--listen-peer-urls',
        `http://${LOOPBACK}:${etcdPeer}`,
        '--initial-advertise-peer-urls',
        `http://${LOOPBACK}:${etcdPeer}`,
        '--initial-cluster',
        `${opts.name}=http://${LOOPBACK}:${etcdPeer}`,
        // A test bed: durability across power loss buys nothing and fsync costs every write.
        '--unsafe-no-fsync',
        '--log-level',
        'warn',
      ]);
      await waitFor(`etcd of ${opts.name}`, etcd, () => httpOk(`${etcdUrl}/health`), 30_000, join(dir, 'etcd.log'));

      const ca = await createCA(`${opts.name}-kube-ca`, 30);
      const serving = await issue(ca, { commonName: 'kube-apiserver', dnsNames: ['localhost', 'kubernetes.default.svc'], ips: [LOOPBACK], usage: ['server'], validDays: 30 });
      const files = {
        cert: join(dir, 'apiserver.crt'),
        key: join(dir, 'apiserver.key'),
        saKey: join(dir, 'service-account.key'),
        saPub: join(dir, 'service-account.pub'),
        tokens: join(dir, 'tokens.csv'),
      };
      writeFileSync(files.cert, serving.certPem);
      writeFileSync(files.key, serving.keyPem, { mode: 0o600 });
      const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      writeFileSync(files.saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(files.saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
      const adminToken = randomBytes(24).toString('base64url');
      const componentsToken = randomBytes(24).toString('base64url');
      writeFileSync(files.tokens, `${adminToken},${ADMIN_USER},1,"system:masters"\n${componentsToken},${COMPONENTS_USER},2,"system:masters"\n`, { mode: 0o600 });

      const url = `https://${LOOPBACK}:${apiPort}`;
      const apiserver = spawnLogged('kube-apiserver', parts.kubeApiserver, [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${LOOPBACK}`,
        `--advertise-address=${LOOPBACK}`,
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${files.cert}`,
        `--tls-private-key-file=${files.key}`,
        `--token-auth-file=${files.tokens}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${SA_ISSUER}`,
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        // Service IPs are bookkeeping here: nothing routes to them.
        '--service-cluster-ip-range=10.0.0.0/24',
        '--endpoint-reconciler-type=none',
        '--enable-bootstrap-token-auth=false',
        '--profiling=false',
        `--cert-dir=${join(dir, 'certs')}`,
        '--v=1',
      ]);
      const api = new AdminApi(url, ca.certPem, adminToken);
      await waitFor(`kube-apiserver of ${opts.name}`, apiserver, async () => (await api.raw('GET', '/readyz')).status === 200, 90_000, join(dir, 'kube-apiserver.log'));

      const kubeconfig = join(dir, 'controller-manager.kubeconfig');
      writeFileSync(kubeconfig, kubeconfigYaml([{ name: opts.name, server: url, caPem: ca.certPem, token: adminToken }]), { mode: 0o600 });
      spawnLogged('kube-controller-manager', parts.kubeControllerManager, [
        `--kubeconfig=${kubeconfig}`,
        // Deletion on a real cluster depends on these: ownerReference cascades, namespace teardown, and
        // the pvc-protection finalizer the API server puts on every PVC.
        '--controllers=garbage-collector-controller,namespace-controller,persistentvolumeclaim-protection-controller',
        '--leader-elect=false',
        '--secure-port=0',
        '--v=1',
      ]);
      log(`[${opts.name}] kube-apiserver ${parts.kubernetesVersion} at ${url} (etcd ${etcdUrl}; logs in ${dir})`);
      return new ControlPlane(opts.name, url, ca, adminToken, componentsToken, dir, processes);
    } catch (e) {
      await Promise.all(processes.reverse().map((p) => stopChild(p.child, p.exited)));
      throw e;
    }
  }

  /** Exits of processes that died while the bed runs (a crashed apiserver explains failing tests). */
  crashed(): string[] {
    return this.processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => `${p.name} exited (${p.child.exitCode ?? p.child.signalCode})`);
  }

  async stop(): Promise<void> {
    // The API server first: its last requests still have etcd.
    for (const p of [...this.processes].reverse()) await stopChild(p.child, p.exited);
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

class PortTaken extends Error {}

async function waitFor(what: string, p: Process, ready: () => Promise<boolean>, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: ExitStatus | undefined;
  void p.exited.then((s) => (exit = s));
  for (;;) {
    if (exit) {
      const message = `${what} exited (${describeExit(exit)}) before it was ready; see ${logFile}`;
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      throw /address already in use/.test(log) ? new PortTaken(message) : new Error(`${message}\n${log.trim().split('\n').slice(-5).join('\n')}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs / 1000} s; see ${p.name}.log`);
    await delay(100);
  }
}
