/**
 * The connections of the CLI. Temporal: the standard client configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TLS_*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and the config file), overridable by
 * `--address` and `--namespace`. Clusters (only `validate` talks to them): the kubeconfig, as the worker reads it.
 */
import { existsSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { KubeconfigRegistry } from '../workers/clusters.js';
import { UsageError } from './cli.js';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
}

export interface Connected {
  client: Client;
  namespace: string;
  close(): Promise<void>;
}

export async function connect(flags: ConnectionFlags): Promise<Connected> {
  const { connectionOptions, namespace: configured } = loadClientConnectConfig();
  const namespace = flags.namespace ?? configured ?? 'default';
  const connection = await Connection.connect({
    address: flags.address ?? connectionOptions.address ?? 'localhost:7233',
    tls: connectionOptions.tls,
    apiKey: connectionOptions.apiKey,
    metadata: connectionOptions.metadata,
  });
  return { client: new Client({ connection, namespace }), namespace, close: () => connection.close() };
}

/**
 * The clusters, as the worker sees them (workers/clusters.ts): every context of the kubeconfig at
 * `--kubeconfig`, else FERRY_KUBECONFIG, else the first file of KUBECONFIG, else ~/.kube/config.
 * A kubeconfig that is missing or unreadable is a usage error: nothing was sent anywhere.
 */
export async function clusters(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<KubeconfigRegistry> {
  if (kubeconfig !== undefined && !existsSync(kubeconfig)) throw new UsageError([`--kubeconfig ${kubeconfig}: no such file`]);
  // Loaded here, not at the top: client-node is heavy, and only validate needs it.
  const { KubeconfigRegistry } = await import('../workers/clusters.js');
  try {
    return KubeconfigRegistry.fromEnvironment(kubeconfig !== undefined ? { ...env, FERRY_KUBECONFIG: kubeconfig } : env);
  } catch (e) {
    throw new UsageError([`cannot load the kubeconfig: ${e instanceof Error ? e.message : String(e)}`]);
  }
}
