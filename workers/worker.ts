/**
 * ferry's worker: runs the migration workflows and their activities on task queue `ferry`. The Temporal
 * connection comes from the standard Temporal environment variables / config profile
 * (@temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY,
 * TEMPORAL_PROFILE); clusters come from the kubeconfig (workers/clusters.ts).
 */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { type ActivityInterceptorsFactory, NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { keepAlive } from './activity-keepalive.js';
import type { ClusterRegistry } from '../activities/kube/cluster.js';
import type { ProgressSources } from './progress-config.js';
import { TASK_QUEUE, type Observation } from '../workflows/contract.js';
import { observeSignal } from '../workflows/messages.js';
import { clientTracing, type Tracing, tracingFromEnvironment, workerTracing } from './telemetry-tracing.js';
import { workflowCode } from './workflow-code.js';

export { WORKFLOWS_PATH } from './workflow-code.js';

export interface FerryWorkerOptions {
  connection: NativeConnection;
  /** A client connection used to deliver observations to running workflows. */
  client: Connection;
  namespace: string;
  clusters: ClusterRegistry;
  /** Each cluster's migration-progress endpoint (workers/progress-config.ts); none: phases only. */
  progress?: ProgressSources;
  taskQueue?: string;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Workflows kept in memory between tasks (the SDK's default scales with the heap). */
  maxCachedWorkflows?: number;
  log?: (msg: string) => void;
  /** Payload encryption (workers/codec/): the worker and its signalling client must share it. */
  dataConverter?: DataConverter;
  /** Default: as the OTEL_* variables say (off without them). */
  tracing?: Tracing;
  /** More activity interceptors, after ferry's own (the proof suite's kill hook). */
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** How long a workflow task waits for this worker's sticky queue before any worker may take it (SDK default 10 s). */
  stickyQueueScheduleToStartTimeout?: WorkerOptions['stickyQueueScheduleToStartTimeout'];
}

export async function createFerryWorker(o: FerryWorkerOptions): Promise<Worker> {
  const t = o.tracing ?? tracingFromEnvironment('ferry-worker');
  // Traced, an activity's observe signal is a span of the migration's trace.
  const client = new Client({
    connection: o.client,
    namespace: o.namespace,
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
    interceptors: { workflow: clientTracing(t) },
  });
  const report = async (workflowId: string, runId: string, observation: Observation) => {
    await client.workflow.getHandle(workflowId, runId).signal(observeSignal, observation);
  };
  const { interceptors: workflowInterceptors, ...code } = o.workflowBundle ? { workflowBundle: o.workflowBundle, interceptors: undefined } : workflowCode(t.enabled);
  const tracing = workerTracing(t);
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? TASK_QUEUE,
    ...code,
    // A bundle has its workflow interceptors built in (or not: workflow-code.ts says why).
    interceptors: {
      ...tracing.interceptors,
      activity: [keepAlive, ...(tracing.interceptors.activity ?? []), ...(o.activityInterceptors ?? [])],
      ...(workflowInterceptors ?? {}),
    },
    sinks: tracing.sinks,
    activities: createActivities({
      clusters: o.clusters,
      report,
      ...(o.progress ? { progress: (cluster: string) => o.progress!.forCluster(cluster) } : {}),
      ...(o.log ? { log: o.log } : {}),
    }),
    // Rollback and finalize must be able to finish when the worker is asked to stop.
    shutdownGraceTime: '30s',
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
    ...(o.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: o.maxCachedWorkflows } : {}),
    ...(o.stickyQueueScheduleToStartTimeout !== undefined ? { stickyQueueScheduleToStartTimeout: o.stickyQueueScheduleToStartTimeout } : {}),
  });
}
