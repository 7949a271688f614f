/**
 * The public contract of the migration workflow: its input (validated with zod inside the workflow,
 * so a start from the Temporal CLI is checked exactly like one from ferry's CLI), its result, and the
 * shapes the status query, the CLI and the activities exchange. Clusters are names; workers resolve
 * them to credentials, so no credential ever travels through Temporal.
 */
import { z } from 'zod';
import { duration } from './duration.js';
import type { Phase, StepPhase } from './phases.js';

export const TASK_QUEUE = 'ferry';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export const label = (what: string) =>
  z
    .string({ error: `${what} is required` })
    .min(1, `${what} is required`)
    .max(63, `${what} must be at most 63 characters`)
    .refine((v) => v === '' || DNS_LABEL.test(v), `${what} must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`);

export const clusterName = (what: string) =>
  z
    .string({ error: `${what} is required: the name of a cluster (a kubeconfig context) known to the worker` })
    .min(1, `${what} is required: the name of a cluster (a kubeconfig context) known to the worker`)
    .max(253)
    .refine((v) => v === '' || /^[A-Za-z0-9]([-A-Za-z0-9_.@:/]*[A-Za-z0-9])?$/.test(v), `${what} must be a kubeconfig context name (letters, digits, '-', '_', '.', '@', ':', '/')`);

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

/** Each option's validation, without its default: shared by a migration's options and a plan's overrides. */
const optionFields = {
  /** How long the receiver VMI may take to reach WaitingForSync. */
  receiverReadyTimeout: duration('options.receiverReadyTimeout'),
  /** How long the target VMIM may take to publish its synchronization address. */
  syncAddressTimeout: duration('options.syncAddressTimeout'),
  /** How long the source may stay in Synchronizing (the two sync controllers not yet talking). */
  handshakeTimeout: duration('options.handshakeTimeout'),
  /** Completion budget per GiB of memory + disk, as KubeVirt and Nova count it. */
  completionTimeoutPerGiB: duration('options.completionTimeoutPerGiB'),
  /** Floor of the completion budget, for small VMs. */
  minCompletionTimeout: duration('options.minCompletionTimeout'),
  /** How long a stalled migration waits for an operator before the fallback applies. */
  decisionWindow: duration('options.decisionWindow'),
  /** What happens when nobody decides within the window: keep waiting, roll back, or retry. */
  stallFallback: z.enum(stallFallbacks, { error: `options.stallFallback must be one of ${stallFallbacks.join(', ')}` }),
  /** Bound on automatic retries (the `retry` fallback); operator retries are not counted. */
  maxAutoRetries: z
    .number({ error: 'options.maxAutoRetries must be a number' })
    .int('options.maxAutoRetries must be a whole number')
    .min(0)
    .max(10, 'options.maxAutoRetries must be at most 10'),
  /** How often waiting activities look at the clusters when no watch event arrives. */
  pollInterval: duration('options.pollInterval'),
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
  .object({
    cluster: clusterName('destination.cluster'),
    namespace: label('destination.namespace').optional(),
  }, { error: 'destination is required: {cluster, namespace?}' })
  .strict();
/** Source storage class → destination storage class for the blank disks. */
export const storageClassMapSchema = z.record(z.string(), z.string().min(1)).default({});
/** Source Multus network `ns/name` → destination `ns/name`. */
export const networkMapSchema = z.record(z.string(), z.string().min(1)).default({});

export const migrationInputSchema = z
  .object({
    source: z
      .object({
        cluster: clusterName('source.cluster'),
        namespace: label('source.namespace'),
        name: z
          .string({ error: 'source.name (the VM name) is required' })
          .min(1, 'source.name (the VM name) is required')
          .max(253)
          .refine((v) => v === '' || DNS_SUBDOMAIN.test(v), 'source.name must be a Kubernetes object name (lower-case letters, digits, - and .)'),
      }, { error: 'source is required: {cluster, namespace, name}' })
      .strict(),
    destination: destinationSchema,
    storageClassMap: storageClassMapSchema,
    networkMap: networkMapSchema,
    options: optionsSchema.prefault({}),
    /** Set by a plan: links the child to its plan (search attribute FerryPlan). */
    plan: z.string().max(200).optional(),
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

/** One line per problem, each naming the field: what a person needs to fix the input. */
export function describeInputIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : 'input';
    if (i.code === 'unrecognized_keys') {
      return `${where}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}: remove or fix the spelling`;
    }
    if (!i.path.length && i.code === 'invalid_type') return 'input must be a JSON object: {"source": {...}, "destination": {...}, "options": {...}}';
    return i.message.startsWith(where) ? i.message : `${where}: ${i.message}`;
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
  progress?: { totalBytes: number; processedBytes: number; remainingBytes: number; iteration?: number };
  failureReason?: string;
  at: string;
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
  Forbidden: 'Forbidden',
  ApiError: 'KubernetesApiError',
  MigrationFailed: 'MigrationFailed',
  Stalled: 'Stalled',
} as const;
