/**
 * What ferry reads off the clusters (observation), when that is worth a signal (meaningfulChange),
 * and what the Web UI shows of a status (currentDetails): pure functions, tested directly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BENIGN_TARGET_MESSAGE, meaningfulChange, observation } from '../../activities/observe.js';
import type { KubeObject } from '../../activities/kube/kinds.js';
import type { MigrationStatus, Observation } from '../../workflows/contract.js';
import { currentDetails } from '../../workflows/details.js';
import { DEADLINES, STEPS } from '../../workflows/phases.js';

const MiB = 1024 * 1024;
const NOW = new Date('2026-12-01T10:00:00Z');
const obj = (status: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'X', metadata: { name: 'x' }, spec, status }) as KubeObject;
const blocked = (message: string) => ({ conditions: [{ type: 'decentralizedMigrationBlocked', status: 'True', message }] });

describe('observation', () => {
  it("reads both sides' phases, the sync address the source dials, and the progress read from the metrics", () => {
    const progress = { totalBytes: 100, processedBytes: 40, remainingBytes: 60, transferRate: 10, dirtyRate: 30 };
    const o = observation(
      {
        sourceVMIM: obj({ phase: 'Running' }, { sendTo: { connectURL: '10.0.0.7:9185' } }),
        targetVMIM: obj({ phase: 'Running', synchronizationAddresses: ['10.9.9.9:9185'] }),
        // A status field some forks add: ferry reads progress from the metrics only.
        sourceVMI: obj({ phase: 'Running', migrationState: { transferStatus: { dataTotalBytes: 999, dataProcessedBytes: 1 } } }),
        targetVMI: obj({ phase: 'WaitingForSync' }),
      },
      NOW,
      { progress },
    );
    assert.deepEqual(o, {
      at: NOW.toISOString(),
      sourceVMIM: 'Running',
      targetVMIM: 'Running',
      sourceVMI: 'Running',
      targetVMI: 'WaitingForSync',
      syncAddress: '10.0.0.7:9185',
      progress,
    });
  });

  it('says why progress is unavailable, and leaves both fields out when nothing was read', () => {
    assert.deepEqual(observation({}, NOW, { unavailable: 'no endpoint' }), { at: NOW.toISOString(), progressUnavailable: 'no endpoint' });
    assert.deepEqual(observation({}, NOW), { at: NOW.toISOString() });
  });

  it("drops the target's benign waiting text; a real block names its side; the source's failure reason wins", () => {
    const waiting = observation({ targetVMIM: obj(blocked(BENIGN_TARGET_MESSAGE)) }, NOW);
    assert.equal(waiting.blocked, undefined);
    const target = observation({ targetVMIM: obj(blocked('x509: certificate signed by unknown authority')) }, NOW);
    assert.deepEqual([target.blocked, target.blockedSide], ['x509: certificate signed by unknown authority', 'target']);
    const both = observation(
      {
        sourceVMIM: obj({ ...blocked('dial tcp: i/o timeout'), migrationState: { failureReason: 'source side' } }),
        targetVMIM: obj({ ...blocked('tls: bad'), migrationState: { failureReason: 'target side' } }),
      },
      NOW,
    );
    assert.deepEqual([both.blocked, both.blockedSide, both.failureReason], ['dial tcp: i/o timeout', 'source', 'source side']);
  });

  it("takes the target VMIM's published address before the source VMIM exists", () => {
    assert.equal(observation({ targetVMIM: obj({ synchronizationAddresses: ['10.9.9.9:9185'] }) }, NOW).syncAddress, '10.9.9.9:9185');
  });
});

describe('meaningfulChange', () => {
  const base: Observation = { at: 'a', sourceVMIM: 'Scheduling', targetVMIM: 'Pending', progress: { totalBytes: 100, processedBytes: 10, remainingBytes: 90 } };
  it('the first observation always counts', () => assert.equal(meaningfulChange(undefined, base), true));
  it('steps inside "preparing" and progress within a quarter do not', () => {
    assert.equal(meaningfulChange(base, { ...base, at: 'b', sourceVMIM: 'TargetReady', progress: { totalBytes: 100, processedBytes: 24, remainingBytes: 76 } }), false);
  });
  it('a quarter crossed, a phase group left, a block or a failure does', () => {
    assert.equal(meaningfulChange(base, { ...base, progress: { totalBytes: 100, processedBytes: 25, remainingBytes: 75 } }), true);
    assert.equal(meaningfulChange(base, { ...base, sourceVMIM: 'Running' }), true);
    assert.equal(meaningfulChange(base, { ...base, blocked: 'dial tcp: i/o timeout' }), true);
    assert.equal(meaningfulChange(base, { ...base, failureReason: 'evicted' }), true);
  });
});

describe('currentDetails', () => {
  const status = (over: Partial<MigrationStatus>): MigrationStatus => ({
    workflowId: 'migration/source/demo/web-01',
    vm: 'demo/web-01',
    source: { cluster: 'source', namespace: 'demo', name: 'web-01' },
    destination: { cluster: 'destination', namespace: 'demo' },
    phase: 'Synchronizing',
    attempt: 1,
    phaseSince: '2026-12-01T10:00:00.000Z',
    created: [],
    history: [{ phase: 'Validating', at: '2026-12-01T09:58:00.000Z' }],
    warnings: [],
    ...over,
  });

  it('a stall leads with the headline of its deadline, the diagnosis and the three commands', () => {
    const md = currentDetails(
      status({
        phase: 'Stalled',
        attempt: 2,
        stall: { phase: 'Synchronizing', since: '2026-12-01T10:05:00.000Z', deadline: 'handshake', diagnosis: 'The source cannot reach 10.0.0.7:9185.', observed: { at: 'x' } },
      }),
      'ferry',
    );
    const lines = md.split('\n');
    assert.equal(lines[0], `### ⛔ Stalled in Synchronizing (attempt 2): ${DEADLINES.handshake.headline}`);
    assert.ok(md.includes('**Diagnosis:** The source cannot reach 10.0.0.7:9185.'));
    for (const name of ['retry', 'extend', 'cancel']) assert.ok(md.includes(`--name ${name}`) && md.includes('--namespace ferry'), name);
    assert.ok(md.includes('⛔ Synchronize VM state: stalled, waiting for a decision'));
    assert.equal(
      lines.filter((l) => l.startsWith('✅')).length,
      STEPS.findIndex((s) => s.phase === 'Synchronizing'),
    );
  });

  it('a success marks every step done and says where the VM runs; progress while copying', () => {
    const done = currentDetails(status({ phase: 'Succeeded', phaseSince: '2026-12-01T10:02:00.000Z' }));
    assert.ok(done.startsWith('### ✅ Succeeded'));
    assert.ok(done.includes('Succeeded in 4m after 1 attempt(s)'));
    assert.equal(done.split('\n').filter((l) => l.startsWith('✅ ')).length, STEPS.length);
    const copying = currentDetails(status({ observed: { at: 'x', progress: { totalBytes: 200, processedBytes: 50, remainingBytes: 150 } } }));
    assert.ok(copying.includes('**Copied** 50 B of 200 B sent (25%), 150 B to go') && copying.includes('(25% copied)'), copying);
    const rated = currentDetails(
      status({ observed: { at: 'x', progress: { totalBytes: 200 * MiB, processedBytes: 100 * MiB, remainingBytes: 100 * MiB, transferRate: 12 * MiB, dirtyRate: 2 * MiB } } }),
    );
    assert.ok(rated.includes('**Copied** 100.0 MiB of 200.0 MiB sent (50%), 100.0 MiB to go; transfer 12.0 MiB/s, dirty 2.0 MiB/s; about 10s left'), rated);
    const outpaced = currentDetails(status({ observed: { at: 'x', progress: { totalBytes: 200, processedBytes: 300, remainingBytes: 100, transferRate: 2, dirtyRate: 5 } } }));
    assert.match(outpaced, /not converging \(the guest dirties memory as fast as it is copied\)/);
  });

  it('without a metrics endpoint, Synchronizing says progress is unavailable and why', () => {
    const md = currentDetails(status({ observed: { at: 'x', progressUnavailable: 'no metrics endpoint is configured for cluster "source"' } }));
    assert.ok(md.includes('**Progress** unavailable: no metrics endpoint is configured for cluster "source"'), md);
  });

  it('an end shows its own mark and the error', () => {
    const md = currentDetails(status({ phase: 'RolledBack', error: 'change window over' }));
    assert.ok(md.startsWith('### ↩️ RolledBack'));
    assert.ok(md.includes('**Error:** `change window over`'));
  });
});
