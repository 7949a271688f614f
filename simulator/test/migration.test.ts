/**
 * Decentralized live migration through the simulator, done by hand through the Kubernetes API: the
 * behaviour ferry builds on (success, blocked CA, partition, stalls, cancel, non-convergence) must be
 * caused by the simulated components, not scripted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import type { Simulator } from '../sim.js';
import { blockedMessage, createSourceVMIM, createTargetVMIM, prepareReceiver, syncCAs, vmimPhase } from '../testing/hand-migration.js';
import { scrapeMetrics, vmiSample, type ParsedSample, type Scrape } from '../testing/metrics.js';
import { clients, eventually, kubevirt, path, startSim } from '../testing/sim.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

const GiB = 1024 ** 3;

async function setMigrationConfig(s: Simulator, cluster: 'source' | 'destination', migrations: Record<string, unknown>) {
  const c = clients(s, cluster);
  const kv = await kubevirt(c).kubevirtCR();
  const spec = structuredClone(kv.spec as Record<string, unknown>);
  const conf = (spec.configuration ??= {}) as Record<string, unknown>;
  conf.migrations = { ...(conf.migrations as object), ...migrations };
  await c.custom.replaceNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt', body: { ...kv, spec } });
}

const PROCESSED = 'kubevirt_vmi_migration_data_processed_bytes';
const REMAINING = 'kubevirt_vmi_migration_data_remaining_bytes';
const TOTAL = 'kubevirt_vmi_migration_data_bytes_total';
const DIRTY_RATE = 'kubevirt_vmi_migration_dirty_memory_rate_bytes';
const TRANSFER_RATE = 'kubevirt_vmi_migration_memory_transfer_rate_bytes';
const FAMILIES = [TOTAL, PROCESSED, REMAINING, DIRTY_RATE, TRANSFER_RATE];

/** What the source cluster's virt-handler reports for VMI demo/`name`: one value per family, or undefined. */
async function migrationMetrics(s: Simulator, name: string): Promise<Record<string, ParsedSample> | undefined> {
  const scrape = await scrapeMetrics(s.virtHandlerMetrics.source);
  const samples = FAMILIES.map((f) => [f, vmiSample(scrape, f, 'demo', name)] as const);
  if (samples.some(([, v]) => !v)) return undefined;
  return Object.fromEntries(samples) as Record<string, ParsedSample>;
}

const processedBytes = async (s: Simulator, name: string) => (await migrationMetrics(s, name))?.[PROCESSED]?.value;

