/**
 * Progress as a real cluster offers it, end to end: the simulator's virt-handlers publish KubeVirt's
 * migration metrics, a real Prometheus scrapes them, an HTTPS proxy in front of it demands a bearer
 * token (as OpenShift's kube-rbac-proxy in front of the Thanos querier does), and ferry's worker — its
 * own process, configured by FERRY_PROGRESS_CONFIG — reads them. `ferry watch` shows bytes, rates and
 * an ETA; a migration that cannot converge stalls with both rates in its diagnosis; a worker without
 * an endpoint says progress is unavailable.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPrometheus, type RunningPrometheus } from '../../tools/prometheus/server.js';
import { migrationWorkflowId, type MigrationResult, type Observation } from '../../workflows/contract.js';
import { cancelUpdate, statusQuery } from '../../workflows/messages.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { startFerry, runFerry } from '../support/cli.js';
import { input, spawnWorker, startMigration, startStack, waitForPhase, type Stack } from '../support/e2e.js';
import { setDirtyRate, setMigrationConfig } from '../support/kubevirt-config.js';

let stack: Stack;
let prometheus: RunningPrometheus;
let worker: ChildProcess | undefined;
let configFile = '';
const GiB = 1024 ** 3;

/** The worker as its own process; resolves once it has said where it reads progress from. */
async function startWorker(env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawnWorker(stack, env);
  worker = child;
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('ferry worker: Temporal'));
      if (line) resolve(line);
    });
    child.on('exit', (code) => reject(new Error(`the worker exited (${code}) before it started:\n${out}`)));
  });
}

