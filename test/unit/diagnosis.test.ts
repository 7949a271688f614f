/**
 * diagnose(): what a Stalled migration says, for every deadline kind, from representative observations.
 * Above all, a transfer that never converges says why (the guest dirties memory faster than the
 * bandwidth copies it) instead of "100% of the state copied".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migrationInputSchema, type Observation } from '../../workflows/contract.js';
import { diagnose, formatBytes } from '../../workflows/diagnosis.js';
import { observation } from '../../activities/observe.js';
import { progressFromSamples } from '../../activities/progress/metrics.js';

const m = migrationInputSchema.parse({ source: { cluster: 'source', namespace: 'demo', name: 'db-01' }, destination: { cluster: 'destination', namespace: 'prod' } });
const at = '2026-12-01T00:00:00.000Z';
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const obs = (o: Omit<Observation, 'at'>): Observation => ({ at, ...o });

describe('diagnose', () => {
  it('receiverReady: the receiver VMI, its phase, where to look', () => {
    assert.equal(
      diagnose('receiverReady', 300_000, obs({ targetVMI: 'Scheduling' }), m),
      'The receiver VMI destination/prod/db-01 did not reach WaitingForSync within 5m (it is Scheduling). Check scheduling, storage and instancetypes on destination.',
    );
    assert.match(diagnose('receiverReady', 300_000, undefined, m), /\(it is absent\)/);
  });

  it('syncAddress: the synchronization controller and the feature gate', () => {
    assert.equal(
      diagnose('syncAddress', 120_000, obs({ targetVMIM: 'Pending' }), m),
      'The target VMIM on destination/prod published no synchronization address within 2m. Is virt-synchronization-controller running on destination, with the DecentralizedLiveMigration gate on?',
    );
  });

  describe('handshake', () => {
    it('a network error: the address and the cause', () => {
      const d = diagnose('handshake', 300_000, obs({ syncAddress: '10.0.0.7:9185', blocked: 'dial tcp 10.0.0.7:9185: i/o timeout', sourceVMIM: 'Synchronizing' }), m);
      assert.match(d, /^The source cannot reach the destination's synchronization address 10\.0\.0\.7:9185 \(dial tcp 10\.0\.0\.7:9185: i\/o timeout\)\./);
    });

    it('a TLS error: the CAs', () => {
      assert.match(
        diagnose('handshake', 300_000, obs({ blocked: 'x509: certificate signed by unknown authority' }), m),
        /^The synchronization controllers do not trust each other/,
      );
    });

    it('an unknown migration ID: the target VMIM', () => {
      assert.match(
        diagnose('handshake', 300_000, obs({ blocked: 'unable to locate VMI for migrationID abc' }), m),
        /^The destination knows no target migration for this migration ID/,
      );
    });

    it('nothing blocked: both sides named', () => {
      assert.equal(
        diagnose('handshake', 300_000, obs({ sourceVMIM: 'Synchronizing', targetVMIM: 'WaitingForSync', syncAddress: '10.0.0.7:9185' }), m),
        'The source VMIM stayed in Synchronizing for 5m while the target is WaitingForSync; the two synchronization controllers have not completed their handshake with 10.0.0.7:9185.',
      );
    });
  });

  describe('completion', () => {
    const sides = { sourceVMIM: 'Running', targetVMIM: 'Running' };

    it('past 100% with the rates: the guest dirties memory faster than the bandwidth, both figures', () => {
      const progress = { totalBytes: 8 * GiB, processedBytes: 20 * GiB, remainingBytes: 3 * GiB, transferRate: 100 * MiB, dirtyRate: 300 * MiB };
      const d = diagnose('completion', 1_200_000, obs({ ...sides, progress }), m);
      assert.equal(
        d,
        'The state transfer did not complete within its budget of 20m: the copy passed 100% of the state and keeps going, because the guest dirties memory faster than the bandwidth can copy it ' +
          '(dirty rate 300.0 MiB/s, transfer rate 100.0 MiB/s); 20.0 GiB sent of 8.0 GiB in 20m, 3.0 GiB still to copy (source VMIM Running, target VMIM Running). ' +
          "Waiting will not make it converge: raise the migration bandwidth (KubeVirt's migrations.bandwidthPerMigration), lower the guest's write load, or allow auto-converge or post-copy (migrations.allowAutoConverge, allowPostCopy), then retry; or cancel.",
      );
      assert.doesNotMatch(d, /100% of the state copied/);
    });

    it('past 100% without rates: says plainly that KubeVirt reports neither, and gives sent/total and elapsed', () => {
      const d = diagnose('completion', 600_000, obs({ ...sides, progress: { totalBytes: 4 * GiB, processedBytes: 4 * GiB, remainingBytes: 512 * MiB } }), m);
      assert.match(
        d,
        /the copy passed 100% of the state and keeps going, because the guest dirties memory faster than the bandwidth can copy it \(KubeVirt reports neither the dirty rate nor the transfer rate\)/,
      );
      assert.match(d, /4\.0 GiB sent of 4\.0 GiB in 10m, 512\.0 MiB still to copy/);
    });

    it('below 100% without a dirty rate: a slow copy, not a non-converging one (nothing says the guest outpaces it)', () => {
      const d = diagnose('completion', 600_000, obs({ ...sides, progress: { totalBytes: 4 * GiB, processedBytes: 3 * GiB, remainingBytes: GiB, transferRate: 50 * MiB } }), m);
      assert.match(
        d,
        /: 75% of the state copied \(3\.0 GiB sent of 4\.0 GiB in 10m, 1\.0 GiB still to copy; transfer rate 50\.0 MiB\/s; KubeVirt reports no dirty rate; at these rates the rest needs about 20s;/,
      );
    });

    it('below 100% with a dirty rate at or over the transfer rate: it will not converge either', () => {
      const d = diagnose(
        'completion',
        600_000,
        obs({ ...sides, progress: { totalBytes: 4 * GiB, processedBytes: GiB, remainingBytes: 3 * GiB, transferRate: 50 * MiB, dirtyRate: 80 * MiB } }),
        m,
      );
      assert.match(d, /: 25% of the state copied, because the guest dirties memory faster than the bandwidth can copy it \(dirty rate 80\.0 MiB\/s, transfer rate 50\.0 MiB\/s\)/);
    });

    it('a slow first pass: the copy is slower than the budget, with how long the rest needs', () => {
      const d = diagnose(
        'completion',
        600_000,
        obs({ ...sides, progress: { totalBytes: 10 * GiB, processedBytes: 6 * GiB, remainingBytes: 4 * GiB, transferRate: 10 * MiB, dirtyRate: MiB } }),
        m,
      );
      assert.equal(
        d,
        'The state transfer did not complete within its budget of 10m: 60% of the state copied (6.0 GiB sent of 10.0 GiB in 10m, 4.0 GiB still to copy; dirty rate 1.0 MiB/s, transfer rate 10.0 MiB/s; at these rates the rest needs about 7m35s; source VMIM Running, target VMIM Running). ' +
          'The copy is slower than the budget allows: if it is progressing, extend the deadline; otherwise check the migration bandwidth and the network between the clusters.',
      );
    });

    it('everything sent but not finished: the target side', () => {
      const d = diagnose('completion', 600_000, obs({ ...sides, progress: { totalBytes: GiB, processedBytes: GiB, remainingBytes: 0 } }), m);
      assert.match(
        d,
        /all of the state was copied \(1\.0 GiB sent of 1\.0 GiB in 10m, 0 B still to copy\) but the migration did not finish .* Check the target VMI on destination\/prod/,
      );
    });

    it('no progress at all: the source virt-handler published no metrics', () => {
      assert.equal(
        diagnose('completion', 600_000, obs(sides), m),
        "The state transfer did not complete within its budget of 10m, and the source virt-handler published no migration metrics for demo/db-01 on source (source VMIM Running, target VMIM Running): nothing was seen being copied. Check the source VMI's migration state and the migration network between the clusters.",
      );
      assert.match(diagnose('completion', 600_000, undefined, m), /source VMIM \?, target VMIM \?/);
    });

    it('progress unavailable: says why, and that how far the copy got is unknown', () => {
      const d = diagnose('completion', 600_000, obs({ ...sides, progressUnavailable: 'no metrics endpoint is configured for cluster "source"' }), m);
      assert.match(
        d,
        /^The state transfer did not complete within its budget of 10m \(source VMIM Running, target VMIM Running\); how far the copy got is unknown: no metrics endpoint is configured for cluster "source"\./,
      );
      assert.match(d, /kubevirt_vmi_migration_\* metrics/);
    });
  });

  it('the progress read from the metrics reaches the diagnosis with both rates', () => {
    const samples = [
      ['kubevirt_vmi_migration_data_bytes_total', 8 * GiB],
      ['kubevirt_vmi_migration_data_processed_bytes', 9 * GiB],
      ['kubevirt_vmi_migration_data_remaining_bytes', GiB],
      ['kubevirt_vmi_migration_memory_transfer_rate_bytes', 100 * MiB],
      ['kubevirt_vmi_migration_dirty_memory_rate_bytes', 300 * MiB],
    ].map(([name, v]) => ({ metric: { __name__: String(name), namespace: 'demo', name: 'db-01', node: 'node-1' }, value: [1, String(v)] as [number, string] }));
    const progress = progressFromSamples(samples)!;
    const o = observation({}, new Date(at), { progress });
    assert.deepEqual(o.progress, { totalBytes: 8 * GiB, processedBytes: 9 * GiB, remainingBytes: GiB, transferRate: 100 * MiB, dirtyRate: 300 * MiB });
    assert.match(diagnose('completion', 600_000, o, m), /\(dirty rate 300\.0 MiB\/s, transfer rate 100\.0 MiB\/s\)/);
  });

  it('formatBytes', () => {
    assert.deepEqual([0, 512, 1536, 300 * MiB, 8 * GiB].map(formatBytes), ['0 B', '512 B', '1.5 KiB', '300.0 MiB', '8.0 GiB']);
  });
});
