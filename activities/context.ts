/** What every migration activity is given: the dependencies (by factory) and the attempt (by argument). */
import type { Migration, Observation } from '../workflows/contract.js';
import type { ClusterRegistry } from './kube/cluster.js';
import type { ProgressSource } from './progress/prometheus.js';

export interface ActivityDeps {
  clusters: ClusterRegistry;
  /** Deliver an observation to the running workflow (the worker signals it); best effort. */
  report?: (workflowId: string, runId: string, observation: Observation) => Promise<void>;
  /**
   * Where a cluster's migration progress can be read (its Prometheus-compatible query endpoint); none:
   * the status says progress is unavailable and shows phases only.
   */
  progress?: (cluster: string) => ProgressSource | undefined;
  now?: () => Date;
  log?: (msg: string) => void;
}

/** One attempt of one VM migration, as the workflow passes it to each activity. */
export interface AttemptRef {
  workflowId: string;
  migration: Migration;
  attempt: number;
  /** Unique per attempt: `spec.receive.migrationID` / `spec.sendTo.migrationID`. */
  migrationId: string;
  /** The source VM's run strategy, restored on the target after the move. */
  runStrategy: string;
}
