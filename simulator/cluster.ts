/**
 * One simulated cluster: an API server with its own serving CA and tokens. The KubeVirt controllers
 * attach to it through the Kubernetes API only (see controllers/).
 */
import { randomBytes } from 'node:crypto';
import { ApiServer, type User } from './apiserver/server.js';
import { kubeConfigFor, type ClusterEndpoint } from './kubeconfig.js';
import { createCA, issue, type CertAuthority } from './pki.js';

export interface ClusterCredentials {
  admin: string;
  viewer: string;
  system: string;
}

const token = () => randomBytes(24).toString('base64url');

export class SimCluster {
  private constructor(
    readonly name: string,
    readonly api: ApiServer,
    readonly apiCA: CertAuthority,
    readonly tokens: ClusterCredentials,
  ) {}

  static async start(name: string, opts: { port?: number } = {}): Promise<SimCluster> {
    const apiCA = await createCA(`${name}-apiserver-ca`, 30);
    const serving = await issue(apiCA, { commonName: 'kube-apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: ['server'], validDays: 30 });
    const tokens: ClusterCredentials = { admin: token(), viewer: token(), system: token() };
    const users: User[] = [
      { name: 'admin', token: tokens.admin, write: true, admin: true },
      { name: 'viewer', token: tokens.viewer, write: false },
      { name: 'system:serviceaccount:kubevirt:kubevirt-controller', token: tokens.system, write: true, system: true },
    ];
    const api = new ApiServer({ users, tls: serving, ...(opts.port ? { port: opts.port } : {}) });
    await api.start();
    return new SimCluster(name, api, apiCA, tokens);
  }

  endpoint(as: keyof ClusterCredentials = 'admin', name = this.name): ClusterEndpoint {
    return { name, server: this.api.url, caPem: this.apiCA.certPem, token: this.tokens[as] };
  }

  kubeConfig(as: keyof ClusterCredentials = 'admin') {
    return kubeConfigFor(this.endpoint(as));
  }

  async stop(): Promise<void> {
    await this.api.stop();
  }
}
