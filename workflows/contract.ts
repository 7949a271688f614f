/**
 * The public contract of the migration workflow: its input (validated with zod inside the workflow,
 * so a start from the Temporal CLI is checked exactly like one from ferry's CLI), its result, and the
 * shapes the status query, the CLI and the activities exchange. Clusters are names; workers resolve
 * them to credentials, so no credential ever travels through Temporal.
 */
import { z } from 'zod';
import { duration, type DurationRange } from './duration.js';
import { quote } from './quote.js';
import type { Phase, StepPhase } from './phases.js';

export const TASK_QUEUE = 'ferry';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * A length limit with its own message: the field, the limit, what the value is and how long it was.
 * (A check without a message would fall back to the schema's "is required" error.)
 */
export const atMost = (what: string, max: number, kind: string) => ({
  error: (iss: { input?: unknown }) => `${what}: must be at most ${max} characters (${kind}; got ${typeof iss.input === 'string' ? iss.input.length : '?'})`,
});

/** A namespace name: a DNS-1123 label (at most 63 characters). */
export const label = (what: string) =>
  z
    .string({ error: `${what} is required` })
    .min(1, `${what} is required`)
    .max(63, atMost(what, 63, 'a namespace name is a DNS-1123 label'))
    .refine((v) => v === '' || DNS_LABEL.test(v), `${what} must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`);

/** ferry's own bound on a kubeconfig context name (Kubernetes sets none); it is part of the workflow ID. */
export const CLUSTER_NAME_MAX = 253;

export const clusterName = (what: string) =>
  z
    .string({ error: `${what} is required: the name of a cluster (a kubeconfig context) known to the worker` })
    .min(1, `${what} is required: the name of a cluster (a kubeconfig context) known to the worker`)
    .max(CLUSTER_NAME_MAX, atMost(what, CLUSTER_NAME_MAX, 'a cluster is a kubeconfig context name'))
    .refine(
      (v) => v === '' || /^[A-Za-z0-9]([-A-Za-z0-9_.@:/]*[A-Za-z0-9])?$/.test(v),
      `${what} must be a kubeconfig context name (letters, digits, '-', '_', '.', '@', ':', '/')`,
    );

/**
 * A VirtualMachine's name. The API server admits any DNS-1123 subdomain (253), but KubeVirt copies
 * the name into label values of the VMI's pod, which hold at most 63 characters: a longer-named VM
 * cannot run, so it cannot be live-migrated (kubevirt/kubevirt#1222; Forklift limits VM names to 63 too).
 */
export const VM_NAME_MAX = 63;

export const vmName = (what: string) =>
  z
    .string({ error: `${what} (the VM name) is required` })
    .min(1, `${what} (the VM name) is required`)
    .max(VM_NAME_MAX, atMost(what, VM_NAME_MAX, 'a KubeVirt VM name: it becomes a label value'))
    .refine((v) => v === '' || DNS_SUBDOMAIN.test(v), `${what} must be a Kubernetes object name (lower-case letters, digits, - and .)`);

export const stallFallbacks = ['wait', 'cancel', 'retry'] as const;
export type StallFallback = (typeof stallFallbacks)[number];

export const DEFAULT_OPTIONS = {
  receiverReadyTimeout: '5m',
  syncAddressTimeout: '2m',
  handshakeTimeout: '5m',
  completionTimeoutPerGiB: '150s',
  minCompletionTimeout: '10m',
  decisionWindow: '30m',
  stallFallback: 'wait',
  maxAutoRetries: 2,
  pollInterval: '2s',
} as const;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * What each duration option admits. The floors are low enough for the test suites' short stall
 * scenarios (a 1 s decision window, 2 s handshakes, 100 ms polls) and still refuse 0 or a number of
 * milliseconds meant as seconds; the ceilings keep every wait well inside the waiting activities'
 * 30-day start-to-close timeout and refuse values that are plainly typos.
 */
export const OPTION_RANGES = {
  receiverReadyTimeout: { min: SECOND, max: DAY },
  syncAddressTimeout: { min: SECOND, max: DAY },
  handshakeTimeout: { min: SECOND, max: DAY },
  completionTimeoutPerGiB: { min: SECOND, max: 30 * MINUTE },
  minCompletionTimeout: { min: SECOND, max: DAY },
  decisionWindow: { min: SECOND, max: 7 * DAY },
  pollInterval: { min: 100, max: MINUTE },
} as const satisfies Record<string, DurationRange>;

const MAX_AUTO_RETRIES = 10;

/** Each option's validation, without its default: shared by a migration's options and a plan's overrides. */
const optionFields = {
  /** How long the receiver VMI may take to reach WaitingForSync. */
  receiverReadyTimeout: duration('options.receiverReadyTimeout', OPTION_RANGES.receiverReadyTimeout),
  /** How long the target VMIM may take to publish its synchronization address. */
  syncAddressTimeout: duration('options.syncAddressTimeout', OPTION_RANGES.syncAddressTimeout),
  /** How long the source may stay in Synchronizing (the two sync controllers not yet talking). */
  handshakeTimeout: duration('options.handshakeTimeout', OPTION_RANGES.handshakeTimeout),
  /** Completion budget per GiB of memory + disk, as KubeVirt and Nova count it. */
  completionTimeoutPerGiB: duration('options.completionTimeoutPerGiB', OPTION_RANGES.completionTimeoutPerGiB),
  /** Floor of the completion budget, for small VMs. */
  minCompletionTimeout: duration('options.minCompletionTimeout', OPTION_RANGES.minCompletionTimeout),
  /** How long a stalled migration waits for an operator before the fallback applies. */
  decisionWindow: duration('options.decisionWindow', OPTION_RANGES.decisionWindow),
  /** What happens when nobody decides within the window: keep waiting, roll back, or retry. */
  stallFallback: z.enum(stallFallbacks, { error: `options.stallFallback must be one of ${stallFallbacks.join(', ')}` }),
  /** Bound on automatic retries (the `retry` fallback); operator retries are not counted. */
  maxAutoRetries: z
    .number({ error: 'options.maxAutoRetries must be a number' })
    .int('options.maxAutoRetries must be a whole number')
    .min(0, { error: (iss) => `options.maxAutoRetries: must be between 0 and ${MAX_AUTO_RETRIES} (got ${String(iss.input)})` })
    .max(MAX_AUTO_RETRIES, { error: (iss) => `options.maxAutoRetries: must be between 0 and ${MAX_AUTO_RETRIES} (got ${String(iss.input)})` }),
  /** How often waiting activities look at the clusters when no watch event arrives. */
  pollInterval: duration('options.pollInterval', OPTION_RANGES.pollInterval),
};

export const optionsSchema = z
  .object({
    receiverReadyTimeout: optionFields.receiverReadyTimeout.prefault(DEFAULT_OPTIONS.receiverReadyTimeout),
    syncAddressTimeout: optionFields.syncAddressTimeout.prefault(DEFAULT_OPTIONS.syncAddressTimeout),
    handshakeTimeout: optionFields.handshakeTimeout.prefault(DEFAULT_OPTIONS.handshakeTimeout),
    completionTimeoutPerGiB: optionFields.completionTimeoutPerGiB.prefault(DEFAULT_OPTIONS.completionTimeoutPerGiB),
    minCompletionTimeout: optionFields.minCompletionTimeout.prefault(DEFAULT_OPTIONS.minCompletionTimeout),
    decisionWindow: optionFields.decisionWindow.prefault(DEFAULT_OPTIONS.decisionWindow),
    stallFallback: optionFields.stallFallback.default(DEFAULT_OPTIONS.stallFallback),
    maxAutoRetries: optionFields.maxAutoRetries.default(DEFAULT_OPTIONS.maxAutoRetries),
    pollInterval: optionFields.pollInterval.prefault(DEFAULT_OPTIONS.pollInterval),
  })
  .strict();

/**
 * Options that override others (a plan's, a plan VM's): every field optional and absent when not
 * given, so merging them never resets an earlier override to a default.
 */
export const optionOverridesSchema = z
  .object({
    receiverReadyTimeout: optionFields.receiverReadyTimeout.optional(),
    syncAddressTimeout: optionFields.syncAddressTimeout.optional(),
    handshakeTimeout: optionFields.handshakeTimeout.optional(),
    completionTimeoutPerGiB: optionFields.completionTimeoutPerGiB.optional(),
    minCompletionTimeout: optionFields.minCompletionTimeout.optional(),
    decisionWindow: optionFields.decisionWindow.optional(),
    stallFallback: optionFields.stallFallback.optional(),
    maxAutoRetries: optionFields.maxAutoRetries.optional(),
    pollInterval: optionFields.pollInterval.optional(),
  })
  .strict();

/** Where a migration (or a plan) goes; the namespace defaults to the source VM's. */
export const destinationSchema = z
  .object(
    {
      cluster: clusterName('destination.cluster'),
      namespace: label('destination.namespace').optional(),
    },
    { error: 'destination is required: {cluster, namespace?}' },
  )
  .strict();
/**
 * zod leaves a `__proto__` key out of a record without a word (assigning it would replace the
 * prototype), so a map entry JSON can carry would vanish silently: refuse it, naming it.
 */
const refusePrototypeKey =
  (what: string) =>
  (v: unknown, ctx: { addIssue(issue: { code: 'custom'; message: string; path: PropertyKey[] }): void }): unknown => {
    if (typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__'))
      ctx.addIssue({ code: 'custom', path: ['__proto__'], message: `"__proto__" is not ${what}: remove the entry` });
    return v;
  };

/** Source storage class → destination storage class for the blank disks. */
export const storageClassMapSchema = z
  .preprocess(
    refusePrototypeKey('a storage class name'),
    z.record(z.string(), z.string({ error: 'must be a storage class name' }).min(1, 'must not be empty: name the destination storage class'), {
      error: 'storageClassMap must be an object: {"source-class": "destination-class"}',
    }),
  )
  .default({});
/** Source Multus network `ns/name` → destination `ns/name`. */
export const networkMapSchema = z
  .preprocess(
    refusePrototypeKey('a network "namespace/name"'),
    z.record(z.string(), z.string({ error: 'must be a network: "namespace/name"' }).min(1, 'must not be empty: name the destination network as "namespace/name"'), {
      error: 'networkMap must be an object: {"ns/source-net": "ns/destination-net"}',
    }),
  )
  .default({});

/** The plan a child migration belongs to (its name, bounded by the plan schema's 100). */
const PLAN_REF_MAX = 200;

export const migrationInputSchema = z
  .object({
    source: z
      .object(
        {
          cluster: clusterName('source.cluster'),
          namespace: label('source.namespace'),
          name: vmName('source.name'),
        },
        { error: 'source is required: {cluster, namespace, name}' },
      )
      .strict(),
    destination: destinationSchema,
    storageClassMap: storageClassMapSchema,
    networkMap: networkMapSchema,
    options: optionsSchema.prefault({}),
    /** Set by a plan: links the child to its plan (search attribute FerryPlan). */
    plan: z
      .string({ error: 'plan must be a plan name' })
      .max(PLAN_REF_MAX, atMost('plan', PLAN_REF_MAX, 'a plan name'))
      .optional(),
  })
  .strict()
  .transform((i) => ({ ...i, destination: { ...i.destination, namespace: i.destination.namespace ?? i.source.namespace } }))
  .superRefine((i, ctx) => {
    if (i.source.cluster === i.destination.cluster && i.source.namespace === i.destination.namespace) {
      ctx.addIssue({
        code: 'custom',
        path: ['destination'],
        message: 'destination is the same cluster and namespace as the source: choose another destination.namespace or destination.cluster',
      });
    }
  });

export type MigrationInput = z.input<typeof migrationInputSchema>;
export type Migration = z.output<typeof migrationInputSchema>;
export type MigrationOptions = Migration['options'];

/** A path as a person writes it: `vms[1].options.pollInterval`, or with `[]` for "any element". */
const renderPath = (path: readonly PropertyKey[], anyIndex = false) =>
  path.map((p, i) => (typeof p === 'number' ? (anyIndex ? '[]' : `[${p}]`) : `${i ? '.' : ''}${String(p)}`)).join('');

/**
 * One line per problem, each naming the field: what a person needs to fix the input. Messages that
 * already start with the field's name (their own, as `options.pollInterval` or `vms[].name`, or a
 * tail of the path) get the full path once instead of twice.
 */
export function describeInputIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const where = i.path.length ? renderPath(i.path) : 'input';
    if (i.code === 'unrecognized_keys') {
      return `${where}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map(quote).join(', ')}: remove or fix the spelling`;
    }
    if (!i.path.length && i.code === 'invalid_type') return 'input must be a JSON object: {"source": {...}, "destination": {...}, "options": {...}}';
    if (i.message.startsWith(where)) return i.message;
    for (let k = 0; k < i.path.length; k++) {
      const tail = i.path.slice(k);
      const own = [tail.join('.'), renderPath(tail), renderPath(tail, true)].find((f) => i.message.startsWith(f) && /^($|[\s:(])/.test(i.message.slice(f.length)));
      if (own) return `${where}${i.message.slice(own.length)}`;
    }
    return `${where}: ${i.message}`;
  });
}

