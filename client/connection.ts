/**
 * The Temporal connection: the standard client configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TLS_*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and the config file), overridable by
 * `--address` and `--namespace`.
 */
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

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
