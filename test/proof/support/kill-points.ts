/**
 * Where the proof suite's worker kills itself: at an activity boundary (before its body runs, or after
 * it returned but before the result reached Temporal) or inside a wait (at its first own heartbeat).
 * Deterministic: the Nth execution of that step in a worker's life, optionally only for one workflow.
 */
/** Every step of a plain migration, in order (workflows/migrate-vm.ts), as kill points name them. */
export const MIGRATION_STEPS = [
  'preflight',
  'syncCertificates',
  'createPrerequisites',
  'createTargetVM',
  'waitFor:receiverReady',
  'createTargetMigration',
  'waitFor:syncAddress',
  'createSourceMigration',
  'waitFor:handshake',
  'waitFor:completion',
  'finalize',
];

export type KillMoment = 'start' | 'end' | 'heartbeat';

export interface KillPoint {
  /** The activity type, with the wait's goal for `waitFor` (`waitFor:handshake`). */
  step: string;
  at: KillMoment;
  /** Only this workflow's executions of the step count; default any. */
  workflowId?: string;
  /** Default 1. */
  nth?: number;
  /**
   * Only executions for this attempt of the migration count (the attempt-scoped activities' first
   * argument carries it): a retry's createTargetMigration, not the first attempt's.
   */
  attempt?: number;
}

/** A step's name as a kill point names it. */
export function stepOf(activityType: string, args: readonly unknown[]): string {
  if (activityType !== 'waitFor') return activityType;
  // waitFor(ref, goal): the goal is the second argument itself.
  const goal = args[1];
  return typeof goal === 'string' ? `waitFor:${goal}` : activityType;
}

/** The migration attempt an activity runs for, when its first argument says (attemptRef). */
export function attemptOf(args: readonly unknown[]): number | undefined {
  const attempt = (args[0] as { attempt?: unknown } | undefined)?.attempt;
  return typeof attempt === 'number' ? attempt : undefined;
}

export const describePoint = (p: KillPoint) =>
  `${p.at === 'heartbeat' ? 'inside' : p.at === 'start' ? 'before' : 'after'} ${p.step}${(p.nth ?? 1) > 1 ? ` #${p.nth}` : ''}${p.attempt !== undefined ? ` (attempt ${p.attempt})` : ''}`;
