/** The cost table's arithmetic (bench/cost/): the references, and the actions read off the server's metrics. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { FORKLIFT_FLOOR_SECONDS, references } from '../../bench/cost/references.js';
import { actionsBetween, OBSERVER_ACTIONS, scrapeActions } from '../../bench/cost/temporal.js';

describe('bench cost', () => {
  it("Forklift's floor is 14 phases at one 3 s requeue each, in waves of maxInFlight; the physical limit is bytes over bandwidth", () => {
    assert.equal(FORKLIFT_FLOOR_SECONDS, 42);
    const r = references({ vms: 1000, maxInFlight: 20, bytesPerVm: 2 * 2 ** 30, bandwidthBytesPerSecond: 64 * 2 ** 20 });
    assert.equal(r.physicalSecondsPerVm, 32);
    assert.equal(r.forkliftSecondsPerVm, 74);
    assert.equal(r.physicalPlanSeconds, 50 * 32);
    assert.equal(r.forkliftPlanSeconds, 50 * 74);
    assert.equal(references({ vms: 21, maxInFlight: 20, bytesPerVm: 1, bandwidthBytesPerSecond: 1 }).physicalPlanSeconds, 2, 'a partial wave is a wave');
  });

  it("reads the server's action counter by type for one namespace, and the difference between two readings", async () => {
    let text = [
      '# TYPE action counter',
      'action{action_type="command_ScheduleActivityTask",namespace="default",operation="RespondWorkflowTaskCompleted",service_name="history"} 10',
      'action{action_type="command_ScheduleActivityTask",namespace="default",operation="Other",service_name="history"} 2',
      'action{action_type="grpc_StartWorkflowExecution",namespace="temporal_system",operation="StartWorkflowExecution",service_name="frontend"} 5',
      'action{action_type="grpc_QueryWorkflow",namespace="default",operation="QueryWorkflow",service_name="frontend"} 3',
      'actions_other{namespace="default"} 99',
    ].join('\n');
    const server = createServer((_req, res) => res.end(text));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    try {
      const before = await scrapeActions(url, 'default');
      assert.deepEqual(before, { command_ScheduleActivityTask: 12, grpc_QueryWorkflow: 3 });
      text = text.replace('} 10', '} 30');
      const delta = actionsBetween(before, await scrapeActions(url, 'default'));
      assert.deepEqual(delta, { command_ScheduleActivityTask: 20 });
      assert.ok(OBSERVER_ACTIONS.test('grpc_QueryWorkflow') && !OBSERVER_ACTIONS.test('command_ScheduleActivityTask'));
    } finally {
      server.close();
    }
  });
});
