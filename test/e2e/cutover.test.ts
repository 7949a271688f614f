/**
 * Past cutover nothing is rolled back: when finalizing fails (here: permission to delete VMIMs on the
 * source revoked mid-migration, a 403 only finalize meets), the migration fails, says where the VM
 * is, and removes nothing; the migrated guest keeps running on the destination. Its own stack: the
 * other end-to-end files change the clusters (gates, halted VMs) as they test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { statusQuery } from '../../workflows/messages.js';
import { failureMessage, input, startMigration, startStack, type Stack } from '../support/e2e.js';
import { clients, kubevirt, path, simControl } from '../../simulator/testing/sim.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

describe('cutover', () => {
  it('a failure while finalizing, past cutover, removes nothing: the migrated VM stays on the destination', async () => {
    // Permission to delete VMIMs on the source revoked mid-migration: only finalize deletes them.
    await simControl(stack.sim.source, 'faults', 'PUT', { errors: [{ verbs: ['delete'], resources: ['virtualmachineinstancemigrations'], rate: 1, code: 403 }] });
    try {
      const handle = await startMigration(stack, input('cache-01'));
      const message = await handle.result().then(
        () => assert.fail('expected the migration to fail in Finalizing'),
        (e: unknown) => failureMessage(e),
      );
      assert.match(message, /finalize failed past cutover/);
      assert.match(message, /nothing was removed/);
      const s = await handle.query(statusQuery);
      assert.equal(s.phase, 'Failed');
      assert.ok(!s.history.some((h) => h.phase === 'RollingBack'), 'no rollback after cutover');
      const dst = kubevirt(clients(stack.sim, 'destination'));
      assert.equal(path(await dst.get('virtualmachineinstances', 'demo', 'cache-01'), 'status.phase'), 'Running', 'the migrated guest keeps running');
      assert.ok(await dst.get('virtualmachines', 'demo', 'cache-01'), 'the destination VM is kept');
    } finally {
      await simControl(stack.sim.source, 'faults', 'DELETE');
    }
  });
});
