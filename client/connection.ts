/**
 * The connections of the CLI. Temporal: the standard client configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TLS_*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and the config file), overridable by
 * `--address` and `--namespace`. Clusters (only `validate` talks to them): the kubeconfig, as the worker reads it.
 */
import { existsSync } from 'node:fs';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { KubeconfigRegistry } from '../workers/clusters.js';
import { ferryCodec } from '../workers/codec/data-converter.js';
import { CodecConfigError } from '../workers/codec/keys.js';
import { connectionError } from '../workers/temporal-connection.js';
import { FerryPhase } from '../workflows/search-attributes.js';
import { EXIT, ExitError, UsageError } from './cli.js';
import { cliTracing } from './tracing.js';

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
  // Payload encryption (FERRY_CODEC_KEYS): a bad key setup is a usage error before anything is sent.
  const codec = (() => {
    try {
      return ferryCodec();
    } catch (e) {
      if (e instanceof CodecConfigError) throw new UsageError([e.message]);
      throw e;
    }
  })();
  const settings = {
    address: flags.address ?? connectionOptions.address ?? 'localhost:7233',
    tls: connectionOptions.tls,
    apiKey: connectionOptions.apiKey,
    metadata: connectionOptions.metadata,
  };
  // Bad OTEL_* settings are refused before a connection exists that would then never be closed.
  const tracing = cliTracing();
  // The SDK's "Failed to connect before the deadline" names no cause: say which setting to fix.
  const connection = await Connection.connect(settings).catch(async (e: unknown) => {
    await tracing.shutdown();
    throw new ExitError(`ferry: ${(await connectionError(settings, e)).message}`, EXIT.failed);
  });
  return {
    client: new Client({ connection, namespace, dataConverter: codec.dataConverter, interceptors: tracing.interceptors }),
    namespace,
    close: async () => {
      await connection.close();
      await tracing.shutdown();
    },
  };
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

/** Every named cluster must be a context of the kubeconfig: a usage error naming each field otherwise. */
export function requireClusters(registry: { names(): string[] }, wanted: [field: string, cluster: string][]): void {
  const known = registry.names();
  const have = known.map((n) => `"${n}"`).join(', ') || 'no contexts';
  const unknown = wanted.filter(([, c]) => !known.includes(c)).map(([field, c]) => `${field}: unknown cluster "${c}": the kubeconfig has ${have}`);
  if (unknown.length) throw new UsageError(unknown);
}

/**
 * `workflowId` must name a workflow of `type`: a usage error when it is another kind of workflow,
 * exit 1 when there is none.
 */
export async function expectWorkflow(client: Client, workflowId: string, o: { type: string; noun: string; command: string; hint?: string }): Promise<void> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.type !== o.type) throw new UsageError([`${workflowId} is a workflow of type ${d.type}, not a ${o.noun} (${o.type})`]);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new ExitError(`${o.command}: no ${o.noun} with workflow ID "${workflowId}"${o.hint ? ` (${o.hint})` : ''}`, EXIT.failed);
    throw e;
  }
}

/**
 * The answer to a start whose workflow ID is taken: which workflow runs (its ID, run ID, since when,
 * its phase if it has one) and how to follow it, with ferry and with the Temporal CLI. `follow` holds
 * [what, ferry command] pairs; the connection flags given are repeated on every command.
 */
export async function alreadyRunning(
  client: Client,
  workflowId: string,
  o: { command: string; what: string; follow: [label: string, command: string][]; flags?: ConnectionFlags },
): Promise<ExitError> {
  const d = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  const phase = d?.typedSearchAttributes.get(FerryPhase);
  const facts = d ? [`run ID ${d.runId}`, `started ${d.startTime.toISOString()}`, ...(typeof phase === 'string' ? [`phase ${phase}`] : [])] : [];
  const flags = [
    ...(o.flags?.address ? [`--address ${o.flags.address}`] : []),
    ...(o.flags?.namespace && o.flags.namespace !== 'default' ? [`--namespace ${o.flags.namespace}`] : []),
  ].join(' ');
  const rows: [string, string][] = [...o.follow, ['Temporal CLI', `temporal workflow describe -w ${workflowId}`]];
  const width = Math.max(...rows.map(([label]) => label.length)) + 1;
  return new ExitError(
    [
      `${o.command}: ${o.what} is already running as workflow ${workflowId}${facts.length ? ` (${facts.join(', ')})` : ''}; nothing new was started.`,
      ...rows.map(([label, cmd]) => `  ${`${label}:`.padEnd(width)}  ${flags ? `${cmd} ${flags}` : cmd}`),
    ].join('\n'),
    EXIT.failed,
  );
}
