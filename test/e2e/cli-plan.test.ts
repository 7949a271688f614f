/**
 * `ferry plan` end to end, as a child process against one stack (dev server, simulator, worker):
 * the Forklift example file runs unchanged (acceptance 4), validate as a dry run, bad files named,
 * JSON status parsed, refusals exit 4, and a stalled plan seen, listed and cancelled from the CLI.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { fleetVmName } from '../../simulator/fleet.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import type { PlanStatus } from '../../workflows/plan-contract.js';
import { runFerry, startFerry } from '../support/cli.js';
import { startStack, type Stack } from '../support/e2e.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { diff, snapshot } from '../support/snapshot.js';

let stack: Stack;
let dir: string;
before(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'ferry-plan-cli-'));
});
after(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await stack.sim.partition(false);
});

const ferry = (...args: string[]) => runFerry(stack, args, { FERRY_KUBECONFIG: stack.kubeconfigFile });

const FORKLIFT = join(REPO_ROOT, 'examples', 'forklift-plan.yaml');
const FAST = { pollInterval: '200ms', receiverReadyTimeout: '20s', syncAddressTimeout: '20s', minCompletionTimeout: '60s' };

async function runningOn(cluster: 'source' | 'destination', ns: string): Promise<string[]> {
  const k = kubevirt(clients(stack.sim, cluster));
  return (await k.list('virtualmachineinstances', ns))
    .filter((o) => path(o, 'status.phase') === 'Running')
    .map((o) => String(path(o, 'metadata.name')))
    .sort();
}

describe('ferry plan', () => {
  it('validate runs preflight for every VM as a dry run: JSON parsed, nothing written', async () => {
    const before = snapshot(stack.sim.destination, 'demo');
    const r = await ferry('plan', 'validate', '-f', FORKLIFT, '--output', 'json');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout) as { ok: boolean; plan: string; vms: { vm: string; report: { blockers: unknown[] } }[] };
    assert.equal(out.ok, true);
    assert.equal(out.plan, 'demo-wave-1');
    assert.deepEqual(
      out.vms.map((v) => v.vm),
      ['demo/web-01', 'demo/db-01', 'demo/cache-01'],
    );
    assert.deepEqual(diff(before, snapshot(stack.sim.destination, 'demo')), []);
  });

  it('an invalid plan file is refused before anything starts (exit 2), naming the file and field', async () => {
    const bad = join(dir, 'cold.yaml');
    writeFileSync(
      bad,
      `apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: { name: cold-one }
spec:
  type: cold
  targetNamespace: demo
  provider: { source: { name: a }, destination: { name: b } }
  map: { storage: { name: s }, network: { name: n } }
  vms: [{ name: demo/web-01 }]
`,
    );
    const r = await ferry('plan', 'start', '-f', bad);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cold\.yaml/);
    assert.match(r.stderr, /spec\.type/);
    const listed = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = 'plan/cold-one'` })) listed.push(wf);
    assert.equal(listed.length, 0, 'nothing was started');
  });

  it('the Forklift example runs unchanged through plan start --watch (non-TTY lines), then status JSON and refusals', async () => {
    const r = await ferry('plan', 'start', '-f', FORKLIFT, '--watch');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Workflow ID: plan\/demo-wave-1/);
    assert.ok(!r.stdout.includes('\x1b['), 'no escape codes when stdout is not a terminal');
    assert.match(r.stdout, /plan demo-wave-1: Migrating/);
    assert.match(r.stdout, /Plan demo-wave-1 Succeeded .* 3 succeeded, 0 failed, 0 rolled back, 0 skipped of 3/);
    assert.deepEqual(await runningOn('destination', 'demo'), ['cache-01', 'db-01', 'web-01']);

    const s = await ferry('plan', 'status', 'demo-wave-1', '--output', 'json');
    assert.equal(s.code, 0, s.stderr);
    const status = JSON.parse(s.stdout) as PlanStatus;
    assert.equal(status.phase, 'Succeeded');
    assert.equal(status.counts.Succeeded, 3);
    assert.ok(status.peakInFlight <= 2, `maxInFlight 2 from the ferry.dev/max-in-flight annotation, peak ${status.peakInFlight}`);

    const retry = await ferry('plan', 'retry', '-f', FORKLIFT);
    assert.equal(retry.code, 4);
    assert.match(retry.stderr, /refused: the plan already ended \(Succeeded\)/);
    const cancel = await ferry('plan', 'cancel', 'demo-wave-1');
    assert.equal(cancel.code, 4);
    assert.match(cancel.stderr, /already ended \(Succeeded\)/);
  });

  it('a stalled plan: status lists the stall with its diagnosis; cancel rolls back and watch exits 3', async () => {
    const ns = 'cli-fleet';
    await stack.sim.loadFleet({ namespace: ns, count: 3 });
    const file = join(dir, 'fleet.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'ferry.dev/v1alpha1',
        kind: 'MigrationPlan',
        metadata: { name: 'cli-fleet' },
        spec: {
          source: { cluster: 'source' },
          destination: { cluster: 'destination' },
          maxInFlight: 1,
          options: { ...FAST, handshakeTimeout: '2s' },
          vms: [1, 2, 3].map((i) => ({ namespace: ns, name: fleetVmName('vm', i) })),
        },
      }),
    );
    await stack.sim.partition(true);
    const started = await ferry('plan', 'start', '-f', file);
    assert.equal(started.code, 0, started.stderr);
    // Starting it again names the running plan and how to follow it (exit 1).
    const again = await ferry('plan', 'start', '-f', file);
    assert.equal(again.code, 1, again.stderr);
    const runId = (await stack.client.workflow.getHandle('plan/cli-fleet').describe()).runId;
    assert.match(
      again.stderr,
      new RegExp(
        `^ferry plan start: plan cli-fleet is already running as workflow plan/cli-fleet \\(run ID ${runId}, started \\S+Z(, phase \\w+)?\\); nothing new was started\\.$`,
        'm',
      ),
    );
    assert.match(again.stderr, /^ {2}follow it: +ferry plan watch cli-fleet$/m);
    assert.match(again.stderr, /^ {2}its status: +ferry plan status cli-fleet$/m);
    assert.match(again.stderr, /^ {2}Temporal CLI: +temporal workflow describe -w plan\/cli-fleet$/m);
    const table = await eventually(
      'the plan status table lists the stalled VM',
      async () => {
        const r = await ferry('plan', 'status', '-f', file);
        return /Stalled \(1\):/.test(r.stdout) ? r.stdout : undefined;
      },
      60_000,
      500,
    );
    assert.match(table, new RegExp(`${ns}/vm-0001\\s+Stalled\\s+The source cannot reach the destination's synchronization address`));

    const watching = startFerry(stack, ['plan', 'watch', 'cli-fleet', '--interval', '300ms'], { FERRY_KUBECONFIG: stack.kubeconfigFile });
    // The watch must have shown the stall before the cancel ends it (its process takes a while to start).
    await watching.waitFor(new RegExp(`${ns}/vm-0001  Stalled: The source cannot reach`), 30_000);
    const cancel = await ferry('plan', 'cancel', 'cli-fleet', '--reason', 'window closed');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /cancel sent to 1 VM migration\(s\) in flight; 2 not started/);
    const w = await watching.done;
    assert.equal(w.code, 3, w.stderr + w.stdout);
    assert.match(w.stdout, new RegExp(`${ns}/vm-0001  Stalled: The source cannot reach`));
    assert.match(w.stdout, /Plan cli-fleet Cancelled .* 0 succeeded, 0 failed, 1 rolled back, 2 skipped of 3/);
    assert.deepEqual(
      await runningOn('source', ns),
      [1, 2, 3].map((i) => fleetVmName('vm', i)),
    );
    assert.deepEqual(await runningOn('destination', ns), []);
  });
});
