/**
 * Follow one named object with a Kubernetes watch (field selector on its name), re-established after
 * drops and backed by an occasional re-read, so a waiting activity costs a handful of requests however
 * long it waits, instead of a GET per poll.
 */
import * as k8s from '@kubernetes/client-node';
import type { ClusterClient } from './cluster.js';
import type { KindName, KubeObject } from './kinds.js';

export class ObjectWatch {
  latest: KubeObject | undefined;
  private abort?: AbortController;
  private stopped = false;
  private resyncTimer?: NodeJS.Timeout;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly cluster: ClusterClient,
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

  async start(): Promise<void> {
    await this.refresh();
    this.resyncTimer = setInterval(() => void this.refresh().catch(() => {}), this.resyncMs);
    this.resyncTimer.unref();
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.abort?.abort();
  }

  /** Re-read now (also what recovers from a missed event). */
  async refresh(): Promise<void> {
    const o = await this.cluster.get(this.kind, this.namespace, this.name);
    if (JSON.stringify(o) !== JSON.stringify(this.latest)) {
      this.latest = o;
      this.changed();
    }
  }

  private async loop(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      const started = Date.now();
      try {
        await this.watchOnce();
      } catch {
        /* dropped or refused: re-read and watch again */
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
      const rv = this.latest?.metadata.resourceVersion;
      w.watch(
        this.cluster.path(this.kind, this.namespace),
        { fieldSelector: `metadata.name=${this.name}`, ...(rv ? { resourceVersion: rv } : {}), allowWatchBookmarks: false },
        (type, obj: KubeObject) => {
          if (type === 'ERROR') return;
          this.latest = type === 'DELETED' ? undefined : obj;
          this.changed();
        },
        (err) => (err ? reject(err) : resolve()),
      )
        .then((a) => {
          this.abort = a;
          if (this.stopped) a.abort();
        })
        .catch(reject);
    });
  }
}
