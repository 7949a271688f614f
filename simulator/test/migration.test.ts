/**
 * Decentralized live migration through the simulator, done by hand through the Kubernetes API: the
 * behaviour ferry builds on (success, blocked CA, partition, stalls, cancel, non-convergence) must be
 * caused by the simulated components, not scripted.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Simulator } from '../sim.js';
import { blockedMessage, createSourceVMIM, createTargetVMIM, prepareReceiver, syncCAs, vmimPhase } from '../testing/hand-migration.js';
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

async function transferStatus(s: Simulator, name: string) {
  const vmi = await kubevirt(clients(s, 'source')).tryGet('virtualmachineinstances', 'demo', name);
  return path<{ dataProcessedBytes: number; dataTotalBytes: number }>(vmi, 'status.migrationState.transferStatus');
}

describe('decentralized live migration in the simulator', () => {
  it('moves a running VM: bytes cross TLS, source Halted, target Running with the original run strategy', async () => {
    sim = await startSim();
    const s = sim;
    await syncCAs(s);
    // cache-01 uses the deprecated `spec.running: true`: its original run strategy is Always.
    await prepareReceiver(s, 'cache-01');
    const received = s.destination.sync.bytesReceived;
    const address = await createTargetVMIM(s, 'cache-01', 'mig-ok');
    assert.equal(address, s.destination.sync.address());
    await createSourceVMIM(s, 'cache-01', 'mig-ok', address);

    // While it runs, there is never more than one running VMI for the VM.
    let bothRunning = false;
    const src = kubevirt(clients(s, 'source'));
    const dst = kubevirt(clients(s, 'destination'));
    await eventually(
      'both VMIMs Succeeded',
      async () => {
        const [a, b] = await Promise.all([src.tryGet('virtualmachineinstances', 'demo', 'cache-01'), dst.tryGet('virtualmachineinstances', 'demo', 'cache-01')]);
        if (path(a, 'status.phase') === 'Running' && path(b, 'status.phase') === 'Running') bothRunning = true;
        return (await vmimPhase(s, 'source', 'demo', 'cache-01-source')) === 'Succeeded' && (await vmimPhase(s, 'destination', 'demo', 'cache-01-target')) === 'Succeeded';
      },
      20_000,
      10,
    );
    assert.equal(bothRunning, false, 'source and target VMIs were Running at the same time');

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
    await eventually('transfer under way', async () => ((await transferStatus(s, 'db-01'))?.dataProcessedBytes ?? 0) > 2 * GiB, 20_000);
    await s.partition(true);
    await new Promise((r) => setTimeout(r, 1500));
    const frozen = (await transferStatus(s, 'db-01'))!.dataProcessedBytes;
    await new Promise((r) => setTimeout(r, 2000));
    const later = (await transferStatus(s, 'db-01'))!.dataProcessedBytes;
    // Socket buffers let a little more through after the cut; then nothing moves.
    assert.ok(later - frozen < 0.5 * GiB, `transfer kept moving during the partition: ${frozen} -> ${later}`);
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
    await eventually(
      'both VMIMs Failed',
      async () => (await vmimPhase(s, 'source', 'demo', 'web-01-source')) === 'Failed' && (await vmimPhase(s, 'destination', 'demo', 'web-01-target')) === 'Failed',
      30_000,
    );
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
