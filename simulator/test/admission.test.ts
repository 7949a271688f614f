/** KubeVirt's admission rules for decentralized migration, as enforced by the simulated API server. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Simulator } from '../sim.js';
import { createTargetVMIM, prepareReceiver } from '../testing/hand-migration.js';
import { clients, eventually, kubevirt, path, startSim } from '../testing/sim.js';

let sim: Simulator;
before(async () => {
  sim = await startSim();
});
after(async () => {
  await sim.stop();
});

/** Runs `fn`, expects a 422 webhook denial, and returns the Status message. */
async function denied(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    const err = e as { code?: number; body?: string };
    assert.equal(err.code, 422, `expected 422, got ${err.code}: ${err.body}`);
    const status = JSON.parse(err.body ?? '{}') as { reason?: string; message?: string };
    assert.equal(status.reason, 'Invalid');
    assert.match(status.message ?? '', /^admission webhook "[a-z.-]+" denied the request: /);
    return status.message!;
  }
  assert.fail('the request was admitted');
}

const vmim = (name: string, spec: object) => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name }, spec });

async function setGate(cluster: 'source' | 'destination', on: boolean) {
  const c = clients(sim, cluster);
  const kv = await kubevirt(c).kubevirtCR();
  const spec = structuredClone(kv.spec as Record<string, unknown>);
  const dev = ((spec.configuration as Record<string, unknown>).developerConfiguration ??= {}) as { featureGates?: string[] };
  dev.featureGates = on ? ['DecentralizedLiveMigration'] : [];
  await c.custom.replaceNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt', body: { ...kv, spec } });
}