export function migrationWorkflowId(m: { source: { cluster: string; namespace: string; name: string } }): string {
  return `migration/${m.source.cluster}/${m.source.namespace}/${m.source.name}`;
}

/** An object ferry created, so rollback and retry delete exactly what this migration made. */
export interface CreatedObject {
  cluster: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface PreflightIssue {
  /** Machine-readable: GateDisabled, VMNotRunning, NameCollision, MacConflict, ... */
  code: string;
  message: string;
}

export interface PreflightReport {
  blockers: PreflightIssue[];
  warnings: PreflightIssue[];
  /** What the migration will carry: used for the completion budget and shown to operators. */
  memoryBytes: number;
  diskBytes: number;
  /** The run strategy to restore on the target (from spec.runStrategy or the deprecated spec.running). */
  runStrategy: string;
  /** The destination sync address KubeVirt advertises, when it does. */
  destinationSyncAddress?: string;
}

/** What a watching activity saw on the clusters: reported to the workflow as it changes. */
export interface Observation {
  sourceVMIM?: string;
  targetVMIM?: string;
  sourceVMI?: string;
  targetVMI?: string;
  syncAddress?: string;
  /** decentralizedMigrationBlocked message, without the target's benign waiting text. */
  blocked?: string;
  blockedSide?: 'source' | 'target';
  /**
   * Transfer progress from the source virt-handler's metrics (`kubevirt_vmi_migration_*`), read through
   * the source cluster's query endpoint. `processedBytes` counts every byte sent, pages the guest
   * dirtied again included, so it passes `totalBytes` while pre-copy iterates; the rates are bytes per
   * second (memory transfer, and the guest's memory dirty rate), when reported.
   */
  progress?: { totalBytes: number; processedBytes: number; remainingBytes: number; transferRate?: number; dirtyRate?: number };
  /** Why there is no byte progress: no metrics endpoint for the source cluster, or it failed. */
  progressUnavailable?: string;
  failureReason?: string;
  /**
   * API servers the waiting activity gets no answer from (refused, reset, timed out): what it shows of
   * that cluster is what it saw last. The server URL as the kubeconfig names it, never a credential.
   */
  unreachable?: ApiUnreachable[];
  at: string;
}

export interface ApiUnreachable {
  /** Which side of the migration, and the cluster (kubeconfig context) it is. */
  side: 'source' | 'destination';
  cluster: string;
  server: string;
  /** What the network said, e.g. `connect ECONNREFUSED 10.0.0.1:6443`. */
  error: string;
  since: string;
}

export interface StallInfo {
  phase: StepPhase;
  since: string;
  /** Which deadline passed. */
  deadline: 'receiverReady' | 'syncAddress' | 'handshake' | 'completion';
  diagnosis: string;
  observed: Observation;
}

export interface MigrationStatus {
  workflowId: string;
  vm: string;
  source: Migration['source'];
  destination: Migration['destination'];
  phase: Phase;
  attempt: number;
  migrationId?: string;
  phaseSince: string;
  deadline?: string;
  observed?: Observation;
  stall?: StallInfo;
  created: CreatedObject[];
  history: { phase: Phase; at: string; note?: string }[];
  warnings: PreflightIssue[];
  error?: string;
}

export interface MigrationResult {
  outcome: 'Succeeded' | 'RolledBack';
  attempts: number;
  migrationId: string;
  /** Why it rolled back (operator cancel, fallback, failure), when it did. */
  reason?: string;
  created: CreatedObject[];
  durationMs: number;
}

/** Failure types, mapped once (activities/kube/errors.ts) and matched by the workflow. */
export const FailureTypes = {
  InvalidInput: 'InvalidInput',
  PreflightBlocked: 'PreflightBlocked',
  NotOurs: 'NotOurs',
  /** The API server did not accept the worker's credentials (HTTP 401). */
  Unauthorized: 'Unauthorized',
  /** The worker's identity lacks a permission (HTTP 403, RBAC). */
  Forbidden: 'Forbidden',
  ApiError: 'KubernetesApiError',
  MigrationFailed: 'MigrationFailed',
  Stalled: 'Stalled',
  /** A rollback or retry found KubeVirt had already handed the guest to the destination. */
  AlreadyMigrated: 'AlreadyMigrated',
} as const;
