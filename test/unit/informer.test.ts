/**
 * The shared informer (activities/kube/informer.ts) against the simulator's API server: one watch per
 * cluster, kind and namespace whatever the number of followers, events to the right follower, recovery
 * from a dropped watch (no re-list) and from a compacted resourceVersion (410: re-list), deletions, and
 * the cluster's reachability (through the outage proxy) set and cleared. Open watches are counted on
 * the server's side.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { ClusterClient } from '../../activities/kube/cluster.js';
import type { KindName, KubeObject } from '../../activities/kube/kinds.js';
import { PooledKubeConfig } from '../../activities/kube/pooled.js';
import type { ApiServer } from '../../simulator/apiserver/server.js';
import { kindInfo } from '../../simulator/apiserver/kinds.js';
import { kubeConfigFor } from '../../simulator/kubeconfig.js';
import type { Simulator } from '../../simulator/sim.js';
import { startSim } from '../../simulator/testing/sim.js';
import { OutageProxy } from '../proof/support/outage-proxy.js';
import type { Subscription } from '../../activities/kube/informer.js';

let sim: Simulator;
before(async () => {
  sim = await startSim();
});
after(async () => {
  await sim?.stop();
});

const configMaps = kindInfo('ConfigMap');

/** Watches open on the server for anyone but the simulated KubeVirt components. */
function ferryWatches(api: ApiServer): number {
  const s = api as unknown as { openWatches: Set<ServerResponse>; systemWatches: WeakSet<ServerResponse> };
  return [...s.openWatches].filter((w) => !s.systemWatches.has(w)).length;
}

function namespace(name: string, objects: string[]): void {
  const store = sim.source.api.store;
  store.create(kindInfo('Namespace'), undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  for (const o of objects) store.create(configMaps, name, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: o }, data: { v: '0' } });
}

function write(ns: string, name: string, v: string): void {
  const store = sim.source.api.store;
  store.update(configMaps, ns, name, { ...store.get(configMaps, ns, name), data: { v } });
}

/** A client whose LISTs are counted (the informer's only way to fill its cache). */
function counted(c: ClusterClient): { lists: number } {
  const n = { lists: 0 };
  const listOnce = c.listOnce.bind(c);
  c.listOnce = (...a: Parameters<ClusterClient['listOnce']>) => (n.lists++, listOnce(...a));
  return n;
}

interface Follower {
  sub: Subscription;
  changes: number;
  /** Resolves when `pred` holds, checked now and at every change the informer reports. */
  until(what: string, pred: (s: Subscription) => boolean, timeoutMs?: number): Promise<void>;
}

