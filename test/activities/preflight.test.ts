/**
 * Preflight against the simulator through the real client-node: the fixture VMs that can move pass,
 * every blocker fires for the situation it names (all of them reported together), objects this
 * migration already owns are not collisions, and preflight writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClusterClient, type ClusterRegistry } from '../../activities/kube/cluster.js';
import type { KindName, KubeObject } from '../../activities/kube/kinds.js';
import { ownedMeta } from '../../activities/labels.js';
import { preflightActivities } from '../../activities/preflight.js';
import type { Simulator } from '../../simulator/sim.js';
import { migrationInputSchema, migrationWorkflowId, type Migration, type MigrationInput, type PreflightReport } from '../../workflows/contract.js';
import { eventually, startSim } from '../../simulator/testing/sim.js';

const GiB = 1024 ** 3;
const SECRET_VALUES = ['fixture-secret-web-7f3c', 'fixture-secret-db-91aa', 'Zml4dHVyZTpzZWNyZXQtcHVsbA=='];

function registry(sim: Simulator, as: 'admin' | 'viewer' = 'admin'): ClusterRegistry {
  const clients = new Map(['source', 'destination'].map((n) => [n, new ClusterClient(n, sim.cluster(n).kubeConfig(as))]));
  return {
    get: (name) => {
      const c = clients.get(name);
      if (!c) throw new Error(`unknown cluster ${name}`);
      return c;
    },
    names: () => [...clients.keys()],
  };
}

function migration(name: string, extra: Partial<MigrationInput> = {}): Migration {
  return migrationInputSchema.parse({ source: { cluster: 'source', namespace: 'demo', name }, destination: { cluster: 'destination' }, ...extra });
}

const codes = (r: PreflightReport) => r.blockers.map((b) => b.code).sort();
const describeReport = (r: PreflightReport) => JSON.stringify(r, null, 2);

let sim: Simulator;
let reg: ClusterRegistry;
let src: ClusterClient;
let dst: ClusterClient;
const returned: unknown[] = [];

async function preflight(name: string, extra: Partial<MigrationInput> = {}, r: ClusterRegistry = reg): Promise<PreflightReport> {
  const m = migration(name, extra);
  const report = await preflightActivities({ clusters: r }).preflight({ workflowId: migrationWorkflowId(m), migration: m });
  returned.push(report);
  return report;
}

/** Every object on a cluster, by kind/namespace/name → resourceVersion. */
async function snapshot(c: ClusterClient): Promise<Map<string, string>> {
  const kinds: KindName[] = [
    'ConfigMap',
    'Secret',
    'PersistentVolumeClaim',
    'KubeVirt',
    'VirtualMachine',
    'VirtualMachineInstance',
    'VirtualMachineInstanceMigration',
    'VirtualMachineInstancetype',
    'VirtualMachinePreference',
    'VirtualMachineClusterInstancetype',
    'VirtualMachineClusterPreference',
    'DataVolume',
  ];
  const out = new Map<string, string>();
  for (const kind of kinds) for (const o of await c.list(kind, undefined)) out.set(`${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.resourceVersion ?? '');
  for (const n of (await c.core.listNamespace()).items) out.set(`Namespace//${n.metadata!.name}`, n.metadata!.resourceVersion ?? '');
  return out;
}

async function deleteAndWait(c: ClusterClient, kind: KindName, ns: string | undefined, name: string) {
  await c.delete(kind, ns, name);
  await eventually(`${kind} ${name} gone from ${c.name}`, async () => !(await c.get(kind, ns, name)));
}

const unownedVM = (name: string, namespace: string, mac?: string): KubeObject => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  metadata: { name, namespace },
  spec: {
    runStrategy: 'Halted',
    template: {
      spec: {
        domain: { memory: { guest: '1Gi' }, devices: { interfaces: mac ? [{ name: 'default', masquerade: {}, macAddress: mac }] : [] } },
        networks: [{ name: 'default', pod: {} }],
      },
    },
  },
});

const blankDV = (name: string, namespace: string, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'cdi.kubevirt.io/v1beta1',
  kind: 'DataVolume',
  metadata: { name, namespace, ...meta },
  spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '10Gi' } } } },
});

