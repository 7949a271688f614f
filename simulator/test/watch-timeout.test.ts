/**
 * Regression (found by the proof suite's kill matrix): a watch that its `timeoutSeconds` ended stayed
 * subscribed until the response's 'close' event; a store change in between was written to the ended
 * response — an uncaught 'write after end' that crashed the simulator. Here many one-second watches
 * end while the store is written from timers, which run in the same event-loop phase as the timeout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { kindInfo } from '../apiserver/kinds.js';
import type { Simulator } from '../sim.js';
import { clients, eventually, startSim } from '../testing/sim.js';

const NS = 'watch-timeout';
const WATCHES = 30;

let sim: Simulator;
before(async () => {
  sim = await startSim();
});
after(async () => {
  await sim?.stop();
});

describe('simulator watches with timeoutSeconds', () => {
  it('end cleanly while the store keeps changing, and the server keeps answering', async () => {
    const c = clients(sim, 'source');
    await c.core.createNamespace({ body: { metadata: { name: NS } } });
    await c.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'churn' }, data: { n: '0' } } });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const store = sim.source.api.store;
    const configMaps = kindInfo('ConfigMap');
    let n = 0;
    // Writes straight into the store from a 1 ms timer: some land after a watch's timeout callback
    // ended its response and before that response's 'close'.
    const churn = setInterval(() => {
      for (let i = 0; i < 20; i++) {
        const current = store.get(configMaps, NS, 'churn');
        store.update(configMaps, NS, 'churn', { ...current, data: { n: String(++n) } });
      }
    }, 1);
    let ended = 0;
    try {
      const config = new k8s.KubeConfig();
      config.loadFromString(sim.kubeconfig());
      config.setCurrentContext('source');
      await Promise.all(
        Array.from({ length: WATCHES }, () =>
          new k8s.Watch(config).watch(
            `/api/v1/namespaces/${NS}/configmaps`,
            { timeoutSeconds: 1 },
            () => {},
            () => ended++,
          ),
        ),
      );
      await eventually(`${WATCHES} watches ended by their timeout`, async () => ended >= WATCHES, 20_000, 50);
    } finally {
      clearInterval(churn);
      process.off('uncaughtException', onUncaught);
    }
    assert.deepEqual(uncaught.map(String), []);
    // Still serving: the last write is readable.
    const read = await c.core.readNamespacedConfigMap({ name: 'churn', namespace: NS });
    assert.equal(read.data?.n, String(n));
  });
});
