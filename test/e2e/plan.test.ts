/**
 * Plans end to end (issue 5, acceptance 1–3): bounded concurrency observed from the children's own
 * start and close times, preflight policies (skip migrates the rest and names the blocker; abort
 * writes nothing), a stalled VM listed by the plan and finished by retryStalled, and continue-as-new.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { fleetVmName } from '../../simulator/fleet.js';
import { type MigrationResult, TASK_QUEUE } from '../../workflows/contract.js';
import { errorMessage } from '../../workflows/errors.js';
import { cancelPlanUpdate, planStatusQuery, retryStalledUpdate } from '../../workflows/messages.js';
import { planWorkflowId, type PlanInput, type PlanResult, type PlanStatus } from '../../workflows/plan-contract.js';
import { FAST, startStack, type Stack } from '../support/e2e.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { diff, snapshot } from '../support/snapshot.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await stack.sim.partition(false);
});

let fleets = 0;
/** A fresh namespace with `count` running VMs; returns the namespace. */
async function fleet(count: number, halted: number[] = []): Promise<string> {
  const namespace = `fleet-${++fleets}`;
  await stack.sim.loadFleet({ namespace, count, halted });
  return namespace;
}

function planOf(name: string, namespace: string, count: number, over: Partial<PlanInput> = {}): PlanInput {
  return {
    name,
    source: { cluster: 'source' },
    destination: { cluster: 'destination' },
    vms: Array.from({ length: count }, (_, i) => ({ namespace, name: fleetVmName('vm', i + 1) })),
    options: { ...FAST },
    ...over,
  } as PlanInput;
}

function startPlan(p: PlanInput): Promise<WorkflowHandle> {
  return stack.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: planWorkflowId(p.name), args: [p] });
}

async function planStatus(h: WorkflowHandle): Promise<PlanStatus> {
  return h.query(planStatusQuery);
}

async function destinationVms(namespace: string): Promise<string[]> {
  const k = kubevirt(clients(stack.sim, 'destination'));
  return (await k.list('virtualmachineinstances', namespace))
    .filter((o) => path(o, 'status.phase') === 'Running')
    .map((o) => String(path(o, 'metadata.name')))
    .sort();
}

