/** KubeVirt names, annotations and small helpers shared by the simulated components. */
import type { KubeObject } from './kube.js';
import { getPath } from '../paths.js';

export { getPath };

export const KUBEVIRT_NAMESPACE = 'kubevirt';
export const KUBEVIRT_CR = 'kubevirt';
export const CA_CONFIGMAP = 'kubevirt-ca';
export const EXTERNAL_CA_CONFIGMAP = 'kubevirt-external-ca';
export const CA_BUNDLE_KEY = 'ca-bundle';
export const DECENTRALIZED_GATE = 'DecentralizedLiveMigration';

export const ANN_MIGRATION_TARGET = 'kubevirt.io/create-migration-target';
export const ANN_RESTORE_RUN_STRATEGY = 'kubevirt.io/restore-run-strategy';
export const LABEL_VMI_NAME = 'kubevirt.io/vmi-name';
export const LABEL_CREATED_BY = 'kubevirt.io/created-by';
export const VMI_FINALIZER = 'kubevirt.io/virtualMachineControllerFinalize';
export const VMIM_FINALIZER = 'kubevirt.io/migrationJobFinalize';

/** Simulator-only: how fast the guest re-dirties memory during pre-copy (a quantity per second). */
export const ANN_SIM_DIRTY_RATE = 'sim.ferry.dev/dirty-rate';

/** CN a synchronization controller's certificate must carry to be accepted by its peer. */
export const SYNC_CLIENT_CN = 'kubevirt.io:system:client:virt-synchronization-controller';
export const SYNC_SERVER_CN = 'kubevirt.io:system:node:virt-synchronization-controller';

/** The benign message the target shows while it waits for the source to connect. */
export const WAITING_FOR_SYNC_MESSAGE = 'waiting for incoming synchronization, unable to proceed';

export type Status = Record<string, unknown>;

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string | null;
}

export const FINAL_VMIM_PHASES = new Set(['Succeeded', 'Failed']);
export const FINAL_VMI_PHASES = new Set(['Succeeded', 'Failed']);

export function statusOf(o: KubeObject): Status {
  return (o.status ??= {}) as Status;
}

export function spec(o: KubeObject): Record<string, unknown> {
  return (o.spec ??= {}) as Record<string, unknown>;
}

export const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export function conditions(o: KubeObject): Condition[] {
  return (getPath<Condition[]>(o, 'status.conditions') ?? []).slice();
}

export function condition(o: KubeObject, type: string): Condition | undefined {
  return conditions(o).find((c) => c.type === type);
}

/** Set or replace a condition, keeping lastTransitionTime when the status does not change. */
export function setCondition(list: Condition[], c: Omit<Condition, 'lastTransitionTime' | 'lastProbeTime'>): Condition[] {
  const old = list.find((x) => x.type === c.type);
  const next: Condition = {
    ...c,
    lastProbeTime: null,
    lastTransitionTime: old && old.status === c.status ? (old.lastTransitionTime ?? now()) : now(),
  };
  return [...list.filter((x) => x.type !== c.type), next];
}

export function removeCondition(list: Condition[], type: string): Condition[] {
  return list.filter((x) => x.type !== type);
}

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
};

/** Kubernetes resource quantity → number (bytes for memory/storage). */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return 0;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m || !(m[2]! in UNITS)) throw new Error(`invalid quantity "${q}"`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

export function featureGates(kv: KubeObject | undefined): string[] {
  return getPath<string[]>(kv, 'spec.configuration.developerConfiguration.featureGates') ?? [];
}

export function decentralizedEnabled(kv: KubeObject | undefined): boolean {
  return featureGates(kv).includes(DECENTRALIZED_GATE);
}

export interface MigrationConfig {
  /** Simulated bytes per second one migration may use. */
  bandwidthBytesPerSecond: number;
  progressTimeoutSeconds: number;
  completionTimeoutPerGiB: number;
  /** Below this much remaining memory the guest is paused and the rest copied (KubeVirt maxDowntime). */
  maxDowntimeMs: number;
}

/** `spec.configuration.migrations` with KubeVirt's defaults; unlimited bandwidth is modelled as 10 GiB/s. */
export function migrationConfig(kv: KubeObject | undefined): MigrationConfig {
  const m = getPath<Record<string, unknown>>(kv, 'spec.configuration.migrations') ?? {};
  const bw = m.bandwidthPerMigration ? parseQuantity(m.bandwidthPerMigration) : 0;
  return {
    bandwidthBytesPerSecond: bw > 0 ? bw : 10 * 1024 ** 3,
    progressTimeoutSeconds: Number(m.progressTimeout ?? 150),
    completionTimeoutPerGiB: Number(m.completionTimeoutPerGiB ?? 150),
    maxDowntimeMs: Number(m.maxDowntimeMs ?? 900),
  };
}

export function runStrategyOf(vm: KubeObject): string {
  const s = spec(vm);
  if (typeof s.runStrategy === 'string') return s.runStrategy;
  if (s.running === true) return 'Always';
  return 'Halted';
}

export function isReceiver(vmi: KubeObject): boolean {
  return vmi.metadata.annotations?.[ANN_MIGRATION_TARGET] === 'true';
}

export function isDecentralizedVmim(vmim: KubeObject): boolean {
  const s = spec(vmim);
  return !!s.sendTo !== !!s.receive;
}

export function vmimRole(vmim: KubeObject): 'source' | 'target' | 'local' {
  const s = spec(vmim);
  if (s.sendTo && !s.receive) return 'source';
  if (s.receive && !s.sendTo) return 'target';
  return 'local';
}