describe('KubeVirt admission in the simulator', () => {
  it('rejects WaitAsReceiver and decentralized VMIMs while the feature gate is off, and clears the sync address', async () => {
    await setGate('destination', false);
    try {
      const k = kubevirt(clients(sim, 'destination'));
      const msg = await denied(() =>
        k.create('virtualmachines', 'demo', {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          metadata: { name: 'r1' },
          spec: { runStrategy: 'WaitAsReceiver', template: { spec: {} } },
        }),
      );
      assert.match(msg, /DecentralizedLiveMigration feature gate is not enabled in kubevirt resource/);
      await eventually('sync address withdrawn', async () => (path<string[]>(await k.kubevirtCR(), 'status.synchronizationAddresses') ?? ['x']).length === 0);
      const s = kubevirt(clients(sim, 'source'));
      await setGate('source', false);
      const msg2 = await denied(() =>
        s.create('virtualmachineinstancemigrations', 'demo', vmim('m1', { vmiName: 'web-01', sendTo: { migrationID: 'x', connectURL: '127.0.0.1:1' } })),
      );
      assert.match(msg2, /DecentralizedLiveMigration feature gate is not enabled/);
    } finally {
      await setGate('destination', true);
      await setGate('source', true);
    }
  });

  it('rejects a target VMIM whose receiver VMI is not WaitingForSync', async () => {
    const k = kubevirt(clients(sim, 'source'));
    // web-01 runs normally on the source: it is not a receiver.
    const msg = await denied(() => k.create('virtualmachineinstancemigrations', 'demo', vmim('t1', { vmiName: 'web-01', receive: { migrationID: 'x' } })));
    assert.match(msg, /receiver VMI "demo\/web-01" must be in phase WaitingForSync/);
  });

  it('rejects a VMIM for a VMI that does not exist or has no vmiName', async () => {
    const k = kubevirt(clients(sim, 'source'));
    assert.match(
      await denied(() => k.create('virtualmachineinstancemigrations', 'demo', vmim('n1', { vmiName: 'nope', sendTo: { migrationID: 'x', connectURL: '127.0.0.1:1' } }))),
      /VMI "demo\/nope" does not exist/,
    );
    assert.match(
      await denied(() => k.create('virtualmachineinstancemigrations', 'demo', vmim('n2', { sendTo: { migrationID: 'x', connectURL: '127.0.0.1:1' } }))),
      /spec.vmiName is required/,
    );
  });

  it('allows one non-final VMIM per VMI', async () => {
    const k = kubevirt(clients(sim, 'source'));
    await k.create('virtualmachineinstancemigrations', 'demo', vmim('db-a', { vmiName: 'db-01', sendTo: { migrationID: 'a', connectURL: '127.0.0.1:1' } }));
    const msg = await denied(() =>
      k.create('virtualmachineinstancemigrations', 'demo', vmim('db-b', { vmiName: 'db-01', sendTo: { migrationID: 'b', connectURL: '127.0.0.1:1' } })),
    );
    assert.match(msg, /in-flight migration detected\. Active migration job \(db-a\)/);
    await k.delete('virtualmachineinstancemigrations', 'demo', 'db-a');
    await eventually('db-a gone', async () => !(await k.tryGet('virtualmachineinstancemigrations', 'demo', 'db-a')));
  });

  it('keeps the VMIM spec immutable', async () => {
    const k = kubevirt(clients(sim, 'source'));
    const c = clients(sim, 'source');
    const m = await k.create('virtualmachineinstancemigrations', 'demo', vmim('imm', { vmiName: 'cache-01', sendTo: { migrationID: 'i', connectURL: '127.0.0.1:1' } }));
    const msg = await denied(() =>
      c.custom.replaceNamespacedCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        namespace: 'demo',
        plural: 'virtualmachineinstancemigrations',
        name: 'imm',
        body: { ...m, spec: { vmiName: 'cache-01', sendTo: { migrationID: 'i', connectURL: '127.0.0.1:2' } } },
      }),
    );
    assert.match(msg, /update of VMIM object's spec is restricted/);
    // Labels may change: only spec is protected.
    const fresh = await k.get('virtualmachineinstancemigrations', 'demo', 'imm');
    await c.custom.replaceNamespacedCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      namespace: 'demo',
      plural: 'virtualmachineinstancemigrations',
      name: 'imm',
      body: { ...fresh, metadata: { ...fresh.metadata, labels: { ...(fresh.metadata as { labels?: object }).labels, team: 'a' } } },
    });
    assert.equal(path<Record<string, string>>(await k.get('virtualmachineinstancemigrations', 'demo', 'imm'), 'metadata.labels')?.team, 'a');
    await k.delete('virtualmachineinstancemigrations', 'demo', 'imm');
  });

  it('lets LiveMigratable=False/DisksNotLiveMigratable through only for decentralized migrations', async () => {
    const k = kubevirt(clients(sim, 'source'));
    const vmi = await k.get('virtualmachineinstances', 'demo', 'web-01');
    const lm = (path<{ type: string; status: string; reason?: string }[]>(vmi, 'status.conditions') ?? []).find((c) => c.type === 'LiveMigratable');
    assert.deepEqual([lm?.status, lm?.reason], ['False', 'DisksNotLiveMigratable']);
    const msg = await denied(() => k.create('virtualmachineinstancemigrations', 'demo', vmim('local', { vmiName: 'web-01' })));
    assert.match(msg, /Cannot migrate VMI, Reason: DisksNotLiveMigratable/);
    await k.create('virtualmachineinstancemigrations', 'demo', vmim('decentral', { vmiName: 'web-01', sendTo: { migrationID: 'd', connectURL: '127.0.0.1:1' } }));
    await k.delete('virtualmachineinstancemigrations', 'demo', 'decentral');
    await eventually('decentral gone', async () => !(await k.tryGet('virtualmachineinstancemigrations', 'demo', 'decentral')));
  });

  it('blocks any VMIM when LiveMigratable=False for another reason (bridge on the pod network)', async () => {
    const k = kubevirt(clients(sim, 'source'));
    await k.create('virtualmachines', 'demo', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'bridged' },
      spec: {
        runStrategy: 'Always',
        template: { spec: { domain: { memory: { guest: '1Gi' }, devices: { interfaces: [{ name: 'default', bridge: {} }] } }, networks: [{ name: 'default', pod: {} }] } },
      },
    });
    await eventually('bridged VMI running', async () => path(await k.tryGet('virtualmachineinstances', 'demo', 'bridged'), 'status.phase') === 'Running');
    const msg = await denied(() =>
      k.create('virtualmachineinstancemigrations', 'demo', vmim('br', { vmiName: 'bridged', sendTo: { migrationID: 'b', connectURL: '127.0.0.1:1' } })),
    );
    assert.match(msg, /Reason: InterfaceNotLiveMigratable/);
  });

  it('rejects VMs that set both running and runStrategy', async () => {
    const k = kubevirt(clients(sim, 'source'));
    const msg = await denied(() =>
      k.create('virtualmachines', 'demo', {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'both' },
        spec: { running: true, runStrategy: 'Always', template: { spec: {} } },
      }),
    );
    assert.match(msg, /Running and RunStrategy are mutually exclusive/);
  });

  it('admits a target VMIM once the receiver waits, and labels it with the VMI name', async () => {
    await prepareReceiver(sim, 'cache-01');
    await createTargetVMIM(sim, 'cache-01', 'ok-1');
    const m = await kubevirt(clients(sim, 'destination')).get('virtualmachineinstancemigrations', 'demo', 'cache-01-target');
    assert.equal(path(m, 'metadata.labels')?.['kubevirt.io/vmi-name' as never], 'cache-01');
  });
});
