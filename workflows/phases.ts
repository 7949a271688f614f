/**
 * The phases of one VM migration, in order, with everything the rest of ferry needs to know about
 * each: the single list that drives the workflow, the `status` query, the Web UI's current details,
 * `ferry watch` and the plan's view. The steps between validation and finalization are the seed's
 * (1. synchronize certificates … 5. synchronize VM state); the rest are the states ferry adds around
 * them. Maps keyed by phase are `Record<Phase, …>`, so a new phase fails to compile until every view
 * knows it.
 */

/** How a migration ends, as its status, result and exit code say it. */
export type Outcome = 'Succeeded' | 'RolledBack' | 'Failed';

/** Colours the CLI uses (ANSI) and the Web UI stands in for with its marks. */
export type PhaseColor = 'cyan' | 'red' | 'yellow' | 'green';

/**
 * Every deadline a migration waits under, once: the step it belongs to, the option that sets its
 * budget (completion's budget also scales with the VM's size) and the headline of its stall.
 */
export const DEADLINES = {
  receiverReady: { phase: 'CreatingTarget', option: 'receiverReadyTimeout', headline: 'the receiver VM did not become ready in time' },
  syncAddress: { phase: 'CreatingMigrations', option: 'syncAddressTimeout', headline: 'no synchronization address was published in time' },
  handshake: { phase: 'Synchronizing', option: 'handshakeTimeout', headline: 'the handshake deadline passed' },
  completion: { phase: 'Synchronizing', option: 'minCompletionTimeout', headline: 'the transfer did not complete in time' },
} as const;

export type DeadlineName = keyof typeof DEADLINES;

interface PhaseAttributes {
  readonly phase: string;
  readonly title: string;
  /** What ferry (or KubeVirt) is doing meanwhile, for the step list. */
  readonly doing: string;
  /** A step of the migration, the stall (waiting for an operator), the way back, or an end. */
  readonly kind: 'step' | 'decision' | 'rollback' | 'end';
  readonly outcome?: Outcome;
  /** The Web UI's headline mark and the CLI's colour. */
  readonly mark: string;
  readonly color: PhaseColor;
  /** Once the source may have handed over, nothing may roll back: the VM may live only on the destination. */
  readonly afterCutover: boolean;
  /**
   * Whether a plan's child reports entering it to its plan: the phases that can last (the receiver
   * VM's start, the transfer, a stall, a rollback) and every end (a plan that continued as new learns
   * of an end only this way). Quick ones would cost a signal, an action and a workflow task on both
   * sides each, to show for a second. The child's own status query stays exact.
   */
  readonly reportsToPlan: boolean;
}

export const PHASES = [
  {
    phase: 'Validating',
    title: 'Validate',
    doing: 'checking the input and running preflight checks on both clusters',
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: false,
    reportsToPlan: false,
  },
  {
    phase: 'SyncingCertificates',
    title: 'Synchronize certificates',
    doing: "making each cluster's KubeVirt trust the other's CA",
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: false,
    reportsToPlan: false,
  },
  {
    phase: 'CreatingPrerequisites',
    title: 'Create prerequisites',
    doing: 'copying instancetypes, preferences, ConfigMaps and Secrets; creating blank disks',
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: false,
    reportsToPlan: false,
  },
  {
    phase: 'CreatingTarget',
    title: 'Create target VM',
    doing: 'creating the receiver VM (runStrategy WaitAsReceiver) and waiting for its VMI',
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: false,
    reportsToPlan: true,
  },
  {
    phase: 'CreatingMigrations',
    title: 'Create migrations',
    doing: 'creating the target VMIM, reading its sync address, creating the source VMIM',
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: false,
    reportsToPlan: false,
  },
  {
    phase: 'Synchronizing',
    title: 'Synchronize VM state',
    doing: 'KubeVirt is moving memory and disks to the destination',
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: false,
    reportsToPlan: true,
  },
  {
    phase: 'Finalizing',
    title: 'Finalize',
    doing: 'verifying the target runs, the source is halted, and removing the VMIMs',
    kind: 'step',
    mark: '▶️',
    color: 'cyan',
    afterCutover: true,
    reportsToPlan: false,
  },
  {
    phase: 'Stalled',
    title: 'Stalled',
    doing: 'a deadline passed: waiting for an operator to retry, extend or cancel',
    kind: 'decision',
    mark: '⛔',
    color: 'red',
    afterCutover: false,
    reportsToPlan: true,
  },
  {
    phase: 'RollingBack',
    title: 'Roll back',
    doing: 'removing what this attempt created; the source VM keeps running',
    kind: 'rollback',
    mark: '↩️',
    color: 'yellow',
    afterCutover: false,
    reportsToPlan: true,
  },
  {
    phase: 'Succeeded',
    title: 'Succeeded',
    doing: 'the VM runs on the destination',
    kind: 'end',
    outcome: 'Succeeded',
    mark: '✅',
    color: 'green',
    afterCutover: true,
    reportsToPlan: true,
  },
  {
    phase: 'RolledBack',
    title: 'Rolled back',
    doing: 'the VM runs on the source; nothing of the migration is left',
    kind: 'end',
    outcome: 'RolledBack',
    mark: '↩️',
    color: 'yellow',
    afterCutover: false,
    reportsToPlan: true,
  },
  {
    phase: 'Failed',
    title: 'Failed',
    doing: 'the migration stopped; its error says where the VM is',
    kind: 'end',
    outcome: 'Failed',
    mark: '❌',
    color: 'red',
    afterCutover: false,
    reportsToPlan: true,
  },
] as const satisfies readonly PhaseAttributes[];

export type Phase = (typeof PHASES)[number]['phase'];
type PhaseOfKind<K extends PhaseAttributes['kind']> = Extract<(typeof PHASES)[number], { kind: K }>['phase'];
export type StepPhase = PhaseOfKind<'step'>;
export type TerminalPhase = PhaseOfKind<'end'>;

export const ALL_PHASES: readonly Phase[] = PHASES.map((p) => p.phase);
export const PHASE = Object.fromEntries(PHASES.map((p) => [p.phase, p])) as Record<Phase, PhaseAttributes>;

export const STEPS = PHASES.filter((p): p is Extract<(typeof PHASES)[number], { kind: 'step' }> => p.kind === 'step');
export const TERMINAL_PHASES = PHASES.filter((p) => p.kind === 'end').map((p) => p.phase as TerminalPhase);

export function stepIndex(phase: Phase): number {
  return STEPS.findIndex((s) => s.phase === phase);
}

export function isTerminal(phase: Phase): phase is TerminalPhase {
  return PHASE[phase].kind === 'end';
}

export function isAfterCutover(phase: Phase): boolean {
  return PHASE[phase].afterCutover;
}