function follow(c: ClusterClient, kind: KindName, ns: string, name: string, resyncMs = 30_000): Follower {
  const waiters = new Set<() => void>();
  const f: Follower = {
    changes: 0,
    sub: c.informers.subscribe(
      kind,
      ns,
      name,
      () => {
        f.changes++;
        for (const w of [...waiters]) w();
      },
      resyncMs,
    ),
    until: (what, pred, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => (waiters.delete(check), reject(new Error(`timed out waiting for ${what}`))), timeoutMs);
        const check = () => {
          if (!pred(f.sub)) return;
          clearTimeout(t);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
  return f;
}

const value = (s: Subscription) => (s.latest as (KubeObject & { data?: { v?: string } }) | undefined)?.data?.v;

/** Resolves once the server counts `n` ferry watches, checked at each watch request the server records. */
async function watchesOpen(api: ApiServer, n: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (ferryWatches(api) !== n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} open watches, the server has ${ferryWatches(api)}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A client through an outage proxy, with a short request timeout so a hung server is noticed quickly. */
async function throughProxy(requestTimeoutMs = 500): Promise<{ client: ClusterClient; proxy: OutageProxy }> {
  const proxy = await OutageProxy.start(sim.source.api.url);
  const base = new KubeConfig();
  base.loadFromString(sim.kubeconfig());
  const ctx = base.getContextObject('source')!;
  const cluster = { ...base.getCluster(ctx.cluster)!, name: 'proxied', server: proxy.url };
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({ clusters: [cluster], users: base.getUsers(), contexts: [{ name: 'proxied', cluster: 'proxied', user: ctx.user }], currentContext: 'proxied' });
  kc.requestTimeoutMs = requestTimeoutMs;
  return { client: new ClusterClient('source', kc), proxy };
}

describe('shared informers', () => {
  it('many followers of one namespace share one watch; each hears about its own object only, deletions too', async () => {
    const ns = 'informer-many';
    const names = Array.from({ length: 30 }, (_, i) => `cm-${i}`);
    namespace(ns, names);
    const c = new ClusterClient('source', sim.source.kubeConfig());
    const lists = counted(c);
    // Three followers per object, as three wait steps of overlapping migrations would be.
    const followers = names.flatMap((n) => [0, 1, 2].map(() => ({ name: n, f: follow(c, 'ConfigMap', ns, n) })));
    await Promise.all(followers.map(({ f }) => f.sub.ready));
    await watchesOpen(sim.source.api, 1);
    assert.equal(lists.lists, 1);
    assert.equal(c.informers.size, 1);
    for (const { name, f } of followers) assert.equal(f.sub.latest?.metadata.name, name);

    const before = followers.map(({ f }) => f.changes);
    write(ns, 'cm-7', 'changed');
    const seven = followers.filter(({ name }) => name === 'cm-7');
    await Promise.all(seven.map(({ f }) => f.until('cm-7 changed', (s) => value(s) === 'changed')));
    sim.source.api.store.delete(configMaps, ns, 'cm-3');
    const three = followers.filter(({ name }) => name === 'cm-3');
    await Promise.all(three.map(({ f }) => f.until('cm-3 deleted', (s) => s.latest === undefined)));
    followers.forEach(({ name, f }, i) => {
      if (name !== 'cm-7' && name !== 'cm-3') assert.equal(f.changes, before[i], `${name} heard of another object's change`);
    });
    assert.equal(ferryWatches(sim.source.api), 1);
    assert.equal(lists.lists, 1, 'events, not re-lists');

    // Objects of another namespace have their own informer: one more watch.
    namespace(`${ns}-b`, ['x']);
    const other = follow(c, 'ConfigMap', `${ns}-b`, 'x');
    await other.sub.ready;
    await watchesOpen(sim.source.api, 2);
    for (const { f } of followers) f.sub.close();
    other.sub.close();
    c.informers.stopAll();
    await watchesOpen(sim.source.api, 0);
  });

  it('the last follower leaving stops it after the linger; one arriving meanwhile reuses it', async () => {
    const ns = 'informer-linger';
    namespace(ns, ['a']);
    const c = new ClusterClient('source', sim.source.kubeConfig());
    c.informers.lingerMs = 300;
    const lists = counted(c);
    const first = follow(c, 'ConfigMap', ns, 'a');
    await first.sub.ready;
    await watchesOpen(sim.source.api, 1);
    first.sub.close();
    const second = follow(c, 'ConfigMap', ns, 'a');
    await second.sub.ready;
    assert.equal(value(second.sub), '0');
    assert.equal(lists.lists, 1, 'the lingering informer was reused');
    second.sub.close();
    await watchesOpen(sim.source.api, 0, 5000);
    assert.equal(c.informers.size, 0);
  });

  it('a dropped watch is resumed from the last resourceVersion, without a re-list', async () => {
    const ns = 'informer-drop';
    namespace(ns, ['a']);
    const c = new ClusterClient('source', sim.source.kubeConfig());
    const lists = counted(c);
    const f = follow(c, 'ConfigMap', ns, 'a');
    await f.sub.ready;
    await watchesOpen(sim.source.api, 1);
    for (let i = 1; i <= 3; i++) {
      assert.ok(sim.source.api.dropWatches() >= 1);
      write(ns, 'a', `after-drop-${i}`); // written while no watch is open: replayed from the resourceVersion
      await f.until(`the write after drop ${i}`, (s) => value(s) === `after-drop-${i}`);
      await watchesOpen(sim.source.api, 1);
    }
    assert.equal(lists.lists, 1);
    f.sub.close();
    c.informers.stopAll();
  });

  it('a resourceVersion compacted away (410 Expired) is recovered by a re-list', async () => {
    const ns = 'informer-expired';
    namespace(ns, ['a', 'churn']);
    const { client: c, proxy } = await throughProxy();
    try {
      const lists = counted(c);
      const f = follow(c, 'ConfigMap', ns, 'a');
      await f.sub.ready;
      assert.equal(lists.lists, 1);
      // Cut off, the informer keeps its resourceVersion; meanwhile more events than the server retains.
      await proxy.set('refuse');
      await f.until('the outage seen', (s) => s.failure !== undefined);
      write(ns, 'a', 'while-cut-off');
      for (let i = 0; i < 20_050; i++) write(ns, 'churn', String(i));
      await proxy.set('up');
      await f.until('the write seen after the re-list', (s) => value(s) === 'while-cut-off' && s.failure === undefined);
      assert.equal(lists.lists, 2, 'one re-list after 410');
      f.sub.close();
    } finally {
      c.informers.stopAll();
      await proxy.stop();
    }
  });

  it('an unreachable API server sets failure (refused, then hung) and any answer clears it; a hung first list does not block', async () => {
    const ns = 'informer-outage';
    namespace(ns, ['a']);
    namespace(`${ns}-b`, ['b']);
    const { client: c, proxy } = await throughProxy(500);
    try {
      const f = follow(c, 'ConfigMap', ns, 'a', 1000);
      await f.sub.ready;
      assert.equal(f.sub.failure, undefined);

      await proxy.set('refuse');
      await f.until('refused', (s) => s.failure?.error.includes('ECONNREFUSED') === true);
      const since = f.sub.failure!.since;
      write(ns, 'a', 'during-outage');
      await proxy.set('up');
      await f.until('cleared and caught up', (s) => s.failure === undefined && value(s) === 'during-outage');

      // Hung: the watch goes silent; client-node's inactivity timeout (watch timeout + request timeout) ends it.
      await proxy.set('hang');
      await f.until('hung', (s) => s.failure !== undefined, 10_000);
      assert.ok(f.sub.failure!.since > since, 'a new outage, a new since');
      // A new informer (another namespace) against the hung server: its first list settles within the request timeout.
      const started = Date.now();
      const g = follow(c, 'ConfigMap', `${ns}-b`, 'b');
      await g.sub.ready;
      // Bounded by the request timeout, or by undici's 10 s connect timeout when the TLS handshake hangs.
      assert.ok(Date.now() - started < 12_000, `ready after ${Date.now() - started} ms`);
      assert.ok(g.sub.failure, 'the first list failed as unreachable');
      assert.equal(g.sub.latest, undefined);
      await proxy.set('up');
      await f.until('cleared after the hang', (s) => s.failure === undefined);
      f.sub.close();
      g.sub.close();
    } finally {
      c.informers.stopAll();
      await proxy.stop();
    }
  });

  it('an answer that is an error (401) fails the start, and the next follower starts afresh', async () => {
    const src = sim.source;
    const wrong = kubeConfigFor({ name: 'source', server: src.api.url, caPem: src.apiCA.certPem, token: 'not-a-valid-token' });
    const c = new ClusterClient('source', wrong);
    const f = follow(c, 'VirtualMachineInstance', 'demo', 'web-01');
    await assert.rejects(f.sub.ready, (e: { code?: number }) => e.code === 401);
    assert.equal(c.informers.size, 0);
    const again = follow(c, 'VirtualMachineInstance', 'demo', 'web-01');
    await assert.rejects(again.sub.ready, (e: { code?: number }) => e.code === 401);
  });
});
