/**
 * Access reviews are remembered for a grant's TTL (activities/kube/cluster.ts): a plan's migrations
 * share one set per namespace, and a denial is asked again next time (fix the RBAC, retry).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deniedNeeds } from '../../activities/access.js';
import { AccessReviews, GRANT_TTL_MS } from '../../activities/kube/cluster.js';
import { PooledKubeConfig } from '../../activities/kube/pooled.js';
import { Simulator } from '../../simulator/sim.js';

let sim: Simulator;
before(async () => {
  sim = await Simulator.start();
});
after(async () => {
  await sim.stop();
});

function reviewsAt(clock: { now: number }): AccessReviews {
  const kc = new PooledKubeConfig();
  kc.loadFromString(sim.kubeconfig('admin'));
  kc.setCurrentContext('source');
  return new AccessReviews(kc, () => clock.now);
}

const reviewRequests = () => {
  const m = sim.source.api.metrics.snapshot().byUserRequest.admin ?? {};
  return (m['create selfsubjectrulesreviews'] ?? 0) + (m['create selfsubjectaccessreviews'] ?? 0);
};

describe('access reviews', () => {
  it('asks once per namespace while a grant is fresh, and again once it is stale', async () => {
    const clock = { now: 1_000_000 };
    const reviews = reviewsAt(clock);
    sim.source.api.metrics.reset();
    assert.deepEqual(await deniedNeeds(reviews, 'source', ['workload', 'cluster'], { workload: 'demo' }), []);
    const first = reviewRequests();
    assert.ok(first >= 2, `a rules review and the cluster-scoped access reviews (${first})`);
    for (let i = 0; i < 5; i++) assert.deepEqual(await deniedNeeds(reviews, 'source', ['workload', 'cluster'], { workload: 'demo' }), []);
    assert.equal(reviewRequests(), first, 'five more preflights within the TTL asked nothing');
    clock.now += GRANT_TTL_MS + 1;
    await deniedNeeds(reviews, 'source', ['workload', 'cluster'], { workload: 'demo' });
    assert.equal(reviewRequests(), 2 * first, 'asked again after the TTL');
  });

  it('never remembers a denial', async () => {
    const clock = { now: 1_000_000 };
    const kc = new PooledKubeConfig();
    kc.loadFromString(sim.kubeconfig('viewer'));
    kc.setCurrentContext('source');
    const reviews = new AccessReviews(kc, () => clock.now);
    sim.source.api.metrics.reset();
    const denied = await deniedNeeds(reviews, 'source', ['workload'], { workload: 'demo' });
    assert.ok(
      denied.some((d) => d.verb === 'create'),
      'the read-only user may not create',
    );
    const viewerReviews = () => {
      const m = sim.source.api.metrics.snapshot().byUserRequest.viewer ?? {};
      return m['create selfsubjectrulesreviews'] ?? 0;
    };
    const once = viewerReviews();
    await deniedNeeds(reviews, 'source', ['workload'], { workload: 'demo' });
    assert.equal(viewerReviews(), 2 * once, 'the rules were asked again, within the TTL');
  });
});
