/**
 * The simulated API server's storage: resourceVersions, watch replay and selector-filtered watches,
 * finalizers, ownerReference garbage collection, namespace deletion, and the Status errors it raises.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ApiError } from '../../simulator/apiserver/errors.js';
import { kindInfo } from '../../simulator/apiserver/kinds.js';
import type { KubeObject } from '../../simulator/apiserver/object.js';
import { everything, labelSelector } from '../../simulator/apiserver/selectors.js';
import { Store, type StoreEvent } from '../../simulator/apiserver/store.js';

const NS = kindInfo('Namespace');
const CM = kindInfo('ConfigMap');
const SECRET = kindInfo('Secret');
const VM = kindInfo('VirtualMachine');
const VMI = kindInfo('VirtualMachineInstance');

const cm = (name: string, extra: Partial<KubeObject> & { labels?: Record<string, string>; finalizers?: string[] } = {}): KubeObject => {
  const { labels, finalizers, ...rest } = extra;
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(labels ? { labels } : {}), ...(finalizers ? { finalizers } : {}) }, ...rest };
};

const ownedBy = (o: KubeObject) => [{ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name!, uid: o.metadata.uid! }];

function expectApiError(fn: () => unknown, code: number, reason: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === code && e.reason === reason);
}

const rv = (o: KubeObject) => Number(o.metadata.resourceVersion);
const summary = (evs: StoreEvent[]) => evs.map((e) => `${e.type} ${e.object.metadata.name}`);

describe('Store', () => {
  let store: Store;

  beforeEach(() => {
    store = new Store();
    for (const name of ['ns1', 'ns2']) store.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  });

  describe('resourceVersion', () => {
    it('strictly increases across creates, updates and deletes, cluster-wide', () => {
      const seen: number[] = [];
      const a = store.create(CM, 'ns1', cm('a'));
      seen.push(rv(a));
      const b = store.create(SECRET, 'ns2', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'b' }, type: 'Opaque' });
      seen.push(rv(b));
      const a2 = store.update(CM, 'ns1', 'a', { ...a, data: { x: '1' } });
      seen.push(rv(a2));
      const events: StoreEvent[] = [];
      store.watch(CM, undefined, everything, Number(store.resourceVersion), (e) => events.push(e));
      store.delete(CM, 'ns1', 'a');
      seen.push(events[0]!.rv);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `resourceVersions ${seen.join(', ')}`);
      assert.equal(store.resourceVersion, String(seen.at(-1)));
    });

    it('a write that changes nothing keeps the resourceVersion and emits no event', () => {
      const a = store.create(CM, 'ns1', cm('a', { data: { x: '1' } }));
      const events: StoreEvent[] = [];
      store.watch(CM, undefined, everything, rv(a), (e) => events.push(e));
      const same = store.update(CM, 'ns1', 'a', a);
      assert.equal(same.metadata.resourceVersion, a.metadata.resourceVersion);
      assert.equal(store.resourceVersion, a.metadata.resourceVersion);
      assert.deepEqual(events, []);
    });

    it('objects returned are copies: mutating them does not change the store', () => {
      const a = store.create(CM, 'ns1', cm('a', { data: { x: '1' } }));
      (a.data as Record<string, string>).x = 'mutated';
      store.get(CM, 'ns1', 'a').metadata.labels = { sneaky: 'yes' };
      assert.deepEqual(store.get(CM, 'ns1', 'a').data, { x: '1' });
      assert.equal(store.get(CM, 'ns1', 'a').metadata.labels, undefined);
    });
  });

  describe('create / update / delete errors and server-owned fields', () => {
    it('AlreadyExists, NotFound, Conflict on a stale resourceVersion, missing namespace', () => {
      const a = store.create(CM, 'ns1', cm('a'));
      expectApiError(() => store.create(CM, 'ns1', cm('a')), 409, 'AlreadyExists');
      assert.ok(store.create(CM, 'ns2', cm('a')), 'the same name in another namespace is fine');
      expectApiError(() => store.get(CM, 'ns1', 'nope'), 404, 'NotFound');
      expectApiError(() => store.delete(CM, 'ns1', 'nope'), 404, 'NotFound');
      expectApiError(() => store.update(CM, 'ns1', 'nope', cm('nope')), 404, 'NotFound');
      store.update(CM, 'ns1', 'a', { ...a, data: { v: '2' } });
      expectApiError(() => store.update(CM, 'ns1', 'a', { ...a, data: { v: 'stale' } }), 409, 'Conflict');
      expectApiError(() => store.create(CM, 'missing-ns', cm('x')), 404, 'NotFound');
      expectApiError(() => store.create(CM, 'ns1', cm('Not_Valid')), 422, 'Invalid');
      expectApiError(() => store.create(CM, 'ns1', { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }), 422, 'Invalid');
      expectApiError(() => store.delete(CM, 'ns2', 'a', { preconditionUid: 'other-uid' }), 409, 'Conflict');
    });

    it('generateName, uid, creationTimestamp and generation are set by the server and kept on update', () => {
      const g = store.create(CM, 'ns1', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } });
      assert.match(g.metadata.name!, /^gen-[a-z0-9]{5}$/);
      assert.match(g.metadata.uid!, /^[0-9a-f-]{36}$/);
      assert.match(g.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(g.metadata.generation, 1);
      const u = store.update(CM, 'ns1', g.metadata.name!, { ...g, metadata: { ...g.metadata, uid: 'forged', creationTimestamp: '2000-01-01T00:00:00Z' }, data: { a: 'b' } });
      assert.equal(u.metadata.uid, g.metadata.uid);
      assert.equal(u.metadata.creationTimestamp, g.metadata.creationTimestamp);
    });

    it('status subresource: main updates keep status, status updates keep spec; generation follows spec', () => {
      store.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vms' } });
      const vm = store.create(VM, 'vms', {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'v' },
        spec: { runStrategy: 'Halted' },
        status: { forged: true },
      });
      assert.equal(vm.status, undefined, 'create cannot set status of a custom resource');
      const s1 = store.update(VM, 'vms', 'v', { ...vm, status: { ready: true } }, 'status');
      assert.deepEqual(s1.status, { ready: true });
      assert.equal(s1.metadata.generation, 1);
      const m1 = store.update(VM, 'vms', 'v', { ...s1, metadata: { ...s1.metadata, labels: { l: '1' } }, status: { ready: false } });
      assert.deepEqual(m1.status, { ready: true });
      assert.equal(m1.metadata.generation, 1, 'metadata-only change');
      const m2 = store.update(VM, 'vms', 'v', { ...m1, spec: { runStrategy: 'Always' } });
      assert.equal(m2.metadata.generation, 2, 'spec change');
      const s2 = store.update(VM, 'vms', 'v', { ...m2, spec: { runStrategy: 'Halted' }, status: { ready: false } }, 'status');
      assert.deepEqual(s2.spec, { runStrategy: 'Always' });
      assert.equal(s2.metadata.generation, 2);
    });
  });

  describe('watch', () => {
    it('replays history after a resourceVersion, in order, then continues live', () => {
      const a = store.create(CM, 'ns1', cm('a'));
      const from = rv(a);
      store.update(CM, 'ns1', 'a', { ...a, data: { v: '1' } });
      store.create(CM, 'ns2', cm('b'));
      store.create(SECRET, 'ns1', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'not-a-configmap' } });
      store.delete(CM, 'ns1', 'a');

      const events: StoreEvent[] = [];
      const stop = store.watch(CM, undefined, everything, from, (e) => events.push(e));
      assert.deepEqual(summary(events), ['MODIFIED a', 'ADDED b', 'DELETED a']);
      assert.deepEqual(
        events.map((e) => e.rv),
        [...events.map((e) => e.rv)].sort((x, y) => x - y),
      );
      assert.ok(events.every((e) => e.rv > from));

      store.create(CM, 'ns1', cm('c'));
      assert.deepEqual(summary(events).at(-1), 'ADDED c');
      stop();
      store.create(CM, 'ns1', cm('d'));
      assert.equal(events.length, 4, 'no events after unsubscribing');
    });

    it('a namespaced watch sees only its namespace, in replay and live', () => {
      const a = store.create(CM, 'ns1', cm('a'));
      store.create(CM, 'ns2', cm('other'));
      store.update(CM, 'ns1', 'a', { ...a, data: { v: '1' } });
      const events: StoreEvent[] = [];
      store.watch(CM, 'ns1', everything, rv(a) - 1, (e) => events.push(e));
      store.create(CM, 'ns2', cm('other2'));
      store.create(CM, 'ns1', cm('mine'));
      assert.deepEqual(summary(events), ['ADDED a', 'MODIFIED a', 'ADDED mine']);
    });

    it('without a resourceVersion it starts with the current objects as ADDED', () => {
      const a = store.create(CM, 'ns1', cm('a'));
      store.update(CM, 'ns1', 'a', { ...a, data: { v: '1' } });
      store.create(CM, 'ns1', cm('b'));
      const events: StoreEvent[] = [];
      store.watch(CM, 'ns1', everything, undefined, (e) => events.push(e));
      assert.deepEqual(summary(events), ['ADDED a', 'ADDED b']);
      assert.deepEqual(events[0]!.object.data, { v: '1' }, 'current state, not history');
    });

    it('a label-selected watch turns moving into and out of the selection into ADDED and DELETED', () => {
      const events: StoreEvent[] = [];
      store.watch(CM, 'ns1', labelSelector('app=web'), undefined, (e) => events.push(e));
      const o = store.create(CM, 'ns1', cm('x', { labels: { app: 'db' } }));
      assert.deepEqual(summary(events), [], 'not selected');
      const o2 = store.update(CM, 'ns1', 'x', { ...o, metadata: { ...o.metadata, labels: { app: 'web' } } });
      const o3 = store.update(CM, 'ns1', 'x', { ...o2, data: { v: '1' } });
      const o4 = store.update(CM, 'ns1', 'x', { ...o3, metadata: { ...o3.metadata, labels: { app: 'cache' } } });
      store.update(CM, 'ns1', 'x', { ...o4, data: { v: '2' } });
      store.delete(CM, 'ns1', 'x');
      assert.deepEqual(
        events.map((e) => `${e.type} app=${e.object.metadata.labels?.app}`),
        ['ADDED app=web', 'MODIFIED app=web', 'DELETED app=cache'],
      );
    });

    it('the same filtering applies to replayed history', () => {
      const o = store.create(CM, 'ns1', cm('x', { labels: { app: 'db' } }));
      const o2 = store.update(CM, 'ns1', 'x', { ...o, metadata: { ...o.metadata, labels: { app: 'web' } } });
      store.update(CM, 'ns1', 'x', { ...o2, metadata: { ...o2.metadata, labels: { app: 'db' } } });
      const events: StoreEvent[] = [];
      store.watch(CM, 'ns1', labelSelector('app=web'), rv(o) - 1, (e) => events.push(e));
      assert.deepEqual(summary(events), ['ADDED x', 'DELETED x']);
    });
  });

  describe('finalizers', () => {
    it('delete sets deletionTimestamp and keeps the object until an update removes the last finalizer', () => {
      store.create(CM, 'ns1', cm('f', { finalizers: ['a.test/one', 'b.test/two'] }));
      const events: StoreEvent[] = [];
      store.watch(CM, 'ns1', everything, Number(store.resourceVersion), (e) => events.push(e));

      const deleting = store.delete(CM, 'ns1', 'f');
      assert.ok(deleting.metadata.deletionTimestamp);
      const got = store.get(CM, 'ns1', 'f');
      assert.equal(got.metadata.deletionTimestamp, deleting.metadata.deletionTimestamp);
      assert.equal(store.delete(CM, 'ns1', 'f').metadata.resourceVersion, got.metadata.resourceVersion, 'deleting again changes nothing');

      // Removing one finalizer keeps it; an update cannot clear deletionTimestamp.
      const one = store.update(CM, 'ns1', 'f', { ...got, metadata: { ...got.metadata, finalizers: ['b.test/two'], deletionTimestamp: undefined } });
      assert.ok(one.metadata.deletionTimestamp);
      assert.ok(store.get(CM, 'ns1', 'f'));

      store.update(CM, 'ns1', 'f', { ...one, metadata: { ...one.metadata, finalizers: [] } });
      expectApiError(() => store.get(CM, 'ns1', 'f'), 404, 'NotFound');
      assert.deepEqual(summary(events), ['MODIFIED f', 'MODIFIED f', 'DELETED f']);
    });

    it('an object without finalizers is removed at once', () => {
      store.create(CM, 'ns1', cm('plain'));
      store.delete(CM, 'ns1', 'plain');
      expectApiError(() => store.get(CM, 'ns1', 'plain'), 404, 'NotFound');
    });
  });

  describe('ownerReference garbage collection', () => {
    it('removing an owner deletes its dependents, transitively; dependents with finalizers start terminating', () => {
      const owner = store.create(CM, 'ns1', cm('owner'));
      const child = store.create(CM, 'ns1', { ...cm('child'), metadata: { name: 'child', ownerReferences: ownedBy(owner) } });
      store.create(SECRET, 'ns1', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'grandchild', ownerReferences: ownedBy(child) } });
      store.create(CM, 'ns1', { ...cm('held'), metadata: { name: 'held', finalizers: ['x.test/hold'], ownerReferences: ownedBy(owner) } });
      store.create(CM, 'ns1', cm('bystander'));

      store.delete(CM, 'ns1', 'owner');
      expectApiError(() => store.get(CM, 'ns1', 'child'), 404, 'NotFound');
      expectApiError(() => store.get(SECRET, 'ns1', 'grandchild'), 404, 'NotFound');
      assert.ok(store.get(CM, 'ns1', 'held').metadata.deletionTimestamp, 'finalizer holds the dependent, terminating');
      assert.equal(store.get(CM, 'ns1', 'bystander').metadata.deletionTimestamp, undefined);
    });

    it('a dependent created after its owner is gone (a stale controller cache) is collected; one with a live owner stays', async () => {
      const owner = store.create(CM, 'ns1', cm('gone-owner'));
      store.delete(CM, 'ns1', 'gone-owner');
      store.create(CM, 'ns1', { ...cm('orphan'), metadata: { name: 'orphan', ownerReferences: ownedBy(owner) } });
      const live = store.create(CM, 'ns1', cm('live-owner'));
      store.create(CM, 'ns1', { ...cm('kept'), metadata: { name: 'kept', ownerReferences: [...ownedBy(owner), ...ownedBy(live)] } });
      assert.ok(store.get(CM, 'ns1', 'orphan'), 'the create itself succeeds, as in Kubernetes');
      await new Promise((r) => setImmediate(r));
      expectApiError(() => store.get(CM, 'ns1', 'orphan'), 404, 'NotFound');
      assert.ok(store.get(CM, 'ns1', 'kept'), 'one live owner keeps it');
    });

    it('an owner kept by a finalizer does not collect its dependents until it is really gone', () => {
      store.create(NS, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vms' } });
      const vm = store.create(VM, 'vms', { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'v', finalizers: ['x.test/hold'] }, spec: {} });
      store.create(VMI, 'vms', { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'v', ownerReferences: ownedBy(vm) }, spec: {} });
      store.delete(VM, 'vms', 'v');
      assert.ok(store.get(VMI, 'vms', 'v'), 'VMI stays while the VM is terminating');
      const cur = store.get(VM, 'vms', 'v');
      store.update(VM, 'vms', 'v', { ...cur, metadata: { ...cur.metadata, finalizers: [] } });
      expectApiError(() => store.get(VMI, 'vms', 'v'), 404, 'NotFound');
    });
  });

  describe('namespace deletion', () => {
    it('removes everything inside (finalizers notwithstanding), then the namespace; other namespaces stay', () => {
      store.create(CM, 'ns1', cm('a'));
      store.create(CM, 'ns1', cm('held', { finalizers: ['x.test/hold'] }));
      store.create(SECRET, 'ns1', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } });
      store.create(CM, 'ns2', cm('keep'));

      const ns = store.delete(NS, undefined, 'ns1');
      assert.ok(ns.metadata.deletionTimestamp);
      assert.deepEqual(store.list(CM, 'ns1'), []);
      assert.deepEqual(store.list(SECRET, 'ns1'), []);
      expectApiError(() => store.get(NS, undefined, 'ns1'), 404, 'NotFound');
      assert.deepEqual(
        store.list(CM, 'ns2').map((o) => o.metadata.name),
        ['keep'],
      );
      expectApiError(() => store.create(CM, 'ns1', cm('again')), 404, 'NotFound');
    });

    it('each object in the namespace is DELETED exactly once, also when owners and dependents go together', () => {
      const owner = store.create(CM, 'ns1', cm('owner'));
      store.create(CM, 'ns1', { ...cm('child'), metadata: { name: 'child', ownerReferences: ownedBy(owner) } });
      store.create(CM, 'ns1', { ...cm('held-child'), metadata: { name: 'held-child', finalizers: ['x.test/hold'], ownerReferences: ownedBy(owner) } });
      const events: StoreEvent[] = [];
      store.watch(CM, undefined, everything, Number(store.resourceVersion), (e) => events.push(e));

      store.delete(NS, undefined, 'ns1');
      const deleted = events
        .filter((e) => e.type === 'DELETED')
        .map((e) => e.object.metadata.name)
        .sort();
      assert.deepEqual(deleted, ['child', 'held-child', 'owner']);
      const rvs = events.map((e) => e.rv);
      assert.equal(new Set(rvs).size, rvs.length, 'every event has its own resourceVersion');
    });
  });
});
