/**
 * A worker whose kubeconfig holds a bad token, or a token without the permission: the activity's
 * failure says which (authentication or RBAC) and names the cluster. Against the simulator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import { ClusterClient, type ClusterRegistry } from '../../activities/kube/cluster.js';
import { kubeConfigFor } from '../../simulator/kubeconfig.js';
import type { Simulator } from '../../simulator/sim.js';
import { startSim } from '../../simulator/testing/sim.js';

let sim: Simulator;
const env = new MockActivityEnvironment();

before(async () => {
  sim = await startSim();
});
after(async () => {
  await sim.stop();
});

function activities(source: ClusterClient, destination: ClusterClient) {
  const clients = new Map([
    ['source', source],
    ['destination', destination],
  ]);
  const registry: ClusterRegistry = { get: (n) => clients.get(n)!, names: () => [...clients.keys()] };
  return createActivities({ clusters: registry });
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApplicationFailure, String(e));
    return e;
  }
  throw new Error('expected the activity to fail');
}

describe('credentials the cluster refuses', () => {
  it('a wrong token: HTTP 401, authentication (not RBAC), the cluster named', async () => {
    const src = sim.source;
    const wrong = kubeConfigFor({ name: 'source', server: src.api.url, caPem: src.apiCA.certPem, token: 'not-a-valid-token' });
    const acts = activities(new ClusterClient('source', wrong), new ClusterClient('destination', sim.destination.kubeConfig()));
    const f = await failure(env.run(acts.syncCertificates, { source: 'source', destination: 'destination', pollIntervalMs: 100 }));
    assert.equal(f.type, 'Unauthorized');
    assert.equal(f.nonRetryable, true);
    assert.match(
      f.message,
      /on cluster source: HTTP 401 Unauthorized: authentication failed \(not an RBAC denial\): cluster source did not accept the credentials of kubeconfig context "source"/,
    );
    assert.doesNotMatch(f.message, /HTTP 401 :|: error \(/);
  });

  it("a read-only token writing: HTTP 403, RBAC, the server's denial", async () => {
    const acts = activities(new ClusterClient('source', sim.source.kubeConfig()), new ClusterClient('destination', sim.destination.kubeConfig('viewer')));
    const f = await failure(env.run(acts.syncCertificates, { source: 'source', destination: 'destination', pollIntervalMs: 100 }));
    assert.equal(f.type, 'Forbidden');
    assert.match(
      f.message,
      /on cluster destination: HTTP 403 Forbidden: .+: an RBAC denial: the credentials of kubeconfig context "destination" are valid but lack this permission/,
    );
  });
});