describe('migration plans', () => {
  it('a 20-VM plan with maxInFlight 5 succeeds, and no more than 5 VM migrations ever overlap', async () => {
    const ns = await fleet(20);
    const h = await startPlan(planOf('twenty', ns, 20, { maxInFlight: 5 }));
    const result = (await h.result()) as PlanResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.succeeded, 20);
    assert.deepEqual(
      await destinationVms(ns),
      Array.from({ length: 20 }, (_, i) => fleetVmName('vm', i + 1)),
    );

    // The children, found through the search attribute that links them to the plan.
    const children = await eventually('20 children listed under FerryPlan', async () => {
      const found = [];
      for await (const wf of stack.client.workflow.list({ query: `WorkflowType = 'migrateVm' AND FerryPlan = 'twenty'` })) found.push(wf);
      return found.length === 20 ? found : undefined;
    });
    // Overlap of [start, close] intervals, from Temporal's own record of each child.
    const edges = children.flatMap((c) => [
      { t: c.startTime.getTime(), d: +1 },
      { t: c.closeTime!.getTime(), d: -1 },
    ]);
    edges.sort((a, b) => a.t - b.t || a.d - b.d);
    let now = 0;
    let peak = 0;
    for (const e of edges) peak = Math.max(peak, (now += e.d));
    assert.ok(peak <= 5, `${peak} VM migrations overlapped`);
    assert.ok(peak >= 2, `only ${peak} ran at once: concurrency not used`);
    const s = await planStatus(h);
    assert.ok(s.peakInFlight <= 5 && s.peakInFlight >= peak, `plan saw peak ${s.peakInFlight}, children ${peak}`);
  });

  it('onBlocked: skip migrates the others and names the blocker', async () => {
    const ns = await fleet(4, [3]);
    const h = await startPlan(planOf('skip-one', ns, 4, { onBlocked: 'skip' }));
    const result = (await h.result()) as PlanResult;
    assert.equal(result.outcome, 'Completed');
    assert.equal(result.succeeded, 3);
    assert.equal(result.skipped, 1);
    assert.deepEqual(result.notable.failed, []);
    const [skipped, ...others] = result.notable.skipped;
    assert.equal(others.length, 0);
    assert.ok(skipped);
    assert.equal(skipped.vm, `${ns}/${fleetVmName('vm', 3)}`);
    assert.ok(
      skipped.blockers?.some((b) => /VMNotRunning|NotRunning|Halted/i.test(`${b.code} ${b.message}`)),
      JSON.stringify(skipped.blockers),
    );
    assert.deepEqual(
      await destinationVms(ns),
      [1, 2, 4].map((i) => fleetVmName('vm', i)),
    );
  });

  it('onBlocked: abort fails the plan with every blocker and writes nothing to the destination', async () => {
    const ns = await fleet(3, [1, 2]);
    const before = snapshot(stack.sim.destination, ns);
    const h = await startPlan(planOf('abort-all', ns, 3, { onBlocked: 'abort' }));
    await assert.rejects(h.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.match(errorMessage(e), /plan aborted: preflight found blockers on 2 of 3 VM/);
      assert.match(errorMessage(e), new RegExp(`${ns}/vm-0001: \\[`));
      assert.match(errorMessage(e), new RegExp(`${ns}/vm-0002: \\[`));
      return true;
    });
    assert.deepEqual(diff(before, snapshot(stack.sim.destination, ns)), []);
    const s = await planStatus(h);
    assert.equal(s.phase, 'Failed');
    assert.equal(s.counts.Pending, 3, 'no VM migration started');
  });

  it('VMs that would collide with each other on the destination are blocked at preflight; onBlocked applies (abort writes nothing, skip migrates the first)', async () => {
    const src = clients(stack.sim, 'source');
    const dst = clients(stack.sim, 'destination');
    for (const ns of ['clash-a', 'clash-b']) await src.core.createNamespace({ body: { metadata: { name: ns } } });
    await dst.core.createNamespace({ body: { metadata: { name: 'clash' } } });
    const cdi = { group: 'cdi.kubevirt.io', version: 'v1beta1', plural: 'datavolumes' };
    const vm = async (namespace: string, name: string, disk: string, mac: string) => {
      await src.custom.createNamespacedCustomObject({
        ...cdi,
        namespace,
        body: {
          apiVersion: 'cdi.kubevirt.io/v1beta1',
          kind: 'DataVolume',
          metadata: { name: disk },
          spec: { source: { blank: {} }, storage: { resources: { requests: { storage: '1Gi' } } } },
        },
      });
      await kubevirt(src).create('virtualmachines', namespace, {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name },
        spec: {
          runStrategy: 'Always',
          template: {
            spec: {
              domain: { memory: { guest: '64Mi' }, devices: { disks: [{ name: 'root', disk: {} }], interfaces: [{ name: 'default', masquerade: {}, macAddress: mac }] } },
              networks: [{ name: 'default', pod: {} }],
              volumes: [{ name: 'root', dataVolume: { name: disk } }],
            },
          },
        },
      });
    };
    await vm('clash-a', 'app', 'app-root', '02:cc:00:00:00:01');
    await vm('clash-b', 'app', 'app-root', '02:cc:00:00:00:02'); // same VM and disk name as clash-a/app
    await vm('clash-b', 'twin', 'twin-root', '02:CC:00:00:00:01'); // same MAC as clash-a/app
    for (const [ns, name] of [
      ['clash-a', 'app'],
      ['clash-b', 'app'],
      ['clash-b', 'twin'],
    ] as const) {
      await eventually(`${ns}/${name} running`, async () => path(await kubevirt(src).tryGet('virtualmachineinstances', ns, name), 'status.phase') === 'Running');
    }
    const plan = (name: string, onBlocked: 'abort' | 'skip'): PlanInput =>
      ({
        name,
        source: { cluster: 'source' },
        destination: { cluster: 'destination', namespace: 'clash' },
        onBlocked,
        options: { ...FAST },
        vms: [
          { namespace: 'clash-a', name: 'app' },
          { namespace: 'clash-b', name: 'app' },
          { namespace: 'clash-b', name: 'twin' },
        ],
      }) as PlanInput;

    const before = snapshot(stack.sim.destination, 'clash');
    const aborted = await startPlan(plan('clash-abort', 'abort'));
    await assert.rejects(aborted.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const message = errorMessage(e);
      assert.match(message, /plan aborted: preflight found blockers on 2 of 3 VM/);
      assert.match(message, /clash-b\/app: \[VMNameCollision\] VM clash-b\/app and VM clash-a\/app of this plan would both become VirtualMachine clash\/app/);
      assert.match(message, /clash-b\/app: \[DiskNameCollision\] DataVolume clash\/app-root of VM clash-b\/app and DataVolume clash\/app-root of VM clash-a\/app/);
      assert.match(message, /clash-b\/twin: \[MacConflict\] MAC address 02:cc:00:00:00:01 of VM clash-b\/twin is also used by VM clash-a\/app of this plan/);
      assert.doesNotMatch(message, /clash-a\/app: \[/);
      return true;
    });
    assert.deepEqual(diff(before, snapshot(stack.sim.destination, 'clash')), [], 'the destination changed');
    assert.equal((await planStatus(aborted)).counts.Pending, 3, 'no VM migration started');

    const skipped = (await (await startPlan(plan('clash-skip', 'skip'))).result()) as PlanResult;
    assert.equal(skipped.succeeded, 1);
    assert.equal(skipped.skipped, 2);
    assert.deepEqual(
      skipped.notable.skipped.map((v) => [v.vm, v.state, v.blockers?.map((b) => b.code)]),
      [
        ['clash-b/app', 'Skipped', ['VMNameCollision', 'DiskNameCollision']],
        ['clash-b/twin', 'Skipped', ['MacConflict']],
      ],
    );
    assert.deepEqual(await destinationVms('clash'), ['app']);
  });

  it('a stalled VM is listed by the plan; retryStalled and healing finish it and the rest', async () => {
    const ns = await fleet(3);
    await stack.sim.partition(true);
    const h = await startPlan(planOf('stall-one', ns, 3, { maxInFlight: 1, options: { ...FAST, handshakeTimeout: '3s' } }));
    const stalled = await eventually(
      'the first VM stalled in the plan status',
      async () => {
        const s = await planStatus(h);
        return s.stalled.length === 1 ? s : undefined;
      },
      60_000,
      250,
    );
    assert.equal(stalled.stalled[0]!.vm, `${ns}/${fleetVmName('vm', 1)}`);
    assert.match(stalled.stalled[0]!.diagnosis ?? '', /synchronization address/);
    assert.equal(stalled.counts.Pending, 2, 'the other VMs wait for the slot');

    // Retry, then heal: a healed partition resumes a stall on its own, which would race the retry.
    const answer = await h.executeUpdate(retryStalledUpdate, { args: [{ reason: 'healed' }] });
    await stack.sim.partition(false);
    assert.deepEqual(answer.workflowIds, [`migration/source/${ns}/${fleetVmName('vm', 1)}`]);
    const result = (await h.result()) as PlanResult;
    assert.equal(result.outcome, 'Succeeded');
    // A VM that succeeded is the child's to describe: the plan names only the VMs that did not.
    const first = (await stack.client.workflow.getHandle(answer.workflowIds[0]!).result()) as MigrationResult;
    assert.equal(first.attempts, 2);
    assert.deepEqual(
      await destinationVms(ns),
      [1, 2, 3].map((i) => fleetVmName('vm', i)),
    );
  });

  it('retryStalled with nothing stalled is refused with the reason', async () => {
    const ns = await fleet(1);
    const h = await startPlan(planOf('nothing-stalled', ns, 1));
    await assert.rejects(h.executeUpdate(retryStalledUpdate, { args: [{}] }), (e: unknown) => /no VM of this plan is Stalled/.test(errorMessage(e)));
    assert.equal(((await h.result()) as PlanResult).outcome, 'Succeeded');
  });

  it('cancel stops the plan: VMs in flight roll back, the rest never start, sources keep running', async () => {
    const ns = await fleet(4);
    await stack.sim.partition(true);
    const h = await startPlan(planOf('cancel-me', ns, 4, { maxInFlight: 2, options: { ...FAST, handshakeTimeout: '10m' } }));
    await eventually('two VMs synchronizing', async () => ((await planStatus(h)).counts.Synchronizing === 2 ? true : undefined), 60_000, 250);
    const answer = await h.executeUpdate(cancelPlanUpdate, { args: [{ reason: 'window closed' }] });
    assert.equal(answer.workflowIds.length, 2);
    const result = (await h.result()) as PlanResult;
    assert.equal(result.outcome, 'Cancelled');
    assert.equal(result.rolledBack, 2);
    assert.equal(result.skipped, 2);
    const src = kubevirt(clients(stack.sim, 'source'));
    for (let i = 1; i <= 4; i++) assert.equal(path(await src.get('virtualmachineinstances', ns, fleetVmName('vm', i)), 'status.phase'), 'Running');
    assert.deepEqual(await destinationVms(ns), []);
  });

  it('continues as new to keep its history bounded, and still finishes every VM', async () => {
    const ns = await fleet(12);
    const h = await startPlan(planOf('long-plan', ns, 12, { maxInFlight: 3, historyEventLimit: 200 }));
    const result = (await h.result()) as PlanResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.succeeded, 12);
    assert.equal(result.total, 12);
    // Every VM once: the children, listed through visibility, are where per-VM detail lives.
    const children = await eventually('12 children listed', async () => {
      const ids: string[] = [];
      for await (const wf of stack.client.workflow.list({ query: result.childrenQuery })) ids.push(wf.workflowId);
      return ids.length === 12 ? ids : undefined;
    });
    assert.equal(new Set(children).size, 12);
    const s = await planStatus(h);
    assert.ok(s.runs >= 1, `expected continue-as-new, runs=${s.runs}, history ${(await h.describe()).historyLength} events`);
    let runs = 0;
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${planWorkflowId('long-plan')}'` })) {
      runs++;
      assert.ok(wf.historyLength <= 200 + 60, `a run has ${wf.historyLength} events`);
    }
    assert.equal(runs, s.runs + 1);
  });
});
