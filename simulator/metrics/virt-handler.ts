/**
 * virt-handler's migration metrics (KubeVirt pkg/monitoring/metrics/virt-handler/migrationdomainstats):
 * one sample per family for each migration the node is sending, labelled `namespace`, `name` (the
 * VMI) and `node`, stamped with the time libvirt's job info was read, and gone once the migration
 * has ended. Names, types and help texts are KubeVirt's.
 */
import type { MetricFamily } from './exposition.js';
import type { MigrationJobStats } from './migration-jobs.js';

interface FamilySpec {
  name: string;
  help: string;
  type: MetricFamily['type'];
  value: (j: MigrationJobStats) => number;
}

/**
 * The five progress families. `kubevirt_vmi_migration_data_bytes_total` was
 * `kubevirt_vmi_migration_data_total_bytes` before KubeVirt renamed it (the old name lives on as a
 * recording rule, not on virt-handler's endpoint): the simulator serves the current name only.
 */
export const MIGRATION_FAMILIES: readonly FamilySpec[] = [
  { name: 'kubevirt_vmi_migration_data_bytes_total', type: 'counter', help: 'The total Guest OS data to be migrated to the new VM.', value: (j) => j.dataTotalBytes },
  {
    name: 'kubevirt_vmi_migration_data_remaining_bytes',
    type: 'gauge',
    help: 'The remaining guest OS data to be migrated to the new VM.',
    value: (j) => j.dataRemainingBytes,
  },
  {
    name: 'kubevirt_vmi_migration_data_processed_bytes',
    type: 'gauge',
    help: 'The total Guest OS data processed and migrated to the new VM.',
    value: (j) => j.dataProcessedBytes,
  },
  { name: 'kubevirt_vmi_migration_dirty_memory_rate_bytes', type: 'gauge', help: 'The rate of memory being dirty in the Guest OS.', value: (j) => j.memDirtyRateBytes },
  {
    name: 'kubevirt_vmi_migration_memory_transfer_rate_bytes',
    type: 'gauge',
    help: 'The rate at which the memory is being transferred.',
    value: (j) => j.memoryTransferRateBytes,
  },
];

export function migrationFamilies(jobs: MigrationJobStats[]): MetricFamily[] {
  const sorted = [...jobs].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return MIGRATION_FAMILIES.map((f) => ({
    name: f.name,
    help: f.help,
    type: f.type,
    samples: sorted.map((j) => ({ labels: { namespace: j.namespace, name: j.name, node: j.node }, value: Math.round(f.value(j)), timestampMs: j.sampledAt })),
  }));
}
