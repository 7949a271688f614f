/** Kubeconfig documents for the simulated clusters: what users, kubectl and ferry's worker load. */
import type { KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../activities/kube/pooled.js';
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

export function kubeConfigFor(e: ClusterEndpoint): KubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromString(kubeconfigYaml([e]));
  return kc;
}
