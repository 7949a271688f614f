/**
 * Where the simulator must answer as a real kube-apiserver with KubeVirt's and CDI's CRDs does, found
 * by running the simulated controllers against a real server: the VMI has no status subresource, list
 * items carry no kind, Secrets never store stringData, and a VM's dataVolumeTemplates become owned
 * DataVolumes before its VMI starts. Everything is observed over HTTPS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeClient } from '../controllers/kube.js';
import { Informer } from '../controllers/runtime.js';
import type { Simulator } from '../sim.js';
import { apiError, clients, type Clients, eventually, kubevirt, path, rawRequest, startSim } from '../testing/sim.js';

const NS = 'fidelity';
const KV = { group: 'kubevirt.io', version: 'v1' } as const;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

type Item = { kind?: string; apiVersion?: string; metadata: { name: string } };
type List = { kind: string; apiVersion: string; items: Item[]; metadata: { continue?: string } };

describe('simulator fidelity to a real API server', () => {
  let sim: Simulator;
  let c: Clients;

  before(async () => {
    // Imports slow enough to see a VM wait for its DataVolumes.
    sim = await startSim({ timing: { importMs: 1000 } });
    c = clients(sim, 'source');
    await c.core.createNamespace({ body: { metadata: { name: NS } } });
  });

  after(async () => {
    await sim?.stop();
  });

  describe('the VirtualMachineInstance has no status subresource', () => {
    const vmiPath = `/apis/kubevirt.io/v1/namespaces/demo/virtualmachineinstances/web-01`;

    it("GET, PUT and PATCH of a VMI's /status are 404, and the VMI is untouched", async () => {
      const vmi = (await rawRequest(sim.source, 'GET', vmiPath)).body as { status: Record<string, unknown> };
      assert.equal(vmi.status.phase, 'Running');

      const put = await rawRequest(sim.source, 'PUT', `${vmiPath}/status`, { body: { ...vmi, status: { ...vmi.status, forged: true } } });
      assert.equal(put.status, 404);
      assert.equal(path(put.body, 'reason'), 'NotFound');
      assert.equal((await rawRequest(sim.source, 'GET', `${vmiPath}/status`)).status, 404);
      const patch = await rawRequest(sim.source, 'PATCH', `${vmiPath}/status`, {
        body: { status: { forged: true } },
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      assert.equal(patch.status, 404);
      const viaClient = await apiError(c.custom.replaceNamespacedCustomObjectStatus({ ...KV, namespace: 'demo', plural: 'virtualmachineinstances', name: 'web-01', body: vmi }));
      assert.equal(viaClient.code, 404);

      const after = (await rawRequest(sim.source, 'GET', vmiPath)).body;
      assert.equal(path(after, 'status.forged'), undefined);
      assert.equal(path(after, 'status.phase'), 'Running');
    });

    it('discovery lists /status for VMs, VMIMs, KubeVirt and DataVolumes, not for VMIs', async () => {
      const names = async (gv: string) => ((await rawRequest(sim.source, 'GET', `/apis/${gv}`)).body as { resources: { name: string }[] }).resources.map((r) => r.name);
      const kubevirtResources = await names('kubevirt.io/v1');
      assert.ok(kubevirtResources.includes('virtualmachineinstances'));
      assert.ok(!kubevirtResources.includes('virtualmachineinstances/status'));
      for (const r of ['virtualmachines/status', 'virtualmachineinstancemigrations/status', 'kubevirts/status']) assert.ok(kubevirtResources.includes(r), r);
      assert.ok((await names('cdi.kubevirt.io/v1beta1')).includes('datavolumes/status'));
    });

    it('create and update of a VMI store the status they are sent, and a status change bumps generation', async () => {
      const kv = kubevirt(c);
      // Succeeded: virt-handler leaves a finished VMI alone, so nothing else writes it meanwhile.
      const created = await kv.create('virtualmachineinstances', NS, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name: 'bare-vmi' },
        spec: { domain: { devices: {} } },
        status: { phase: 'Succeeded', reason: 'from-create' },
      });
      assert.equal(path(created, 'status.reason'), 'from-create');
      assert.equal(path(created, 'metadata.generation'), 1);

      const updated = (await c.custom.replaceNamespacedCustomObject({
        ...KV,
        namespace: NS,
        plural: 'virtualmachineinstances',
        name: 'bare-vmi',
        body: { ...created, status: { phase: 'Succeeded', reason: 'from-update' } },
      })) as typeof created;
      assert.equal(path(updated, 'status.reason'), 'from-update');
      assert.equal(path(updated, 'metadata.generation'), 2);
      assert.equal(path(await kv.get('virtualmachineinstances', NS, 'bare-vmi'), 'status.reason'), 'from-update');
    });

    it('kinds with a status subresource still drop status on create and keep it on a main update', async () => {
      const kv = kubevirt(c);
      const vm = await kv.create('virtualmachines', NS, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'halted' },
        spec: { runStrategy: 'Halted', template: { spec: { domain: { devices: {} } } } },
        status: { printableStatus: 'Forged' },
      });
      assert.notEqual(path(vm, 'status.printableStatus'), 'Forged');
      const settled = await eventually('VM status written', async () => {
        const v = await kv.get('virtualmachines', NS, 'halted');
        return path(v, 'status.printableStatus') === 'Stopped' ? v : undefined;
      });
      const replaced = await c.custom.replaceNamespacedCustomObject({
        ...KV,
        namespace: NS,
        plural: 'virtualmachines',
        name: 'halted',
        body: { ...settled, status: { printableStatus: 'Forged' } },
      });
      assert.equal(path(replaced, 'status.printableStatus'), 'Stopped');
    });

    it('the simulated KubeVirt still drives VMIs: a started VM gets a Running VMI', async () => {
      const kv = kubevirt(c);
      await kv.create('virtualmachines', NS, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'runner' },
        spec: { runStrategy: 'Always', template: { spec: { domain: { memory: { guest: '512Mi' }, devices: {} } } } },
      });
      const vmi = await eventually('VMI runner Running', async () => {
        const v = await kv.tryGet('virtualmachineinstances', NS, 'runner');
        return path(v, 'status.phase') === 'Running' ? v : undefined;
      });
      assert.equal(path<{ type: string; status: string }[]>(vmi, 'status.conditions')?.find((x) => x.type === 'Ready')?.status, 'True');
      assert.ok(Number(path(vmi, 'metadata.generation')) > 1, 'every status write of a VMI is a change of the object');
    });
  });

  describe('list items carry no kind or apiVersion', () => {
    it('core and custom lists name the kind once, on the list; items have none', async () => {
      for (const [url, listKind, apiVersion] of [
        ['/api/v1/namespaces/demo/secrets', 'SecretList', 'v1'],
        ['/api/v1/persistentvolumeclaims', 'PersistentVolumeClaimList', 'v1'],
        ['/apis/kubevirt.io/v1/namespaces/demo/virtualmachines', 'VirtualMachineList', 'kubevirt.io/v1'],
        ['/apis/cdi.kubevirt.io/v1beta1/datavolumes', 'DataVolumeList', 'cdi.kubevirt.io/v1beta1'],
        ['/api/v1/namespaces/demo/configmaps?limit=1', 'ConfigMapList', 'v1'],
      ] as const) {
        const list = (await rawRequest(sim.source, 'GET', url)).body as List;
        assert.equal(list.kind, listKind, url);
        assert.equal(list.apiVersion, apiVersion, url);
        assert.ok(list.items.length > 0, `${url} has items`);
        for (const item of list.items) {
          assert.ok(item.metadata.name, url);
          assert.equal(item.kind, undefined, `${url}: ${item.metadata.name} has a kind`);
          assert.equal(item.apiVersion, undefined, `${url}: ${item.metadata.name} has an apiVersion`);
        }
      }
    });

    it('a single object and watch events do carry kind and apiVersion', async () => {
      const one = (await rawRequest(sim.source, 'GET', '/api/v1/namespaces/demo/secrets/web-cloudinit')).body as Item;
      assert.equal(one.kind, 'Secret');
      assert.equal(one.apiVersion, 'v1');
      // Without a resourceVersion the watch starts with every object as ADDED; the server ends it after 1 s.
      const raw = await rawRequest(sim.source, 'GET', '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines?watch=true&timeoutSeconds=1');
      const events = String(raw.body)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; object: Item });
      assert.ok(events.length > 0);
      for (const e of events) {
        assert.equal(e.object.kind, 'VirtualMachine');
        assert.equal(e.object.apiVersion, 'kubevirt.io/v1');
      }
    });

    it('an informer started over existing objects caches them with their kind, so they can be written back', async () => {
      await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'pre-existing' }, data: { n: '1' } } });
      const client = new KubeClient(c.kc);
      const configMaps = new Informer(client, 'ConfigMap');
      const vms = new Informer(client, 'VirtualMachine');
      try {
        configMaps.start();
        vms.start();
        await Promise.all([configMaps.synced, vms.synced]);
        const cm = configMaps.get(NS, 'pre-existing')!;
        assert.equal(cm.kind, 'ConfigMap');
        assert.equal(cm.apiVersion, 'v1');
        assert.equal(vms.get('demo', 'web-01')?.kind, 'VirtualMachine');
        assert.equal(vms.get('demo', 'web-01')?.apiVersion, 'kubevirt.io/v1');
        await client.update({ ...cm, data: { n: '2' } });
        assert.equal((await c.core.readNamespacedConfigMap({ namespace: NS, name: 'pre-existing' })).data?.n, '2');
      } finally {
        configMaps.stop();
        vms.stop();
      }
    });
  });

  describe('Secrets are stored without stringData', () => {
    type SecretJson = { data?: Record<string, string>; stringData?: unknown; metadata: { resourceVersion: string } };
    const read = async (name: string, ns = NS) => (await rawRequest(sim.source, 'GET', `/api/v1/namespaces/${ns}/secrets/${name}`)).body as SecretJson;

    it('create merges stringData into base64 data, stringData winning on a shared key', async () => {
      const answer = await c.core.createNamespacedSecret({
        namespace: NS,
        body: { metadata: { name: 'mixed' }, type: 'Opaque', data: { kept: b64('old'), token: b64('old-token') }, stringData: { token: 'new-token', extra: 'plain text' } },
      });
      assert.equal(answer.stringData, undefined);
      const stored = await read('mixed');
      assert.equal('stringData' in stored, false);
      assert.deepEqual(stored.data, { kept: b64('old'), token: b64('new-token'), extra: b64('plain text') });
    });

    it('update and merge patch fold stringData too', async () => {
      const cur = await read('mixed');
      await rawRequest(sim.source, 'PUT', `/api/v1/namespaces/${NS}/secrets/mixed`, {
        body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'mixed', resourceVersion: cur.metadata.resourceVersion }, data: cur.data, stringData: { kept: 'replaced' } },
      });
      let stored = await read('mixed');
      assert.equal('stringData' in stored, false);
      assert.equal(unb64(stored.data?.kept), 'replaced');
      assert.equal(unb64(stored.data?.token), 'new-token');

      await c.core.patchNamespacedSecret(
        { name: 'mixed', namespace: NS, body: { stringData: { patched: 'yes' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      stored = await read('mixed');
      assert.equal('stringData' in stored, false);
      assert.equal(unb64(stored.data?.patched), 'yes');
      assert.equal(unb64(stored.data?.extra), 'plain text');
    });

    it('fixture Secrets written with stringData read back with data only', async () => {
      const s = await read('web-cloudinit', 'demo');
      assert.equal('stringData' in s, false);
      assert.match(unb64(s.data?.userdata), /password: fixture-secret-web-7f3c/);
    });
  });

  describe("a VM's dataVolumeTemplates", () => {
    const rootSpec = {
      source: { http: { url: 'https://images.example/fedora-41.qcow2' } },
      storage: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '5Gi' } } },
    };
    const scratchSpec = { source: { blank: {} }, storage: { resources: { requests: { storage: '1Gi' } } } };

    it('become DataVolumes owned by the VM, imported and bound before the VMI starts; deleting the VM collects them', async () => {
      const kv = kubevirt(c);
      const cdi = (name: string) => c.custom.getNamespacedCustomObject({ group: 'cdi.kubevirt.io', version: 'v1beta1', namespace: NS, plural: 'datavolumes', name });
      const tryCdi = (name: string) => cdi(name).catch((e: { code?: number }) => (e.code === 404 ? undefined : Promise.reject(e)));
      const vm = await kv.create('virtualmachines', NS, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'dvt-01' },
        spec: {
          runStrategy: 'Always',
          dataVolumeTemplates: [
            { metadata: { name: 'dvt-01-root', labels: { disk: 'root' }, annotations: { note: 'from-template' } }, spec: rootSpec },
            { metadata: { name: 'dvt-01-scratch' }, spec: scratchSpec },
          ],
          template: {
            spec: {
              domain: {
                memory: { guest: '1Gi' },
                devices: {
                  disks: [
                    { name: 'root', disk: {} },
                    { name: 'scratch', disk: {} },
                  ],
                },
              },
              volumes: [
                { name: 'root', dataVolume: { name: 'dvt-01-root' } },
                { name: 'scratch', dataVolume: { name: 'dvt-01-scratch' } },
              ],
            },
          },
        },
      });

      const root = await eventually('DataVolume dvt-01-root created', () => tryCdi('dvt-01-root'));
      assert.deepEqual(path(root, 'metadata.ownerReferences'), [
        { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'dvt-01', uid: vm.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.equal(path(root, 'metadata.labels.disk'), 'root');
      assert.equal(path(root, 'metadata.annotations.note'), 'from-template');
      assert.deepEqual(path(root, 'spec'), rootSpec);
      assert.deepEqual(path(await eventually('DataVolume dvt-01-scratch created', () => tryCdi('dvt-01-scratch')), 'spec'), scratchSpec);

      // The import takes a second: meanwhile the VM provisions and has no VMI.
      await eventually('VM dvt-01 Provisioning', async () => path(await kv.get('virtualmachines', NS, 'dvt-01'), 'status.printableStatus') === 'Provisioning');
      assert.equal(path(await cdi('dvt-01-root'), 'status.phase'), 'ImportInProgress');
      assert.equal(await kv.tryGet('virtualmachineinstances', NS, 'dvt-01'), undefined);

      await eventually('VMI dvt-01 Running', async () => path(await kv.tryGet('virtualmachineinstances', NS, 'dvt-01'), 'status.phase') === 'Running', 10_000);
      for (const name of ['dvt-01-root', 'dvt-01-scratch']) {
        assert.equal(path(await cdi(name), 'status.phase'), 'Succeeded', name);
        const pvc = await c.core.readNamespacedPersistentVolumeClaim({ namespace: NS, name });
        assert.equal(pvc.status?.phase, 'Bound', name);
      }
      const vmi = await kv.get('virtualmachineinstances', NS, 'dvt-01');
      const started = Date.parse(String(path(vmi, 'metadata.creationTimestamp')));
      const imported = Date.parse(
        String(path<{ type: string; lastTransitionTime: string }[]>(await cdi('dvt-01-root'), 'status.conditions')?.find((x) => x.type === 'Ready')?.lastTransitionTime),
      );
      assert.ok(started >= imported, 'the VMI was created after the import finished');

      await kv.delete('virtualmachines', NS, 'dvt-01');
      for (const name of ['dvt-01-root', 'dvt-01-scratch']) await eventually(`DataVolume ${name} collected`, async () => (await tryCdi(name)) === undefined);
    });

    it("an existing DataVolume of a template's name that no controller owns is adopted and used as it is", async () => {
      const kv = kubevirt(c);
      await c.custom.createNamespacedCustomObject({
        group: 'cdi.kubevirt.io',
        version: 'v1beta1',
        namespace: NS,
        plural: 'datavolumes',
        body: { apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', metadata: { name: 'dvt-02-root', labels: { made: 'by-hand' } }, spec: scratchSpec },
      });
      await kv.create('virtualmachines', NS, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'dvt-02' },
        spec: {
          runStrategy: 'Always',
          dataVolumeTemplates: [{ metadata: { name: 'dvt-02-root' }, spec: rootSpec }],
          template: { spec: { domain: { devices: { disks: [{ name: 'root', disk: {} }] } }, volumes: [{ name: 'root', dataVolume: { name: 'dvt-02-root' } }] } },
        },
      });
      await eventually('VMI dvt-02 Running', async () => path(await kv.tryGet('virtualmachineinstances', NS, 'dvt-02'), 'status.phase') === 'Running', 10_000);
      const vm = await kv.get('virtualmachines', NS, 'dvt-02');
      const dv = await c.custom.getNamespacedCustomObject({ group: 'cdi.kubevirt.io', version: 'v1beta1', namespace: NS, plural: 'datavolumes', name: 'dvt-02-root' });
      assert.equal(path(dv, 'metadata.labels.made'), 'by-hand');
      assert.deepEqual(path(dv, 'spec'), scratchSpec);
      assert.deepEqual(path(dv, 'metadata.ownerReferences'), [
        { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', name: 'dvt-02', uid: vm.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
    });
  });
});
