#!/usr/bin/env node
/** `ferry-worker` (`npm run worker` from the source tree): connect with the standard Temporal configuration, run until SIGINT/SIGTERM. */
import { Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { KubeconfigRegistry } from './clusters.js';
import { ferryCodecOrExit } from './codec/data-converter.js';
import { healthFromEnvironment } from './health.js';
import { progressSourcesFromEnvironment } from './progress-config.js';
import { EXIT_NOT_READY, searchAttributesReady } from './search-attributes.js';
import { connectionError, describeTls } from './temporal-connection.js';
import { installMetrics, zeroMigrationSeries } from './telemetry-metrics.js';
import { tracingFromEnvironment } from './telemetry-tracing.js';
import { createFerryWorker } from './worker.js';

const { connectionOptions, namespace = 'default' } = loadClientConnectConfig();
const metrics = installMetrics();
const tracing = tracingFromEnvironment('ferry-worker');
const clusters = KubeconfigRegistry.fromEnvironment();
if (metrics) zeroMigrationSeries(clusters.names(), namespace);
const progress = progressSourcesFromEnvironment(clusters.names());
// Payload encryption: bad key configuration stops the worker here, before it polls (docs/encryption.md).
const codec = ferryCodecOrExit('ferry worker');
const connection = await NativeConnection.connect(connectionOptions).catch(async (e: unknown) => {
  throw await connectionError(connectionOptions, e);
});
const client = await Connection.connect(connectionOptions as Parameters<typeof Connection.connect>[0]).catch(async (e: unknown) => {
  throw await connectionError(connectionOptions, e);
});
// Without ferry's search attributes every workflow task fails in a loop: register them, or stop here with the fix.
if (!(await searchAttributesReady({ connection: client, namespace, address: connectionOptions.address }))) process.exit(EXIT_NOT_READY);
const cached = process.env.FERRY_MAX_CACHED_WORKFLOWS;
if (cached !== undefined && !/^\d+$/.test(cached)) throw new Error(`FERRY_MAX_CACHED_WORKFLOWS must be a whole number (got "${cached}")`);
const worker = await createFerryWorker({
  connection,
  client,
  namespace,
  clusters,
  tracing,
  ...(progress ? { progress } : {}),
  dataConverter: codec.dataConverter,
  ...(cached !== undefined ? { maxCachedWorkflows: Number(cached) } : {}),
});
console.log(
  `ferry worker: Temporal ${connectionOptions.address ?? 'localhost:7233'} (${describeTls(connectionOptions)}) namespace ${namespace}, task queue ferry; clusters: ${clusters.describe()}; progress from metrics: ${progress?.describe() ?? 'none (FERRY_PROGRESS_CONFIG unset)'}`,
);
console.log(`ferry worker: ${codec.description}`);
const health = await healthFromEnvironment(() => worker.getStatus());
if (health) console.log(`ferry worker: health on ${health.url}/readyz and /livez`);
if (metrics) console.log(`ferry worker: metrics on http://${metrics}/metrics`);
if (tracing.enabled) console.log(`ferry worker: traces exported as ${String(tracing.resource.attributes['service.name'])} (OTEL_* variables)`);
// The SDK's Runtime turns SIGINT/SIGTERM into a graceful shutdown: running activities get the grace time.
await worker.run();
await health?.close();
await tracing.shutdown();
await client.close();
await connection.close();
console.log('ferry worker stopped');
