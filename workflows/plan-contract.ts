/**
 * The public contract of the plan workflow: many VMs from one source cluster to one destination
 * cluster, with bounded concurrency. Both plan file formats (ferry's own and Forklift's `Plan`) are
 * mapped onto this one input by client/plan/, and the workflow validates it again (a start from the
 * Temporal CLI is checked like one from ferry's CLI).
 */
import { z } from 'zod';
import {
  atMost,
  clusterName,
  describeInputIssues,
  destinationSchema,
  label,
  migrationInputSchema,
  networkMapSchema,
  optionOverridesSchema,
  storageClassMapSchema,
  type Migration,
  type MigrationInput,
  type PreflightIssue,
} from './contract.js';
import { type Phase, TERMINAL_PHASES } from './phases.js';

export const DEFAULT_MAX_IN_FLIGHT = 20;
export const DEFAULT_HISTORY_EVENT_LIMIT = 10_000;
export const blockedPolicies = ['abort', 'skip'] as const;
export type BlockedPolicy = (typeof blockedPolicies)[number];

const PLAN_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const PLAN_NAME_MAX = 100;

/** Per-VM and plan-wide options: the migration options, every one optional (defaults apply in the child). */
const partialOptions = optionOverridesSchema;

export const planVmSchema = z
  .object({
    namespace: z.string({ error: 'vms[].namespace is required' }).min(1, 'vms[].namespace is required'),
    name: z.string({ error: 'vms[].name is required' }).min(1, 'vms[].name is required'),
    /** Overrides the plan's destination namespace for this VM. */
    targetNamespace: label('vms[].targetNamespace').optional(),
    /** Overrides the plan's options for this VM. */
    options: partialOptions.optional(),
  })
  .strict();

/** The plan's fields; `planInputSchema` adds the checks that read every VM (duplicates, each child's input). */
export const planShapeSchema = z
  .object({
    name: z
      .string({ error: 'name is required: a plan name (lower-case letters, digits, "-" and ".")' })
      .min(1, 'name is required')
      .max(PLAN_NAME_MAX, atMost('name', PLAN_NAME_MAX, 'a plan name'))
      .refine((v) => v === '' || PLAN_NAME.test(v), 'name must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit'),
    source: z.object({ cluster: clusterName('source.cluster') }, { error: 'source is required: {cluster}' }).strict(),
    /** The default target namespace; each VM defaults to its own namespace otherwise. */
    destination: destinationSchema,
    storageClassMap: storageClassMapSchema,
    networkMap: networkMapSchema,
    vms: z.array(planVmSchema, { error: 'vms is required: a list of {namespace, name}' }).min(1, 'vms must list at least one VM'),
    /** At most this many VM migrations run at once (Forklift's default is 20). */
    maxInFlight: z
      .number({ error: 'maxInFlight must be a number' })
      .int('maxInFlight must be a whole number')
      .min(1, 'maxInFlight must be at least 1')
      .max(500, 'maxInFlight must be at most 500')
      .default(DEFAULT_MAX_IN_FLIGHT),
    /** What a preflight blocker on one VM does: abort the whole plan (nothing written) or skip that VM. */
    onBlocked: z.enum(blockedPolicies, { error: `onBlocked must be one of ${blockedPolicies.join(', ')}` }).default('abort'),
    /** Options for every VM (each VM's own options win). */
    options: partialOptions.default({}),
    /**
     * The plan continues as new once its history passes this many events, so a plan of thousands of
     * VMs keeps a bounded history (Temporal's hard limit is 51,200 events).
     */
    historyEventLimit: z
      .number({ error: 'historyEventLimit must be a number' })
      .int('historyEventLimit must be a whole number')
      .min(200, 'historyEventLimit must be at least 200')
      .max(40_000, 'historyEventLimit must be at most 40000')
      .default(DEFAULT_HISTORY_EVENT_LIMIT),
  })
  .strict();

export const planInputSchema = planShapeSchema.superRefine((p, ctx) => {
  const seen = new Set<string>();
  p.vms.forEach((vm, i) => {
    const key = `${vm.namespace}/${vm.name}`;
    // A name far over its limit is named by its start: the line that reports it gives its length.
    const shown = key.length > 80 ? `${key.slice(0, 60)}…` : key;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['vms', i], message: `vms[${i}]: ${key} is listed twice: remove the duplicate` });
    seen.add(key);
    // Each VM must also make a valid migration input: report its problems against the plan's field.
    const checked = migrationInputSchema.safeParse(vmMigrationInput(p as PlanInputShape, vm));
    // Fields the plan itself validates (clusters, namespaces, options) are reported once, there.
    const own = (line: string) => !/^(source\.cluster|destination\.cluster|destination\.namespace|options\.)/.test(line);
    if (!checked.success)
      for (const line of describeInputIssues(checked.error).filter(own)) ctx.addIssue({ code: 'custom', path: ['vms', i], message: `vms[${i}] (${shown}): ${line}` });
  });
});

