/** What every simulated KubeVirt component of one cluster shares: its client, caches and timing. */
import type { KubeClient, KubeObject } from './kube.js';
import { Informer, WorkQueue, objectKey, type Reconcile } from './runtime.js';

export interface SimTiming {
  /** Delay between the VMI lifecycle steps (Pending → Scheduling → Scheduled → Running). */
  vmiStepMs: number;
  /** Delay between intermediate VMIM phases (Pending → … → TargetReady). */
  migrationStepMs: number;
  /** How long a DataVolume import takes (blank DataVolumes complete at once). */
  importMs: number;
  /** How often virt-handler reads a running migration's job stats for its metrics (KubeVirt: 5 s). */
  progressIntervalMs: number;
  /** TCP + TLS handshake timeout of the sync controller's dial. */
  syncDialTimeoutMs: number;
  /** Longest backoff between sync retries (KubeVirt's rate limiter goes to 1000 s; shortened here). */
  syncMaxBackoffMs: number;
}

export const DEFAULT_TIMING: SimTiming = {
  vmiStepMs: 40,
  migrationStepMs: 25,
  importMs: 300,
  progressIntervalMs: 500,
  syncDialTimeoutMs: 3000,
  syncMaxBackoffMs: 2000,
};

export const INFORMED_KINDS = [
  'KubeVirt',
  'ConfigMap',
  'PersistentVolumeClaim',
  'DataVolume',
  'VirtualMachine',
  'VirtualMachineInstance',
  'VirtualMachineInstanceMigration',
  'VirtualMachineInstancetype',
  'VirtualMachineClusterInstancetype',
] as const;
export type InformedKind = (typeof INFORMED_KINDS)[number];

export class ControllerContext {
  readonly informers: Record<InformedKind, Informer>;
  private readonly queues: WorkQueue[] = [];
  private synced = false;

  constructor(
    readonly cluster: string,
    readonly client: KubeClient,
    readonly timing: SimTiming,
    readonly log: (msg: string) => void,
  ) {
    this.informers = Object.fromEntries(INFORMED_KINDS.map((k) => [k, new Informer(client, k)])) as Record<InformedKind, Informer>;
  }

  get(kind: InformedKind, ns: string | undefined, name: string): KubeObject | undefined {
    return this.informers[kind].get(ns, name);
  }

  /** A work queue whose errors are logged with the controller's name. */
  queue(name: string, reconcile: Reconcile, concurrency = 4): WorkQueue {
    const q = new WorkQueue(name, reconcile, concurrency, (key, e) => this.log(`${name} ${key}: ${(e as Error).message ?? e}`));
    this.queues.push(q);
    if (this.synced) q.start();
    return q;
  }

  /** Enqueue `q` with the key of every object of `kind` that changes (optionally mapped to another key). */
  watch(kind: InformedKind, q: WorkQueue, keyOf: (o: KubeObject) => string | undefined = objectKey): void {
    this.informers[kind].on((o) => {
      const k = keyOf(o);
      if (k) q.add(k);
    });
  }

  async start(): Promise<void> {
    for (const i of Object.values(this.informers)) i.start();
    await Promise.all(Object.values(this.informers).map((i) => i.synced));
    this.synced = true;
    for (const q of this.queues) q.start();
  }

  stop(): void {
    for (const i of Object.values(this.informers)) i.stop();
    for (const q of this.queues) q.stop();
  }
}
