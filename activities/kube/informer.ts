/**
 * One shared list+watch of one kind in one namespace of one cluster, the way client-go's informers
 * work, so the number of open watches on a cluster is independent of the number of migrations in
 * flight: LIST (which gives the collection's resourceVersion), then WATCH from that resourceVersion
 * (bookmarks keep it fresh), re-watched from the last one seen when the server ends the watch, re-LISTed
 * only when the server says that resourceVersion is gone (410). There is no periodic re-list: a
 * namespace of a thousand VMIs listed every few seconds would cost more than the per-object watches
 * this replaces. Subscribers follow one name each and are told when that object changes or goes.
 *
 * It also knows when it cannot see the cluster: while its requests get no answer (refused, reset, timed
 * out: a watch that goes silent is ended by client-node's inactivity timeout), `failure` says why and
 * since when, and every subscriber is told; the next answer clears it. One request at a time: against
 * a hung API server requests do not pile up.
 *
 * Reference-counted per ClusterClient (`cluster.informers`): the first subscriber starts one, the last
 * one leaving stops it after a linger, so the next wait step of the same migration reuses it.
 */
import * as k8s from '@kubernetes/client-node';
import type { ClusterClient } from './cluster.js';
import { isTransient, kubeError, unreachableReason } from './errors.js';
import type { KindName, KubeObject } from './kinds.js';

export interface WatchFailure {
  /** What the network said (no request content: errors.ts unreachableReason). */
  error: string;
  since: string;
}

/** How long an informer nobody follows stays open: long enough for the next wait step of a migration. */
export const DEFAULT_LINGER_MS = 30_000;
/** The server ends a watch after this long when no subscriber asks for less (see `watchTimeoutSeconds`). */
const DEFAULT_WATCH_TIMEOUT_MS = 30_000;
const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;

/** One subscriber's view: its object, the informer's failure, and the end of its interest. */
export interface Subscription {
  readonly latest: KubeObject | undefined;
  readonly failure: WatchFailure | undefined;
  /** Settles once the informer has listed (or could not reach the cluster); rejects on an answer that is an error. */
  readonly ready: Promise<void>;
  close(): void;
}

interface Subscriber {
  name: string;
  onChange: () => void;
  resyncMs: number;
}

export class Informer {
  /** Set while the API server cannot be reached; cleared by the next answer. */
  failure: WatchFailure | undefined;
  private readonly cache = new Map<string, KubeObject>();
  private readonly subscribers = new Set<Subscriber>();
  /** The last resourceVersion seen; undefined: LIST first. */
  private rv: string | undefined;
  private stopped = false;
  private abort?: AbortController;
  private linger?: NodeJS.Timeout;
  private wakeFromBackoff?: () => void;
  private readonly first: Promise<void>;
  private settleFirst?: (e?: unknown) => void;

  constructor(
    readonly cluster: ClusterClient,
    readonly kind: KindName,
    readonly namespace: string,
    private readonly lingerMs: number,
    private readonly onStop: (i: Informer) => void,
  ) {
    this.first = new Promise<void>((resolve, reject) => {
      this.settleFirst = (e) => {
        this.settleFirst = undefined;
        if (e === undefined) resolve();
        else reject(e as Error);
      };
    });
    // A start that failed is seen by the subscribers waiting on `ready`, not as an unhandled rejection.
    this.first.catch(() => {});
    void this.run();
  }

  get running(): boolean {
    return !this.stopped;
  }

  get(name: string): KubeObject | undefined {
    return this.cache.get(name);
  }

  subscribe(name: string, onChange: () => void, resyncMs: number): Subscription {
    clearTimeout(this.linger);
    this.linger = undefined;
    const s: Subscriber = { name, onChange, resyncMs };
    this.subscribers.add(s);
    const live = { latest: () => this.cache.get(name), failure: () => this.failure };
    let closed = false;
    return {
      get latest() {
        return live.latest();
      },
      get failure() {
        return live.failure();
      },
      ready: this.first,
      close: () => {
        if (closed) return;
        closed = true;
        this.release(s);
      },
    };
  }

