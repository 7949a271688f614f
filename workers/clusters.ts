/**
 * The worker's cluster registry: workflow inputs name clusters, and only the worker knows how to reach
 * them. A name maps to a cluster in exactly one of two ways:
 *
 * - **a kubeconfig context**: every context of the kubeconfig is a cluster of the context's name
 *   (FERRY_KUBECONFIG, which must then exist; else the first file of KUBECONFIG, else ~/.kube/config,
 *   each used only if it exists);
 * - **the pod's own cluster**, reached with the pod's ServiceAccount (client-node's in-cluster config),
 *   under FERRY_IN_CLUSTER_NAME. Without that variable it is used only when there is no kubeconfig,
 *   under the name "local".
 *
 * Both at once is the in-cluster install: a worker in the destination cluster reaches it as itself and
 * the other clusters through the mounted kubeconfig. A name that is both the in-cluster name and a
 * context is refused at startup (one name, two clusters), and so is a worker that knows no cluster.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ClusterClient, type ClusterRegistry } from '../activities/kube/cluster.js';
import { PooledKubeConfig } from '../activities/kube/pooled.js';
import { clusterName, FailureTypes } from '../workflows/contract.js';
import { parseDuration } from '../workflows/duration.js';

/** Where the kubelet mounts a pod's ServiceAccount token, its cluster's CA and its namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The name of the pod's own cluster when FERRY_IN_CLUSTER_NAME is unset and there is no kubeconfig. */
export const DEFAULT_IN_CLUSTER_NAME = 'local';

export interface InCluster {
  name: string;
  kc: KubeConfig;
}

export interface RegistryOptions {
  /**
   * A directory standing in for `/` when looking for the ServiceAccount files (tests lay out
   * `<root>/var/run/secrets/kubernetes.io/serviceaccount/` there): client-node's own path prefix.
   */
  root?: string;
}

/** How long one Kubernetes request may wait for its answer (activities/kube/pooled.ts); FERRY_KUBE_REQUEST_TIMEOUT. */
export function requestTimeoutFromEnvironment(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.FERRY_KUBE_REQUEST_TIMEOUT;
  if (v === undefined || v === '') return undefined;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 100) throw new Error(`FERRY_KUBE_REQUEST_TIMEOUT is "${v}": give a duration of at least 100ms, e.g. 30s`);
  return ms;
}

export class KubeconfigRegistry implements ClusterRegistry {
  private readonly clients = new Map<string, ClusterClient>();
  private readonly origins = new Map<string, string>();
  private readonly inClusterName: string | undefined;