/** Scrape both clusters' virt-handlers every `everyMs`, as Prometheus would, until `stop()`. */
function startScraping(s: Simulator, everyMs = 150) {
  const seen = { source: [] as Scrape[], destination: [] as Scrape[] };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const [a, b] = await Promise.all([scrapeMetrics(s.virtHandlerMetrics.source), scrapeMetrics(s.virtHandlerMetrics.destination)]);
      seen.source.push(a);
      seen.destination.push(b);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

const meanRate = (ms: Record<string, ParsedSample | undefined>[]) => ms.reduce((sum, m) => sum + m[TRANSFER_RATE]!.value, 0) / ms.length;

/**
 * What a converging migration of cache-01 (2 GiB memory + 5 GiB disk, its guest dirtying 64 MiB/s)
 * showed on the source's virt-handler: all five samples with KubeVirt's labels, processed growing and
 * remaining shrinking between collections, the transfer rate near the bandwidth; nothing on the target.
 */
function assertConvergingProgress(scrapes: { source: Scrape[]; destination: Scrape[] }, sourceVMI: unknown, bandwidth: number): void {
  const seen = scrapes.source.map((x) => Object.fromEntries(FAMILIES.map((f) => [f, vmiSample(x, f, 'demo', 'cache-01')]))).filter((m) => m[PROCESSED]);
  assert.ok(seen.length >= 4, `only ${seen.length} scrapes saw the transfer`);
  const first = seen[0]!;
  for (const f of FAMILIES) {
    const family = scrapes.source.find((x) => x.families.get(f)?.samples.length)!.families.get(f)!;
    assert.equal(family.type, f === TOTAL ? 'counter' : 'gauge', `${f} TYPE`);
    assert.ok(family.help && family.help.length > 10, `${f} HELP`);
    assert.deepEqual(first[f]!.labels, { namespace: 'demo', name: 'cache-01', node: path(sourceVMI, 'status.nodeName') });
    assert.ok(first[f]!.timestampMs! > Date.now() - 60_000, `${f} has no collection timestamp`);
  }
  assert.equal(first[TOTAL]!.value, 7 * GiB);
  // Distinct collections (new timestamps): processed grows, remaining shrinks (both stand still
  // while a busy machine delays the acknowledgements that let the stream go on).
  const distinct = seen.filter((m, i) => i === 0 || m[PROCESSED]!.timestampMs !== seen[i - 1]![PROCESSED]!.timestampMs);
  assert.ok(distinct.length >= 4, `only ${distinct.length} distinct collections`);
  for (let i = 1; i < distinct.length; i++) {
    assert.ok(distinct[i]![PROCESSED]!.value >= distinct[i - 1]![PROCESSED]!.value, 'processed bytes went down');
    assert.ok(distinct[i]![REMAINING]!.value <= distinct[i - 1]![REMAINING]!.value, 'remaining bytes went up');
  }
  const [a, z] = [distinct[0]!, distinct.at(-1)!];
  assert.ok(z[PROCESSED]!.value > a[PROCESSED]!.value && z[REMAINING]!.value < a[REMAINING]!.value, 'no progress between the first and last collection');
  // Re-sent dirty pages make remaining exceed total - processed.
  for (const m of distinct) {
    assert.equal(m[DIRTY_RATE]!.value, 64 * 1024 ** 2);
    const extra = m[PROCESSED]!.value + m[REMAINING]!.value - 7 * GiB;
    assert.ok(extra >= -1 && extra <= 2 * GiB, `processed ${m[PROCESSED]!.value} + remaining ${m[REMAINING]!.value} vs total ${7 * GiB}`);
  }
  // Each reported rate is what moved since the previous collection: never above the bandwidth, and on
  // average what processed bytes over time say.
  for (const m of distinct) assert.ok(m[TRANSFER_RATE]!.value <= 1.01 * bandwidth, `transfer rate ${m[TRANSFER_RATE]!.value} B/s at a bandwidth of ${bandwidth} B/s`);
  const average = meanRate(distinct.slice(1));
  const observed = (z[PROCESSED]!.value - a[PROCESSED]!.value) / ((z[PROCESSED]!.timestampMs! - a[PROCESSED]!.timestampMs!) / 1000);
  assert.ok(average > 0.5 * observed && average < 1.5 * observed, `mean reported rate ${average} B/s, processed bytes moved at ${observed} B/s`);
  assert.ok(observed > 0.2 * bandwidth, `processed bytes moved at ${observed} B/s with a bandwidth of ${bandwidth} B/s`);
  assert.ok(
    scrapes.destination.every((x) => !vmiSample(x, PROCESSED, 'demo', 'cache-01')),
    'the target cluster reported the migration',
  );
}

describe('decentralized live migration in the simulator', () => {
  it("moves a running VM: bytes cross TLS, progress only in virt-handler's metrics, source Halted, target Running with the original run strategy", async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    const idle = await scrapeMetrics(s.virtHandlerMetrics.source);
    assert.equal(idle.status, 200);
    assert.equal(idle.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    for (const f of FAMILIES) assert.equal(idle.families.has(f), false, `${f} before any migration`);
    // cache-01 uses the deprecated `spec.running: true`: its original run strategy is Always.
    await prepareReceiver(s, 'cache-01');
    const received = s.destination.sync.bytesReceived;
    const address = await createTargetVMIM(s, 'cache-01', 'mig-ok');
    assert.equal(address, s.destination.sync.address());
    const scraping = startScraping(s);
    await createSourceVMIM(s, 'cache-01', 'mig-ok', address);

    // While it runs, there is never more than one running VMI for the VM.
    let bothRunning = false;
    let midTransfer: unknown; // the source VMI while it sends (it is gone once the migration succeeded)
    const src = kubevirt(clients(s, 'source'));
    const dst = kubevirt(clients(s, 'destination'));
    await eventually(
      'both VMIMs Succeeded',
      async () => {
        const [a, b] = await Promise.all([src.tryGet('virtualmachineinstances', 'demo', 'cache-01'), dst.tryGet('virtualmachineinstances', 'demo', 'cache-01')]);
        if (path(a, 'status.phase') === 'Running' && path(b, 'status.phase') === 'Running') bothRunning = true;
        if (path(a, 'status.migrationState.startTimestamp') && !path(a, 'status.migrationState.completed')) midTransfer = a;
        return (await vmimPhase(s, 'source', 'demo', 'cache-01-source')) === 'Succeeded' && (await vmimPhase(s, 'destination', 'demo', 'cache-01-target')) === 'Succeeded';
      },
      20_000,
      10,
    );
    assert.equal(bothRunning, false, 'source and target VMIs were Running at the same time');
    assertConvergingProgress(await scraping.stop(), midTransfer, 4 * GiB);
    // KubeVirt's migrationState has no byte counters, and neither has the simulator's.
    assert.doesNotMatch(JSON.stringify(path(midTransfer, 'status.migrationState')), /bytes|transfer/i, 'progress written into the VMI status');
    const done = await scrapeMetrics(s.virtHandlerMetrics.source);
    for (const f of FAMILIES) assert.equal(vmiSample(done, f, 'demo', 'cache-01'), undefined, `${f} left after completion`);

    // u1.small = 2 GiB of memory + a 5 GiB disk, scaled down 4096x on the wire.
    const expected = (2 * GiB + 5 * GiB) / 4096;
    assert.ok(s.destination.sync.bytesReceived - received >= expected * 0.99, `only ${s.destination.sync.bytesReceived - received} bytes crossed, expected ~${expected}`);

    const sourceVM = await eventually('source VM halted', async () => {
      const vm = await src.get('virtualmachines', 'demo', 'cache-01');
      return path(vm, 'spec.runStrategy') === 'Halted' && path(vm, 'status.printableStatus') === 'Stopped' ? vm : undefined;
    });
    assert.equal(path(sourceVM, 'spec.running'), undefined);
    const targetVM = await eventually('target VM running', async () => {
      const vm = await dst.get('virtualmachines', 'demo', 'cache-01');
      return path(vm, 'status.printableStatus') === 'Running' ? vm : undefined;
    });
    assert.equal(path(targetVM, 'spec.runStrategy'), 'Always');
    const targetVMI = await dst.get('virtualmachineinstances', 'demo', 'cache-01');
    assert.equal(path(targetVMI, 'status.phase'), 'Running');
    assert.equal(path(targetVMI, 'metadata.annotations')?.['kubevirt.io/create-migration-target' as never], undefined);
    assert.equal(path(targetVMI, 'status.migrationState.completed'), true);
    const targetVMIM = await dst.get('virtualmachineinstancemigrations', 'demo', 'cache-01-target');
    const phases = (path<{ phase: string }[]>(targetVMIM, 'status.phaseTransitionTimestamps') ?? []).map((p) => p.phase);
    assert.deepEqual(phases, ['WaitingForSync', 'Pending', 'Scheduling', 'Scheduled', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded']);

    // The endpoint's CA file is the cluster's KubeVirt CA, in a temporary state dir that stop() removes.
    const { caFile } = s.virtHandlerMetrics.source;
    assert.equal(readFileSync(caFile, 'utf8'), s.source.kubevirtCA.certPem);
    await s.stop();
    sim = undefined;
    assert.throws(() => readFileSync(caFile), /ENOENT/, `${s.stateDir} stayed after stop()`);
  });

  it('blocks with the TLS error while the CAs are not synced, and proceeds once they are', async () => {
    sim = await startSim();
    const s = sim;
    await prepareReceiver(s, 'web-01');
    const address = await createTargetVMIM(s, 'web-01', 'mig-ca');
    await createSourceVMIM(s, 'web-01', 'mig-ca', address);
    const msg = await eventually('source blocked', () => blockedMessage(s, 'source', 'demo', 'web-01-source'));
    assert.match(msg, /x509: certificate signed by unknown authority/);
    assert.equal(await vmimPhase(s, 'source', 'demo', 'web-01-source'), 'Synchronizing');
    assert.equal(await vmimPhase(s, 'destination', 'demo', 'web-01-target'), 'WaitingForSync');
    assert.equal(await blockedMessage(s, 'destination', 'demo', 'web-01-target'), 'waiting for incoming synchronization, unable to proceed');

    await syncCAs(s);
    await eventually('migration succeeds after CA sync', async () => (await vmimPhase(s, 'destination', 'demo', 'web-01-target')) === 'Succeeded', 20_000);
    assert.equal(await blockedMessage(s, 'source', 'demo', 'web-01-source'), undefined);
  });

  it('stays in Synchronizing / WaitingForSync during a partition, forever, and finishes once it heals', async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    await prepareReceiver(s, 'cache-01');
    await s.partition(true);
    const address = await createTargetVMIM(s, 'cache-01', 'mig-part');
    await createSourceVMIM(s, 'cache-01', 'mig-part', address);
    const msg = await eventually('source blocked by the partition', () => blockedMessage(s, 'source', 'demo', 'cache-01-source'));
    assert.match(msg, new RegExp(`dial tcp ${address.replace(/\./g, '\\.')}: i/o timeout`));
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await vmimPhase(s, 'source', 'demo', 'cache-01-source'), 'Synchronizing');
    assert.equal(await vmimPhase(s, 'destination', 'demo', 'cache-01-target'), 'WaitingForSync');

    await s.partition(false);
    await eventually('migration succeeds after healing', async () => (await vmimPhase(s, 'source', 'demo', 'cache-01-source')) === 'Succeeded', 30_000);
  });

  it('stalls an in-flight transfer during a partition and resumes it when the partition heals', async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    // db-01 holds 4 GiB memory + 30 GiB disks: at 4 GiB/s the copy takes ~8.5 s.
    await prepareReceiver(s, 'db-01');
    const address = await createTargetVMIM(s, 'db-01', 'mig-stall');
    await createSourceVMIM(s, 'db-01', 'mig-stall', address);
    await eventually('transfer under way', async () => ((await processedBytes(s, 'db-01')) ?? 0) > 2 * GiB, 20_000);
    await s.partition(true);
    await new Promise((r) => setTimeout(r, 1500));
    const frozen = (await processedBytes(s, 'db-01'))!;
    await new Promise((r) => setTimeout(r, 2000));
    const stalled = (await migrationMetrics(s, 'db-01'))!;
    const later = stalled[PROCESSED]!.value;
    // Socket buffers let a little more through after the cut; then nothing moves.
    assert.ok(later - frozen < 0.5 * GiB, `transfer kept moving during the partition: ${frozen} -> ${later}`);
    assert.ok(stalled[TRANSFER_RATE]!.value < 0.1 * GiB, `transfer rate during the partition: ${stalled[TRANSFER_RATE]!.value} B/s`);
    assert.equal(await vmimPhase(s, 'source', 'demo', 'db-01-source'), 'Running');
    await s.partition(false);
    await eventually('migration completes after healing', async () => (await vmimPhase(s, 'destination', 'demo', 'db-01-target')) === 'Succeeded', 30_000);
  });

  it("fails a migration that cannot converge, through KubeVirt's progress timeout; the source keeps running", async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    // The target cluster's migration configuration governs the transfer.
    await setMigrationConfig(s, 'destination', { bandwidthPerMigration: '1Gi', progressTimeout: 2 });
    const src = clients(s, 'source');
    const vm = await kubevirt(src).get('virtualmachines', 'demo', 'web-01');
    const tmpl = path<Record<string, unknown>>(vm, 'spec.template')!;
    (tmpl.metadata as Record<string, unknown>).annotations = { 'sim.ferry.dev/dirty-rate': '2Gi' };
    await src.custom.replaceNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'demo', plural: 'virtualmachines', name: 'web-01', body: vm });
    // Restart so the new VMI carries the annotation.
    await kubevirt(src).delete('virtualmachineinstances', 'demo', 'web-01');
    await eventually('web-01 restarted with dirty rate', async () => {
      const vmi = await kubevirt(src).tryGet('virtualmachineinstances', 'demo', 'web-01');
      return path(vmi, 'status.phase') === 'Running' && path(vmi, 'metadata.annotations')?.['sim.ferry.dev/dirty-rate' as never] === '2Gi';
    });
    await prepareReceiver(s, 'web-01');
    const address = await createTargetVMIM(s, 'web-01', 'mig-dirty');
    await createSourceVMIM(s, 'web-01', 'mig-dirty', address);
    const scraping = startScraping(s, 200);
    await eventually(
      'both VMIMs Failed',
      async () => (await vmimPhase(s, 'source', 'demo', 'web-01-source')) === 'Failed' && (await vmimPhase(s, 'destination', 'demo', 'web-01-target')) === 'Failed',
      30_000,
    );
    const scrapes = await scraping.stop();
    // virt-handler showed why: the guest dirties memory faster than the migration sends it.
    const during = scrapes.source.map((x) => [vmiSample(x, DIRTY_RATE, 'demo', 'web-01'), vmiSample(x, TRANSFER_RATE, 'demo', 'web-01')] as const).filter(([d, t]) => d && t);
    assert.ok(during.length >= 3, `only ${during.length} scrapes saw the transfer`);
    for (const [dirty, rate] of during) {
      assert.equal(dirty!.value, 2 * GiB);
      assert.ok(dirty!.value >= rate!.value, `dirty rate ${dirty!.value} B/s below the transfer rate ${rate!.value} B/s`);
    }
    const average = during.slice(1).reduce((sum, [, rate]) => sum + rate!.value, 0) / (during.length - 1);
    assert.ok(average > 0.3 * GiB && average < 1.5 * GiB, `mean transfer rate ${average} B/s, bandwidth 1 GiB/s`);
    assert.equal(vmiSample(await scrapeMetrics(s.virtHandlerMetrics.source), PROCESSED, 'demo', 'web-01'), undefined, 'samples left after the migration failed');
    const sourceVMIM = await kubevirt(src).get('virtualmachineinstancemigrations', 'demo', 'web-01-source');
    assert.match(String(path(sourceVMIM, 'status.migrationState.failureReason')), /Live migration stuck for 2 sec and has been aborted/);
    const sourceVMI = await kubevirt(src).get('virtualmachineinstances', 'demo', 'web-01');
    assert.equal(path(sourceVMI, 'status.phase'), 'Running');
    assert.equal(path(await kubevirt(src).get('virtualmachines', 'demo', 'web-01'), 'spec.runStrategy'), 'Always');
    // The target VM waits for a new attempt with a fresh receiver.
    await eventually('fresh receiver on the target', async () => {
      const vmi = await kubevirt(clients(s, 'destination')).tryGet('virtualmachineinstances', 'demo', 'web-01');
      return path(vmi, 'status.phase') === 'WaitingForSync' && path(vmi, 'status.migrationState') === undefined;
    });
  });

  it('cancels from either side: deleting the source VMIM removes the target VMIM and the source keeps running', async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    await setMigrationConfig(s, 'destination', { bandwidthPerMigration: '1Gi' });
    await prepareReceiver(s, 'db-01');
    const address = await createTargetVMIM(s, 'db-01', 'mig-cancel');
    await createSourceVMIM(s, 'db-01', 'mig-cancel', address);
    await eventually('transfer running', async () => (await vmimPhase(s, 'source', 'demo', 'db-01-source')) === 'Running', 20_000);
    await kubevirt(clients(s, 'source')).delete('virtualmachineinstancemigrations', 'demo', 'db-01-source');
    await eventually(
      'target VMIM removed by CancelMigration',
      async () =>
        (await vmimPhase(s, 'destination', 'demo', 'db-01-target')) === undefined &&
        !(await kubevirt(clients(s, 'destination')).tryGet('virtualmachineinstancemigrations', 'demo', 'db-01-target')),
    );
    const vmi = await kubevirt(clients(s, 'source')).get('virtualmachineinstances', 'demo', 'db-01');
    assert.equal(path(vmi, 'status.phase'), 'Running');
    assert.equal(path(vmi, 'status.migrationState.abortStatus'), 'Succeeded');
  });

  it('reports connection refused while the target sync controller is stopped, and recovers when it starts', async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    await prepareReceiver(s, 'cache-01');
    const address = await createTargetVMIM(s, 'cache-01', 'mig-stop');
    await s.destination.sync.stop();
    await createSourceVMIM(s, 'cache-01', 'mig-stop', address);
    assert.match(await eventually('refused', () => blockedMessage(s, 'source', 'demo', 'cache-01-source')), /connect: connection refused/);
    await s.destination.sync.start();
    await eventually('succeeds after restart', async () => (await vmimPhase(s, 'source', 'demo', 'cache-01-source')) === 'Succeeded', 20_000);
  });

  it('migrates between two namespaces of the same cluster', async () => {
    sim = await startSim();
    const s = sim;
    const c = clients(s, 'source');
    await c.core.createNamespace({ body: { metadata: { name: 'demo-moved' } } });
    await prepareReceiver(s, 'cache-01', { targetNamespace: 'demo-moved' }, 'source');
    const address = await createTargetVMIM(s, 'cache-01', 'mig-ns', 'demo-moved', 'source');
    assert.equal(address, s.source.sync.address());
    await createSourceVMIM(s, 'cache-01', 'mig-ns', address);
    await eventually('same-cluster migration done', async () => (await vmimPhase(s, 'source', 'demo-moved', 'cache-01-target')) === 'Succeeded', 20_000);
    const moved = await kubevirt(c).get('virtualmachines', 'demo-moved', 'cache-01');
    await eventually('moved VM runs', async () => path(await kubevirt(c).get('virtualmachines', 'demo-moved', 'cache-01'), 'status.printableStatus') === 'Running');
    assert.equal(path(moved, 'spec.runStrategy'), 'Always');
    await eventually('original halted', async () => path(await kubevirt(c).get('virtualmachines', 'demo', 'cache-01'), 'spec.runStrategy') === 'Halted');
  });

  it('fails a VM with a shareable disk: decentralized migration copies every disk', async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    const vmi = await kubevirt(clients(s, 'source')).get('virtualmachineinstances', 'demo', 'cluster-node-a');
    const storage = (path<{ type: string; status: string; message?: string }[]>(vmi, 'status.conditions') ?? []).find((c) => c.type === 'StorageLiveMigratable');
    assert.equal(storage?.status, 'False');
    assert.match(storage?.message ?? '', /disk quorum is shareable/);
    await createSourceVMIM(s, 'cluster-node-a', 'mig-share', s.destination.sync.address()!);
    await eventually('source VMIM failed', async () => (await vmimPhase(s, 'source', 'demo', 'cluster-node-a-source')) === 'Failed');
    assert.equal(path(await kubevirt(clients(s, 'source')).get('virtualmachineinstances', 'demo', 'cluster-node-a'), 'status.phase'), 'Running');
  });
});
