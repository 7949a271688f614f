/**
 * The migration jobs this cluster's virt-handler is sending, as libvirt's domain job info would
 * describe them: kept in memory by the synchronization controller while a transfer runs and read by
 * the virt-handler metrics endpoint. Nothing of it is written to the API: upstream KubeVirt has no
 * byte counters in a VMI's status.
 */

export interface MigrationJobStats {
  /** The source VMI. */
  namespace: string;
  name: string;
  /** The node the source VMI runs on (`status.nodeName`). */
  node: string;
  /** The VMIM whose transfer this is, so a late update of an earlier attempt cannot touch a newer one. */
  migrationUid: string;
  /** Guest bytes (memory + disks) to migrate. */
  dataTotalBytes: number;
  /** Guest bytes sent so far, re-sent dirty pages included: passes the total while pre-copy iterates. */
  dataProcessedBytes: number;
  dataRemainingBytes: number;
  /** Bytes per second the guest dirties. */
  memDirtyRateBytes: number;
  /** Bytes per second actually sent over the last sampling interval (0 while the network stalls). */
  memoryTransferRateBytes: number;
  /** When libvirt's job info was read (ms since the epoch). */
  sampledAt: number;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class MigrationJobs {
  private readonly jobs = new Map<string, MigrationJobStats>();

  /** Record the latest sample of a running transfer. */
  update(stats: MigrationJobStats): void {
    this.jobs.set(key(stats.namespace, stats.name), { ...stats });
  }

  /** The transfer of `migrationUid` completed, failed or was aborted: its job info is gone. */
  end(namespace: string, name: string, migrationUid: string): void {
    const k = key(namespace, name);
    if (this.jobs.get(k)?.migrationUid === migrationUid) this.jobs.delete(k);
  }

  list(): MigrationJobStats[] {
    return [...this.jobs.values()].map((j) => ({ ...j }));
  }
}
