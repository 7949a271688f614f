/**
 * createPrerequisites and createTargetVM against the simulator through the real client-node: what is
 * copied (and what is left alone), blank disks sized from the source, the receiver VM's spec, and
 * idempotency (a second run creates nothing and returns the same list). Secret values never appear in
 * anything an activity returns or throws.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AttemptRef } from '../../activities/context.js';
import { ClusterClient, type ClusterRegistry } from '../../activities/kube/cluster.js';
import { field, type KindName, type KubeObject } from '../../activities/kube/kinds.js';
import { parseBytes } from '../../activities/kube/quantity.js';
import { ANN_RESTORE_RUN_STRATEGY, ANN_SOURCE, ANN_WORKFLOW_ID, isOwnedBy, LABEL_MANAGED_BY, ownedMeta } from '../../activities/labels.js';
import { preflightActivities } from '../../activities/preflight.js';
import { prerequisiteActivities } from '../../activities/prerequisites.js';
import { targetVMActivities } from '../../activities/target-vm.js';
import type { Simulator } from '../../simulator/sim.js';
import { FailureTypes, migrationInputSchema, migrationWorkflowId, type CreatedObject, type MigrationInput } from '../../workflows/contract.js';
import { eventually, startSim } from '../../simulator/testing/sim.js';

const GiB = 1024 ** 3;
const SECRET_VALUES = ['fixture-secret-web-7f3c', 'fixture-secret-db-91aa', 'Zml4dHVyZTpzZWNyZXQtcHVsbA==', 'fixture-ssh-key-55aa'];
/** The same values as the API server returns them (base64 in `data`). */
const ENCODED = SECRET_VALUES.map((v) => Buffer.from(v).toString('base64').slice(0, 16));

let sim: Simulator;
let reg: ClusterRegistry;
let src: ClusterClient;
let dst: ClusterClient;
let acts: ReturnType<typeof prerequisiteActivities> & ReturnType<typeof targetVMActivities> & ReturnType<typeof preflightActivities>;
/** Everything the activities returned or threw, checked for Secret values at the end. */
const seen: unknown[] = [];

async function attempt(name: string, extra: Partial<MigrationInput> = {}, n = 1): Promise<AttemptRef> {
  const migration = migrationInputSchema.parse({ source: { cluster: 'source', namespace: 'demo', name }, destination: { cluster: 'destination' }, ...extra });
  const workflowId = migrationWorkflowId(migration);
  const report = await acts.preflight({ workflowId, migration });
  seen.push(report);
  return { workflowId, migration, attempt: n, migrationId: `mig-${name}-${n}`, runStrategy: report.runStrategy };
}

async function prerequisites(ref: AttemptRef): Promise<CreatedObject[]> {
  const r = await acts.createPrerequisites(ref);
  seen.push(r);
  return r;
}

async function targetVM(ref: AttemptRef): Promise<CreatedObject> {
  const r = await acts.createTargetVM(ref);
  seen.push(r);
  return r;
}

/** The failure an activity threw, recorded for the leak check. */
async function failure(p: Promise<unknown>): Promise<{ type?: string; nonRetryable?: boolean; message: string }> {
  try {
    await p;
  } catch (e) {
    const f = e as { type?: string; nonRetryable?: boolean; message: string };
    seen.push({ type: f.type, message: f.message });
    return f;
  }
  throw new Error('expected the activity to fail');
}

const key = (o: { kind: string; name: string }) => `${o.kind}/${o.name}`;

async function rvs(c: ClusterClient, ns: string): Promise<Map<string, string>> {
  const kinds: KindName[] = ['ConfigMap', 'Secret', 'PersistentVolumeClaim', 'VirtualMachine', 'VirtualMachineInstancetype', 'VirtualMachinePreference', 'DataVolume'];
  const out = new Map<string, string>();
  for (const kind of kinds) for (const o of await c.list(kind, ns)) out.set(`${kind}/${o.metadata.name}`, o.metadata.resourceVersion ?? '');
  return out;
}

async function mustGet(c: ClusterClient, kind: KindName, ns: string | undefined, name: string): Promise<KubeObject> {
  const o = await c.get(kind, ns, name);
  assert.ok(o, `${kind} ${ns}/${name} missing on ${c.name}`);
  return o;
}

