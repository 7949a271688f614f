/**
 * Acceptance: the real @kubernetes/client-node 2.0.1 against the simulated API server over HTTPS.
 * Everything goes through client-node (CoreV1Api, CustomObjectsApi, KubernetesObjectApi, Watch) or,
 * where client-node hides the answer (401 bodies), a raw HTTPS request trusting only the cluster CA.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kubeConfigFor } from '../kubeconfig.js';
import type { Simulator } from '../sim.js';
import { apiError, clients, type Clients, eventually, kubevirt, path, rawRequest, startSim } from '../testing/sim.js';

const NS = 'apitest';
const WATCH_NS = 'apitest-watch';
const VM = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;

type VMObject = {
  apiVersion: string;
  kind: string;
  metadata: k8s.V1ObjectMeta & { name: string; resourceVersion: string; generation: number };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
};

function haltedVM(name: string): object {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, labels: { suite: 'apiserver' } },
    spec: {
      runStrategy: 'Halted',
      template: { spec: { domain: { memory: { guest: '1Gi' }, devices: { disks: [{ name: 'rootdisk', disk: { bus: 'virtio' } }] } } } },
    },
  };
}

interface WatchEvent {
  type: string;
  object: { metadata: { name: string; resourceVersion: string }; data?: Record<string, string> };
}

interface OpenWatch {
  events: WatchEvent[];
  /** Set once client-node's done callback has fired. */
  ended: { err: unknown } | undefined;
  stop: () => void;
}

/** Open a watch with client-node's Watch; resolves once the server has answered 200 and subscribed. */
async function openWatch(kc: k8s.KubeConfig, apiPath: string, query: Record<string, string>): Promise<OpenWatch> {
  const w: OpenWatch = { events: [], ended: undefined, stop: () => {} };
  const controller = await new k8s.Watch(kc).watch(
    apiPath,
    query,
    (type, object: WatchEvent['object']) => w.events.push({ type, object }),
    (err) => (w.ended = { err }),
  );
  w.stop = () => controller.abort();
  return w;
}

/** Wait until `n` events arrived, then `settleMs` more to catch any extra one; fails if the watch ended. */
async function eventsOf(w: OpenWatch, n: number, settleMs = 300): Promise<string[]> {
  await eventually(
    `${n} watch events`,
    async () => {
      if (w.ended) throw new Error(`watch ended early: ${String(w.ended.err)}`);
      return w.events.length >= n;
    },
    5000,
    10,
  );
  await new Promise((r) => setTimeout(r, settleMs));
  return w.events.map((e) => `${e.type} ${e.object.metadata.name}`);
}

