/**
 * One simulated cluster: an API server with its own serving CA and tokens, KubeVirt's admission rules,
 * and the KubeVirt components (virt-operator, virt-controller, virt-handler, CDI, the synchronization
 * controller), which talk to the API server only through client-node, as real ones would.
 */
import { randomBytes } from 'node:crypto';
import { registerKubevirtAdmission } from './admission.js';
import { ApiServer, type User } from './apiserver/server.js';
import { startKubevirtComponents, syncControl, type KubevirtComponents } from './components.js';
import type { ControllerContext, SimTiming } from './controllers/context.js';
import type { SyncController } from './controllers/sync.js';
import type { VirtHandlerMetricsServer } from './metrics/server.js';
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
    private readonly components: KubevirtComponents,
  ) {}

  get controllers(): ControllerContext {
    return this.components.controllers;
  }

  get sync(): SyncController {
    return this.components.sync;
  }

  /** virt-handler's metrics endpoint (migration progress), its certificate from `kubevirtCA`. */
  get virtHandlerMetrics(): VirtHandlerMetricsServer {
    return this.components.metrics;
  }

  static async start(name: string, opts: ClusterOptions): Promise<SimCluster> {
    const [apiCA, kubevirtCA] = await Promise.all([createCA(`${name}-apiserver-ca`, 30), createCA(`${name}-kubevirt-ca`, 7)]);
    const serving = await issue(apiCA, { commonName: 'kube-apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: ['server'], validDays: 30 });
    const tokens: ClusterCredentials = { admin: token(), viewer: token(), system: token() };
    const users: User[] = [
      { name: 'admin', token: tokens.admin, write: true, admin: true },
      { name: 'viewer', token: tokens.viewer, write: false },
      { name: 'system:serviceaccount:kubevirt:kubevirt-controller', token: tokens.system, write: true, system: true },
    ];
    const api = new ApiServer({ users, tls: serving, ...(opts.apiPort ? { port: opts.apiPort } : {}) });
    registerKubevirtAdmission(api.store);
    await api.start();

    const components = await startKubevirtComponents({
      cluster: name,
      kubeConfig: kubeConfigFor({ name, server: api.url, caPem: apiCA.certPem, token: tokens.system }),
      kubevirtCA,
      network: opts.network,
      ...(opts.syncPort ? { syncPort: opts.syncPort } : {}),
      ...(opts.timing ? { timing: opts.timing } : {}),
      ...(opts.byteScale ? { byteScale: opts.byteScale } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    const cluster = new SimCluster(name, api, apiCA, kubevirtCA, tokens, components);
    api.registerControl('sync-controller', (method, body) => syncControl(components.sync, method, body));
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
    await this.components.stop();
    await this.api.stop();
  }
}
