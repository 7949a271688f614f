/**
 * Regression, found by the chaos suite (seed 20261302, 50 runs): the simulator's API server ended a
 * watch at its `timeoutSeconds` but kept it subscribed until the response's `close` event, which comes
 * only after the last chunk reached the socket. An object changed in between was written to the ended
 * response: `write after end`, an uncaught exception that took the whole simulator (and the test
 * process) down. ferry's watches ask for `timeoutSeconds` (activities/kube/watch.ts), so any busy
 * cluster could hit it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kindInfo } from '../../../simulator/apiserver/kinds.js';
import type { StoreEvent } from '../../../simulator/apiserver/store.js';
import type { Simulator } from '../../../simulator/sim.js';
import { rawRequest, startSim } from '../../../simulator/testing/sim.js';

const NS = 'watch-timeout';
const CONFIG_MAP = kindInfo('ConfigMap');
const NAMESPACE = kindInfo('Namespace');

let sim: Simulator;
before(async () => {
  sim = await startSim();
  sim.source.api.store.create(NAMESPACE, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
});
after(async () => {
  await sim?.stop();
});

describe('a watch the server ends at its timeout', () => {
  it('is not written to by a change that lands between its end and its close', async () => {
    const store = sim.source.api.store;
    const subscribe = store.watch.bind(store);
    let changed = false;
    // The server subscribes and then arms its timeout timer in the same call; a timer armed right
    // after (a microtask later) with the same delay fires in the same timer phase, just after the
    // server ended the response and before the socket reports it finished.
    store.watch = (k, ns, selector, fromRv, push: (e: StoreEvent) => void) => {
      const unsubscribe = subscribe(k, ns, selector, fromRv, push);
      if (k.kind === 'ConfigMap' && ns === NS) {
        queueMicrotask(() =>
          setTimeout(() => {
            store.create(CONFIG_MAP, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' }, data: { at: 'timeout' } });
            changed = true;
          }, 1000),
        );
      }
      return unsubscribe;
    };
    try {
      const answer = await rawRequest(sim.source, 'GET', `/api/v1/namespaces/${NS}/configmaps?watch=true&timeoutSeconds=1`);
      assert.equal(answer.status, 200);
      // The change landed while the stream was ending; the server is still up and answers.
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(changed, 'the late change never happened: the test proves nothing');
      const list = await rawRequest(sim.source, 'GET', `/api/v1/namespaces/${NS}/configmaps`);
      assert.equal(list.status, 200);
      assert.deepEqual(
        (list.body as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name),
        ['late'],
      );
    } finally {
      store.watch = subscribe;
    }
  });
});
