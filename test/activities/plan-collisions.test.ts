/**
 * The plan's VMs against each other (pure): the same VM name or disk name in one destination
 * namespace, or the same MAC on the destination cluster, blocks the later VM of the plan and names
 * both; a VM blocked for another reason claims nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addPlanCollisions, type Footprint, planCollisions } from '../../workflows/plan-collisions.js';

const fp = (vm: string, over: Partial<Footprint> = {}): Footprint => {
  const [ns, name] = vm.split('/') as [string, string];
  return {
    workflowId: `migration/source/${vm}`,
    vm,
    destinationCluster: 'destination',
    destinationNamespace: ns,
    name,
    disks: [{ kind: 'DataVolume', name: `${name}-root` }],
    macs: [],
    ...over,
  };
};
const codes = (r: { code: string }[][]) => r.map((i) => i.map((x) => x.code));

describe('plan collisions', () => {
  it('no collision: nothing', () => {
    assert.deepEqual(
      planCollisions([
        { footprint: fp('a/x', { macs: ['02:00:00:00:00:01'] }), blocked: false },
        { footprint: fp('a/y', { macs: ['02:00:00:00:00:02'] }), blocked: false },
      ]),
      [[], []],
    );
  });

  it('same VM name and disk name into one namespace: the later VM is blocked, the message names both and the fix', () => {
    const r = planCollisions([
      { footprint: fp('team-a/web', { destinationNamespace: 'prod' }), blocked: false },
      { footprint: fp('team-b/web', { destinationNamespace: 'prod' }), blocked: false },
    ]);
    assert.deepEqual(codes(r), [[], ['VMNameCollision', 'DiskNameCollision']]);
    assert.equal(
      r[1]![0]!.message,
      'VM team-b/web and VM team-a/web of this plan would both become VirtualMachine prod/web on the destination cluster destination: team-a/web comes first in the plan and keeps the name, so team-b/web cannot be migrated with it; give one of them another targetNamespace in the plan, or migrate them in separate plans to different namespaces',
    );
    assert.match(
      r[1]![1]!.message,
      /^DataVolume prod\/web-root of VM team-b\/web and DataVolume prod\/web-root of VM team-a\/web of this plan would be created under the same name/,
    );
    // Other namespaces: no collision.
    assert.deepEqual(
      codes(
        planCollisions([
          { footprint: fp('team-a/web'), blocked: false },
          { footprint: fp('team-b/web'), blocked: false },
        ]),
      ),
      [[], []],
    );
  });

  it('a DataVolume and a claim of one name collide; a shared claim of two VMs too', () => {
    const r = planCollisions([
      { footprint: fp('a/x', { disks: [{ kind: 'PersistentVolumeClaim', name: 'shared' }] }), blocked: false },
      { footprint: fp('a/y', { disks: [{ kind: 'DataVolume', name: 'shared' }] }), blocked: false },
    ]);
    assert.deepEqual(codes(r), [[], ['DiskNameCollision']]);
    assert.match(r[1]![0]!.message, /DataVolume a\/shared of VM a\/y and PersistentVolumeClaim a\/shared of VM a\/x/);
  });

  it('the same MAC anywhere on the destination cluster; MACs on another destination cluster do not count', () => {
    const mac = '02:7a:00:00:00:09';
    const r = planCollisions([
      { footprint: fp('a/x', { macs: [mac] }), blocked: false },
      { footprint: fp('b/y', { macs: [mac, '02:7a:00:00:00:0a'] }), blocked: false },
      { footprint: fp('c/z', { macs: [mac], destinationCluster: 'elsewhere' }), blocked: false },
    ]);
    assert.deepEqual(codes(r), [[], ['MacConflict'], []]);
    assert.equal(
      r[1]![0]!.message,
      'MAC address 02:7a:00:00:00:09 of VM b/y is also used by VM a/x of this plan, and MAC addresses must be unique on the destination cluster destination: a/x comes first in the plan and keeps it, so b/y cannot be migrated with it; change the MAC of one of the two VMs',
    );
  });

  it('a VM blocked for another reason claims nothing: the next one may take the name; a blocked one is told of its collisions too', () => {
    const r = planCollisions([
      { footprint: fp('a/x', { macs: ['02:00:00:00:00:01'] }), blocked: true },
      { footprint: fp('b/y', { macs: ['02:00:00:00:00:01'] }), blocked: false },
      { footprint: fp('c/z', { macs: ['02:00:00:00:00:01'] }), blocked: true },
      { blocked: false },
    ]);
    assert.deepEqual(codes(r), [[], [], ['MacConflict'], []]);
    assert.match(r[2]![0]!.message, /also used by VM b\/y/);
  });

  it('a VM blocked by a collision claims nothing either; three VMs of one name: both later ones name the first', () => {
    const r = planCollisions([
      { footprint: fp('a/w'), blocked: false },
      { footprint: fp('a/w'), blocked: false },
      { footprint: fp('a/w'), blocked: false },
    ]);
    assert.deepEqual(codes(r), [[], ['VMNameCollision', 'DiskNameCollision'], ['VMNameCollision', 'DiskNameCollision']]);
  });

  it('addPlanCollisions: matches reports by workflow ID, appends to the blockers in plan order', () => {
    const vms = [
      { workflowId: fp('a/x').workflowId },
      { workflowId: fp('b/x').workflowId, blockers: [{ code: 'VMNotRunning', message: 'stopped' }] },
      { workflowId: fp('c/x').workflowId },
    ];
    const same = { destinationNamespace: 'prod', disks: [] };
    addPlanCollisions(vms, [{ footprint: fp('c/x', same) }, { footprint: fp('b/x', same) }, {}, { footprint: fp('a/x', same) }]);
    assert.deepEqual(
      vms.map((v) => (v.blockers ?? []).map((b) => b.code)),
      [[], ['VMNotRunning', 'VMNameCollision'], ['VMNameCollision']],
    );
    assert.match(vms[2]!.blockers![0]!.message, /^VM c\/x and VM a\/x of this plan/);
  });
});
