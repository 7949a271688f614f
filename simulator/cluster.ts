/**
 * One simulated cluster: an API server with its own serving CA and tokens, KubeVirt's admission rules,
 * and the KubeVirt components (virt-operator, virt-controller, virt-handler, CDI, the synchronization
 * controller), which talk to the API server only through client-node, as real ones would.
 */
import { randomBytes } from 'node:crypto';
import { registerKubevirtAdmission } from './admission.js';
import { ApiServer, type User } from './apiserver/server.js';
import { startCDI } from './controllers/cdi.js';
import { ControllerContext, DEFAULT_TIMING, type SimTiming } from './controllers/context.js';
import { KubeClient } from './controllers/kube.js';
import { SYNC_CLIENT_CN, SYNC_SERVER_CN } from './controllers/kubevirt.js';
import { startMigrationController } from './controllers/migration.js';
import { startOperator } from './controllers/operator.js';
import { SyncController } from './controllers/sync.js';
import { startVMController } from './controllers/vm.js';
import { startVMIController } from './controllers/vmi.js';
import { kubeConfigFor, type ClusterEndpoint } from './kubeconfig.js';
import type { SimNetwork } from './network.js';
import { createCA, issue, type CertAuthority } from './pki.js';

export interface ClusterCredentials {
  admin: string;
  viewer: string;
  system: string;
}

export interface ClusterOptions {
  network: SimNetwork;
  apiPort?: number;
  syncPort?: number;
  timing?: Partial<SimTiming>;
  /** One byte on the sync wire stands for this many bytes of guest state (default 4096). */
  byteScale?: number;
  log?: (msg: string) => void;
}

const token = () => randomBytes(24).toString('base64url');

export class SimCluster {
  private constructor(
    readonly name: string,
    readonly api: ApiServer,
    readonly apiCA: CertAuthority,
    /** The CA virt-operator publishes in `kubevirt-ca`: what sync controllers must trust. */
    readonly kubevirtCA: CertAuthority,
    readonly tokens: ClusterCredentials,
    readonly controllers: ControllerContext,
    readonly sync: SyncController,
  ) {}

  static async start(name: string, opts: ClusterOptions): Promise<SimCluster> {
    const [apiCA, kubevirtCA] = await Promise.all([createCA(`${name}-apiserver-ca`, 30), createCA(`${name}-kubevirt-ca`, 7)]);
    const [serving, syncServer, syncClient] = await Promise.all([
      issue(apiCA, { commonName: 'kube-apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: ['server'], validDays: 30 }),
      issue(kubevirtCA, { commonName: SYNC_SERVER_CN, usage: ['server', 'client'] }),
      issue(kubevirtCA, { commonName: SYNC_CLIENT_CN, usage: ['client', 'server'] }),
    ]);
    const tokens: ClusterCredentials = { admin: token(), viewer: token(), system: token() };
    const users: User[] = [
      { name: 'admin', token: tokens.admin, write: true, admin: true },
      { name: 'viewer', token: tokens.viewer, write: false },
      { name: 'system:serviceaccount:kubevirt:kubevirt-controller', token: tokens.system, write: true, system: true },
    ];
    const api = new ApiServer({ users, tls: serving, ...(opts.apiPort ? { port: opts.apiPort } : {}) });
    registerKubevirtAdmission(api.store);
    await api.start();

    const log = opts.log ?? (() => {});
    const client = new KubeClient(kubeConfigFor({ name, server: api.url, caPem: apiCA.certPem, token: tokens.system }));
    const ctx = new ControllerContext(name, client, { ...DEFAULT_TIMING, ...opts.timing }, (m) => log(`[${name}] ${m}`));
    // The sync controller tells virt-operator when its address changes; the operator needs the sync
    // controller to know the address: a forward reference breaks the cycle.
    const operator: { poke?: () => void } = {};
    const sync = new SyncController(
      ctx,
      { network: opts.network, serverCert: syncServer, clientCert: syncClient, byteScale: opts.byteScale ?? 4096, ...(opts.syncPort ? { port: opts.syncPort } : {}) },
      () => operator.poke?.(),
    );
    operator.poke = startOperator(ctx, kubevirtCA.certPem, sync).poke;
    startCDI(ctx);
    startVMIController(ctx);
    startVMController(ctx);
    startMigrationController(ctx);
    await ctx.start();
    await sync.start();

    const cluster = new SimCluster(name, api, apiCA, kubevirtCA, tokens, ctx, sync);
    api.registerControl('sync-controller', async (method, body) => {
      if (method === 'PUT') {
        const running = (body as { running?: boolean } | undefined)?.running;
        if (running === false) await sync.stop();
        if (running === true) await sync.start();
      }
      return { running: sync.isRunning, address: sync.address(), bytesReceived: sync.bytesReceived };
    });
    api.registerControl('watches', (method) => (method === 'DELETE' ? { dropped: api.dropWatches() } : {}));
    return cluster;
  }

  endpoint(as: keyof ClusterCredentials = 'admin', name = this.name): ClusterEndpoint {
    return { name, server: this.api.url, caPem: this.apiCA.certPem, token: this.tokens[as] };
  }

  kubeConfig(as: keyof ClusterCredentials = 'admin') {
    return kubeConfigFor(this.endpoint(as));
  }

  async stop(): Promise<void> {
    await this.sync.stop();
    this.controllers.stop();
    await this.api.stop();
  }
}
