/**
 * Follow one named object, as a subscription on the cluster's shared informer for its kind and
 * namespace (informer.ts): a waiting activity opens no watch of its own, so open watches on a cluster
 * do not grow with the number of migrations in flight.
 *
 * It also knows when it cannot see the object: while the informer's requests get no answer from the
 * API server, `failure` says why and since when, so the waiting activity can tell the workflow that the
 * cluster is unreachable instead of showing the last thing it saw as if it were current.
 */
import type { ClusterClient } from './cluster.js';
import type { Subscription, WatchFailure } from './informer.js';
import type { KindName, KubeObject } from './kinds.js';

export type { WatchFailure } from './informer.js';

export class ObjectWatch {
  private subscription?: Subscription;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly cluster: ClusterClient,
    private readonly kind: KindName,
    private readonly namespace: string,
    private readonly name: string,
    /** How soon a silent connection must be noticed; the informer's watch ends at least this often. */
    private readonly resyncMs = 30_000,
  ) {}

  get latest(): KubeObject | undefined {
    return this.subscription?.latest;
  }

  /** Set while the API server cannot be reached; cleared by the next answer. */
  get failure(): WatchFailure | undefined {
    return this.subscription?.failure;
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  /**
   * Subscribe, and wait for the informer's first list. A cluster that does not answer is no reason to
   * fail: the informer keeps trying and `failure` says why. An answer that is an error (401, 403, …) fails the start.
   */
  async start(): Promise<void> {
    if (this.stopped || this.subscription) return;
    this.subscription = this.cluster.informers.subscribe(
      this.kind,
      this.namespace,
      this.name,
      () => {
        for (const l of this.listeners) l();
      },
      this.resyncMs,
    );
    await this.subscription.ready;
  }

  stop(): void {
    this.stopped = true;
    this.subscription?.close();
  }
}
