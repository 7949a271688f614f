/**
 * Follow one named object with a Kubernetes watch (field selector on its name), re-established after
 * drops and backed by an occasional re-read, so a waiting activity costs a handful of requests however
 * long it waits, instead of a GET per poll.
 *
 * It also knows when it cannot see the object: while its reads and watches get no answer from the API
 * server (refused, reset, timed out: a watch that goes silent is ended by client-node's inactivity
 * timeout), `failure` says why and since when, so the waiting activity can tell the workflow that the
 * cluster is unreachable instead of showing the last thing it saw as if it were current. Any answer
 * from the API server clears it.
 */
import * as k8s from '@kubernetes/client-node';
import type { ClusterClient } from './cluster.js';
import { isTransient, unreachableReason } from './errors.js';
import type { KindName, KubeObject } from './kinds.js';

export interface WatchFailure {
  /** What the network said (no request content: errors.ts unreachableReason). */
  error: string;
  since: string;
}

export class ObjectWatch {
  latest: KubeObject | undefined;
  /** Set while the API server cannot be reached; cleared by the next answer. */
  failure: WatchFailure | undefined;
  private abort?: AbortController;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private refreshing: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly cluster: ClusterClient,
    private readonly kind: KindName,
    private readonly namespace: string,
    private readonly name: string,
    private readonly resyncMs = 30_000,
  ) {}

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /**
   * The first read, then the watch. A cluster that does not answer is no reason to fail: the watch
   * keeps trying and `failure` says why. An answer that is an error (401, 403, …) fails the start.
   */
  async start(): Promise<void> {
    try {
      await this.refresh();
    } catch (e) {
      if (!isTransient(e)) throw e;
    }
    this.resyncTimer = setInterval(() => void this.refresh().catch(() => {}), this.resyncMs);
    this.resyncTimer.unref();
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.abort?.abort();
  }

  /** Re-read now (also what recovers from a missed event). One read at a time: against a hung server they would pile up. */
  refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<void> {
    let o: KubeObject | undefined;
    try {
      o = await this.cluster.get(this.kind, this.namespace, this.name, true);
    } catch (e) {
      this.failed(e);
      throw e;
    }
    this.answered();
    if (JSON.stringify(o) !== JSON.stringify(this.latest)) {
      this.latest = o;
      this.changed();
    }
  }

  private failed(e: unknown): void {
    const error = unreachableReason(e);
    if (error === undefined || this.stopped) return;
    const was = this.failure;
    this.failure = { error, since: was?.since ?? new Date().toISOString() };
    if (was?.error !== error) this.changed();
  }

  private answered(): void {
    if (this.failure === undefined) return;
    this.failure = undefined;
    this.changed();
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      const started = Date.now();
      try {
        await this.watchOnce();
      } catch (e) {
        this.failed(e); // dropped, refused or silent: re-read and watch again
      }
      if (this.stopped) return;
      backoff = Date.now() - started > 5000 ? 200 : Math.min(backoff * 2, 5000);
      await new Promise((r) => setTimeout(r, backoff));
      await this.refresh().catch(() => {});
    }
  }

  private watchOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = new k8s.Watch(this.cluster.kc);
      // The server ends a healthy watch after `timeoutSeconds` (a quiet one too); one that receives
      // nothing for longer than that is on a dead connection: client-node aborts it with a TimeoutError.
      const timeoutSeconds = Math.max(1, Math.round(this.resyncMs / 1000));
      // client-node 2.0.1 keeps the timeout private (30 s); it is a plain field at run time.
      (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = timeoutSeconds * 1000 + this.cluster.requestTimeoutMs;
      const rv = this.latest?.metadata.resourceVersion;
      w.watch(
        this.cluster.path(this.kind, this.namespace),
        { fieldSelector: `metadata.name=${this.name}`, ...(rv ? { resourceVersion: rv } : {}), allowWatchBookmarks: false, timeoutSeconds },
        (type, obj: KubeObject) => {
          if (type === 'ERROR') return;
          this.latest = type === 'DELETED' ? undefined : obj;
          this.changed();
        },
        (err) => (err ? reject(err) : resolve()),
      )
        .then((a) => {
          this.abort = a;
          if (!a.signal.aborted) this.answered();
          if (this.stopped) a.abort();
        })
        .catch(reject);
    });
  }
}