  private release(s: Subscriber): void {
    this.subscribers.delete(s);
    if (this.subscribers.size > 0 || this.stopped) return;
    this.linger = setTimeout(() => this.stop(), this.lingerMs);
    this.linger.unref();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.linger);
    this.abort?.abort();
    this.wakeFromBackoff?.();
    this.onStop(this);
  }

  private notify(name?: string): void {
    for (const s of [...this.subscribers]) if (name === undefined || s.name === name) s.onChange();
  }

  private failed(e: unknown): void {
    const error = unreachableReason(e);
    if (error === undefined || this.stopped) return;
    const was = this.failure;
    this.failure = { error, since: was?.since ?? new Date().toISOString() };
    if (was?.error !== error) this.notify();
  }

  private answered(): void {
    if (this.failure === undefined) return;
    this.failure = undefined;
    this.notify();
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.stopped) {
      const started = Date.now();
      let ranItsCourse = false;
      try {
        if (this.rv === undefined) await this.list();
        if (this.stopped) return;
        ranItsCourse = await this.watchOnce();
      } catch (e) {
        if (this.settleFirst) {
          // An answer that is an error (401, 403, …) fails the start; no answer at all does not: the informer keeps trying and `failure` says why.
          if (!isTransient(e)) {
            this.settleFirst(e);
            this.stop();
            return;
          }
          this.failed(e);
          this.settleFirst();
        } else this.failed(e);
      }
      if (this.stopped) return;
      // A watch the server ended on time is renewed at once; anything quicker is a failure to back off from.
      if (ranItsCourse && Date.now() - started >= 1000) {
        backoff = MIN_BACKOFF_MS;
        continue;
      }
      backoff = Date.now() - started > MAX_BACKOFF_MS ? MIN_BACKOFF_MS : Math.min(backoff * 2, MAX_BACKOFF_MS);
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        this.wakeFromBackoff = () => (clearTimeout(t), r());
      });
      this.wakeFromBackoff = undefined;
    }
  }

  /** The whole collection, replacing the cache; subscribers whose object changed (or went) are told. */
  private async list(): Promise<void> {
    const { items, resourceVersion } = await this.cluster.listOnce(this.kind, this.namespace);
    this.answered();
    const before = new Map(this.cache);
    this.cache.clear();
    for (const o of items) this.cache.set(o.metadata.name, o);
    this.rv = resourceVersion;
    const changed = new Set<string>();
    for (const s of this.subscribers) {
      if (before.get(s.name)?.metadata.resourceVersion !== this.cache.get(s.name)?.metadata.resourceVersion) changed.add(s.name);
    }
    for (const n of changed) this.notify(n);
    this.settleFirst?.();
  }

  /**
   * The server ends a healthy watch after this long, a quiet one too; one that receives nothing for
   * longer is on a dead connection. So it bounds how long a hung API server goes unnoticed: the
   * subscriber that asks for the shortest resync sets it.
   */
  private watchTimeoutSeconds(): number {
    let ms = DEFAULT_WATCH_TIMEOUT_MS;
    for (const s of this.subscribers) ms = Math.min(ms, s.resyncMs);
    return Math.max(1, Math.round(ms / 1000));
  }

  /** One watch from the last resourceVersion; true when the server ended it normally. */
  private watchOnce(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const w = new k8s.Watch(this.cluster.kc);
      const timeoutSeconds = this.watchTimeoutSeconds();
      // client-node 2.0.1 keeps its inactivity timeout private (30 s); it is a plain field at run time.
      (w as unknown as { requestTimeoutMs: number }).requestTimeoutMs = timeoutSeconds * 1000 + this.cluster.requestTimeoutMs;
      let error: unknown;
      w.watch(
        this.cluster.path(this.kind, this.namespace),
        { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds },
        (type: string, obj: KubeObject) => this.event(type, obj, (e) => (error ??= e)),
        (err) => {
          const e: unknown = err ?? error;
          if (e === undefined) return resolve(true);
          if (isGone(e)) this.rv = undefined; // compacted away: list again
          reject(e);
        },
      )
        .then((a) => {
          this.abort = a;
          if (!a.signal.aborted) this.answered();
          if (this.stopped) a.abort();
        })
        .catch(reject);
    });
  }

  private event(type: string, obj: KubeObject, errorEvent: (e: unknown) => void): void {
    if (this.stopped) return;
    if (type === 'ERROR') {
      // A Status in the stream, e.g. 410 Expired: the same shape client-node's API errors have.
      const status = obj as unknown as { code?: number };
      errorEvent({ code: status.code ?? 500, body: obj });
      return;
    }
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.rv = rv;
    if (type === 'BOOKMARK') return;
    const name = obj.metadata.name;
    if (type === 'DELETED') this.cache.delete(name);
    else this.cache.set(name, obj);
    this.notify(name);
  }
}

/** 410: the resourceVersion is too old (Expired in the stream, Gone as a response). */
function isGone(e: unknown): boolean {
  return kubeError(e).code === 410 || (e as { statusCode?: unknown })?.statusCode === 410;
}

/** The informers of one cluster, by kind and namespace: shared by every activity of the worker process. */
export class Informers {
  lingerMs = DEFAULT_LINGER_MS;
  private readonly open = new Map<string, Informer>();

  constructor(private readonly cluster: ClusterClient) {}

  /** Follow `name`; `onChange` is called when it changes, goes, or the cluster's reachability changes. */
  subscribe(kind: KindName, namespace: string, name: string, onChange: () => void, resyncMs = DEFAULT_WATCH_TIMEOUT_MS): Subscription {
    const key = `${kind}/${namespace}`;
    let i = this.open.get(key);
    if (!i?.running) {
      i = new Informer(this.cluster, kind, namespace, this.lingerMs, (gone) => {
        if (this.open.get(key) === gone) this.open.delete(key);
      });
      this.open.set(key, i);
    }
    return i.subscribe(name, onChange, resyncMs);
  }

  /** How many are open (lingering ones included). */
  get size(): number {
    return this.open.size;
  }

  stopAll(): void {
    for (const i of [...this.open.values()]) i.stop();
  }
}
