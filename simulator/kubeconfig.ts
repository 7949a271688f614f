/** Kubeconfig documents for the simulated clusters: what users, kubectl and ferry's worker load. */
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface ClusterEndpoint {
  /** Context, cluster and user name in the kubeconfig. */
  name: string;
  server: string;
  caPem: string;
  token: string;
}

export function kubeconfigYaml(endpoints: ClusterEndpoint[], currentContext = endpoints[0]?.name): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: endpoints.map((e) => ({
      name: e.name,
      cluster: { server: e.server, 'certificate-authority-data': Buffer.from(e.caPem).toString('base64') },
    })),
    users: endpoints.map((e) => ({ name: e.name, user: { token: e.token } })),
    contexts: endpoints.map((e) => ({ name: e.name, context: { cluster: e.name, user: e.name } })),
    'current-context': currentContext,
    preferences: {},
  });
}

/**
 * client-node 2.0.1 makes a new connection pool for every request (a TLS handshake each time, and an
 * idle socket left behind). Each of these kubeconfigs names one endpoint and one user, so the first
 * request's pool can serve them all; the simulator's components and tests make thousands of requests.
 */
class OneEndpointKubeConfig extends KubeConfig {
  private pool: ReturnType<RequestContext['getDispatcher']>;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (this.pool === undefined) this.pool = fresh;
    else if (fresh !== undefined && fresh !== this.pool) {
      context.setDispatcher(this.pool);
      void fresh.close();
    }
  }
}

export function kubeConfigFor(e: ClusterEndpoint): KubeConfig {
  const kc = new OneEndpointKubeConfig();
  kc.loadFromString(kubeconfigYaml([e]));
  return kc;
}
