/** The cost table `npm run bench` prints: what one VM cost, beside Forklift's floor and the physical limit. */
export interface CostReport {
  when: string;
  machine: { cpus: number; memoryGiB: number; node: string; stealPercent: number };
  params: {
    mode: string;
    vms: number;
    maxInFlight: number;
    workers: number;
    worker: string;
    cacheCap: number | null;
    guestMemory: string;
    bandwidthPerMigration: string;
    sample: number;
  };
  outcome: string;
  succeeded: number;
  failed: number;
  wallSeconds: number;
  vmsPerMinute: number;
  peakInFlight: number | null;
  perVm: {
    wallSecondsMedian: number;
    wallSecondsP95: number;
    transferSeconds: number;
    overheadSecondsMedian: number;
    overheadSecondsP95: number;
    phaseSecondsMedian: Record<string, number>;
  };
  cpuSecondsPerVm: Record<string, number>;
  cpuSeconds: Record<string, number>;
  peakRssMiB: Record<string, number>;
  temporal: {
    actionsPerVm: number;
    actionsByType: Record<string, number>;
    observerActions: Record<string, number>;
    vmHistoryEventsMedian: number;
    vmHistoryEventsMax: number;
    vmHistoryBytesMedian: number;
    vmHistoryEventsByType: Record<string, number>;
    planHistoryEvents: number;
    planHistoryBytes: number;
    planRuns: number;
  };
  kubernetes: Record<string, { requestsPerVm: number; byVerbPerVm: Record<string, number>; byRequestPerVm: Record<string, number>; peakOpenWatches: number }>;
  workers: { name: string; cpuSeconds: number; shareOfTasks: number }[];
  references: {
    forkliftSecondsPerVm: number;
    physicalSecondsPerVm: number;
    forkliftPlanSeconds: number;
    physicalPlanSeconds: number;
    forkliftOverFerryPerVm: number;
    ferryOverPhysicalPerVm: number;
    forkliftOverFerryPlan: number;
    ferryOverPhysicalPlan: number;
  };
}

const list = (r: Record<string, number>, unit = '') =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${v}${unit}`)
    .join(', ');

export function printCostTable(r: CostReport): void {
  const p = r.params;
  const ref = r.references;
  const rows: [string, string][] = [
    [
      'run',
      `${p.mode}: ${p.vms} VMs of ${p.guestMemory} at ${p.bandwidthPerMigration}/s, maxInFlight ${p.maxInFlight}, ${p.workers} worker(s) from ${p.worker}, cache cap ${p.cacheCap ?? 'SDK default'}`,
    ],
    ['machine', `${r.machine.cpus} CPUs, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; CPU stolen by the hypervisor during the plan ${r.machine.stealPercent}%`],
    ['plan wall time', `${r.wallSeconds} s (${r.succeeded} succeeded, ${r.failed} not), ${r.vmsPerMinute} VMs/min`],
    [
      '  Forklift floor / physical limit',
      `${ref.forkliftPlanSeconds} s / ${ref.physicalPlanSeconds} s: Forklift ${ref.forkliftOverFerryPlan}x ferry, ferry ${ref.ferryOverPhysicalPlan}x physical`,
    ],
    ['per-VM wall time (median / p95)', `${r.perVm.wallSecondsMedian} / ${r.perVm.wallSecondsP95} s`],
    [
      '  Forklift floor / physical limit',
      `${ref.forkliftSecondsPerVm} s / ${ref.physicalSecondsPerVm} s: Forklift ${ref.forkliftOverFerryPerVm}x ferry, ferry ${ref.ferryOverPhysicalPerVm}x physical`,
    ],
    ['per-VM overhead (median / p95)', `${r.perVm.overheadSecondsMedian} / ${r.perVm.overheadSecondsP95} s over ${r.perVm.transferSeconds} s of transfer`],
    ['CPU seconds per VM', list(r.cpuSecondsPerVm)],
    ['peak RSS', list(r.peakRssMiB, ' MiB')],
    ['Temporal actions per VM', `${r.temporal.actionsPerVm}: ${list(Object.fromEntries(Object.entries(r.temporal.actionsByType).slice(0, 8)))}`],
    ['history per VM workflow', `${r.temporal.vmHistoryEventsMedian} events (max ${r.temporal.vmHistoryEventsMax}), ${r.temporal.vmHistoryBytesMedian} bytes`],
    ['history of the plan', `${r.temporal.planHistoryEvents} events, ${r.temporal.planHistoryBytes} bytes in ${r.temporal.planRuns} run(s)`],
    ...Object.entries(r.kubernetes).flatMap(([cluster, k]): [string, string][] => [
      [`Kubernetes requests per VM, ${cluster}`, `${k.requestsPerVm}: ${list(k.byVerbPerVm)}`],
      [`peak open watches, ${cluster}`, `${k.peakOpenWatches} (peak in flight ${r.peakInFlight ?? '?'})`],
    ]),
    ['median seconds per phase', list(r.perVm.phaseSecondsMedian)],
    ...(r.workers.length > 1
      ? r.workers.map((w): [string, string] => [`  ${w.name}`, `${w.cpuSeconds} CPU-s, ${Math.round(w.shareOfTasks * 100)}% of tasks (sampled histories)`])
      : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'));
}
