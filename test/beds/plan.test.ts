/**
 * Plans on the bed FERRY_BED names (default: the real bed): Forklift's example plan file runs unchanged
 * through `ferry plan validate` (a dry run: nothing written) and `ferry plan start --watch`, and a plan
 * whose VMs preflight refuses fails with every blocker and writes nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { TASK_QUEUE } from '../../workflows/contract.js';
import { planWorkflowId, type PlanStatus } from '../../workflows/plan-contract.js';
import { apiSnapshot, bedClients, bedFromEnv, startBedStack, type BedStack } from '../support/bed.js';
import { runFerry } from '../support/cli.js';
import { failureMessage } from '../support/e2e.js';
import { kubevirt, path } from '../../simulator/testing/sim.js';
import { diff } from '../support/snapshot.js';

const kind = bedFromEnv('kube');
const FORKLIFT = join(REPO_ROOT, 'examples', 'forklift-plan.yaml');
let stack: BedStack;
before(async () => {
  stack = await startBedStack(kind);
});
after(async () => {
  await stack?.stop();
});

const ferry = (...args: string[]) => runFerry(stack, args, { FERRY_KUBECONFIG: stack.kubeconfigFile });

async function runningOn(cluster: 'source' | 'destination'): Promise<string[]> {
  const vmis = await kubevirt(bedClients(stack.bed, cluster)).list('virtualmachineinstances', 'demo');
  return vmis
    .filter((o) => path(o, 'status.phase') === 'Running')
    .map((o) => o.metadata.name)
    .sort();
}

describe(`plans on the ${kind} bed`, () => {
  it('a plan of VMs preflight refuses fails with every blocker and writes nothing (onBlocked: abort)', async () => {
    const before = await apiSnapshot(stack.bed, 'destination', 'demo');
    const handle = await stack.client.workflow.start('migratePlan', {
      taskQueue: TASK_QUEUE,
      workflowId: planWorkflowId('refused'),
      args: [
        {
          name: 'refused',
          source: { cluster: 'source' },
          destination: { cluster: 'destination' },
          vms: [
            { namespace: 'demo', name: 'batch-01' },
            { namespace: 'demo', name: 'cluster-node-a' },
          ],
        },
      ],
    });
    const message = await handle.result().then(() => assert.fail('the plan ran'), failureMessage);
    assert.match(message, /batch-01.*VMNotRunning/s);
    assert.match(message, /cluster-node-a.*(NotStorageLiveMigratable|UnsupportedDevice)/s);
    assert.deepEqual(diff(before, await apiSnapshot(stack.bed, 'destination', 'demo')), []);
  });

  it("Forklift's example: plan validate writes nothing, plan start --watch moves web-01, db-01 and cache-01", async () => {
    const before = await apiSnapshot(stack.bed, 'destination', 'demo');
    const v = await ferry('plan', 'validate', '-f', FORKLIFT, '--output', 'json');
    assert.equal(v.code, 0, v.stderr + v.stdout);
    assert.equal((JSON.parse(v.stdout) as { ok: boolean }).ok, true);
    assert.deepEqual(diff(before, await apiSnapshot(stack.bed, 'destination', 'demo')), []);

    const r = await ferry('plan', 'start', '-f', FORKLIFT, '--watch');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Plan demo-wave-1 Succeeded .* 3 succeeded, 0 failed, 0 rolled back, 0 skipped of 3/);
    assert.deepEqual(await runningOn('destination'), ['cache-01', 'db-01', 'web-01']);
    assert.deepEqual(await runningOn('source'), ['cluster-node-a']);
    const s = await ferry('plan', 'status', 'demo-wave-1', '--output', 'json');
    assert.equal((JSON.parse(s.stdout) as PlanStatus).counts.Succeeded, 3);
  });
});
