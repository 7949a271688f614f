/**
 * The core end-to-end scenarios on the bed FERRY_BED names (default: the real bed: kube-apiservers
 * built from source with KubeVirt's own CRDs, its webhooks and ferry's documented RBAC): `ferry migrate`,
 * a stall retried to success, a cancel rolled back (by update and by Temporal cancellation), a migration under API faults, KubeVirt's admission
 * called by the API server. The
 * same file passes on the simulator (`FERRY_BED=sim`); a difference is a bug in one of them.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { LABEL_MIGRATION, migrationKey } from '../../activities/labels.js';
import { fleetManifests, fleetVmName } from '../../simulator/fleet.js';
import { objectPath } from '../../simulator/kube-bed/admin-api.js';
import { migrationWorkflowId, type MigrationResult } from '../../workflows/contract.js';
import { cancelUpdate, retryUpdate, statusQuery } from '../../workflows/messages.js';
import { apiSnapshot, bedClients, bedFromEnv, partition, startBedStack, type BedStack } from '../support/bed.js';
import { runFerry } from '../support/cli.js';
import { input, startMigration, waitForPhase } from '../support/e2e.js';
import { apiError, eventually, kubevirt, path, rawRequestTo } from '../../simulator/testing/sim.js';
import { diff } from '../support/snapshot.js';

const kind = bedFromEnv('kube');
let stack: BedStack;
before(async () => {
  stack = await startBedStack(kind);
});
after(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await partition(stack.bed, false);
});

const src = () => kubevirt(bedClients(stack.bed, 'source'));
const dst = () => kubevirt(bedClients(stack.bed, 'destination'));

async function sourceRunning(vm: string): Promise<void> {
  assert.equal(path(await src().get('virtualmachineinstances', 'demo', vm), 'status.phase'), 'Running');
  assert.notEqual(path(await src().get('virtualmachines', 'demo', vm), 'spec.runStrategy'), 'Halted');
}

describe(`core migrations on the ${kind} bed`, () => {
  it('ferry migrate --wait moves web-01 with its disk, Secret, ConfigMap, instancetype and preference', async () => {
    const r = await runFerry(stack, ['migrate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--wait', '--option', 'pollInterval=200ms'], {
      FERRY_KUBECONFIG: stack.kubeconfigFile,
    });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Succeeded/);
    assert.equal(path(await src().get('virtualmachines', 'demo', 'web-01'), 'spec.runStrategy'), 'Halted');
    assert.equal(path(await dst().get('virtualmachines', 'demo', 'web-01'), 'spec.runStrategy'), 'Always');
    assert.equal(path(await dst().get('virtualmachineinstances', 'demo', 'web-01'), 'status.phase'), 'Running');
    assert.deepEqual(
      (await dst().list('virtualmachineinstancemigrations', 'demo')).map((m) => m.metadata.name),
      [],
    );
    assert.deepEqual(
      (await src().list('virtualmachineinstancemigrations', 'demo')).map((m) => m.metadata.name),
      [],
    );
    const key = migrationKey(migrationWorkflowId(input('web-01')));
    const core = bedClients(stack.bed, 'destination').core;
    const secret = await core.readNamespacedSecret({ namespace: 'demo', name: 'web-cloudinit' });
    assert.equal(secret.type, 'Opaque');
    assert.ok(Object.keys(secret.data ?? {}).length > 0, 'the copied Secret arrived without data');
    assert.equal(secret.metadata?.labels?.[LABEL_MIGRATION], key);
    for (const [plural, name] of [['datavolumes', 'web-01-rootdisk']] as const) {
      const dv = (await bedClients(stack.bed, 'destination').custom.getNamespacedCustomObject({
        group: 'cdi.kubevirt.io',
        version: 'v1beta1',
        namespace: 'demo',
        plural,
        name,
      })) as object;
      assert.equal(path(dv, 'metadata.labels')?.[LABEL_MIGRATION as never], key);
    }
  });

  it('stalls on a partition, names the sync address; heal + retry succeeds with a new migration ID', async () => {
    await partition(stack.bed, true);
    const handle = await startMigration(stack, input('db-01', { options: { handshakeTimeout: '3s' } }));
    await waitForPhase(handle, 'Stalled', 60_000);
    const s = await handle.query(statusQuery);
    assert.equal(s.stall?.deadline, 'handshake');
    const address = path(await dst().kubevirtCR(), 'status.synchronizationAddresses') as unknown as string[];
    assert.match(s.stall!.diagnosis, new RegExp(`cannot reach the destination's synchronization address ${address[0]!.replace(/\./g, '\\.')}`));
    await sourceRunning('db-01');

    await partition(stack.bed, false);
    await handle.executeUpdate(retryUpdate, { args: [{ reason: 'partition healed' }] });
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 2);
    assert.notEqual(result.migrationId, s.migrationId);
    assert.equal(path(await dst().get('virtualmachineinstances', 'demo', 'db-01'), 'status.phase'), 'Running');
  });

  it('cancel rolls back: the source keeps running and the destination holds exactly what it held before', async () => {
    const before = await apiSnapshot(stack.bed, 'destination', 'demo');
    await partition(stack.bed, true);
    const handle = await startMigration(stack, input('cache-01', { options: { handshakeTimeout: '2s' } }));
    await waitForPhase(handle, 'Stalled', 60_000);
    const during = await apiSnapshot(stack.bed, 'destination', 'demo');
    assert.ok(diff(before, during).includes('added VirtualMachine/demo/cache-01'), 'the receiver VM was created');
    await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'change window over' }] });
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'RolledBack');
    await sourceRunning('cache-01');
    // Deletion is asynchronous on a real API server (finalizers, garbage collection): the workflow
    // reports RolledBack only once its objects are gone.
    assert.deepEqual(diff(before, await apiSnapshot(stack.bed, 'destination', 'demo')), []);
  });

  it('a Temporal cancellation means cancel: the workflow ends CANCELLED, rolled back, the source running', async () => {
    const before = await apiSnapshot(stack.bed, 'destination', 'demo');
    await partition(stack.bed, true);
    const handle = await startMigration(stack, input('cache-01', { options: { handshakeTimeout: '30s' } }));
    await waitForPhase(handle, 'Synchronizing', 60_000);
    await handle.cancel();
    await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError && e.cause instanceof CancelledFailure);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    await sourceRunning('cache-01');
    assert.deepEqual(diff(before, await apiSnapshot(stack.bed, 'destination', 'demo')), []);
    assert.deepEqual(
      (await handle.query(statusQuery)).history.slice(-2).map((h) => [h.phase, h.note]),
      [
        ['RollingBack', 'the workflow was cancelled'],
        ['RolledBack', 'the workflow was cancelled'],
      ],
    );
  });

  it('a migration survives 10% API errors, 429s, latency and dropped watches on both clusters', async () => {
    const { source, destination } = fleetManifests({ namespace: 'flaky', count: 1 });
    for (const [cluster, objects] of [
      ['source', source],
      ['destination', destination],
    ] as const) {
      for (const o of objects) {
        const r = await rawRequestTo(stack.bed.admin(cluster), 'POST', objectPath(o.kind, o.kind === 'Namespace' ? undefined : o.metadata.namespace), { body: o });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    }
    const vm = fleetVmName('vm', 1);
    await eventually('the fleet VM to run', async () => path(await src().tryGet('virtualmachineinstances', 'flaky', vm), 'status.phase') === 'Running', 30_000);
    const faults = {
      errors: [
        { rate: 0.1, code: 500 },
        { rate: 0.03, code: 429, retryAfterSeconds: 1 },
      ],
      latencyMs: { min: 5, max: 60 },
      watchDropRatePerSecond: 0.2,
      seed: 7,
    };
    for (const c of ['source', 'destination'] as const) await stack.bed.control(c, 'faults', 'PUT', faults);
    try {
      const i = input(vm, { source: { cluster: 'source', namespace: 'flaky', name: vm } });
      const result = (await (await startMigration(stack, i)).result()) as MigrationResult;
      assert.equal(result.outcome, 'Succeeded');
      let injected = 0;
      for (const c of ['source', 'destination'] as const) injected += ((await stack.bed.control(c, 'faults')) as { injected: { errors: number } }).injected.errors;
      assert.ok(injected > 0, 'no fault fired');
    } finally {
      for (const c of ['source', 'destination'] as const) await stack.bed.control(c, 'faults', 'DELETE');
    }
    assert.equal(path(await dst().get('virtualmachineinstances', 'flaky', vm), 'status.phase'), 'Running');
  });

  it("KubeVirt's admission is called by the API server: a VMIM for a VMI that is not receiving is denied", async () => {
    const e = await apiError(
      dst().create('virtualmachineinstancemigrations', 'demo', {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstanceMigration',
        metadata: { name: 'not-a-receiver' },
        spec: { vmiName: 'web-01', receive: { migrationID: 'abc' } },
      }),
    );
    assert.equal(e.code, 422);
    assert.match(
      e.status?.message ?? '',
      /admission webhook "migration-create-validator\.kubevirt\.io" denied the request: the receiver VMI "demo\/web-01" must be in phase WaitingForSync/,
    );
  });

  it("disks keep their lifecycle: the template disk of cache-01 is owned by the target VM and goes with it; web-01's standalone disk outlives its VM", async () => {
    const result = (await (await startMigration(stack, input('cache-01'))).result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    const custom = bedClients(stack.bed, 'destination').custom;
    const dv = (name: string) =>
      custom.getNamespacedCustomObject({ group: 'cdi.kubevirt.io', version: 'v1beta1', namespace: 'demo', plural: 'datavolumes', name }).then(
        (o) => o as { metadata: { ownerReferences?: { kind: string; uid: string; controller?: boolean }[] } },
        (e: { code?: number }) => (e.code === 404 ? undefined : Promise.reject(e)),
      );
    const vm = await dst().get('virtualmachines', 'demo', 'cache-01');
    assert.deepEqual(path(vm, 'spec.dataVolumeTemplates.0.spec.source'), { blank: {} });
    const owners = (await dv('cache-01-rootdisk'))?.metadata.ownerReferences ?? [];
    assert.deepEqual(
      owners.filter((r) => r.controller).map((r) => [r.kind, r.uid]),
      [['VirtualMachine', vm.metadata.uid]],
    );
    assert.deepEqual((await dv('web-01-rootdisk'))?.metadata.ownerReferences ?? [], []);

    // Deleting the VMs on the destination: garbage collection takes the template disk, not the standalone one.
    await dst().delete('virtualmachines', 'demo', 'cache-01');
    await dst().delete('virtualmachines', 'demo', 'web-01');
    await eventually('the template DataVolume deleted with its VM', async () => (await dv('cache-01-rootdisk')) === undefined, 60_000);
    await eventually(
      'the VMs gone',
      async () => !(await dst().tryGet('virtualmachines', 'demo', 'web-01')) && !(await dst().tryGet('virtualmachines', 'demo', 'cache-01')),
      60_000,
    );
    assert.ok(await dv('web-01-rootdisk'), 'the standalone DataVolume went with the VM');
  });
});