async function setGates(c: ClusterClient, gates: string[]) {
  const kv = (await c.list('KubeVirt', undefined))[0]!;
  await c.mergePatch('KubeVirt', kv.metadata.namespace!, kv.metadata.name, { spec: { configuration: { developerConfiguration: { featureGates: gates } } } });
}

const syncAddressOf = async (c: ClusterClient) => ((await c.list('KubeVirt', undefined))[0]?.status?.synchronizationAddresses as string[] | undefined)?.[0];

describe('preflight', () => {
  before(async () => {
    sim = await startSim();
    reg = registry(sim);
    src = reg.get('source');
    dst = reg.get('destination');
  });
  after(async () => {
    await sim?.stop();
  });

  it('writes nothing: runs with a read-only token and leaves both clusters as they were', async () => {
    const viewer = registry(sim, 'viewer');
    const [beforeDst, beforeSrc] = [await snapshot(dst), await snapshot(src)];
    for (const vm of ['web-01', 'db-01', 'cache-01', 'batch-01', 'cluster-node-a', 'no-such-vm']) await preflight(vm, {}, viewer);
    await preflight('web-01', { destination: { cluster: 'destination', namespace: 'nowhere' } }, viewer);
    assert.deepEqual(await snapshot(dst), beforeDst);
    assert.deepEqual(await snapshot(src), beforeSrc);
  });

  it('passes web-01 (namespaced instancetype), db-01 (cluster instancetype, two disks), cache-01 (spec.running)', async () => {
    const web = await preflight('web-01');
    assert.deepEqual(web.blockers, [], describeReport(web));
    assert.equal(web.memoryBytes, 1 * GiB);
    assert.equal(web.diskBytes, 10 * GiB);
    assert.equal(web.runStrategy, 'Always');
    assert.equal(web.destinationSyncAddress, sim.destination.sync.address());
    // team-ca-bundle exists on the destination and is reused, not overwritten.
    const reused = web.warnings.filter((w) => w.code === 'ExistingObjectReused');
    assert.equal(reused.length, 1, describeReport(web));
    assert.match(reused[0]!.message, /ConfigMap demo\/team-ca-bundle/);
    assert.ok(
      web.warnings.some((w) => w.code === 'StorageClassUnmapped' && w.message.includes('standard')),
      describeReport(web),
    );

    const db = await preflight('db-01', { storageClassMap: { standard: 'fast' } });
    assert.deepEqual(db.blockers, [], describeReport(db));
    assert.equal(db.memoryBytes, 4 * GiB);
    assert.equal(db.diskBytes, 30 * GiB);
    assert.equal(db.runStrategy, 'Always');
    assert.ok(!db.warnings.some((w) => w.code === 'StorageClassUnmapped'), describeReport(db));

    const cache = await preflight('cache-01');
    assert.deepEqual(cache.blockers, [], describeReport(cache));
    assert.equal(cache.memoryBytes, 2 * GiB);
    assert.equal(cache.diskBytes, 5 * GiB);
    assert.equal(cache.runStrategy, 'Always', 'spec.running: true means Always');
  });

  it('blocks a stopped VM, naming its run strategy', async () => {
    const r = await preflight('batch-01');
    assert.deepEqual(codes(r), ['VMNotRunning'], describeReport(r));
    assert.match(r.blockers[0]!.message, /batch-01/);
    assert.match(r.blockers[0]!.message, /Halted/);
    assert.equal(r.runStrategy, 'Halted');
    assert.equal(r.memoryBytes, 1 * GiB);
    assert.equal(r.diskBytes, 5 * GiB);
  });

  it('blocks a shareable disk (and reports StorageLiveMigratable=False with its message)', async () => {
    const r = await preflight('cluster-node-a');
    assert.ok(codes(r).includes('UnsupportedDevice'), describeReport(r));
    assert.ok(codes(r).includes('NotStorageLiveMigratable'), describeReport(r));
    assert.match(r.blockers.find((b) => b.code === 'UnsupportedDevice')!.message, /disk quorum .*shareable/);
    assert.match(r.blockers.find((b) => b.code === 'NotStorageLiveMigratable')!.message, /quorum is shareable/);
    assert.ok(!codes(r).includes('NotLiveMigratable'), 'LiveMigratable=False/DisksNotLiveMigratable is acceptable');
    assert.equal(r.memoryBytes, 2 * GiB);
    assert.equal(r.diskBytes, 6 * GiB);
  });

  it('blocks when the gate is off on the destination, naming the cluster and the field', async () => {
    await setGates(dst, []);
    try {
      await eventually('destination sync address withdrawn', async () => !(await syncAddressOf(dst)));
      const r = await preflight('web-01');
      const gate = r.blockers.filter((b) => b.code === 'GateDisabled');
      assert.equal(gate.length, 1, describeReport(r));
      assert.match(gate[0]!.message, /destination cluster destination/);
      assert.match(gate[0]!.message, /spec\.configuration\.developerConfiguration\.featureGates/);
      assert.match(gate[0]!.message, /DecentralizedLiveMigration/);
      assert.ok(
        r.blockers.some((b) => b.code === 'NoSyncAddress' && b.message.includes('destination')),
        describeReport(r),
      );
      assert.equal(r.destinationSyncAddress, undefined);
    } finally {
      await setGates(dst, ['DecentralizedLiveMigration']);
      await eventually('destination sync address back', () => syncAddressOf(dst));
    }
  });

  it('blocks a cluster instancetype missing on the destination', async () => {
    const it = await dst.get('VirtualMachineClusterInstancetype', undefined, 'u1.medium');
    assert.ok(it);
    await deleteAndWait(dst, 'VirtualMachineClusterInstancetype', undefined, 'u1.medium');
    try {
      const r = await preflight('db-01');
      assert.deepEqual(codes(r), ['MissingClusterInstancetype'], describeReport(r));
      assert.match(r.blockers[0]!.message, /u1\.medium/);
      assert.match(r.blockers[0]!.message, /install it on the destination cluster first/);
      assert.equal(r.memoryBytes, 4 * GiB, 'memory still known from the source');
    } finally {
      await dst.create('VirtualMachineClusterInstancetype', undefined, {
        apiVersion: it.apiVersion,
        kind: it.kind,
        metadata: { name: 'u1.medium', labels: it.metadata.labels ?? {} },
        spec: it.spec!,
      });
    }
  });

  it('blocks a DataVolume name collision', async () => {
    await dst.create('DataVolume', 'demo', blankDV('web-01-rootdisk', 'demo'));
    try {
      const r = await preflight('web-01');
      assert.deepEqual(codes(r), ['DiskNameCollision'], describeReport(r));
      assert.match(r.blockers[0]!.message, /DataVolume demo\/web-01-rootdisk/);
    } finally {
      await deleteAndWait(dst, 'DataVolume', 'demo', 'web-01-rootdisk');
      await deleteAndWait(dst, 'PersistentVolumeClaim', 'demo', 'web-01-rootdisk');
    }
  });

  it('blocks a VM name collision', async () => {
    await dst.create('VirtualMachine', 'demo', unownedVM('web-01', 'demo'));
    try {
      const r = await preflight('web-01');
      assert.deepEqual(codes(r), ['VMNameCollision'], describeReport(r));
      assert.match(r.blockers[0]!.message, /VM demo\/web-01/);
    } finally {
      await deleteAndWait(dst, 'VirtualMachine', 'demo', 'web-01');
    }
  });

  it('blocks a MAC address used by a VM in any namespace of the destination', async () => {
    await dst.core.createNamespace({ body: { metadata: { name: 'other' } } });
    await dst.create('VirtualMachine', 'other', unownedVM('intruder', 'other', '02:7A:00:00:00:01'));
    try {
      const r = await preflight('web-01');
      assert.deepEqual(codes(r), ['MacConflict'], describeReport(r));
      assert.match(r.blockers[0]!.message, /02:7a:00:00:00:01/);
      assert.match(r.blockers[0]!.message, /other\/intruder/);
      // db-01 has another MAC.
      assert.deepEqual(codes(await preflight('db-01')), []);
    } finally {
      await deleteAndWait(dst, 'VirtualMachine', 'other', 'intruder');
    }
  });

  it('reports every blocker at once', async () => {
    await setGates(dst, []);
    await dst.create('DataVolume', 'demo', blankDV('web-01-rootdisk', 'demo'));
    await dst.create('VirtualMachine', 'demo', unownedVM('web-01', 'demo'));
    await dst.create('VirtualMachine', 'other', unownedVM('intruder', 'other', '02:7a:00:00:00:01'));
    try {
      const r = await preflight('web-01');
      for (const code of ['GateDisabled', 'DiskNameCollision', 'VMNameCollision', 'MacConflict']) assert.ok(codes(r).includes(code), `${code} missing: ${describeReport(r)}`);
      for (const b of r.blockers) assert.ok(b.message.length > 40, `terse message: ${b.message}`);
    } finally {
      await setGates(dst, ['DecentralizedLiveMigration']);
      await deleteAndWait(dst, 'VirtualMachine', 'other', 'intruder');
      await deleteAndWait(dst, 'VirtualMachine', 'demo', 'web-01');
      await deleteAndWait(dst, 'DataVolume', 'demo', 'web-01-rootdisk');
      await deleteAndWait(dst, 'PersistentVolumeClaim', 'demo', 'web-01-rootdisk');
      await eventually('destination sync address back', () => syncAddressOf(dst));
    }
  });

  it('does not count objects this migration already created (a resumed migration) as collisions', async () => {
    const m = migration('web-01');
    const owned = ownedMeta(migrationWorkflowId(m), { attempt: 1, migrationId: 'm-1' });
    await dst.create('DataVolume', 'demo', blankDV('web-01-rootdisk', 'demo', owned));
    await dst.create('VirtualMachine', 'demo', { ...unownedVM('web-01', 'demo', '02:7a:00:00:00:01'), metadata: { name: 'web-01', namespace: 'demo', ...owned } });
    try {
      const r = await preflight('web-01');
      assert.deepEqual(r.blockers, [], describeReport(r));
      // Another migration's objects are collisions all the same: db-01's disk made by web-01's migration.
      await dst.create('DataVolume', 'demo', blankDV('db-01-data', 'demo', owned));
      try {
        const db = await preflight('db-01');
        assert.deepEqual(codes(db), ['DiskNameCollision'], describeReport(db));
      } finally {
        await deleteAndWait(dst, 'DataVolume', 'demo', 'db-01-data');
        await eventually('CDI claim gone', async () => !(await dst.get('PersistentVolumeClaim', 'demo', 'db-01-data')));
      }
    } finally {
      await deleteAndWait(dst, 'VirtualMachine', 'demo', 'web-01');
      await deleteAndWait(dst, 'DataVolume', 'demo', 'web-01-rootdisk');
      await eventually('CDI claim gone', async () => !(await dst.get('PersistentVolumeClaim', 'demo', 'web-01-rootdisk')));
    }
  });

  it('blocks a missing VM and a missing destination namespace', async () => {
    const gone = await preflight('no-such-vm');
    assert.deepEqual(codes(gone), ['VMNotFound'], describeReport(gone));
    assert.match(gone.blockers[0]!.message, /demo\/no-such-vm/);
    const nowhere = await preflight('web-01', { destination: { cluster: 'destination', namespace: 'nowhere' } });
    assert.deepEqual(codes(nowhere), ['DestinationNamespaceMissing'], describeReport(nowhere));
    assert.match(nowhere.blockers[0]!.message, /namespace nowhere/);
  });

  it('for a move between namespaces of one cluster, the source VM is not a MAC conflict with itself', async () => {
    await src.core.createNamespace({ body: { metadata: { name: 'moved' } } });
    const r = await preflight('web-01', { destination: { cluster: 'source', namespace: 'moved' } });
    assert.deepEqual(r.blockers, [], describeReport(r));
  });

  it('never returns Secret data', () => {
    const all = JSON.stringify(returned);
    assert.ok(returned.length > 10);
    for (const v of SECRET_VALUES) assert.ok(!all.includes(v), `a Secret value leaked into a preflight report`);
  });
});
