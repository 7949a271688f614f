/**
 * Fault injection through the simulator's control endpoint `/sim/v1/faults`: error rates by verb and
 * resource (500/429), latency, dropped watches, and that faults hit client traffic but not the
 * simulated KubeVirt controllers. Requests go through the real client-node over HTTPS, or raw HTTPS
 * where a header matters.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { FaultInput } from '../apiserver/faults.js';
import type { Simulator } from '../sim.js';
import { apiError, clients, type Clients, eventually, kubevirt, path, rawRequest, simControl, startSim } from '../testing/sim.js';

interface FaultsAnswer {
  config: { errors: unknown[]; latencyMs: { min: number; max: number }; watchDropRatePerSecond: number };
  injected: { errors: number; droppedWatches: number };
}

describe('fault injection through /sim/v1/faults', () => {
  let sim: Simulator;
  let c: Clients;

  const setFaults = (f: FaultInput) => simControl(sim.source, 'faults', 'PUT', f) as Promise<FaultsAnswer>;
  const getFaults = () => simControl(sim.source, 'faults') as Promise<FaultsAnswer>;
  const readCM = () => c.core.readNamespacedConfigMap({ name: 'web-config', namespace: 'demo' });
  const listCMs = () => c.core.listNamespacedConfigMap({ namespace: 'demo' });

  /** An open client-node watch whose done callback we can await. */
  async function openWatch(apiPath: string) {
    let ended!: (err: unknown) => void;
    const done = new Promise<unknown>((r) => (ended = r));
    const events: string[] = [];
    const controller = await new k8s.Watch(c.kc).watch(
      apiPath,
      {},
      (type, obj: { metadata: { name: string } }) => events.push(`${type} ${obj.metadata.name}`),
      (err) => ended(err),
    );
    return { done, events, stop: () => controller.abort() };
  }

  const within = <T>(p: Promise<T>, ms: number, what: string) =>
    Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms).unref())]);

  before(async () => {
    sim = await startSim();
    c = clients(sim, 'source');
  });

  afterEach(async () => {
    await simControl(sim.source, 'faults', 'DELETE');
  });

  after(async () => {
    await sim?.stop();
  });

  it('an error rate of 1.0 on list configmaps fails lists with 500 while get (and other lists) still work', async () => {
    const before = (await getFaults()).injected.errors;
    const answer = await setFaults({ errors: [{ verbs: ['list'], resources: ['configmaps'], rate: 1 }] });
    assert.equal(answer.config.errors.length, 1);

    for (let i = 0; i < 3; i++) {
      const e = await apiError(listCMs());
      assert.equal(e.code, 500);
      assert.equal(e.status?.reason, 'InternalError');
      assert.match(e.status?.message ?? '', /injected fault/);
    }
    assert.equal((await readCM()).metadata?.name, 'web-config');
    assert.ok((await c.core.listNamespacedSecret({ namespace: 'demo' })).items.length > 0, 'other resources are unaffected');
    assert.equal((await getFaults()).injected.errors - before, 3);
  });

  it('an error rate of 0.3 fails roughly 30% of 200 requests', async () => {
    await setFaults({ errors: [{ verbs: ['get'], resources: ['configmaps'], rate: 0.3 }], seed: 7 });
    let failed = 0;
    for (let i = 0; i < 200; i++) {
      try {
        await readCM();
      } catch (e) {
        assert.ok(e instanceof k8s.ApiException, String(e));
        assert.equal(e.code, 500);
        failed++;
      }
    }
    assert.ok(failed >= 30 && failed <= 90, `${failed}/200 requests failed, expected 15%–45%`);
  });

  it('429 carries a Retry-After header and Status reason TooManyRequests with details.retryAfterSeconds', async () => {
    await setFaults({ errors: [{ verbs: ['get'], resources: ['configmaps'], rate: 1, code: 429, retryAfterSeconds: 7 }] });

    const raw = await rawRequest(sim.source, 'GET', '/api/v1/namespaces/demo/configmaps/web-config');
    assert.equal(raw.status, 429);
    assert.equal(raw.headers['retry-after'], '7');
    assert.equal(path(raw.body, 'kind'), 'Status');
    assert.equal(path(raw.body, 'reason'), 'TooManyRequests');
    assert.equal(path(raw.body, 'details.retryAfterSeconds'), 7);

    const e = await apiError(readCM());
    assert.equal(e.code, 429);
    assert.equal(e.status?.reason, 'TooManyRequests');
    assert.equal(e.status?.details?.retryAfterSeconds, 7);
  });

  it('503 as the configured code', async () => {
    await setFaults({ errors: [{ verbs: ['get'], resources: ['configmaps'], rate: 1, code: 503 }] });
    const e = await apiError(readCM());
    assert.equal(e.code, 503);
    assert.equal(e.status?.code, 503);
  });

  it('latency {min:100,max:150} delays every request by at least 100 ms', async () => {
    await readCM(); // warm the connection so only the injected delay is measured
    await setFaults({ latencyMs: { min: 100, max: 150 } });
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await readCM();
      const ms = performance.now() - t0;
      assert.ok(ms >= 100, `request took ${ms.toFixed(1)} ms`);
      assert.ok(ms < 1000, `request took ${ms.toFixed(1)} ms`);
    }
  });

  it('watchDropRatePerSecond: 1 ends an open watch (done fires), and only ours: controllers are exempt', async () => {
    const w = await openWatch('/api/v1/namespaces/demo/configmaps');
    try {
      await eventually('initial ADDED events', async () => w.events.includes('ADDED web-config'));
      const before = (await getFaults()).injected.droppedWatches;
      await setFaults({ watchDropRatePerSecond: 1 });
      await within(w.done, 4000, 'watch done callback');
      // The simulated controllers keep a watch open per kind; none of those was cut.
      assert.equal((await getFaults()).injected.droppedWatches - before, 1);
    } finally {
      w.stop();
    }
  });

  it('DELETE /sim/v1/watches ends an open watch', async () => {
    const w = await openWatch('/apis/kubevirt.io/v1/namespaces/demo/virtualmachines');
    try {
      await eventually('initial ADDED events', async () => w.events.length > 0);
      const answer = (await simControl(sim.source, 'watches', 'DELETE')) as { dropped: number };
      assert.ok(answer.dropped >= 1, `dropped ${answer.dropped}`);
      await within(w.done, 2000, 'watch done callback');
    } finally {
      w.stop();
    }
  });

  it('faults do not hit the simulated controllers: a VM still gets a Running VMI', async () => {
    await setFaults({
      errors: [
        { resources: ['virtualmachineinstances'], rate: 1 },
        { verbs: ['list'], resources: ['virtualmachines'], rate: 1 },
      ],
    });
    const kv = kubevirt(c);
    await kv.create('virtualmachines', 'demo', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'faulty-world' },
      spec: { runStrategy: 'Always', template: { spec: { domain: { memory: { guest: '512Mi' }, devices: {} } } } },
    });

    // Our client cannot list VMs nor touch VMIs at all...
    const list = await apiError(c.custom.listNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'demo', plural: 'virtualmachines' }));
    assert.equal(list.code, 500);
    const vmiGet = await apiError(kv.get('virtualmachineinstances', 'demo', 'faulty-world'));
    assert.equal(vmiGet.code, 500);
    assert.equal(vmiGet.status?.reason, 'InternalError');

    // ...while virt-controller created the VMI, virt-handler ran it and the VM status reflects it.
    const vm = await eventually(
      'VM faulty-world Running',
      async () => {
        const v = await kv.get('virtualmachines', 'demo', 'faulty-world');
        return path(v, 'status.printableStatus') === 'Running' && path(v, 'status.ready') === true ? v : undefined;
      },
      10_000,
    );
    assert.equal(path(vm, 'status.created'), true);
    // Still faulted for us after all that controller traffic.
    assert.equal((await apiError(kv.get('virtualmachineinstances', 'demo', 'faulty-world'))).code, 500);

    await simControl(sim.source, 'faults', 'DELETE');
    const vmi = await kv.get('virtualmachineinstances', 'demo', 'faulty-world');
    assert.equal(path(vmi, 'status.phase'), 'Running');
  });

  it('the viewer (not admin) gets 403 from /sim/v1/faults and cannot change them', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await rawRequest(sim.source, method, '/sim/v1/faults', {
        token: sim.source.tokens.viewer,
        ...(method === 'PUT' ? { body: { errors: [{ rate: 1 }] } } : {}),
      });
      assert.equal(res.status, 403, `${method} as viewer`);
      assert.equal(path(res.body, 'reason'), 'Forbidden');
    }
    const bad = await rawRequest(sim.source, 'GET', '/sim/v1/faults', { token: 'nope' });
    assert.equal(bad.status, 401);
    assert.equal(path(bad.body, 'reason'), 'Unauthorized');
    assert.deepEqual((await getFaults()).config.errors, []);
    assert.ok(await listCMs());
  });

  it('an invalid fault config is refused and leaves the current one in place', async () => {
    await setFaults({ errors: [{ verbs: ['list'], resources: ['configmaps'], rate: 1 }] });
    const res = await rawRequest(sim.source, 'PUT', '/sim/v1/faults', { body: { errors: [{ rate: 2 }] } });
    assert.equal(res.status, 400);
    assert.equal(path(res.body, 'reason'), 'BadRequest');
    assert.match(String(path(res.body, 'message')), /invalid fault configuration/);
    assert.equal((await getFaults()).config.errors.length, 1);
    assert.equal((await apiError(listCMs())).code, 500);
  });

  it('DELETE /sim/v1/faults restores normal service', async () => {
    await setFaults({ errors: [{ rate: 1 }], latencyMs: { min: 50, max: 50 } });
    assert.equal((await apiError(listCMs())).code, 500);
    assert.equal((await apiError(readCM())).code, 500);
    assert.equal((await apiError(c.core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'blocked' } } }))).code, 500);

    const cleared = (await simControl(sim.source, 'faults', 'DELETE')) as FaultsAnswer;
    assert.deepEqual(cleared.config.errors, []);
    assert.deepEqual(cleared.config.latencyMs, { min: 0, max: 0 });
    assert.equal(cleared.config.watchDropRatePerSecond, 0);

    assert.ok((await listCMs()).items.some((i) => i.metadata?.name === 'web-config'));
    assert.equal((await readCM()).metadata?.name, 'web-config');
    const created = await c.core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'unblocked' } } });
    assert.equal(created.metadata?.name, 'unblocked');
    let fastest = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await readCM();
      fastest = Math.min(fastest, performance.now() - t0);
    }
    assert.ok(fastest < 50, `fastest request after clearing took ${fastest.toFixed(1)} ms`);
  });

  it('faults are per cluster: the destination is unaffected', async () => {
    await setFaults({ errors: [{ rate: 1 }] });
    assert.equal((await apiError(listCMs())).code, 500);
    const dst = clients(sim, 'destination');
    assert.ok(Array.isArray((await dst.core.listNamespace()).items));
  });
});
