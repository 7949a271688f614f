/**
 * The worker's /metrics, end to end: ferry's worker as its own process (`npm run worker` with
 * FERRY_METRICS_ADDRESS) on a real Temporal dev server and the simulator; one migration succeeds,
 * one stalls (the network between the clusters' sync endpoints is cut), is extended, stalls again and
 * is cancelled. The scrape must say exactly that, and a real Prometheus scraping the worker with
 * deploy/monitoring's rules must fire FerryMigrationStalled for it (and nothing else).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../tools/processes.js';
import { type RunningPrometheus, startPrometheus } from '../../tools/prometheus/server.js';
import type { MigrationResult } from '../../workflows/contract.js';
import { cancelUpdate, extendUpdate, statusQuery } from '../../workflows/messages.js';
import { FERRY_SERIES } from '../../workflows/metric-names.js';
import { eventually } from '../../simulator/testing/sim.js';
import { input, spawnWorker, startMigration, startStack, waitForPhase, type Stack } from '../support/e2e.js';
import { TEMPORAL_SDK_SERIES } from './metric-sources.js';
import { writeFerryRules } from './rules.js';
import { labelValues, parsePrometheusText, type Sample, sumOf } from './prometheus-text.js';

let stack: Stack | undefined;
let worker: ChildProcess | undefined;
let metricsUrl = '';
let workerLog = '';
let prometheus: RunningPrometheus | undefined;

async function scrape(): Promise<Sample[]> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  return parsePrometheusText(await res.text());
}

before(async () => {
  stack = await startStack({ inProcessWorker: false });
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  worker = spawnWorker(stack, { FERRY_METRICS_ADDRESS: `127.0.0.1:${port}` });
  worker.stdout?.on('data', (b: Buffer) => (workerLog += b.toString()));
  worker.stderr?.on('data', (b: Buffer) => (workerLog += b.toString()));
  await eventually(
    'the worker serving /metrics',
    () =>
      fetch(metricsUrl).then(
        (r) => r.ok,
        () => false,
      ),
    60_000,
    200,
  );
  const rules = writeFerryRules(mkdtempSync(join(tmpdir(), 'ferry-rules-')));
  prometheus = await startPrometheus({ targets: [{ job: 'ferry-worker', url: metricsUrl }], ruleFiles: [rules] });
});

interface Alert {
  labels: Record<string, string>;
  state: string;
}

async function alerts(): Promise<Alert[]> {
  const res = (await (await fetch(`${prometheus!.url}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } };
  return res.data.alerts;
}

after(async () => {
  await prometheus?.stop();
  await stack?.sim.partition(false).catch(() => {});
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await new Promise((r) => worker!.once('exit', r));
  }
  await stack?.stop();
});

describe('worker /metrics', () => {
  let stalledOn: string | undefined;

  it('counts a migration that succeeds and one that stalls twice and is cancelled', async () => {
    const s = stack!;
    const ok = (await (await startMigration(s, input('web-01'))).result()) as MigrationResult;
    assert.equal(ok.outcome, 'Succeeded', workerLog);

    await s.sim.partition(true);
    const h = await startMigration(s, input('cache-01'));
    await waitForPhase(h, 'Stalled', 60_000);
    stalledOn = (await h.query(statusQuery)).stall?.deadline;
    assert.ok(stalledOn, 'a stall names its deadline');
    await h.executeUpdate(extendUpdate, { args: [{ by: '1s', reason: 'metrics test' }] });
    await eventually('the second stall', async () => (await h.query(statusQuery)).history.filter((e) => e.phase === 'Stalled').length === 2, 30_000, 100);
    await h.executeUpdate(cancelUpdate, { args: [{ reason: 'metrics test' }] });
    const back = (await h.result()) as MigrationResult;
    assert.equal(back.outcome, 'RolledBack');
    await s.sim.partition(false);
  });

  it('says so on /metrics: outcomes, stalls by deadline, decisions, phase times, Kubernetes requests', async () => {
    // The workflow's metrics leave through a sink after its last task: wait for the last one, then check all exactly.
    let m = await scrape();
    await eventually('the rollback counted', async () => sumOf((m = await scrape()), 'ferry_migrations_ended_total', { outcome: 'RolledBack' }) === 1, 15_000, 200);

    assert.equal(sumOf(m, 'ferry_migrations_started_total'), 2);
    assert.equal(sumOf(m, 'ferry_migrations_started_total', { source_cluster: 'source', destination_cluster: 'destination', in_plan: 'false' }), 2);
    assert.equal(sumOf(m, 'ferry_migrations_ended_total', { outcome: 'Succeeded' }), 1);
    assert.equal(sumOf(m, 'ferry_migrations_ended_total', { outcome: 'Failed' }), 0);
    // Created at 0 when a migration starts, so that increase() sees the first one.
    assert.ok(m.some((x) => x.name === 'ferry_migrations_ended_total' && x.labels.outcome === 'Failed' && x.value === 0));
    assert.ok(m.some((x) => x.name === 'ferry_migration_stalls_total' && x.labels.deadline === 'completion' && x.value === 0));
    assert.equal(sumOf(m, 'ferry_migrations_ended_total', { workflowType: 'migrateVm', taskQueue: 'ferry', namespace: 'default' }), 2);
    // ...and by the worker at its start for every pair of its clusters, with the labels the workflow meter
    // adds: a migration taken over from another worker replays its start, which counts nothing.
    const zero = { workflowType: 'migrateVm', taskQueue: 'ferry', namespace: 'default', source_cluster: 'destination', destination_cluster: 'source' };
    assert.ok(
      m.some((x) => x.name === 'ferry_migration_stalls_total' && Object.entries(zero).every(([k, v]) => x.labels[k] === v) && x.labels.deadline === 'handshake' && x.value === 0),
    );
    assert.ok(
      m.some((x) => x.name === 'ferry_migrations_ended_total' && Object.entries(zero).every(([k, v]) => x.labels[k] === v) && x.labels.outcome === 'Failed' && x.value === 0),
    );

    assert.equal(sumOf(m, 'ferry_migration_stalls_total'), 2);
    assert.equal(sumOf(m, 'ferry_migration_stalls_total', { deadline: stalledOn! }), 2);
    assert.equal(sumOf(m, 'ferry_operator_decisions_total', { action: 'extend', by: 'operator' }), 1);
    assert.equal(sumOf(m, 'ferry_operator_decisions_total', { action: 'cancel', by: 'operator' }), 1);
    assert.equal(sumOf(m, 'ferry_operator_decisions_total', { action: 'retry' }), 0);

    // Every phase left is one observation: both migrations validated; one finalized; the other stalled twice and rolled back once.
    const count = (phase: string) => sumOf(m, 'ferry_migration_phase_duration_seconds_count', { phase });
    assert.equal(count('Validating'), 2);
    assert.equal(count('Synchronizing'), 3, 'web-01 once, cache-01 before each stall');
    assert.equal(count('Finalizing'), 1);
    assert.equal(count('Stalled'), 2);
    assert.equal(count('RollingBack'), 1);
    assert.equal(count('Succeeded') + count('RolledBack'), 0, 'an end is never left');
    assert.equal(sumOf(m, 'ferry_migration_phase_duration_seconds_bucket', { phase: 'Stalled', le: '+Inf' }), 2);
    // cache-01 waited out the 4 s handshake deadline, then the 1 s extension: at least 5 s Synchronizing.
    assert.ok(sumOf(m, 'ferry_migration_phase_duration_seconds_sum', { phase: 'Synchronizing' }) >= 5);

    assert.deepEqual(labelValues(m, 'ferry_kube_requests_total', 'cluster'), ['destination', 'source']);
    const verbs = labelValues(m, 'ferry_kube_requests_total', 'verb');
    for (const verb of ['get', 'list', 'create', 'delete', 'watch'])
      assert.ok(sumOf(m, 'ferry_kube_requests_total', { verb }) > 0, `no ${verb} counted (verbs: ${verbs.join(', ')})`);
    const codes = labelValues(m, 'ferry_kube_requests_total', 'code');
    assert.ok(codes.some((c) => /^2\d\d$/.test(c)) && codes.some((c) => /^4\d\d$/.test(c)), `2xx and 4xx codes expected, got ${codes.join(', ')}`);
    assert.ok(sumOf(m, 'ferry_kube_requests_total', { verb: 'get', code: '404' }) > 0, 'a read of an object not there yet is a 404');

    // Everything ferry declares and this run exercised is there under its declared name; the SDK's own metrics beside them.
    const names = new Set(m.map((x) => x.name));
    for (const n of FERRY_SERIES.filter((n) => !n.startsWith('ferry_plan_'))) assert.ok(names.has(n), `${n} missing from /metrics`);
    assert.ok(names.has('temporal_workflow_completed_total'), 'the SDK metrics get _total too');
    // The SDK metrics the alerts and the dashboard use (metric-sources.ts).
    for (const n of TEMPORAL_SDK_SERIES)
      assert.ok(
        m.some((x) => x.name === n && x.labels.task_queue === 'ferry'),
        `${n} missing from /metrics`,
      );
  });

  it("a real Prometheus scraping the worker fires FerryMigrationStalled for the stall's deadline, and no other alert", async () => {
    const firing = await eventually(
      'FerryMigrationStalled firing',
      async () => {
        const a = (await alerts()).filter((x) => x.labels.alertname === 'FerryMigrationStalled' && x.state === 'firing');
        return a.length > 0 && a;
      },
      30_000,
      250,
    );
    assert.deepEqual(
      firing.map((a) => [a.labels.deadline, a.labels.source_cluster, a.labels.destination_cluster, a.labels.severity]),
      [[stalledOn, 'source', 'destination', 'warning']],
    );
    assert.deepEqual(
      (await alerts()).filter((x) => x.labels.alertname !== 'FerryMigrationStalled').map((x) => x.labels.alertname),
      [],
    );
  });
});
