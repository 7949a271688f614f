/**
 * The chaos schedule: everything the randomized run will do, decided up front from one seed, so a
 * failing seed replays the same faults, kills and operator actions (the machine's timing still varies;
 * the decisions do not). Pure: no I/O, no clock, only the seeded generator below.
 */
import type { FaultInput } from '../../../simulator/apiserver/faults.js';
import { type KillMoment, MIGRATION_STEPS as STEPS } from '../support/kill-points.js';

/** mulberry32, the simulator's own fault dice (simulator/apiserver/faults.ts): small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Side = 'source' | 'destination';

/** A fault at a moment of a batch, measured from the batch's start. */
export type TimedFault =
  | { kind: 'partition'; atMs: number; forMs: number }
  | { kind: 'sync-controller-stop'; side: Side; atMs: number; forMs: number }
  | { kind: 'drop-watches'; side: Side; atMs: number }
  | { kind: 'worker-kill'; atMs: number };

/** What the operator does to one migration. */
export type OperatorAction = { kind: 'none' } | { kind: 'cancel'; afterMs: number } | { kind: 'extend'; afterMs: number };

export interface ChaosMigration {
  vm: string;
  namespace: string;
  /** What the operator does besides answering stalls; `cancel` decides the outcome: RolledBack. */
  action: OperatorAction;
  /** How the operator answers a stall of this migration (a cancel run's answer is its cancel). */
  onStall: 'retry' | 'extend';
  /** A short handshake deadline, so a partition or a worker's death can stall it (and the operator answers). */
  impatient: boolean;
  /** Where the worker SIGKILLs itself during this migration, if anywhere. */
  killAt?: { step: string; at: KillMoment };
  expected: 'Succeeded' | 'RolledBack';
}

export interface ChaosPlan {
  name: string;
  namespace: string;
  vms: string[];
  maxInFlight: number;
}

export interface ChaosBatch {
  index: number;
  migrations: ChaosMigration[];
  plans: ChaosPlan[];
  faults: Record<Side, FaultInput>;
  events: TimedFault[];
}

export interface ChaosSchedule {
  seed: number;
  batches: ChaosBatch[];
}

/** Namespaces of the schedule's VMs: small guests, and large ones whose transfer lasts long enough to cancel. */
export const SMALL_NS = 'chaos';
export const LARGE_NS = 'chaos-large';
/** A 128 GiB guest at the simulator's 10 GiB/s: over 12 s of transfer, so a cancel early in the run lands before cutover. */
export const LARGE_MEMORY = '128Gi';

export interface ScheduleOptions {
  seed: number;
  migrations: number;
  plans: number;
  vmsPerPlan: number;
  batchSize: number;
}

