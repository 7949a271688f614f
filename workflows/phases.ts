/**
 * The phases of one VM migration, in order: the single list that drives the workflow, the `status`
 * query, the Web UI's current details and the CLI. The first seven follow the seed's steps; the rest
 * are the states ferry adds around them.
 */
export const STEPS = [
  { phase: 'Validating', title: 'Validate', doing: 'checking the input and running preflight checks on both clusters' },
  { phase: 'SyncingCertificates', title: 'Synchronize certificates', doing: "making each cluster's KubeVirt trust the other's CA" },
  { phase: 'CreatingPrerequisites', title: 'Create prerequisites', doing: 'copying instancetypes, preferences, ConfigMaps and Secrets; creating blank disks' },
  { phase: 'CreatingTarget', title: 'Create target VM', doing: 'creating the receiver VM (runStrategy WaitAsReceiver) and waiting for its VMI' },
  { phase: 'CreatingMigrations', title: 'Create migrations', doing: 'creating the target VMIM, reading its sync address, creating the source VMIM' },
  { phase: 'Synchronizing', title: 'Synchronize VM state', doing: 'KubeVirt is moving memory and disks to the destination' },
  { phase: 'Finalizing', title: 'Finalize', doing: 'verifying the target runs, the source is halted, and removing the VMIMs' },
] as const;

export type StepPhase = (typeof STEPS)[number]['phase'];

/** Phases outside the step list: an operator decision, the way back, and the ends. */
export const SPECIAL_PHASES = ['Stalled', 'RollingBack'] as const;
export const TERMINAL_PHASES = ['Succeeded', 'RolledBack', 'Failed'] as const;

export type SpecialPhase = (typeof SPECIAL_PHASES)[number];
export type TerminalPhase = (typeof TERMINAL_PHASES)[number];
export type Phase = StepPhase | SpecialPhase | TerminalPhase;

export const ALL_PHASES: readonly Phase[] = [...STEPS.map((s) => s.phase), ...SPECIAL_PHASES, ...TERMINAL_PHASES];

export function stepIndex(phase: Phase): number {
  return STEPS.findIndex((s) => s.phase === phase);
}

export function stepOf(phase: Phase) {
  return STEPS.find((s) => s.phase === phase);
}

export function isTerminal(phase: Phase): phase is TerminalPhase {
  return (TERMINAL_PHASES as readonly string[]).includes(phase);
}

/** Once the source VM may have been halted, going back is no longer a rollback. */
export function isAfterCutover(phase: Phase): boolean {
  return phase === 'Finalizing' || phase === 'Succeeded';
}