async function stopWorker(): Promise<void> {
  const child = worker;
  worker = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

before(async () => {
  stack = await startStack({ inProcessWorker: false });
  const handlers = stack.sim.virtHandlerMetrics;
  prometheus = await startPrometheus({
    targets: (['source', 'destination'] as const).map((cluster) => ({
      job: 'kubevirt-virt-handler',
      url: handlers[cluster]!.url,
      caFile: handlers[cluster]!.caFile,
      labels: { cluster },
    })),
  });
  const dir = mkdtempSync(join(tmpdir(), 'ferry-progress-e2e-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${prometheus.token}\n`, { mode: 0o600 });
  configFile = join(dir, 'progress.yaml');
  const endpoint = (cluster: string) => ({ url: prometheus.queryUrl, caFile: prometheus.caFile, tokenFile, labels: { cluster } });
  writeFileSync(configFile, JSON.stringify({ clusters: { source: endpoint('source'), destination: endpoint('destination') } }));
});

after(async () => {
  await stopWorker();
  await prometheus?.stop();
  await stack?.stop();
});

describe('progress from KubeVirt metrics through a real Prometheus', () => {
  it('the worker names its endpoints, never the token', async () => {
    const line = await startWorker({ FERRY_PROGRESS_CONFIG: configFile });
    assert.match(line, /progress from metrics: source → 127\.0\.0\.1:\d+ \(bearer token\), destination → 127\.0\.0\.1:\d+ \(bearer token\)/);
    assert.doesNotMatch(line, new RegExp(prometheus.token));
  });

  it('ferry watch shows bytes sent, the rates and an ETA while Synchronizing; the history keeps them', async () => {
    await setMigrationConfig(clients(stack.sim, 'destination'), { bandwidthPerMigration: '1Gi' }); // web-01: 11 GiB ≈ 11 s
    const i = input('web-01');
    const id = migrationWorkflowId(i);
    const handle = await startMigration(stack, i);
    const watch = startFerry(stack, ['watch', id]);
    // `<time>  <id>  Synchronizing  42%  4.6 GiB / 11.0 GiB  transfer 1.0 GiB/s, dirty 0 B/s  about 6s left`
    await watch.waitFor(
      /Synchronizing {2}\d{1,3}% {2}[\d.]+ (?:B|KiB|MiB|GiB) \/ [\d.]+ GiB {2}transfer [\d.]+ (?:MiB|GiB)\/s, dirty [\d.]+ (?:B|KiB|MiB|GiB)\/s {2}about \d+(?:m\d+)?s left/,
      60_000,
    );
    const r = (await handle.result()) as MigrationResult;
    assert.equal(r.outcome, 'Succeeded');
    const watched = await watch.done;
    assert.equal(watched.code, 0, watched.stderr);
    // Progress reached the workflow (a durable record), read from the metrics, with both rates.
    const history = await handle.fetchHistory();
    const observed = (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'observe')
      .map((a) => JSON.parse(Buffer.from(a!.input!.payloads![0]!.data!).toString()) as Observation);
    const withProgress = observed.filter((o) => o.progress);
    assert.ok(withProgress.length >= 2, `progress reported ${withProgress.length} time(s)`);
    const first = withProgress[0]!.progress!;
    assert.ok(first.totalBytes >= 11 * GiB && first.totalBytes < 12 * GiB, `web-01 carries 1 GiB of memory and a 10 GiB disk; the metrics say ${first.totalBytes}`);
    assert.ok(withProgress.some((o) => (o.progress!.transferRate ?? 0) > 0 && o.progress!.dirtyRate !== undefined));
    const processed = withProgress.map((o) => o.progress!.processedBytes);
    assert.deepEqual(
      [...processed].sort((a, b) => a - b),
      processed,
      'processed bytes only grow',
    );
    // The source VMI never carried a byte counter: the simulator, like KubeVirt, has none in its API.
    const sourceVMI = await kubevirt(clients(stack.sim, 'source')).tryGet('virtualmachineinstances', 'demo', 'web-01');
    assert.equal(path(sourceVMI, 'status.migrationState.transferStatus'), undefined);
  });

  it('a migration that cannot converge stalls on completion with the dirty and transfer rates in its diagnosis; cancel rolls back', async () => {
    const dst = clients(stack.sim, 'destination');
    // KubeVirt itself must not abort first: ferry's completion deadline is what passes.
    await setMigrationConfig(dst, { bandwidthPerMigration: '1Gi', progressTimeout: 600, completionTimeoutPerGiB: 800 });
    await setDirtyRate(clients(stack.sim, 'source'), 'demo', 'cache-01', '2Gi');
    const i = input('cache-01', { options: { completionTimeoutPerGiB: '1s', minCompletionTimeout: '6s' } });
    const handle = await startMigration(stack, i);
    await waitForPhase(handle, 'Stalled', 90_000);
    const s = await handle.query(statusQuery);
    assert.equal(s.stall?.deadline, 'completion');
    // The transfer rate is what moved since the last collection: about, not exactly, the 1 GiB/s bandwidth.
    assert.match(s.stall!.diagnosis, /the guest dirties memory faster than the bandwidth can copy it \(dirty rate 2\.0 GiB\/s, transfer rate (?:9\d\d(?:\.\d)? MiB|1\.0 GiB)\/s\)/);
    assert.match(s.stall!.diagnosis, /Waiting will not make it converge/);
    const shown = await runFerry(stack, ['status', handle.workflowId]);
    assert.match(shown.stdout, /Progress +.* sent \(\d+%\).*transfer (?:9\d\d(?:\.\d)? MiB|1\.0 GiB)\/s, dirty 2\.0 GiB\/s; not converging/);
    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'does not converge' }] });
    const r = (await handle.result()) as MigrationResult;
    assert.equal(r.outcome, 'RolledBack');
    const vmi = await kubevirt(clients(stack.sim, 'source')).get('virtualmachineinstances', 'demo', 'cache-01');
    assert.equal(path(vmi, 'status.phase'), 'Running');
  });

  it('a worker without an endpoint: the status says progress is unavailable, and why', async () => {
    await stopWorker();
    const line = await startWorker({ FERRY_PROGRESS_CONFIG: '' });
    assert.match(line, /progress from metrics: none \(FERRY_PROGRESS_CONFIG unset\)/);
    await setMigrationConfig(clients(stack.sim, 'destination'), { bandwidthPerMigration: '1Gi' });
    const handle = await startMigration(stack, input('db-01'));
    const s = await eventually(
      'progress unavailable in the status',
      async () => {
        const st = await handle.query(statusQuery);
        return st.phase === 'Synchronizing' && st.observed?.progressUnavailable ? st : undefined;
      },
      60_000,
      200,
    );
    assert.match(s.observed!.progressUnavailable!, /no metrics endpoint is configured for cluster "source"/);
    assert.equal(s.observed!.progress, undefined);
    const shown = await runFerry(stack, ['status', handle.workflowId]);
    assert.match(shown.stdout, /Progress +unavailable: no metrics endpoint is configured for cluster "source"/);
    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'test done' }] });
    assert.equal(((await handle.result()) as MigrationResult).outcome, 'RolledBack');
  });
});