describe('client-node against the simulator over HTTPS', () => {
  let sim: Simulator;
  let c: Clients;

  before(async () => {
    sim = await startSim();
    c = clients(sim, 'source');
    for (const name of [NS, WATCH_NS]) await c.core.createNamespace({ body: { metadata: { name } } });
  });

  after(async () => {
    await sim?.stop();
  });

  /** A VM as the VM controller leaves it once it has written status (so our writes do not race it). */
  async function settledVM(name: string): Promise<VMObject> {
    return eventually(`VM ${name} status from virt-controller`, async () => {
      const vm = (await c.custom.getNamespacedCustomObject({ ...VM, namespace: NS, name })) as VMObject;
      return path(vm, 'status.printableStatus') === 'Stopped' ? vm : undefined;
    });
  }

  it('ConfigMap: create, get, update, delete', async () => {
    const created = await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'crud', labels: { a: '1' } }, data: { k: 'v1' } } });
    assert.equal(created.metadata?.name, 'crud');
    assert.equal(created.metadata?.namespace, NS);
    assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(created.metadata?.resourceVersion);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);

    const got = await c.core.readNamespacedConfigMap({ name: 'crud', namespace: NS });
    assert.deepEqual(got.data, { k: 'v1' });
    assert.equal(got.metadata?.uid, created.metadata?.uid);

    const updated = await c.core.replaceNamespacedConfigMap({ name: 'crud', namespace: NS, body: { ...got, data: { k: 'v2', extra: 'x' } } });
    assert.deepEqual(updated.data, { k: 'v2', extra: 'x' });
    assert.ok(Number(updated.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion), 'an update bumps the resourceVersion');
    assert.deepEqual((await c.core.readNamespacedConfigMap({ name: 'crud', namespace: NS })).data, { k: 'v2', extra: 'x' });

    const status = await c.core.deleteNamespacedConfigMap({ name: 'crud', namespace: NS });
    assert.equal(status.status, 'Success');
    const gone = await apiError(c.core.readNamespacedConfigMap({ name: 'crud', namespace: NS }));
    assert.equal(gone.code, 404);
    assert.equal(gone.status?.reason, 'NotFound');
  });

  it('Secret: create, get, update, delete keep its type (kubernetes.io/dockerconfigjson)', async () => {
    const docker = Buffer.from(JSON.stringify({ auths: { 'registry.test': { auth: Buffer.from('u:p').toString('base64') } } })).toString('base64');
    const created = await c.core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'pull' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': docker } },
    });
    assert.equal(created.type, 'kubernetes.io/dockerconfigjson');

    const got = await c.core.readNamespacedSecret({ name: 'pull', namespace: NS });
    assert.equal(got.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(got.data?.['.dockerconfigjson'], docker);

    const updated = await c.core.replaceNamespacedSecret({ name: 'pull', namespace: NS, body: { ...got, metadata: { ...got.metadata, labels: { rotated: 'yes' } } } });
    assert.equal(updated.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(updated.metadata?.labels?.rotated, 'yes');

    // The generic client (discovery-driven) sees the same object, type included; and the fixture's too.
    const objects = k8s.KubernetesObjectApi.makeApiClient(c.kc);
    const viaGeneric = (await objects.read({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pull', namespace: NS } })) as k8s.V1Secret;
    assert.equal(viaGeneric.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(viaGeneric.metadata?.labels?.rotated, 'yes');
    assert.equal((await c.core.readNamespacedSecret({ name: 'registry-pull', namespace: 'demo' })).type, 'kubernetes.io/dockerconfigjson');

    await c.core.deleteNamespacedSecret({ name: 'pull', namespace: NS });
    const gone = await apiError(c.core.readNamespacedSecret({ name: 'pull', namespace: NS }));
    assert.equal(gone.code, 404);
    assert.equal(gone.status?.reason, 'NotFound');
  });

  it('VirtualMachine through CustomObjectsApi: create, get, update, delete', async () => {
    const created = (await c.custom.createNamespacedCustomObject({ ...VM, namespace: NS, body: haltedVM('vm-crud') })) as VMObject;
    assert.equal(created.apiVersion, 'kubevirt.io/v1');
    assert.equal(created.kind, 'VirtualMachine');
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.status, undefined, 'create does not set status');

    const got = await settledVM('vm-crud');
    assert.equal(got.metadata.uid, created.metadata.uid);
    assert.equal(path(got, 'spec.runStrategy'), 'Halted');

    const spec = structuredClone(got.spec);
    (spec.template as { metadata?: object }).metadata = { labels: { tier: 'gold' } };
    const updated = (await c.custom.replaceNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-crud', body: { ...got, spec } })) as VMObject;
    assert.equal(path(updated, 'spec.template.metadata.labels.tier'), 'gold');
    assert.equal(path(await c.custom.getNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-crud' }), 'spec.template.metadata.labels.tier'), 'gold');

    await c.custom.deleteNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-crud' });
    assert.equal(await kubevirt(c).tryGet('virtualmachines', NS, 'vm-crud'), undefined);
    const gone = await apiError(c.custom.getNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-crud' }));
    assert.equal(gone.code, 404);
    assert.equal(gone.status?.reason, 'NotFound');
  });

  it('generateName: the server picks distinct names with the prefix', async () => {
    const a = await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'gen-' } } });
    const b = await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'gen-' } } });
    assert.match(a.metadata?.name ?? '', /^gen-[a-z0-9]{5}$/);
    assert.match(b.metadata?.name ?? '', /^gen-[a-z0-9]{5}$/);
    assert.notEqual(a.metadata?.name, b.metadata?.name);
    assert.equal((await c.core.readNamespacedConfigMap({ name: a.metadata!.name!, namespace: NS })).metadata?.generateName, 'gen-');
  });

  it('lists with label selectors (=, !=, in, notin, exists, !exists) and a metadata.name field selector', async () => {
    const ns = 'apitest-sel';
    await c.core.createNamespace({ body: { metadata: { name: ns } } });
    const objs: [string, Record<string, string>][] = [
      ['a', { tier: 'web', env: 'prod' }],
      ['b', { tier: 'db', env: 'prod' }],
      ['c', { tier: 'web', env: 'dev' }],
      ['d', { env: 'dev' }],
    ];
    for (const [name, labels] of objs) await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels } } });

    const names = async (q: { labelSelector?: string; fieldSelector?: string }) =>
      (await c.core.listNamespacedConfigMap({ namespace: ns, ...q })).items.map((i) => i.metadata!.name!).sort();

    assert.deepEqual(await names({}), ['a', 'b', 'c', 'd']);
    assert.deepEqual(await names({ labelSelector: 'tier=web' }), ['a', 'c']);
    assert.deepEqual(await names({ labelSelector: 'tier!=web' }), ['b', 'd']);
    assert.deepEqual(await names({ labelSelector: 'tier in (web,db)' }), ['a', 'b', 'c']);
    assert.deepEqual(await names({ labelSelector: 'tier notin (web)' }), ['b', 'd']);
    assert.deepEqual(await names({ labelSelector: 'tier' }), ['a', 'b', 'c']);
    assert.deepEqual(await names({ labelSelector: '!tier' }), ['d']);
    assert.deepEqual(await names({ labelSelector: 'tier=web,env=prod' }), ['a']);
    assert.deepEqual(await names({ fieldSelector: 'metadata.name=b' }), ['b']);
    assert.deepEqual(await names({ fieldSelector: 'metadata.name!=b', labelSelector: 'env=prod' }), ['a']);

    // The same selector syntax on a custom resource list.
    const vms = (await c.custom.listNamespacedCustomObject({ ...VM, namespace: 'demo', labelSelector: 'app in (web,db)' })) as { items: VMObject[] };
    assert.deepEqual(vms.items.map((v) => v.metadata.name).sort(), ['db-01', 'web-01']);

    const bad = await apiError(c.core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'tier in web' }));
    assert.equal(bad.code, 400);
    assert.equal(bad.status?.reason, 'BadRequest');
  });

  it('watches from a resourceVersion: exactly the MODIFIED and DELETED that came after it', async () => {
    const created = await c.core.createNamespacedConfigMap({ namespace: WATCH_NS, body: { metadata: { name: 'watched' }, data: { v: '0' } } });
    const rv = created.metadata!.resourceVersion!;
    const modified = await c.core.replaceNamespacedConfigMap({ name: 'watched', namespace: WATCH_NS, body: { ...created, data: { v: '1' } } });
    await c.core.deleteNamespacedConfigMap({ name: 'watched', namespace: WATCH_NS });

    const w = await openWatch(c.kc, `/api/v1/namespaces/${WATCH_NS}/configmaps`, { resourceVersion: rv });
    try {
      assert.deepEqual(await eventsOf(w, 2), ['MODIFIED watched', 'DELETED watched']);
    } finally {
      w.stop();
    }
    const [mod, del] = w.events;
    assert.equal(mod!.object.data?.v, '1');
    assert.equal(mod!.object.metadata.resourceVersion, modified.metadata?.resourceVersion);
    assert.ok(Number(del!.object.metadata.resourceVersion) > Number(modified.metadata?.resourceVersion));

    // Without a resourceVersion a watch starts with the current state as ADDED, then follows changes.
    await c.core.createNamespacedConfigMap({ namespace: WATCH_NS, body: { metadata: { name: 'present' } } });
    const live = await openWatch(c.kc, `/api/v1/namespaces/${WATCH_NS}/configmaps`, {});
    try {
      assert.deepEqual(await eventsOf(live, 1, 50), ['ADDED present']);
      await c.core.createNamespacedConfigMap({ namespace: WATCH_NS, body: { metadata: { name: 'later' } } });
      assert.deepEqual(await eventsOf(live, 2), ['ADDED present', 'ADDED later']);
    } finally {
      live.stop();
    }
  });

  it('merge patch, JSON patch and strategic merge patch (Content-Type via setHeaderOptions)', async () => {
    await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'patched', labels: { keep: 'me', drop: 'me' } }, data: { a: '1', b: '2' } } });
    const as = (strategy: k8s.PatchStrategy) => k8s.setHeaderOptions('Content-Type', strategy);

    // Merge patch: maps merge, null deletes.
    const merged = await c.core.patchNamespacedConfigMap(
      { name: 'patched', namespace: NS, body: { metadata: { labels: { drop: null, added: 'yes' } }, data: { b: null, c: '3' } } },
      as(k8s.PatchStrategy.MergePatch),
    );
    assert.deepEqual(merged.data, { a: '1', c: '3' });
    assert.deepEqual(merged.metadata?.labels, { keep: 'me', added: 'yes' });

    // JSON patch (client-node's default patch type), with a passing test op.
    const jp = await c.core.patchNamespacedConfigMap(
      {
        name: 'patched',
        namespace: NS,
        body: [
          { op: 'test', path: '/data/a', value: '1' },
          { op: 'replace', path: '/data/a', value: '10' },
          { op: 'add', path: '/data/d', value: '4' },
          { op: 'remove', path: '/data/c' },
          { op: 'copy', from: '/data/d', path: '/data/e' },
          { op: 'move', from: '/metadata/labels/added', path: '/metadata/labels/moved' },
        ],
      },
      as(k8s.PatchStrategy.JsonPatch),
    );
    assert.deepEqual(jp.data, { a: '10', d: '4', e: '4' });
    assert.deepEqual(jp.metadata?.labels, { keep: 'me', moved: 'yes' });

    // A failing test op rejects the whole patch (422 Invalid) and changes nothing.
    const failed = await apiError(
      c.core.patchNamespacedConfigMap(
        {
          name: 'patched',
          namespace: NS,
          body: [
            { op: 'replace', path: '/data/a', value: 'nope' },
            { op: 'test', path: '/data/d', value: 'wrong' },
          ],
        },
        as(k8s.PatchStrategy.JsonPatch),
      ),
    );
    assert.equal(failed.code, 422);
    assert.equal(failed.status?.reason, 'Invalid');
    const missing = await apiError(
      c.core.patchNamespacedConfigMap({ name: 'patched', namespace: NS, body: [{ op: 'remove', path: '/data/nope' }] }, as(k8s.PatchStrategy.JsonPatch)),
    );
    assert.equal(missing.code, 422);
    assert.equal(missing.status?.reason, 'Invalid');
    const after = await c.core.readNamespacedConfigMap({ name: 'patched', namespace: NS });
    assert.equal(after.metadata?.resourceVersion, jp.metadata?.resourceVersion, 'a rejected patch writes nothing');
    assert.equal(after.data?.a, '10');

    // Strategic merge patch on a core kind.
    const smp = await c.core.patchNamespacedConfigMap({ name: 'patched', namespace: NS, body: { data: { f: '6', d: null } } }, as(k8s.PatchStrategy.StrategicMergePatch));
    assert.deepEqual(smp.data, { a: '10', e: '4', f: '6' });

    // A merge patch on a custom resource; strategic merge patch is refused there, as by kube-apiserver.
    await c.custom.createNamespacedCustomObject({ ...VM, namespace: NS, body: haltedVM('vm-patch') });
    const vm = (await c.custom.patchNamespacedCustomObject(
      { ...VM, namespace: NS, name: 'vm-patch', body: { metadata: { annotations: { note: 'merged' } }, spec: { template: { spec: { domain: { memory: { guest: '2Gi' } } } } } } },
      as(k8s.PatchStrategy.MergePatch),
    )) as VMObject;
    assert.equal(path(vm, 'metadata.annotations.note'), 'merged');
    assert.equal(path(vm, 'spec.template.spec.domain.memory.guest'), '2Gi');
    assert.equal((path<unknown[]>(vm, 'spec.template.spec.domain.devices.disks') ?? []).length, 1, 'merge patch keeps sibling fields');
    const smpCR = await apiError(
      c.custom.patchNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-patch', body: { metadata: { labels: { x: 'y' } } } }, as(k8s.PatchStrategy.StrategicMergePatch)),
    );
    assert.equal(smpCR.code, 415);
    assert.equal(smpCR.status?.reason, 'UnsupportedMediaType');

    // An unknown patch content type is a 415 too.
    const wrongType = await apiError(
      c.core.patchNamespacedConfigMap({ name: 'patched', namespace: NS, body: { data: { z: '1' } } }, k8s.setHeaderOptions('Content-Type', 'application/json')),
    );
    assert.equal(wrongType.code, 415);
    assert.equal(wrongType.status?.reason, 'UnsupportedMediaType');
  });

  it('status subresource: main updates keep status, status updates keep spec, generation follows spec only', async () => {
    await c.custom.createNamespacedCustomObject({ ...VM, namespace: NS, body: haltedVM('vm-status') });
    const vm0 = await settledVM('vm-status');
    assert.equal(vm0.metadata.generation, 1);
    const controllerStatus = vm0.status;

    // Main resource, metadata-only change plus a forged status: status ignored, generation unchanged.
    const vm1 = (await c.custom.replaceNamespacedCustomObject({
      ...VM,
      namespace: NS,
      name: 'vm-status',
      body: { ...vm0, metadata: { ...vm0.metadata, labels: { ...vm0.metadata.labels, touched: 'yes' } }, status: { printableStatus: 'Forged' } },
    })) as VMObject;
    assert.equal(vm1.metadata.labels?.touched, 'yes');
    assert.deepEqual(vm1.status, controllerStatus);
    assert.equal(vm1.metadata.generation, 1, 'a metadata-only update does not bump generation');
    assert.notEqual(vm1.metadata.resourceVersion, vm0.metadata.resourceVersion);

    // Main resource, spec change: generation + 1, status still untouched.
    const spec = structuredClone(vm1.spec);
    (spec.template as { spec: { domain: { memory: { guest: string } } } }).spec.domain.memory.guest = '4Gi';
    const vm2 = (await c.custom.replaceNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-status', body: { ...vm1, spec } })) as VMObject;
    assert.equal(vm2.metadata.generation, 2);
    assert.equal(path(vm2, 'spec.template.spec.domain.memory.guest'), '4Gi');
    assert.deepEqual(vm2.status, controllerStatus);

    // Status subresource: status taken, spec and labels ignored, generation unchanged.
    const vm3 = (await c.custom.replaceNamespacedCustomObjectStatus({
      ...VM,
      namespace: NS,
      name: 'vm-status',
      body: { ...vm2, metadata: { ...vm2.metadata, labels: { hijacked: 'yes' } }, spec: { ...vm2.spec, runStrategy: 'Always' }, status: { ...vm2.status, note: 'from-status' } },
    })) as VMObject;
    assert.equal(path(vm3, 'status.note'), 'from-status');
    assert.equal(path(vm3, 'spec.runStrategy'), 'Halted');
    assert.equal(vm3.metadata.labels?.hijacked, undefined);
    assert.equal(vm3.metadata.generation, 2, 'a status update does not bump generation');
    const stored = (await c.custom.getNamespacedCustomObject({ ...VM, namespace: NS, name: 'vm-status' })) as VMObject;
    assert.equal(path(stored, 'status.note'), 'from-status');
    assert.equal(path(stored, 'spec.runStrategy'), 'Halted');
    assert.equal(stored.metadata.generation, 2);
  });

  it('optimistic concurrency: a stale resourceVersion is a 409 Conflict', async () => {
    const v1 = await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'occ' }, data: { n: '1' } } });
    const v2 = await c.core.replaceNamespacedConfigMap({ name: 'occ', namespace: NS, body: { ...v1, data: { n: '2' } } });
    assert.notEqual(v2.metadata?.resourceVersion, v1.metadata?.resourceVersion);

    const stale = await apiError(c.core.replaceNamespacedConfigMap({ name: 'occ', namespace: NS, body: { ...v1, data: { n: 'stale' } } }));
    assert.equal(stale.code, 409);
    assert.equal(stale.status?.reason, 'Conflict');
    assert.equal(stale.status?.details?.name, 'occ');

    // A merge patch that carries a resourceVersion asserts it too.
    const stalePatch = await apiError(
      c.core.patchNamespacedConfigMap(
        { name: 'occ', namespace: NS, body: { metadata: { resourceVersion: v1.metadata!.resourceVersion }, data: { n: 'stale' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      ),
    );
    assert.equal(stalePatch.code, 409);
    assert.equal(stalePatch.status?.reason, 'Conflict');
    assert.equal((await c.core.readNamespacedConfigMap({ name: 'occ', namespace: NS })).data?.n, '2');
  });

  it('AlreadyExists (409) and NotFound (404)', async () => {
    await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dup' } } });
    const dup = await apiError(c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'dup' } } }));
    assert.equal(dup.code, 409);
    assert.equal(dup.status?.reason, 'AlreadyExists');
    assert.equal(dup.status?.details?.name, 'dup');

    const dupVM = await apiError(c.custom.createNamespacedCustomObject({ ...VM, namespace: 'demo', body: haltedVM('web-01') }));
    assert.equal(dupVM.code, 409);
    assert.equal(dupVM.status?.reason, 'AlreadyExists');

    for (const call of [
      () => c.core.readNamespacedConfigMap({ name: 'missing', namespace: NS }),
      () => c.core.deleteNamespacedSecret({ name: 'missing', namespace: NS }),
      () => c.custom.getNamespacedCustomObject({ ...VM, namespace: NS, name: 'missing' }),
      () => c.core.createNamespacedConfigMap({ namespace: 'no-such-namespace', body: { metadata: { name: 'x' } } }),
    ]) {
      const e = await apiError(call());
      assert.equal(e.code, 404);
      assert.equal(e.status?.reason, 'NotFound');
    }
  });

  it('401 Unauthorized for a wrong or missing token', async () => {
    const src = sim.source;
    const wrong = kubeConfigFor({ name: 'wrong', server: src.api.url, caPem: src.apiCA.certPem, token: 'not-a-valid-token' });
    const e = await apiError(wrong.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: 'demo' }));
    assert.equal(e.code, 401);

    const none = new k8s.KubeConfig();
    none.loadFromOptions({
      clusters: [{ name: 'sim', server: src.api.url, caData: Buffer.from(src.apiCA.certPem).toString('base64') }],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'sim', cluster: 'sim', user: 'anonymous' }],
      currentContext: 'sim',
    });
    const e2 = await apiError(none.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: 'demo' }));
    assert.equal(e2.code, 401);

    // client-node drops the body of a 401; the Status itself carries reason Unauthorized.
    for (const token of ['not-a-valid-token', null]) {
      const raw = await rawRequest(src, 'GET', '/api/v1/namespaces/demo/configmaps', { token });
      assert.equal(raw.status, 401);
      assert.equal(path(raw.body, 'reason'), 'Unauthorized');
      assert.equal(path(raw.body, 'kind'), 'Status');
    }
  });

  it('403 Forbidden for the viewer writing, while it can get and list', async () => {
    const viewer = clients(sim, 'source', 'viewer');
    const list = await viewer.core.listNamespacedConfigMap({ namespace: 'demo' });
    assert.ok(list.items.some((i) => i.metadata?.name === 'web-config'));
    assert.equal(((await viewer.custom.getNamespacedCustomObject({ ...VM, namespace: 'demo', name: 'web-01' })) as VMObject).metadata.name, 'web-01');

    const attempts = [
      () => viewer.core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'viewer-cm' } } }),
      () => viewer.custom.createNamespacedCustomObject({ ...VM, namespace: 'demo', body: haltedVM('viewer-vm') }),
      () => viewer.core.deleteNamespacedConfigMap({ name: 'web-config', namespace: 'demo' }),
    ];
    for (const call of attempts) {
      const e = await apiError(call());
      assert.equal(e.code, 403);
      assert.equal(e.status?.reason, 'Forbidden');
      assert.match(e.status?.message ?? '', /User "viewer" cannot (create|delete)/);
    }
    assert.equal((await apiError(c.core.readNamespacedConfigMap({ name: 'viewer-cm', namespace: 'demo' }))).code, 404, 'nothing was created');
    assert.ok(await c.core.readNamespacedConfigMap({ name: 'web-config', namespace: 'demo' }));
  });

  it('a finalizer keeps a deleted object, with deletionTimestamp, until an update removes it', async () => {
    const cm = await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'held', finalizers: ['ferry.test/hold'] }, data: { x: '1' } } });
    assert.equal(cm.metadata?.deletionTimestamp, undefined);

    await c.core.deleteNamespacedConfigMap({ name: 'held', namespace: NS });
    const terminating = await c.core.readNamespacedConfigMap({ name: 'held', namespace: NS });
    assert.ok(terminating.metadata?.deletionTimestamp instanceof Date, 'deletionTimestamp set');
    assert.deepEqual(terminating.metadata?.finalizers, ['ferry.test/hold']);

    // Other updates are still accepted and cannot clear the deletionTimestamp.
    const stillHeld = await c.core.replaceNamespacedConfigMap({
      name: 'held',
      namespace: NS,
      body: { ...terminating, metadata: { ...terminating.metadata, deletionTimestamp: undefined }, data: { x: '2' } },
    });
    assert.ok(stillHeld.metadata?.deletionTimestamp, 'an update cannot undo a deletion');
    assert.equal((await c.core.readNamespacedConfigMap({ name: 'held', namespace: NS })).data?.x, '2');

    await c.core.replaceNamespacedConfigMap({ name: 'held', namespace: NS, body: { ...stillHeld, metadata: { ...stillHeld.metadata, finalizers: [] } } });
    const gone = await apiError(c.core.readNamespacedConfigMap({ name: 'held', namespace: NS }));
    assert.equal(gone.code, 404);
    assert.equal(gone.status?.reason, 'NotFound');
  });

  it('deleting a VM garbage-collects its VMI through ownerReferences', async () => {
    const kv = kubevirt(c);
    const vm = await kv.get('virtualmachines', 'demo', 'web-01');
    const vmi = await eventually('web-01 VMI Running', async () => {
      const i = await kv.tryGet('virtualmachineinstances', 'demo', 'web-01');
      return path(i, 'status.phase') === 'Running' ? i : undefined;
    });
    const owners = path<{ kind: string; uid: string; controller?: boolean }[]>(vmi, 'metadata.ownerReferences') ?? [];
    assert.deepEqual(
      owners.map((o) => [o.kind, o.uid, o.controller]),
      [['VirtualMachine', vm.metadata.uid, true]],
    );

    await kv.delete('virtualmachines', 'demo', 'web-01');
    await eventually('web-01 VMI collected', async () => (await kv.tryGet('virtualmachineinstances', 'demo', 'web-01')) === undefined, 10_000);
    assert.equal(await kv.tryGet('virtualmachines', 'demo', 'web-01'), undefined);
    // Objects the VM merely referenced are not owned and stay.
    assert.ok(await c.core.readNamespacedSecret({ name: 'web-cloudinit', namespace: 'demo' }));
  });
});