function assertOwned(o: KubeObject, ref: AttemptRef) {
  assert.ok(isOwnedBy(o.metadata, ref.workflowId), `${o.kind} ${o.metadata.name} not labelled as ours: ${JSON.stringify(o.metadata.labels)}`);
  assert.equal(o.metadata.labels?.[LABEL_MANAGED_BY], 'ferry');
  assert.equal(o.metadata.annotations?.[ANN_WORKFLOW_ID], ref.workflowId);
}

describe('prerequisites and the receiver VM', () => {
  before(async () => {
    sim = await startSim();
    const clients = new Map(['source', 'destination'].map((n) => [n, new ClusterClient(n, sim.cluster(n).kubeConfig())]));
    reg = { get: (n) => clients.get(n)!, names: () => [...clients.keys()] };
    src = reg.get('source');
    dst = reg.get('destination');
    acts = { ...preflightActivities({ clusters: reg }), ...prerequisiteActivities({ clusters: reg }), ...targetVMActivities({ clusters: reg }) };
  });
  after(async () => {
    await sim?.stop();
  });

  it('web-01: copies instancetype, preference, ConfigMap and Secret, leaves the existing team-ca-bundle alone, creates a blank disk', async () => {
    const ref = await attempt('web-01');
    const teamBefore = await mustGet(dst, 'ConfigMap', 'demo', 'team-ca-bundle');

    const created = await prerequisites(ref);
    assert.deepEqual(created.map(key).sort(), [
      'ConfigMap/web-config',
      'DataVolume/web-01-rootdisk',
      'Secret/web-cloudinit',
      'VirtualMachineInstancetype/web-small',
      'VirtualMachinePreference/web-pref',
    ]);
    for (const c of created) {
      assert.equal(c.cluster, 'destination');
      assert.equal(c.namespace, 'demo');
      const o = await mustGet(dst, c.kind as KindName, 'demo', c.name);
      assert.equal(c.uid, o.metadata.uid);
      assertOwned(o, ref);
      assert.equal(o.metadata.annotations?.[ANN_SOURCE], `source/demo/${c.name}`);
    }

    // The destination's own team-ca-bundle is used as-is.
    const teamAfter = await mustGet(dst, 'ConfigMap', 'demo', 'team-ca-bundle');
    assert.equal(teamAfter.metadata.resourceVersion, teamBefore.metadata.resourceVersion);
    assert.deepEqual(teamAfter.data, teamBefore.data);
    assert.match(String((teamAfter.data as Record<string, string>)['ca.crt']), /destination copy/);
    assert.ok(!isOwnedBy(teamAfter.metadata, ref.workflowId));

    // Copies carry the source's content and labels.
    const [it0, it1] = [await mustGet(src, 'VirtualMachineInstancetype', 'demo', 'web-small'), await mustGet(dst, 'VirtualMachineInstancetype', 'demo', 'web-small')];
    assert.deepEqual(it1.spec, it0.spec);
    assert.deepEqual((await mustGet(dst, 'VirtualMachinePreference', 'demo', 'web-pref')).spec, (await mustGet(src, 'VirtualMachinePreference', 'demo', 'web-pref')).spec);
    const cm = await mustGet(dst, 'ConfigMap', 'demo', 'web-config');
    assert.deepEqual(cm.data, (await mustGet(src, 'ConfigMap', 'demo', 'web-config')).data);
    assert.equal(cm.metadata.labels?.app, 'web');
    const [s0, s1] = [await mustGet(src, 'Secret', 'demo', 'web-cloudinit'), await mustGet(dst, 'Secret', 'demo', 'web-cloudinit')];
    assert.equal(s1.type, 'Opaque');
    assert.ok(JSON.stringify(s1.data) === JSON.stringify(s0.data), 'Secret data not copied verbatim');

    // The disk: blank, populator annotation, at least the source's 10Gi, same class and modes.
    const dv = await mustGet(dst, 'DataVolume', 'demo', 'web-01-rootdisk');
    assert.deepEqual(dv.spec?.source, { blank: {} });
    assert.equal(dv.metadata.annotations?.['cdi.kubevirt.io/storage.usePopulator'], 'true');
    const storage = dv.spec?.storage as { resources: { requests: { storage: string } }; storageClassName?: string; accessModes?: string[]; volumeMode?: string };
    assert.ok(parseBytes(storage.resources.requests.storage) >= 10 * GiB, storage.resources.requests.storage);
    const srcPvc = await mustGet(src, 'PersistentVolumeClaim', 'demo', 'web-01-rootdisk');
    assert.equal(storage.storageClassName, srcPvc.spec?.storageClassName);
    assert.deepEqual(storage.accessModes, srcPvc.spec?.accessModes);
    assert.equal(storage.volumeMode, srcPvc.spec?.volumeMode);
    await eventually('blank DataVolume Succeeded', async () => (await dst.get('DataVolume', 'demo', 'web-01-rootdisk'))?.status?.phase === 'Succeeded');

    // Again: same list, nothing created or changed.
    const before = await rvs(dst, 'demo');
    const again = await prerequisites(ref);
    assert.deepEqual(again, created);
    assert.deepEqual(await rvs(dst, 'demo'), before);

    // The receiver VM, twice: one VM, WaitAsReceiver, restore annotation, ownership.
    const vm1 = await targetVM(ref);
    const vm2 = await targetVM(ref);
    assert.deepEqual(vm2, vm1);
    assert.deepEqual({ ...vm1, uid: undefined }, { cluster: 'destination', kind: 'VirtualMachine', namespace: 'demo', name: 'web-01', uid: undefined });
    assert.equal((await dst.list('VirtualMachine', 'demo')).filter((v) => v.metadata.name === 'web-01').length, 1);
    const vm = await mustGet(dst, 'VirtualMachine', 'demo', 'web-01');
    const source = await mustGet(src, 'VirtualMachine', 'demo', 'web-01');
    assert.equal(vm.metadata.uid, vm1.uid);
    assert.equal(vm.spec?.runStrategy, 'WaitAsReceiver');
    assert.equal(vm.metadata.annotations?.[ANN_RESTORE_RUN_STRATEGY], 'Always');
    assert.equal(vm.metadata.annotations?.['ferry.dev/migration-id'], 'mig-web-01-1');
    assert.equal(vm.metadata.labels?.['ferry.dev/attempt'], '1');
    assert.equal(vm.metadata.labels?.app, 'web');
    assertOwned(vm, ref);
    assert.deepEqual((vm.spec?.template as { spec: unknown }).spec, (source.spec?.template as { spec: unknown }).spec, 'template (MACs, volumes) must be unchanged');
    assert.deepEqual(vm.spec?.instancetype, source.spec?.instancetype);
    await eventually('receiver VMI WaitingForSync', async () => (await dst.get('VirtualMachineInstance', 'demo', 'web-01'))?.status?.phase === 'WaitingForSync');
  });

  it('cache-01 (deprecated spec.running: true): the restore annotation is Always and spec.running is gone', async () => {
    const ref = await attempt('cache-01');
    assert.equal(ref.runStrategy, 'Always');
    const created = await prerequisites(ref);
    assert.deepEqual(created.map(key), ['DataVolume/cache-01-rootdisk']);
    const dv = await mustGet(dst, 'DataVolume', 'demo', 'cache-01-rootdisk');
    assert.ok(parseBytes(field(dv, 'spec.storage.resources.requests.storage')) >= 5 * GiB);
    await targetVM(ref);
    const vm = await mustGet(dst, 'VirtualMachine', 'demo', 'cache-01');
    assert.equal(vm.spec?.runStrategy, 'WaitAsReceiver');
    assert.equal(vm.spec?.running, undefined);
    assert.equal(vm.metadata.annotations?.[ANN_RESTORE_RUN_STRATEGY], 'Always');
    // Its disk is a template on the source: on the destination it stays one, and KubeVirt adopts the blank DataVolume.
    assert.deepEqual(field(vm, 'spec.dataVolumeTemplates.0.spec.source'), { blank: {} });
    assert.equal(field(vm, 'spec.dataVolumeTemplates.0.metadata.name'), 'cache-01-rootdisk');
    const owner = await eventually('the target VM controls its template DataVolume', async () => {
      const refs = (await dst.get('DataVolume', 'demo', 'cache-01-rootdisk'))?.metadata.ownerReferences ?? [];
      return refs.find((r) => r.controller && r.kind === 'VirtualMachine');
    });
    assert.equal(owner.uid, vm.metadata.uid);
    // web-01's disk is standalone on the source, and stays standalone.
    assert.deepEqual((await mustGet(dst, 'DataVolume', 'demo', 'web-01-rootdisk')).metadata.ownerReferences ?? [], []);
    // Ensuring the VM again (now that KubeVirt adopted the disk) finds the same VM, and the disk keeps its one controller.
    assert.equal((await targetVM(ref)).uid, vm.metadata.uid);
    assert.equal((await mustGet(dst, 'DataVolume', 'demo', 'cache-01-rootdisk')).metadata.ownerReferences?.length, 1);
  });

  it('keeps Secret type and immutable, copies pull and access-credential Secrets, sizes claims from capacity, maps classes and networks', async () => {
    const core = src.core;
    await core.createNamespacedSecret({
      namespace: 'demo',
      body: { metadata: { name: 'pull-ssh', labels: { team: 'ops' } }, type: 'Opaque', immutable: true, stringData: { key: 'ssh-ed25519 AAAA fixture-ssh-key-55aa' } },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: 'demo',
      body: {
        metadata: { name: 'pull-01-scratch' },
        spec: { accessModes: ['ReadWriteMany'], volumeMode: 'Block', storageClassName: 'fast', resources: { requests: { storage: '3Gi' } } },
      },
    });
    // The provisioner rounded the volume up: the capacity (4Gi) is larger than the request (3Gi).
    const bound = await eventually('scratch claim bound', async () => {
      const p = await src.get('PersistentVolumeClaim', 'demo', 'pull-01-scratch');
      return field(p, 'status.phase') === 'Bound' ? p : undefined;
    });
    await core.replaceNamespacedPersistentVolumeClaimStatus({
      namespace: 'demo',
      name: 'pull-01-scratch',
      body: { ...bound, status: { ...bound.status, capacity: { storage: '4Gi' } } } as never,
    });
    await src.create('VirtualMachine', 'demo', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'pull-01', namespace: 'demo', labels: { app: 'pull' } },
      spec: {
        runStrategy: 'Halted',
        instancetype: { kind: 'virtualmachineinstancetype', name: 'web-small', revisionName: 'pull-01-web-small-1' },
        dataVolumeTemplates: [
          { metadata: { name: 'pull-01-root' }, spec: { source: { blank: {} }, storage: { storageClassName: 'fast', resources: { requests: { storage: '2Gi' } } } } },
        ],
        template: {
          spec: {
            accessCredentials: [{ sshPublicKey: { source: { secret: { secretName: 'pull-ssh' } }, propagationMethod: { noCloud: {} } } }],
            domain: {
              devices: {
                disks: [
                  { name: 'cd', disk: {} },
                  { name: 'root', disk: {} },
                  { name: 'scratch', disk: {} },
                ],
                interfaces: [
                  { name: 'default', masquerade: {}, macAddress: '02:7a:00:00:00:10' },
                  { name: 'blue', bridge: {}, macAddress: '02:7a:00:00:00:11' },
                ],
              },
            },
            networks: [
              { name: 'default', pod: {} },
              { name: 'blue', multus: { networkName: 'blue-net' } },
            ],
            volumes: [
              { name: 'cd', containerDisk: { image: 'registry.example/tools:1', imagePullSecret: 'registry-pull' } },
              { name: 'root', dataVolume: { name: 'pull-01-root' } },
              { name: 'scratch', persistentVolumeClaim: { claimName: 'pull-01-scratch' } },
            ],
          },
        },
      },
    });
    const ref = await attempt('pull-01', { storageClassMap: { fast: 'fast-dst' }, networkMap: { 'demo/blue-net': 'demo/blue-dst' } });
    assert.equal(ref.runStrategy, 'Halted');

    const created = await prerequisites(ref);
    // web-small was copied by web-01's migration: it exists, is not ours, and is used as-is.
    assert.deepEqual(created.map(key).sort(), ['DataVolume/pull-01-root', 'PersistentVolumeClaim/pull-01-scratch', 'Secret/pull-ssh', 'Secret/registry-pull']);

    const pull = await mustGet(dst, 'Secret', 'demo', 'registry-pull');
    assert.equal(pull.type, 'kubernetes.io/dockerconfigjson');
    const ssh = await mustGet(dst, 'Secret', 'demo', 'pull-ssh');
    assert.equal(ssh.type, 'Opaque');
    assert.equal(ssh.immutable, true);
    assert.equal(ssh.metadata.labels?.team, 'ops');
    assertOwned(ssh, ref);

    const scratch = await mustGet(dst, 'PersistentVolumeClaim', 'demo', 'pull-01-scratch');
    assertOwned(scratch, ref);
    assert.equal(field(scratch, 'spec.storageClassName'), 'fast-dst');
    assert.equal(field(scratch, 'spec.volumeMode'), 'Block');
    assert.deepEqual(field(scratch, 'spec.accessModes'), ['ReadWriteMany']);
    assert.equal(parseBytes(field(scratch, 'spec.resources.requests.storage')), 4 * GiB, 'sized from the capacity, which is larger than the request');
    assert.equal(field(scratch, 'spec.dataSource'), undefined);

    const root = await mustGet(dst, 'DataVolume', 'demo', 'pull-01-root');
    assert.equal(field(root, 'spec.storage.storageClassName'), 'fast-dst');
    assert.equal(parseBytes(field(root, 'spec.storage.resources.requests.storage')), 2 * GiB, 'sized from the dataVolumeTemplate');

    await targetVM(ref);
    const vm = await mustGet(dst, 'VirtualMachine', 'demo', 'pull-01');
    assert.equal(vm.metadata.annotations?.[ANN_RESTORE_RUN_STRATEGY], 'Halted');
    // The template stays, blank, with the storage of the DataVolume createPrerequisites made (class mapped).
    assert.deepEqual(field(vm, 'spec.dataVolumeTemplates'), [
      { metadata: { name: 'pull-01-root', labels: root.metadata.labels, annotations: root.metadata.annotations }, spec: root.spec },
    ]);
    assert.equal(field(vm, 'spec.dataVolumeTemplates.0.spec.storage.storageClassName'), 'fast-dst');
    assert.deepEqual(vm.spec?.instancetype, { kind: 'virtualmachineinstancetype', name: 'web-small' });
    assert.deepEqual(field(vm, 'spec.template.spec.networks'), [
      { name: 'default', pod: {} },
      { name: 'blue', multus: { networkName: 'demo/blue-dst' } },
    ]);
    assert.deepEqual(
      field(vm, 'spec.template.spec.domain.devices.interfaces'),
      field(await mustGet(src, 'VirtualMachine', 'demo', 'pull-01'), 'spec.template.spec.domain.devices.interfaces'),
    );
    assert.deepEqual(field(vm, 'spec.template.spec.volumes'), field(await mustGet(src, 'VirtualMachine', 'demo', 'pull-01'), 'spec.template.spec.volumes'));
  });

  it("refuses a disk or VM that exists on the destination and is not this migration's (NotOurs, not retryable)", async () => {
    const ref = await attempt('db-01');
    await dst.create('DataVolume', 'demo', {
      apiVersion: 'cdi.kubevirt.io/v1beta1',
      kind: 'DataVolume',
      metadata: { name: 'db-01-data', namespace: 'demo', labels: { app: 'someone-else' } },
      spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '1Gi' } } } },
    });
    const f = await failure(prerequisites(ref));
    assert.equal(f.type, FailureTypes.NotOurs);
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /DataVolume demo\/db-01-data/);
    const theirs = await mustGet(dst, 'DataVolume', 'demo', 'db-01-data');
    assert.equal(field(theirs, 'spec.storage.resources.requests.storage'), '1Gi', 'the foreign disk is untouched');

    // A VM of the same name owned by another migration.
    await dst.create('VirtualMachine', 'demo', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'db-01', namespace: 'demo', ...ownedMeta('migration/elsewhere/demo/db-01') },
      spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: {} } } } },
    });
    const g = await failure(targetVM(ref));
    assert.equal(g.type, FailureTypes.NotOurs);
    assert.match(g.message, /VirtualMachine demo\/db-01/);
    assert.match(g.message, /migration\/elsewhere\/demo\/db-01/);
  });

  it('never returns or throws Secret data', () => {
    const all = JSON.stringify(seen);
    assert.ok(seen.length >= 10);
    for (const v of [...SECRET_VALUES, ...ENCODED]) assert.ok(!all.includes(v), 'a Secret value leaked into an activity result or failure');
  });
});
