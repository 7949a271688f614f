/**
 * The two yardsticks ferry's figures are set against, computed from the same run's parameters.
 *
 * Forklift's design floor: its live itinerary (`ocp-live`) takes a VM through 14 phases that always
 * run, one phase per reconcile, and a plan with VMs in progress is requeued every 3 s (PollReQ), so
 * orchestration alone costs at least ~42 s per VM before and around any transfer (research/
 * forklift-live.md §1.1 and §1.3). The physical limit: a VM cannot move faster than its memory (and any
 * copied disk) over the migration's bandwidth.
 */
export const FORKLIFT_PHASES = 14;
export const FORKLIFT_REQUEUE_SECONDS = 3;
export const FORKLIFT_FLOOR_SECONDS = FORKLIFT_PHASES * FORKLIFT_REQUEUE_SECONDS;

export interface References {
  /** Seconds of one VM's migration: the physical limit (transfer) and Forklift's floor (+ transfer). */
  physicalSecondsPerVm: number;
  forkliftSecondsPerVm: number;
  /** Plan wall time at the same maxInFlight: VMs in waves of maxInFlight. */
  physicalPlanSeconds: number;
  forkliftPlanSeconds: number;
}

export function references(p: { vms: number; maxInFlight: number; bytesPerVm: number; bandwidthBytesPerSecond: number }): References {
  const physical = p.bytesPerVm / p.bandwidthBytesPerSecond;
  const waves = Math.ceil(p.vms / p.maxInFlight);
  return {
    physicalSecondsPerVm: physical,
    forkliftSecondsPerVm: FORKLIFT_FLOOR_SECONDS + physical,
    physicalPlanSeconds: waves * physical,
    forkliftPlanSeconds: waves * (FORKLIFT_FLOOR_SECONDS + physical),
  };
}
