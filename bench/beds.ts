/**
 * `npm run bench:beds`: the same migration on both beds, measured. For each bed: how long the two
 * clusters take to start, one migration's wall time (web-01: 1 GiB memory + 10 GiB disk) and the
 * Kubernetes requests ferry made for it on each cluster (counted by the simulator's API server, or by
 * the real bed's fault proxy in front of each kube-apiserver).
 */
import { FERRY_USER } from '../simulator/kube-bed/cluster.js';
import type { MigrationResult } from '../workflows/contract.js';
import { bedFromEnv, startBedStack, type BedKind, type BedStack } from '../test/support/bed.js';
import { input, startMigration } from '../test/support/e2e.js';

interface Metrics {
  byUser: Record<string, number>;
}

async function ferryRequests(stack: BedStack): Promise<Record<'source' | 'destination', number>> {
  // ferry is the admin token on the simulator and its ServiceAccount on the real bed.
  const user = stack.bed.kind === 'sim' ? 'admin' : FERRY_USER;
  const of = async (c: 'source' | 'destination') => ((await stack.bed.control(c, 'metrics')) as Metrics).byUser[user] ?? 0;
  return { source: await of('source'), destination: await of('destination') };
}

async function measure(kind: BedKind): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const stack = await startBedStack(kind);
  const started = performance.now() - t0;
  try {
    for (const c of ['source', 'destination'] as const) await stack.bed.control(c, 'metrics', 'DELETE');
    const t1 = performance.now();
    const result = (await (await startMigration(stack, input('web-01'))).result()) as MigrationResult;
    const wall = performance.now() - t1;
    const requests = await ferryRequests(stack);
    return {
      bed: kind,
      outcome: result.outcome,
      stackStartS: +(started / 1000).toFixed(1),
      migrationS: +(wall / 1000).toFixed(1),
      requests,
      requestsTotal: requests.source + requests.destination,
    };
  } finally {
    await stack.stop();
  }
}

const beds: BedKind[] = process.env.FERRY_BED ? [bedFromEnv('kube')] : ['sim', 'kube'];
const rows = [];
for (const kind of beds) rows.push(await measure(kind));
console.table(rows.map((r) => ({ ...r, requests: JSON.stringify(r.requests) })));
console.log(JSON.stringify(rows));
process.exit(0);
