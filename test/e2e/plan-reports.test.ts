/**
 * What a plan's child tells its plan (phases.ts `reportsToPlan`): the phases that can last and its
 * end; quick phases are not signalled. Read from the histories: the signals each child sent and the
 * plan received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fleetVmName } from '../../simulator/fleet.js';
import { TASK_QUEUE } from '../../workflows/contract.js';
import { PHASES } from '../../workflows/phases.js';
import { planWorkflowId, type PlanInput, type PlanResult } from '../../workflows/plan-contract.js';
import { FAST, startStack, type Stack } from '../support/e2e.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const decode = (data: Uint8Array | null | undefined) => JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { phase: string };

describe('plan reports', () => {
  it('children report CreatingTarget, Synchronizing and Succeeded, and nothing else, on the way to success', async () => {
    await stack.sim.loadFleet({ namespace: 'reports', count: 3 });
    const plan: PlanInput = {
      name: 'reports',
      source: { cluster: 'source' },
      destination: { cluster: 'destination' },
      vms: Array.from({ length: 3 }, (_, i) => ({ namespace: 'reports', name: fleetVmName('vm', i + 1) })),
      options: { ...FAST },
    } as PlanInput;
    const h = await stack.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: planWorkflowId(plan.name), args: [plan] });
    const result = (await h.result()) as PlanResult;
    assert.equal(result.succeeded, 3);

    const expected = PHASES.filter((p) => p.reportsToPlan && (p.kind === 'step' || p.phase === 'Succeeded')).map((p) => p.phase);
    assert.deepEqual(expected, ['CreatingTarget', 'Synchronizing', 'Succeeded']);
    let sent = 0;
    for await (const wf of stack.client.workflow.list({ query: `WorkflowType = 'migrateVm' AND FerryPlan = 'reports'` })) {
      const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const reported = (history.events ?? [])
        .map((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)
        .filter((a) => a?.signalName === 'childReport')
        .map((a) => decode(a!.input?.payloads?.[0]?.data).phase);
      assert.deepEqual(reported, expected, `${wf.workflowId} reported ${reported.join(', ')}`);
      sent += reported.length;
    }
    const planHistory = await h.fetchHistory();
    const received = (planHistory.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'childReport').length;
    assert.equal(received, sent, 'the plan received every report, and only those');
    assert.equal(sent, 9);
  });
});
