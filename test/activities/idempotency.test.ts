/**
 * Every activity may run twice (retries, a worker dying after the API call but before reporting):
 * the second run must change nothing. Driven through the activities directly, with the simulator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { AttemptRef } from '../../activities/context.js';
import { createActivities } from '../../activities/index.js';
import { ClusterClient, type ClusterRegistry } from '../../activities/kube/cluster.js';
import type { Simulator } from '../../simulator/sim.js';
import { migrationInputSchema, migrationWorkflowId } from '../../workflows/contract.js';
import { eventually, startSim } from '../../simulator/testing/sim.js';
import { snapshot, diff } from '../support/snapshot.js';
import { kindInfo } from '../../simulator/apiserver/kinds.js';

let sim: Simulator;
let acts: ReturnType<typeof createActivities>;
const env = new MockActivityEnvironment();
const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => env.run(fn, ...args);

before(async () => {
  sim = await startSim();
  const clients = new Map([
    ['source', new ClusterClient('source', sim.source.kubeConfig())],
    ['destination', new ClusterClient('destination', sim.destination.kubeConfig())],
  ]);
  const registry: ClusterRegistry = { get: (n) => clients.get(n)!, names: () => [...clients.keys()] };
  acts = createActivities({ clusters: registry });
});
after(async () => {
  await sim.stop();
});

function ref(name: string): AttemptRef {
  const migration = migrationInputSchema.parse({
    source: { cluster: 'source', namespace: 'demo', name },
    destination: { cluster: 'destination' },
    options: { pollInterval: '100ms' },
  });
  return { workflowId: migrationWorkflowId(migration), migration, attempt: 1, migrationId: `0f0e0d0c-${name}`, runStrategy: 'Always' };
}

describe('activities are idempotent', () => {
  it('certificate sync, the VMIM pair, finalize: a second run changes nothing', async () => {
    const r = ref('cache-01');
    const first = await run(acts.syncCertificates, { source: 'source', destination: 'destination', pollIntervalMs: 100 });
    assert.deepEqual(first.updated.sort(), ['destination', 'source']);
    assert.deepEqual(await run(acts.syncCertificates, { source: 'source', destination: 'destination', pollIntervalMs: 100 }), { updated: [] });

    await run(acts.createPrerequisites, r);
    await run(acts.createTargetVM, r);
    await run(acts.waitFor, r, 'receiverReady');
    const target = await run(acts.createTargetMigration, r);
    assert.deepEqual(await run(acts.createTargetMigration, r), target); // same object, same uid
    assert.equal(sim.destination.api.store.list(kindInfo('VirtualMachineInstanceMigration'), 'demo').length, 1);
    const { syncAddress } = await run(acts.waitFor, r, 'syncAddress');
    const source = await run(acts.createSourceMigration, r, syncAddress!);
    assert.deepEqual(await run(acts.createSourceMigration, r, syncAddress!), source);
    assert.equal(sim.source.api.store.list(kindInfo('VirtualMachineInstanceMigration'), 'demo').length, 1);
    await run(acts.waitFor, r, 'completion');

    const done = await run(acts.finalize, r);
    assert.equal(done.targetRunStrategy, 'Always');
    assert.equal(done.sourceRunStrategy, 'Halted');
    const generations = () => [sim.source, sim.destination].map((c) => c.api.store.peek('VirtualMachine', 'demo', 'cache-01')!.metadata.generation);
    const before = generations();
    const again = await run(acts.finalize, r);
    assert.deepEqual(again.enforced, []);
    assert.deepEqual(generations(), before, 'a VM spec changed on the second finalize');
  });

  it('rollback twice: the second finds nothing to remove; the source still runs', async () => {
    const r = ref('web-01');
    const before = snapshot(sim.destination, 'demo');
    await run(acts.createPrerequisites, r);
    await run(acts.createTargetVM, r);
    await run(acts.waitFor, r, 'receiverReady');
    await run(acts.createTargetMigration, r);
    const first = await run(acts.rollback, { workflowId: r.workflowId, migration: r.migration });
    assert.ok(first.removed.length >= 6, `removed ${first.removed.map((o) => o.kind).join(', ')}`);
    assert.equal(first.sourceVMIPhase, 'Running');
    const second = await run(acts.rollback, { workflowId: r.workflowId, migration: r.migration });
    assert.deepEqual(second.removed, []);
    const left = await eventually('destination back to its initial state', async () => {
      const d = diff(before, snapshot(sim.destination, 'demo'));
      return d.length === 0 ? d : undefined;
    }).catch((e) => {
      throw new Error(`${(e as Error).message}: ${diff(before, snapshot(sim.destination, 'demo')).join(', ')}`);
    });
    assert.deepEqual(left, []);
  });

  it('rollback keeps a copied Secret that another VM in the namespace has come to use', async () => {
    const r = ref('web-01');
    await run(acts.createPrerequisites, r);
    // A neighbour VM, not ferry's, that uses the Secret this migration copied.
    sim.destination.api.store.create(kindInfo('VirtualMachine'), 'demo', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'neighbour' },
      spec: { runStrategy: 'Halted', template: { spec: { volumes: [{ name: 'ci', cloudInitNoCloud: { secretRef: { name: 'web-cloudinit' } } }] } } },
    });
    const rb = await run(acts.rollback, { workflowId: r.workflowId, migration: r.migration });
    assert.deepEqual(
      rb.kept.map((o) => `${o.kind}/${o.name}`),
      ['Secret/web-cloudinit'],
    );
    assert.ok(sim.destination.api.store.peek('Secret', 'demo', 'web-cloudinit'), 'the shared Secret was deleted');
    assert.equal(sim.destination.api.store.peek('ConfigMap', 'demo', 'web-config'), undefined, 'an unshared copy was kept');
  });
});
