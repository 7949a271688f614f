/**
 * The migration workflow end to end: real Temporal dev server + ferry worker + the two-cluster
 * simulator over HTTPS. Acceptance 1 (happy path, same-cluster move) and 2 (preflight blockers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LABEL_MIGRATION, migrationKey } from '../../activities/labels.js';
import { kindInfo } from '../../simulator/apiserver/kinds.js';
import { migrationWorkflowId, type MigrationResult } from '../../workflows/contract.js';
import { statusQuery } from '../../workflows/messages.js';
import { failureMessage, input, startMigration, startStack, type Stack } from '../support/e2e.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { diff, snapshot } from '../support/snapshot.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

describe('migrateVm end to end', () => {
  it("moves web-01 with its disk, Secret, ConfigMaps, instancetype and preference; the seed's end state holds", async () => {
    const sim = stack.sim;
    const before = snapshot(sim.destination, 'demo');
    const i = input('web-01');
    const handle = await startMigration(stack, i);
    const result = (await handle.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 1);

    const src = kubevirt(clients(sim, 'source'));
    const dst = kubevirt(clients(sim, 'destination'));
    // Source: VMIM removed, VM powered off.
    assert.deepEqual(
      (await src.list('virtualmachineinstancemigrations', 'demo')).map((m) => m.metadata.name),
      [],
    );
    const sourceVM = await src.get('virtualmachines', 'demo', 'web-01');
    assert.equal(path(sourceVM, 'spec.runStrategy'), 'Halted');
    // Target: running with the original run strategy, migrated state, VMIMs removed.
    const targetVM = await dst.get('virtualmachines', 'demo', 'web-01');
    assert.equal(path(targetVM, 'spec.runStrategy'), 'Always');
    assert.equal(path(await dst.get('virtualmachineinstances', 'demo', 'web-01'), 'status.phase'), 'Running');
    assert.deepEqual(
      (await dst.list('virtualmachineinstancemigrations', 'demo')).map((m) => m.metadata.name),
      [],
    );

    // Created objects are labelled as this migration's; the pre-existing shared ConfigMap is untouched.
    const key = migrationKey(migrationWorkflowId(i));
    const after = snapshot(sim.destination, 'demo');
    const added = diff(before, after).filter((l) => l.startsWith('added'));
    for (const kind of [
      'VirtualMachine/demo/web-01',
      'DataVolume/demo/web-01-rootdisk',
      'Secret/demo/web-cloudinit',
      'ConfigMap/demo/web-config',
      'VirtualMachineInstancetype/demo/web-small',
      'VirtualMachinePreference/demo/web-pref',
    ]) {
      assert.ok(added.includes(`added ${kind}`), `${kind} was not created: ${added.join(', ')}`);
      const [k, ns, name] = kind.split('/') as [string, string, string];
      const obj = sim.destination.api.store.peek(k, ns, name)!;
      assert.equal(obj.metadata.labels?.[LABEL_MIGRATION], key, `${kind} is not labelled`);
    }
    assert.equal(before.get('ConfigMap/demo/team-ca-bundle'), after.get('ConfigMap/demo/team-ca-bundle'));
    const secret = sim.destination.api.store.peek('Secret', 'demo', 'web-cloudinit')!;
    assert.equal(secret.type, 'Opaque');
    const status = await handle.query(statusQuery);
    assert.equal(status.phase, 'Succeeded');
    assert.deepEqual(
      status.history.map((h) => h.phase),
      ['Validating', 'SyncingCertificates', 'CreatingPrerequisites', 'CreatingTarget', 'CreatingMigrations', 'Synchronizing', 'Finalizing', 'Succeeded'],
    );
  });

  it('moves a VM between two namespaces of the same cluster', async () => {
    const c = clients(stack.sim, 'source');
    await c.core.createNamespace({ body: { metadata: { name: 'moved' } } });
    const i = input('cache-01', { destination: { cluster: 'source', namespace: 'moved' } });
    const result = (await (await startMigration(stack, i)).result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    const k = kubevirt(c);
    assert.equal(path(await k.get('virtualmachines', 'moved', 'cache-01'), 'spec.runStrategy'), 'Always'); // from spec.running: true
    assert.equal(path(await k.get('virtualmachineinstances', 'moved', 'cache-01'), 'status.phase'), 'Running');
    assert.equal(path(await k.get('virtualmachines', 'demo', 'cache-01'), 'spec.runStrategy'), 'Halted');
    // cache-01's disk is a dataVolumeTemplate: the target VM keeps it (blank) and owns the DataVolume, as on the source.
    const store = stack.sim.source.api.store;
    const target = store.peek('VirtualMachine', 'moved', 'cache-01')!;
    assert.deepEqual(path(target, 'spec.dataVolumeTemplates.0.spec.source'), { blank: {} });
    const controller = (ns: string) =>
      store
        .peek('DataVolume', ns, 'cache-01-rootdisk')
        ?.metadata.ownerReferences?.filter((r) => r.controller)
        .map((r) => r.uid);
    assert.deepEqual(controller('moved'), [target.metadata.uid]);
    assert.deepEqual(controller('demo'), [store.peek('VirtualMachine', 'demo', 'cache-01')!.metadata.uid]);
    await k.delete('virtualmachines', 'moved', 'cache-01');
    await eventually(
      'the template disk goes with its VM',
      async () => !store.peek('DataVolume', 'moved', 'cache-01-rootdisk') && !store.peek('PersistentVolumeClaim', 'moved', 'cache-01-rootdisk'),
    );
  });

  it('fails before writing anything when preflight finds blockers, and lists them all', async () => {
    const sim = stack.sim;
    // batch-01 is stopped; cluster-node-a has a shareable disk; db-01 needs u1.medium, which we remove on the destination.
    sim.destination.api.store.delete(kindInfo('VirtualMachineClusterInstancetype'), undefined, 'u1.medium');
    const cases: [string, RegExp][] = [
      ['batch-01', /\[VMNotRunning\]/],
      ['cluster-node-a', /\[(NotStorageLiveMigratable|UnsupportedDevice)\]/],
      ['db-01', /\[MissingClusterInstancetype\]/],
    ];
    for (const [vm, blocker] of cases) {
      const before = snapshot(sim.destination, 'demo');
      const handle = await startMigration(stack, input(vm));
      const message = await handle.result().then(() => assert.fail(`${vm} migrated`), failureMessage);
      assert.match(message, blocker);
      assert.match(message, /nothing was changed/);
      assert.deepEqual(diff(before, snapshot(sim.destination, 'demo')), [], `${vm}: the destination changed`);
    }
  });

  it('reports every blocker of one VM together: gate off, disk and VM name collisions, MAC conflict', async () => {
    const sim = stack.sim;
    const src = clients(sim, 'source');
    const dst = clients(sim, 'destination');
    const dv = (name: string, labels: Record<string, string> = {}) => ({
      apiVersion: 'cdi.kubevirt.io/v1beta1',
      kind: 'DataVolume',
      metadata: { name, labels },
      spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '2Gi' } } } },
    });
    const vm = (name: string, mac: string, runStrategy: string) => ({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name },
      spec: {
        runStrategy,
        template: {
          spec: {
            domain: { memory: { guest: '1Gi' }, devices: { disks: [{ name: 'root', disk: {} }], interfaces: [{ name: 'default', masquerade: {}, macAddress: mac }] } },
            networks: [{ name: 'default', pod: {} }],
            volumes: [{ name: 'root', dataVolume: { name: `${name}-disk` } }],
          },
        },
      },
    });
    const cdi = { group: 'cdi.kubevirt.io', version: 'v1beta1', plural: 'datavolumes' };
    await src.custom.createNamespacedCustomObject({ ...cdi, namespace: 'demo', body: dv('app-02-disk') });
    await kubevirt(src).create('virtualmachines', 'demo', vm('app-02', '02:aa:00:00:00:02', 'Always'));
    await src.custom.createNamespacedCustomObject({ ...cdi, namespace: 'demo', body: dv('other-disk') });
    // On the destination: someone else's disk and VM under the same names, and a VM with the same MAC.
    await dst.custom.createNamespacedCustomObject({ ...cdi, namespace: 'demo', body: dv('app-02-disk', { team: 'other' }) });
    await kubevirt(dst).create('virtualmachines', 'demo', vm('app-02', '02:bb:00:00:00:01', 'Halted'));
    await kubevirt(dst).create('virtualmachines', 'demo', vm('other', '02:AA:00:00:00:02', 'Halted'));
    const kv = await kubevirt(dst).kubevirtCR();
    const spec = structuredClone(kv.spec as { configuration: { developerConfiguration: { featureGates: string[] } } });
    spec.configuration.developerConfiguration.featureGates = [];
    await dst.custom.replaceNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt', body: { ...kv, spec } });
    const before = snapshot(sim.destination, 'demo');
    const message = await (await startMigration(stack, input('app-02'))).result().then(() => assert.fail('app-02 migrated'), failureMessage);
    for (const code of ['GateDisabled', 'DiskNameCollision', 'VMNameCollision', 'MacConflict']) assert.match(message, new RegExp(`\\[${code}\\]`), message);
    assert.match(message, /other/); // the MAC conflict names the other VM
    assert.deepEqual(diff(before, snapshot(sim.destination, 'demo')), []);
  });
});
