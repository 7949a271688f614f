/**
 * A small controller runtime on client-node: list+watch informers with a local cache, and a
 * rate-limited work queue of object keys. Level-triggered, like client-go controllers: reconcilers
 * read the cache, act through the API, and are re-run on change, on error (with backoff) or on request.
 */
import * as k8s from '@kubernetes/client-node';
import { kindInfo } from '../apiserver/kinds.js';
import { errorCode, KubeClient, type KubeObject } from './kube.js';

export const objectKey = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  const ns = key.slice(0, i);
  return { namespace: ns || undefined, name: key.slice(i + 1) };
}

type Handler = (obj: KubeObject, type: 'ADDED' | 'MODIFIED' | 'DELETED') => void;

/** Keeps an up-to-date cache of one kind across all namespaces; survives dropped watches and 410s. */
export class Informer {
  private readonly cache = new Map<string, KubeObject>();
  private readonly handlers: Handler[] = [];
  private abort?: AbortController;
  private stopped = false;
  private resourceVersion = '';
  private syncedResolve!: () => void;
  readonly synced = new Promise<void>((r) => (this.syncedResolve = r));

  constructor(
    private readonly client: KubeClient,
    readonly kind: string,
  ) {}

  on(h: Handler): void {
    this.handlers.push(h);
  }

  get(ns: string | undefined, name: string): KubeObject | undefined {
    return this.cache.get(`${ns ?? ''}/${name}`);
  }

  list(filter?: (o: KubeObject) => boolean): KubeObject[] {
    const all = [...this.cache.values()];
    return filter ? all.filter(filter) : all;
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private emit(o: KubeObject, t: 'ADDED' | 'MODIFIED' | 'DELETED'): void {
    for (const h of this.handlers) h(o, t);
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.client.list(this.kind);
    const seen = new Set<string>();
    for (const o of items) {
      const k = objectKey(o);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, o);
      if (!old) this.emit(o, 'ADDED');
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.emit(o, 'MODIFIED');
    }
    for (const [k, o] of this.cache) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.emit(o, 'DELETED');
      }
    }
    this.resourceVersion = resourceVersion;
    this.syncedResolve();
  }

  private async run(): Promise<void> {
    let backoff = 50;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const expired = await this.watchOnce();
        if (expired) this.resourceVersion = '';
        backoff = 50;
      } catch (e) {
        if (this.stopped) return;
        if (errorCode(e) === 410) this.resourceVersion = '';
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** One watch stream until it ends; resolves true when the server said our resourceVersion expired. */
  private watchOnce(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let expired = false;
      const w = new k8s.Watch(this.client.kc);
      w.watch(
        KubeClient.path(kindInfo(this.kind)),
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: false },
        (type, obj: KubeObject) => {
          if (type === 'ERROR') {
            expired = (obj as unknown as { code?: number }).code === 410;
            return;
          }
          const k = objectKey(obj);
          this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
          if (type === 'DELETED') this.cache.delete(k);
          else this.cache.set(k, obj);
          this.emit(obj, type as 'ADDED' | 'MODIFIED' | 'DELETED');
        },
        (err) => (err && !expired ? reject(err) : resolve(expired)),
      )
        .then((a) => {
          this.abort = a;
          if (this.stopped) a.abort();
        })
        .catch(reject);
    });
  }
}

export type ReconcileResult = void | { requeueAfterMs: number };
export type Reconcile = (key: string) => Promise<ReconcileResult>;

/**
 * Deduplicating work queue: a key is processed by at most one worker at a time; adds while it is being
 * processed re-run it afterwards. Failures back off exponentially per key (5 ms .. 2 s).
 */
export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  private stopped = false;
  /** Keys queue up but nothing runs until the caches are filled (virt-controller waits for its informers). */
  private started = false;

  constructor(
    readonly name: string,
    private readonly reconcile: Reconcile,
    private readonly concurrency = 4,
    private readonly onError: (key: string, e: unknown) => void = () => {},
  ) {}

  add(key: string, afterMs = 0): void {
    if (this.stopped) return;
    if (afterMs > 0) {
      if (this.timers.has(key)) return;
      const t = setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, afterMs);
      t.unref();
      this.timers.set(key, t);
      return;
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.pending.add(key);
    this.pump();
  }

  start(): void {
    this.started = true;
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
  }

  private pump(): void {
    while (this.started && !this.stopped && this.running < this.concurrency && this.pending.size) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const r = await this.reconcile(key);
      this.failures.delete(key);
      if (r && r.requeueAfterMs >= 0) this.add(key, Math.max(1, r.requeueAfterMs));
    } catch (e) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      // Conflicts are expected between controllers; do not report them as errors.
      if (errorCode(e) !== 409) this.onError(key, e);
      if (!this.stopped) this.add(key, Math.min(5 * 2 ** n, 2000));
    } finally {
      this.running--;
      this.active.delete(key);
      if (this.dirty.delete(key)) this.pending.add(key);
      this.pump();
    }
  }
}
