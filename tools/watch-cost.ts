/**
 * What ferry's waiting costs the clusters' API servers, measured on the simulator (no Temporal):
 * 1. open watches per cluster (counted by the API server) with N waitFor activities in flight, and
 *    ferry's requests by verb during a 20 s steady wait of those N;
 * 2. ferry's requests by verb for one whole migration (web-01), step by step through the activities.
 * Ferry's requests are counted where all of them pass (activities/kube/requests.ts), so the simulated
 * KubeVirt components' own traffic is not in the figures.
 *
 *   npx tsx tools/watch-cost.ts [N]
 */
import type { ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { MetricMeter } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { AttemptRef } from '../activities/context.js';
import { createActivities } from '../activities/index.js';
import { ClusterClient, type ClusterRegistry } from '../activities/kube/cluster.js';
import { PooledKubeConfig } from '../activities/kube/pooled.js';
import { countKubeRequestsWith } from '../activities/kube/requests.js';
import type { ApiServer } from '../simulator/apiserver/server.js';
import { startSim } from '../simulator/testing/sim.js';
import { migrationInputSchema, migrationWorkflowId } from '../workflows/contract.js';

const N = Number(process.argv[2] ?? 20);
const counts = new Map<string, number>();
countKubeRequestsWith({
  createCounter: () => ({
    add: (n: number, attrs?: Record<string, string>) => {
      const k = `${attrs?.cluster}/${attrs?.verb}`;
      counts.set(k, (counts.get(k) ?? 0) + n);
    },
  }),
} as unknown as MetricMeter);
const take = () => {
  const out = Object.fromEntries([...counts].sort());
  counts.clear();
  return out;
};

function ferryWatches(api: ApiServer): number {
  const s = api as unknown as { openWatches: Set<ServerResponse>; systemWatches: WeakSet<ServerResponse> };
  return [...s.openWatches].filter((w) => !s.systemWatches.has(w)).length;
}

function ref(name: string, id: string): AttemptRef {
  const migration = migrationInputSchema.parse({ source: { cluster: 'source', namespace: 'demo', name }, destination: { cluster: 'destination' } });
  return { workflowId: migrationWorkflowId(migration), migration, attempt: 1, migrationId: `0f0e0d0c-${id}`, runStrategy: 'Always' };
}

const sim = await startSim();
try {
  const base = new KubeConfig();
  base.loadFromString(sim.kubeconfig());
  const clients = new Map(
    ['source', 'destination'].map((n) => {
      const kc = new PooledKubeConfig();
      kc.loadFromOptions({ clusters: base.getClusters(), users: base.getUsers(), contexts: base.getContexts(), currentContext: n });
      return [n, new ClusterClient(n, kc)] as const;
    }),
  );
  const registry: ClusterRegistry = { get: (n) => clients.get(n)!, names: () => [...clients.keys()] };
  const acts = createActivities({ clusters: registry });

  // 1. N waits in flight (for VMs that are not there: they wait until cancelled).
  const envs = Array.from({ length: N }, () => new MockActivityEnvironment());
  const waits = envs.map((env, i) => env.run(acts.waitFor, ref(`absent-${i}`, `w${i}`), 'completion' as const).catch(() => undefined));
  const until = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 30_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until('the waits to open their watches', () => ferryWatches(sim.source.api) > 0 && ferryWatches(sim.destination.api) > 0);
  await new Promise((r) => setTimeout(r, 2000)); // every wait has started
  take();
  const open = { source: ferryWatches(sim.source.api), destination: ferryWatches(sim.destination.api) };
  await new Promise((r) => setTimeout(r, 20_000));
  const steady = take();
  for (const env of envs) env.cancel();
  await Promise.all(waits);
  console.log(JSON.stringify({ inFlight: N, openWatchesPerCluster: open, requestsIn20sSteadyWait: steady }));

  // 2. One migration, step by step, paying for its own first lists (no lingering informer).
  const stopInformers = () => {
    for (const c of clients.values()) (c as Partial<{ informers: { stopAll(): void } }>).informers?.stopAll();
  };
  stopInformers();
  take();
  const r = ref('web-01', 'one');
  const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment().run(fn, ...args);
  const byStep: Record<string, Record<string, number>> = {};
  const started = Date.now();
  await run(acts.syncCertificates, { source: 'source', destination: 'destination', pollIntervalMs: 2000 });
  await run(acts.createPrerequisites, r);
  await run(acts.createTargetVM, r);
  byStep.setup = take();
  await run(acts.waitFor, r, 'receiverReady');
  byStep.waitReceiverReady = take();
  await run(acts.createTargetMigration, r);
  byStep.createTargetMigration = take();
  const { syncAddress } = await run(acts.waitFor, r, 'syncAddress');
  byStep.waitSyncAddress = take();
  await run(acts.createSourceMigration, r, syncAddress!);
  byStep.createSourceMigration = take();
  await run(acts.waitFor, r, 'handshake');
  byStep.waitHandshake = take();
  await run(acts.waitFor, r, 'completion');
  byStep.waitCompletion = take();
  await run(acts.finalize, r);
  byStep.finalize = take();
  console.log(JSON.stringify({ oneMigration: 'web-01', seconds: Math.round((Date.now() - started) / 100) / 10, requestsByStep: byStep }));
  stopInformers();
} finally {
  await sim.stop();
}
