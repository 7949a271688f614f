/**
 * The worker's cluster registry: workflow inputs name clusters, and only the worker knows how to reach
 * them. Each kubeconfig context is a cluster of that name (FERRY_KUBECONFIG, else KUBECONFIG, else
 * ~/.kube/config); inside a pod with no kubeconfig, the pod's own cluster is registered under
 * FERRY_IN_CLUSTER_NAME (default "local").
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ClusterClient, type ClusterRegistry } from '../activities/kube/cluster.js';
import { PooledKubeConfig } from '../activities/kube/pooled.js';
import { FailureTypes } from '../workflows/contract.js';

export class KubeconfigRegistry implements ClusterRegistry {
  private readonly clients = new Map<string, ClusterClient>();

  constructor(kc: KubeConfig, inClusterName?: string) {
    if (inClusterName) {
      this.clients.set(inClusterName, new ClusterClient(inClusterName, kc));
      return;
    }
    for (const ctx of kc.getContexts()) {
      const one = new PooledKubeConfig();
      one.loadFromOptions({ clusters: kc.getClusters(), users: kc.getUsers(), contexts: kc.getContexts(), currentContext: ctx.name });
      this.clients.set(ctx.name, new ClusterClient(ctx.name, one));
    }
  }

  static fromEnvironment(env = process.env): KubeconfigRegistry {
    const file = env.FERRY_KUBECONFIG ?? env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
    const kc = new PooledKubeConfig();
    if (existsSync(file)) {
      kc.loadFromFile(file);
      return new KubeconfigRegistry(kc);
    }
    if (env.KUBERNETES_SERVICE_HOST) {
      kc.loadFromCluster();
      return new KubeconfigRegistry(kc, env.FERRY_IN_CLUSTER_NAME ?? 'local');
    }
    throw new Error(`no kubeconfig at ${file} and not running in a cluster: set FERRY_KUBECONFIG to a kubeconfig whose contexts are the clusters`);
  }

  get(name: string): ClusterClient {
    const c = this.clients.get(name);
    if (!c) {
      throw ApplicationFailure.create({
        type: FailureTypes.InvalidInput,
        message: `unknown cluster "${name}": this worker knows ${
          this.names()
            .map((n) => `"${n}"`)
            .join(', ') || 'no clusters'
        } (kubeconfig contexts)`,
        nonRetryable: true,
      });
    }
    return c;
  }

  names(): string[] {
    return [...this.clients.keys()];
  }
}
