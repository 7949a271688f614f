/**
 * `ferry migrate` and `ferry plan start` refuse to start a workflow in a namespace without ferry's
 * search attributes: the workflow would hang on its first task. The check is the worker's
 * (workers/search-attributes.ts) without registering, with the CLI's exit code for a configuration error.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { requireSearchAttributes, SearchAttributeSetupError } from '../workers/search-attributes.js';
import { EXIT, ExitError } from './cli.js';
import type { Connected, ConnectionFlags } from './connection.js';

export async function refuseWithoutSearchAttributes(conn: Connected, command: string, flags: ConnectionFlags): Promise<void> {
  // The address as connect() chose it, for the commands in the message (never credentials).
  const address = flags.address ?? loadClientConnectConfig().connectionOptions.address ?? 'localhost:7233';
  try {
    await requireSearchAttributes({ connection: conn.client.connection, namespace: conn.namespace, address, who: command, warn: (l) => console.error(l) });
  } catch (e) {
    if (e instanceof SearchAttributeSetupError) throw new ExitError(e.message.startsWith(command) ? e.message : `${command}: ${e.message}`, EXIT.usage);
    throw e;
  }
}
