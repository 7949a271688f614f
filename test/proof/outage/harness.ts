/**
 * The outage bed: one dev server, one simulator, one in-process ferry worker, and for every migration
 * its own pair of outage proxies (test/proof/support/outage-proxy.ts) under its own kubeconfig
 * contexts `source-<n>` / `destination-<n>`, so the migrations of a matrix row run at once on one
 * stack and an outage hits exactly one of them. The simulated KubeVirt components talk to their API
 * servers directly and keep working.
 *
 * An outage starts deterministically, when the migration's first activity of the phase asks the
 * registry for the cluster (the activity context names the workflow and the activity): no timing.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Context } from '@temporalio/activity';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { ClusterClient, ClusterRegistry } from '../../../activities/kube/cluster.js';
import type { Simulator } from '../../../simulator/sim.js';
import { startSim } from '../../../simulator/testing/sim.js';
import { KubeconfigRegistry } from '../../../workers/clusters.js';
import { createFerryWorker } from '../../../workers/worker.js';
import type { Phase } from '../../../workflows/phases.js';
import { startStackWith, workflowBundle, type Stack } from '../../support/e2e.js';
import { OutageProxy, type OutageMode } from '../support/outage-proxy.js';

export type Side = 'source' | 'destination';

/**
 * The activity that opens each phase, as the workflow calls them. Synchronizing opens with the first
 * wait after the source VMIM exists; a wait's retries share its activity ID, so waits are counted by ID.
 */
export const PHASE_OPENER: Partial<Record<Phase, { activity: string; after?: string }>> = {
  Validating: { activity: 'preflight' },
  SyncingCertificates: { activity: 'syncCertificates' },
  CreatingPrerequisites: { activity: 'createPrerequisites' },
  CreatingTarget: { activity: 'createTargetVM' },
  CreatingMigrations: { activity: 'createTargetMigration' },
  Synchronizing: { activity: 'waitFor', after: 'createSourceMigration' },
  Finalizing: { activity: 'finalize' },
  RollingBack: { activity: 'rollback' },
};

export interface Trip {
  side: Side;
  mode: Exclude<OutageMode, 'up'>;
  /** The activity whose first cluster access starts the outage (and the one that must have run before it). */
  activity: string;
  after?: string;
  /** Called once, right after the outage started. */
  onTrip?: () => void;
}

/** One migration's view of the clusters: its contexts and proxies. */
export class Lane {
  readonly seen = new Set<string>();
  trip: Trip | undefined;
  tripped = false;

  constructor(
    readonly n: number,
    readonly proxies: Record<Side, OutageProxy>,
  ) {}

  get clusters(): Record<Side, string> {
    return { source: `source-${this.n}`, destination: `destination-${this.n}` };
  }

  /** Every activity's first look at a cluster passes here. */
  onActivity(activity: string, activityId: string): void {
    const t = this.trip;
    const first = !this.seen.has(`${activity}#${activityId}`);
    this.seen.add(`${activity}#${activityId}`);
    this.seen.add(activity);
    if (!t || this.tripped || !first || activity !== t.activity || (t.after && !this.seen.has(t.after))) return;
    this.tripped = true;
    // Synchronous where it matters: a closed listener and paused sockets take effect before this activity's first request.
    void this.proxies[t.side].set(t.mode);
    t.onTrip?.();
  }

  heal(): Promise<void> {
    return Promise.all([this.proxies.source.set('up'), this.proxies.destination.set('up')]).then(() => {});
  }
}

/** A registry that tells the lane of the calling activity's workflow which activity is starting. */
class TrippingRegistry implements ClusterRegistry {
  constructor(
    private readonly inner: KubeconfigRegistry,
    private readonly lanes: Map<string, Lane>,
  ) {}

  get(name: string): ClusterClient {
    const lane = this.lanes.get(name);
    if (lane) {
      let info: Context['info'] | undefined;
      try {
        info = Context.current().info;
      } catch {
        /* not in an activity */
      }
      if (info) lane.onActivity(info.activityType, info.activityId);
    }
    return this.inner.get(name);
  }

  names(): string[] {
    return this.inner.names();
  }
}

export interface OutageStack extends Stack {
  lanes: Lane[];
  /** The worker's client of a lane's cluster (`source-<n>` / `destination-<n>`), as its activities get it. */
  clusterClient(name: string): ClusterClient;
}

/**
 * The stack with `lanes` proxy pairs. `requestTimeoutMs` is the worker's FERRY_KUBE_REQUEST_TIMEOUT:
 * short, so a hung connection is noticed within the tests' deadlines.
 */
export async function startOutageStack(lanes: number, requestTimeoutMs = 2000): Promise<OutageStack> {
  const stack = await startStackWith(
    () => startSim(),
    (sim: Simulator) => ({ kubeconfig: sim.kubeconfig(), stop: () => sim.stop() }),
    { inProcessWorker: false },
  );
  const sim = stack.clusters;
  const base = new KubeConfig();
  base.loadFromString(sim.kubeconfig());
  const sideOf = (side: Side) => {
    const ctx = base.getContextObject(side)!;
    return { cluster: base.getCluster(ctx.cluster)!, user: ctx.user };
  };
  const all: Lane[] = [];
  const clusters = [];
  const contexts = [];
  for (let n = 1; n <= lanes; n++) {
    const proxies = {} as Record<Side, OutageProxy>;
    for (const side of ['source', 'destination'] as const) {
      const { cluster, user } = sideOf(side);
      proxies[side] = await OutageProxy.start(cluster.server);
      const name = `${side}-${n}`;
      clusters.push({ ...cluster, name, server: proxies[side].url });
      contexts.push({ name, cluster: name, user });
    }
    all.push(new Lane(n, proxies));
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters, users: base.getUsers(), contexts, currentContext: contexts[0]!.name });
  const byCluster = new Map<string, Lane>();
  for (const l of all) for (const c of Object.values(l.clusters)) byCluster.set(c, l);
  const clients = new KubeconfigRegistry(kc, undefined, 'the outage kubeconfig', requestTimeoutMs);
  const registry = new TrippingRegistry(clients, byCluster);

  const connection = await NativeConnection.connect({ address: stack.server.address });
  const clientConnection = await Connection.connect({ address: stack.server.address });
  const worker = await createFerryWorker({ connection, client: clientConnection, namespace: 'default', clusters: registry, workflowBundle: await workflowBundle() });
  stack.worker = worker;
  stack.workerRun = worker.run().finally(() => Promise.all([connection.close(), clientConnection.close()]));
  const stop = stack.stop.bind(stack);
  return Object.assign(stack, {
    sim,
    lanes: all,
    clusterClient: (name: string) => clients.get(name),
    async stop() {
      await stop();
      await Promise.all(all.flatMap((l) => [l.proxies.source.stop(), l.proxies.destination.stop()]));
    },
  });
}