export function chaosSchedule(o: ScheduleOptions): ChaosSchedule {
  const random = seededRandom(o.seed);
  const chance = (p: number) => random() < p;
  const between = (min: number, max: number) => Math.round(min + random() * (max - min));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const side = (): Side => pick(['source', 'destination'] as const);

  const batchCount = Math.max(1, Math.ceil(o.migrations / o.batchSize));
  const batches: ChaosBatch[] = [];
  let small = 0;
  let large = 0;
  let planCount = 0;
  for (let b = 0; b < batchCount; b++) {
    const size = Math.min(o.batchSize, o.migrations - b * o.batchSize);
    const migrations: ChaosMigration[] = [];
    for (let i = 0; i < size; i++) {
      const roll = random();
      // About one in seven is cancelled, one in five gets a deadline extended at a random moment.
      const action: OperatorAction = roll < 0.15 ? { kind: 'cancel', afterMs: between(0, 3000) } : roll < 0.35 ? { kind: 'extend', afterMs: between(300, 6000) } : { kind: 'none' };
      const cancelled = action.kind === 'cancel';
      migrations.push({
        vm: cancelled ? `large-${String(++large).padStart(4, '0')}` : `vm-${String(++small).padStart(4, '0')}`,
        namespace: cancelled ? LARGE_NS : SMALL_NS,
        action,
        onStall: chance(0.75) ? 'retry' : 'extend',
        impatient: chance(0.35),
        ...(chance(0.25) ? { killAt: { step: pick(STEPS), at: pick(['start', 'end', 'heartbeat'] as const) } } : {}),
        expected: cancelled ? 'RolledBack' : 'Succeeded',
      });
    }
    // Kill points inside a wait exist only for waits; elsewhere the point moves to the step's end.
    for (const m of migrations) if (m.killAt?.at === 'heartbeat' && !m.killAt.step.startsWith('waitFor:')) m.killAt = { ...m.killAt, at: 'end' };

    const plans: ChaosPlan[] = [];
    // Plans spread over the batches: plan p runs in batch ⌊(p + ½)·batches / plans⌋.
    for (let p = 0; p < o.plans; p++) {
      if (Math.floor(((p + 0.5) * batchCount) / o.plans) !== b) continue;
      const n = ++planCount;
      plans.push({
        name: `chaos-plan-${n}`,
        namespace: `chaos-plan-${n}`,
        vms: Array.from({ length: o.vmsPerPlan }, (_, i) => `vm-${String(i + 1).padStart(4, '0')}`),
        maxInFlight: between(1, o.vmsPerPlan),
      });
    }

    const apiFaults = (): FaultInput => {
      const errors: NonNullable<FaultInput['errors']> = [];
      if (chance(0.8)) errors.push({ rate: between(2, 12) / 100, code: pick([500, 503] as const) });
      if (chance(0.6)) errors.push({ rate: between(1, 6) / 100, code: 429, retryAfterSeconds: between(1, 2) });
      const latencyMin = chance(0.7) ? between(0, 20) : 0;
      return {
        errors,
        latencyMs: { min: latencyMin, max: latencyMin + (chance(0.7) ? between(10, 120) : 0) },
        watchDropRatePerSecond: chance(0.6) ? between(2, 20) / 100 : 0,
        seed: between(1, 2 ** 31 - 1),
      };
    };
    const faults = { source: apiFaults(), destination: apiFaults() };

    const events: TimedFault[] = [];
    // The first batch and most others get one long cut early, while runs shake hands: it outlasts an impatient handshake
    // deadline (5 s), so those stall and the operator's answers are exercised; the others are brief.
    if (b === 0 || chance(0.6)) events.push({ kind: 'partition', atMs: between(1000, 5000), forMs: between(12_000, 16_000) });
    const partitions = between(0, 2);
    for (let i = 0; i < partitions; i++) events.push({ kind: 'partition', atMs: between(500, 15_000), forMs: between(500, 3000) });
    const stops = between(0, 2);
    for (let i = 0; i < stops; i++) events.push({ kind: 'sync-controller-stop', side: side(), atMs: between(500, 12_000), forMs: between(500, 3000) });
    const drops = between(0, 3);
    for (let i = 0; i < drops; i++) events.push({ kind: 'drop-watches', side: side(), atMs: between(200, 12_000) });
    const kills = between(0, 2);
    for (let i = 0; i < kills; i++) events.push({ kind: 'worker-kill', atMs: between(1000, 15_000) });
    events.sort((x, y) => x.atMs - y.atMs);
    batches.push({ index: b, migrations, plans, faults, events });
  }
  return { seed: o.seed, batches };
}

/** One line per batch: what it runs and what hits it, so a printed seed comes with its story. */
export function describeSchedule(s: ChaosSchedule): string[] {
  return s.batches.map((b) => {
    const count = (pred: (m: ChaosMigration) => boolean) => b.migrations.filter(pred).length;
    const rules = (side: Side) =>
      (b.faults[side].errors ?? []).map((e) => `${e.code}@${e.rate}`).join('+') +
      ` lat ${b.faults[side].latencyMs?.min ?? 0}-${b.faults[side].latencyMs?.max ?? 0}ms drop ${b.faults[side].watchDropRatePerSecond ?? 0}/s`;
    const events = b.events.map((e) => `${e.kind}${'side' in e ? `(${e.side})` : ''}@${(e.atMs / 1000).toFixed(1)}s${'forMs' in e ? `/${(e.forMs / 1000).toFixed(1)}s` : ''}`);
    return (
      `batch ${b.index + 1}: ${b.migrations.length} migrations (${count((m) => m.action.kind === 'cancel')} cancel, ${count((m) => m.action.kind === 'extend')} extend, ` +
      `${count((m) => m.impatient)} impatient, ${count((m) => m.killAt !== undefined)} kill points)` +
      `${b.plans.length ? `, plans ${b.plans.map((p) => `${p.name}×${p.vms.length}`).join(' ')}` : ''}; source [${rules('source')}], destination [${rules('destination')}]; ` +
      `events ${events.join(' ') || 'none'}`
    );
  });
}