  /** Every context of `kc` (if any) and, if given, the pod's own cluster; a name on both is an error. */
  constructor(kc: KubeConfig | undefined, inCluster?: InCluster, kubeconfigFile = 'the kubeconfig', requestTimeoutMs?: number) {
    for (const ctx of kc?.getContexts() ?? []) {
      if (inCluster && ctx.name === inCluster.name) {
        throw new Error(
          `FERRY_IN_CLUSTER_NAME "${inCluster.name}" is also a context in ${kubeconfigFile}: one name would mean two clusters. ` +
            `Remove context "${ctx.name}" from the kubeconfig (the worker reaches its own cluster with its ServiceAccount) or set FERRY_IN_CLUSTER_NAME to another name`,
        );
      }
      const one = new PooledKubeConfig();
      one.loadFromOptions({ clusters: kc!.getClusters(), users: kc!.getUsers(), contexts: kc!.getContexts(), currentContext: ctx.name });
      if (requestTimeoutMs !== undefined) one.requestTimeoutMs = requestTimeoutMs;
      this.clients.set(ctx.name, new ClusterClient(ctx.name, one));
      this.origins.set(ctx.name, `context in ${kubeconfigFile}`);
    }
    this.inClusterName = inCluster?.name;
    if (inCluster) {
      if (requestTimeoutMs !== undefined && inCluster.kc instanceof PooledKubeConfig) inCluster.kc.requestTimeoutMs = requestTimeoutMs;
      this.clients.set(inCluster.name, new ClusterClient(inCluster.name, inCluster.kc));
      this.origins.set(inCluster.name, 'in-cluster ServiceAccount');
    }
  }

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env, opts: RegistryOptions = {}): KubeconfigRegistry {
    const explicit = env.FERRY_KUBECONFIG !== undefined && env.FERRY_KUBECONFIG !== '';
    const file = explicit ? env.FERRY_KUBECONFIG! : (env.KUBECONFIG?.split(':').find((f) => f !== '') ?? join(homedir(), '.kube', 'config'));
    // A kubeconfig someone named but that is not there is a broken mount, not "no remote clusters".
    if (explicit && !existsSync(file)) {
      throw new Error(`FERRY_KUBECONFIG is ${file}, which does not exist: mount the remote clusters' kubeconfig there, or unset FERRY_KUBECONFIG`);
    }
    let kc: PooledKubeConfig | undefined;
    if (existsSync(file)) {
      kc = new PooledKubeConfig();
      kc.loadFromFile(file);
    }

    const named = env.FERRY_IN_CLUSTER_NAME !== undefined && env.FERRY_IN_CLUSTER_NAME !== '';
    let inCluster: InCluster | undefined;
    if (named) {
      const name = checkedInClusterName(env.FERRY_IN_CLUSTER_NAME!);
      inCluster = { name, kc: inClusterConfig(env, opts.root ?? '', `FERRY_IN_CLUSTER_NAME is "${name}"`) };
    } else if (!kc && env.KUBERNETES_SERVICE_HOST) {
      inCluster = { name: DEFAULT_IN_CLUSTER_NAME, kc: inClusterConfig(env, opts.root ?? '', `there is no kubeconfig at ${file} and KUBERNETES_SERVICE_HOST is set`) };
    }

    const registry = new KubeconfigRegistry(kc, inCluster, file, requestTimeoutFromEnvironment(env));
    if (registry.names().length === 0) {
      throw new Error(
        kc
          ? `the kubeconfig ${file} has no contexts and FERRY_IN_CLUSTER_NAME is unset: this worker would know no cluster. Add a context per cluster, or set FERRY_IN_CLUSTER_NAME in a pod`
          : `no kubeconfig at ${file} and not running in a cluster (KUBERNETES_SERVICE_HOST is unset): set FERRY_KUBECONFIG to a kubeconfig whose contexts are the clusters`,
      );
    }
    return registry;
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
        } (${this.inClusterName ? `its own cluster "${this.inClusterName}" and ` : ''}kubeconfig contexts)`,
        nonRetryable: true,
      });
    }
    return c;
  }

  names(): string[] {
    return [...this.clients.keys()];
  }

  /** Each cluster with where it comes from, for the worker's startup line (no credentials in it). */
  describe(): string {
    return [...this.origins].map(([name, origin]) => `${name} (${origin})`).join(', ');
  }
}

function checkedInClusterName(name: string): string {
  const r = clusterName('FERRY_IN_CLUSTER_NAME').safeParse(name);
  if (!r.success) throw new Error(`${r.error.issues[0]!.message} (got "${name}")`);
  return name;
}

/**
 * The pod's ServiceAccount config, as client-node's loadFromCluster builds it: server from
 * KUBERNETES_SERVICE_HOST/PORT, the CA file and a token *file* (client-node re-reads it every 60 s,
 * so the kubelet's token rotation is followed). The files are checked here so that a missing mount is
 * a startup error naming the file, not a 401 in the first activity.
 */
function inClusterConfig(env: NodeJS.ProcessEnv, root: string, because: string): KubeConfig {
  const missing: string[] = [];
  if (!env.KUBERNETES_SERVICE_HOST) missing.push('KUBERNETES_SERVICE_HOST is unset');
  if (!env.KUBERNETES_SERVICE_PORT) missing.push('KUBERNETES_SERVICE_PORT is unset');
  for (const f of ['token', 'ca.crt']) {
    const path = `${root}${SERVICE_ACCOUNT_DIR}/${f}`;
    if (!existsSync(path)) missing.push(`${path} does not exist`);
  }
  if (missing.length) {
    throw new Error(
      `${because}, so the worker needs its pod's ServiceAccount, but ${missing.join(', ')}: ` +
        'run it in a pod with automountServiceAccountToken (the default), or give the cluster a kubeconfig context (FERRY_KUBECONFIG) instead',
    );
  }
  // loadFromCluster reads KUBERNETES_SERVICE_HOST/PORT from process.env only; the worker passes its
  // own environment, tests a composed one, so the server is set from `env` after loading.
  const kc = new PooledKubeConfig();
  kc.loadFromCluster(root);
  const host = env.KUBERNETES_SERVICE_HOST!.includes(':') ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
  const [cluster] = kc.getClusters();
  kc.loadFromOptions({
    clusters: [{ ...cluster!, server: `https://${host}:${env.KUBERNETES_SERVICE_PORT}` }],
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return kc;
}