export type PlanInput = z.input<typeof planInputSchema>;
export type Plan = z.output<typeof planInputSchema>;
export type PlanVm = z.output<typeof planVmSchema>;
export type PlanInputShape = Pick<Plan, 'name' | 'source' | 'destination' | 'storageClassMap' | 'networkMap' | 'options'>;

export function planWorkflowId(name: string): string {
  return `plan/${name}`;
}

/** The child migration's input for one VM of a plan. */
export function vmMigrationInput(p: PlanInputShape, vm: PlanVm): MigrationInput {
  const namespace = vm.targetNamespace ?? p.destination.namespace;
  return {
    source: { cluster: p.source.cluster, namespace: vm.namespace, name: vm.name },
    destination: { cluster: p.destination.cluster, ...(namespace ? { namespace } : {}) },
    storageClassMap: p.storageClassMap,
    networkMap: p.networkMap,
    options: { ...p.options, ...(vm.options ?? {}) },
    plan: p.name,
  } as MigrationInput;
}

/** Where one VM of a plan stands, as the plan knows it. */
export type PlanVmState = 'Pending' | 'Skipped' | Phase;

/** A VM of a plan is done, whatever the outcome, when its migration ended or it was skipped. */
const VM_DONE: readonly PlanVmState[] = [...TERMINAL_PHASES, 'Skipped'];
export const isVmDone = (state: PlanVmState): boolean => VM_DONE.includes(state);

export interface PlanVmStatus {
  vm: string;
  workflowId: string;
  state: PlanVmState;
  /** Set while the child is Stalled. */
  diagnosis?: string;
  error?: string;
  blockers?: PreflightIssue[];
  attempt?: number;
  since?: string;
}

/**
 * A plan names at most this many VMs of each unsuccessful end (failed, rolled back, skipped) in its
 * status and result; the counts stay exact, and the children list the rest (`planChildrenQuery`).
 */
export const NOTABLE_MAX = 100;

/** The VMs that ended without succeeding, each list capped at NOTABLE_MAX, in the order they ended. */
export interface PlanNotable {
  failed: PlanVmStatus[];
  rolledBack: PlanVmStatus[];
  skipped: PlanVmStatus[];
}

/** Every VM migration of a plan, in visibility (each child carries `FerryPlan`): where per-VM detail lives. */
export function planChildrenQuery(name: string): string {
  return `WorkflowType = 'migrateVm' AND FerryPlan = '${name}'`;
}

export const PLAN_END_PHASES = ['Succeeded', 'Completed', 'Failed', 'Cancelled'] as const;
export type PlanPhase = 'Validating' | 'SyncingCertificates' | 'Migrating' | 'Cancelling' | (typeof PLAN_END_PHASES)[number];
export const isPlanEnded = (phase: PlanPhase): boolean => (PLAN_END_PHASES as readonly PlanPhase[]).includes(phase);

export interface PlanStatus {
  workflowId: string;
  name: string;
  phase: PlanPhase;
  source: string;
  destination: string;
  maxInFlight: number;
  total: number;
  /** Counts per VM state (Pending, Skipped, each migration phase). */
  counts: Record<string, number>;
  inFlight: number;
  /** The most VMs ever in flight at once: the bound is observable. */
  peakInFlight: number;
  /** Every VM in flight that is Stalled (at most maxInFlight). */
  stalled: PlanVmStatus[];
  /** Failed and rolled back VMs: the first NOTABLE_MAX of each. */
  failed: PlanVmStatus[];
  /** Skipped VMs: the first NOTABLE_MAX. */
  skipped: PlanVmStatus[];
  /** How many failed or rolled back / skipped VMs the lists above leave out (`childrenQuery` has them all). */
  unlisted: { failed: number; skipped: number };
  /** The VMs currently in flight (not Pending, not ended): at most maxInFlight. */
  active: PlanVmStatus[];
  /** The visibility query listing every VM migration of this plan. */
  childrenQuery: string;
  startedAt: string;
  /** How many times the plan continued as new (bounded history). */
  runs: number;
  error?: string;
}

export interface PlanResult {
  name: string;
  outcome: 'Succeeded' | 'Completed' | 'Cancelled';
  total: number;
  succeeded: number;
  rolledBack: number;
  failed: number;
  skipped: number;
  /** The VMs that did not succeed (each kind capped at NOTABLE_MAX; the counts above are exact). */
  notable: PlanNotable;
  /** The visibility query listing every VM migration of this plan, with its own end. */
  childrenQuery: string;
  durationMs: number;
}

export type { Migration };
