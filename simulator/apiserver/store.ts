/**
 * One cluster's object storage: the part of kube-apiserver + etcd the simulator needs. Every write gets
 * a cluster-wide increasing resourceVersion and becomes a watch event; a bounded history per kind lets
 * watches resume from a resourceVersion (410 Expired once it has been compacted away), as etcd does.
 */
import { randomUUID } from 'node:crypto';
import { alreadyExists, ApiError, conflict, expired, invalid, notFound } from './errors.js';
import { kindInfo, KINDS, type KindInfo, groupVersion } from './kinds.js';
import { clone, type KubeObject } from './object.js';
import { foldStringData } from './secrets.js';
import { everything, type Selector } from './selectors.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  object: KubeObject;
  /** The object before this change, so selector-filtered watches can turn moves into ADDED/DELETED. */
  old?: KubeObject;
  rv: number;
}

export type Operation = 'create' | 'update' | 'delete';

export interface AdmissionRequest {
  op: Operation;
  kind: KindInfo;
  subresource?: 'status';
  object: KubeObject; // mutable: mutating admission edits it in place
  old?: KubeObject;
  store: Store;
}

/** Throws an ApiError to reject; may mutate `object` on create/update. */
export type AdmissionHook = (req: AdmissionRequest) => void;

interface Watcher {
  namespace?: string;
  selector: Selector;
  push: (e: StoreEvent) => void;
}

interface KindState {
  objects: Map<string, KubeObject>;
  history: StoreEvent[];
  watchers: Set<Watcher>;
}

const HISTORY_PER_KIND = 20_000;

const key = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;

/** As for CRDs: without a status subresource, a status change is a change of the object like any other. */
function specChanged(k: KindInfo, a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, ...rest } = o;
    if (k.hasStatus) delete rest.status;
    return JSON.stringify(rest);
  };
  return strip(a) !== strip(b);
}

/** What the kind's storage strategy does to every object written through the main resource. */
function normalise(k: KindInfo, o: KubeObject): void {
  if (k.kind === 'Secret') foldStringData(o);
}

export class Store {
  private rv = 1;
  private readonly kinds = new Map<KindInfo, KindState>();
  private readonly admission: AdmissionHook[] = [];

  constructor(private readonly now: () => Date = () => new Date()) {
    for (const k of KINDS) this.kinds.set(k, { objects: new Map(), history: [], watchers: new Set() });
  }

  addAdmission(hook: AdmissionHook): void {
    this.admission.push(hook);
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  private state(k: KindInfo): KindState {
    return this.kinds.get(k)!;
  }

  private timestamp(): string {
    return this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  }

  get(k: KindInfo, ns: string | undefined, name: string): KubeObject {
    const o = this.state(k).objects.get(key(k.namespaced ? ns : undefined, name));
    if (!o) throw notFound(k, name);
    return clone(o);
  }

  /** Read without copying, for admission and internal lookups that do not mutate. */
  peek(kindName: string, ns: string | undefined, name: string): KubeObject | undefined {
    const k = kindInfo(kindName);
    return this.state(k).objects.get(key(k.namespaced ? ns : undefined, name));
  }

  list(k: KindInfo, ns: string | undefined, selector: Selector = everything): KubeObject[] {
    const out: KubeObject[] = [];
    for (const o of this.state(k).objects.values()) {
      if (ns && o.metadata.namespace !== ns) continue;
      if (selector(o)) out.push(o);
    }
    out.sort((a, b) => key(a.metadata.namespace, a.metadata.name!).localeCompare(key(b.metadata.namespace, b.metadata.name!)));
    return out.map(clone);
  }

  /** All objects of a kind, uncopied: for read-only scans inside the simulator. */
  scan(kindName: string): Iterable<KubeObject> {
    return this.state(kindInfo(kindName)).objects.values();
  }

  count(k: KindInfo): number {
    return this.state(k).objects.size;
  }

  private requireNamespace(k: KindInfo, ns: string | undefined): void {
    if (!k.namespaced) return;
    const nsObj = this.peek('Namespace', undefined, ns ?? '');
    if (!nsObj) throw notFound(kindInfo('Namespace'), ns ?? '');
    if (nsObj.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `${k.plural} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  private admit(req: Omit<AdmissionRequest, 'store'>): void {
    for (const h of this.admission) h({ ...req, store: this });
  }

  private emit(k: KindInfo, type: EventType, object: KubeObject, old?: KubeObject): void {
    const st = this.state(k);
    const ev: StoreEvent = { type, object, ...(old ? { old } : {}), rv: Number(object.metadata.resourceVersion) };
    st.history.push(ev);
    if (st.history.length > HISTORY_PER_KIND) st.history.splice(0, st.history.length - HISTORY_PER_KIND);
    for (const w of st.watchers) {
      if (w.namespace && object.metadata.namespace !== w.namespace) continue;
      deliver(w, ev);
    }
  }

  create(k: KindInfo, ns: string | undefined, input: KubeObject): KubeObject {
    const obj = clone(input);
    obj.apiVersion = groupVersion(k);
    obj.kind = k.kind;
    normalise(k, obj);
    const meta = (obj.metadata ??= {});
    if (k.namespaced) {
      if (meta.namespace && ns && meta.namespace !== ns) {
        throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = ns ?? meta.namespace;
    } else delete meta.namespace;
    if (!meta.name) {
      if (!meta.generateName) throw invalid(k, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
      meta.name = meta.generateName + randomUUID().replace(/-/g, '').slice(0, 5);
    }
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(meta.name) || meta.name.length > 253) {
      throw invalid(k, meta.name, [
        { field: 'metadata.name', message: `Invalid value: "${meta.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` },
      ]);
    }
    this.requireNamespace(k, meta.namespace);
    const st = this.state(k);
    const id = key(meta.namespace, meta.name);
    if (st.objects.has(id)) throw alreadyExists(k, meta.name);
    // "create cannot set status" for kinds with a status subresource, as for CRDs.
    if (k.hasStatus && k.group !== '') delete obj.status;
    delete meta.deletionTimestamp;
    this.admit({ op: 'create', kind: k, object: obj });
    meta.uid = randomUUID();
    meta.creationTimestamp = this.timestamp();
    meta.generation = 1;
    meta.resourceVersion = String(++this.rv);
    st.objects.set(id, obj);
    this.emit(k, 'ADDED', clone(obj));
    if (obj.metadata.ownerReferences?.length) setImmediate(() => this.collectIfOrphan(k, obj.metadata.namespace, obj.metadata.name!, obj.metadata.uid!));
    return clone(obj);
  }

  /**
   * Replace an object (PUT, or the result of a PATCH). For kinds with a status subresource, the main
   * resource keeps the stored status and the subresource takes only status from the input; kinds
   * without one (a VMI) store the status they are sent.
   */
  update(k: KindInfo, ns: string | undefined, name: string, input: KubeObject, subresource?: 'status'): KubeObject {
    const st = this.state(k);
    const id = key(k.namespaced ? ns : undefined, name);
    const cur = st.objects.get(id);
    if (!cur) throw notFound(k, name);
    if (input.metadata?.name && input.metadata.name !== name) {
      throw new ApiError(400, 'BadRequest', `the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    }
    const wantRv = input.metadata?.resourceVersion;
    // Custom resources, unlike core kinds, cannot be updated unconditionally.
    if (!wantRv && k.group !== '') {
      throw invalid(k, name, [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }

    let next: KubeObject;
    if (subresource === 'status') {
      next = clone(cur);
      if (input.status === undefined) delete next.status;
      else next.status = clone(input.status);
    } else {
      next = clone(input);
      next.apiVersion = groupVersion(k);
      next.kind = k.kind;
      normalise(k, next);
      const m = (next.metadata ??= {});
      // Fields the server owns cannot be changed through an update.
      m.name = cur.metadata.name!;
      if (k.namespaced) m.namespace = cur.metadata.namespace!;
      m.uid = cur.metadata.uid!;
      m.creationTimestamp = cur.metadata.creationTimestamp!;
      m.generation = cur.metadata.generation!;
      if (cur.metadata.deletionTimestamp) m.deletionTimestamp = cur.metadata.deletionTimestamp;
      else delete m.deletionTimestamp;
      if (k.hasStatus) {
        if (cur.status === undefined) delete next.status;
        else next.status = clone(cur.status);
      }
    }
    this.admit({ op: 'update', kind: k, object: next, old: cur, ...(subresource ? { subresource } : {}) });
    // As in kube-apiserver, admission runs before the storage layer's resourceVersion precondition.
    if (wantRv && wantRv !== cur.metadata.resourceVersion) throw conflict(k, name);
    if (subresource !== 'status' && specChanged(k, cur, next)) next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(cur)) return clone(cur); // no-op writes do not bump the RV

    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      this.remove(k, id, cur);
      return clone(next);
    }
    next.metadata.resourceVersion = String(++this.rv);
    st.objects.set(id, next);
    this.emit(k, 'MODIFIED', clone(next), clone(cur));
    return clone(next);
  }

  /** DELETE: objects with finalizers get a deletionTimestamp and stay until the finalizers are gone. */
  delete(k: KindInfo, ns: string | undefined, name: string, opts: { preconditionUid?: string } = {}): KubeObject {
    const st = this.state(k);
    const id = key(k.namespaced ? ns : undefined, name);
    const cur = st.objects.get(id);
    if (!cur) throw notFound(k, name);
    if (opts.preconditionUid && opts.preconditionUid !== cur.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${opts.preconditionUid}, UID in object meta: ${cur.metadata.uid}`);
    }
    this.admit({ op: 'delete', kind: k, object: clone(cur), old: cur });
    if (cur.metadata.finalizers?.length || k.kind === 'Namespace') {
      if (cur.metadata.deletionTimestamp) return clone(cur);
      const next = clone(cur);
      next.metadata.deletionTimestamp = this.timestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.resourceVersion = String(++this.rv);
      st.objects.set(id, next);
      this.emit(k, 'MODIFIED', clone(next), clone(cur));
      if (k.kind === 'Namespace') this.finishNamespace(next);
      return clone(next);
    }
    this.remove(k, id, cur);
    return clone(cur);
  }

  private remove(k: KindInfo, id: string, cur: KubeObject): void {
    const st = this.state(k);
    st.objects.delete(id);
    const gone = clone(cur);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit(k, 'DELETED', gone);
    this.collectDependents(cur.metadata.uid!);
  }

  /**
   * A dependent created after its owner was deleted (a controller acting on a stale cache) is
   * collected too, as kube-controller-manager's garbage collector does when every owner is absent.
   */
  private collectIfOrphan(k: KindInfo, ns: string | undefined, name: string, uid: string): void {
    const o = this.state(k).objects.get(key(k.namespaced ? ns : undefined, name));
    if (!o || o.metadata.uid !== uid || o.metadata.deletionTimestamp) return;
    const ownerAlive = (r: { kind: string; name: string; uid: string }) => {
      let ok: KindInfo;
      try {
        ok = kindInfo(r.kind);
      } catch {
        return true; // an owner kind the simulator does not serve: leave the dependent alone
      }
      return this.state(ok).objects.get(key(ok.namespaced ? ns : undefined, r.name))?.metadata.uid === r.uid;
    };
    if (o.metadata.ownerReferences!.some(ownerAlive)) return;
    try {
      this.delete(k, ns, name);
    } catch {
      /* already going */
    }
  }

  /** Background garbage collection: what kube-controller-manager does for ownerReferences. */
  private collectDependents(ownerUid: string): void {
    for (const k of KINDS) {
      for (const o of [...this.state(k).objects.values()]) {
        if (o.metadata.ownerReferences?.some((r) => r.uid === ownerUid)) {
          try {
            this.delete(k, o.metadata.namespace, o.metadata.name!);
          } catch {
            /* already going */
          }
        }
      }
    }
  }

  /** The namespace controller: delete everything inside, then the namespace once it is empty. */
  private finishNamespace(nsObj: KubeObject): void {
    const ns = nsObj.metadata.name!;
    for (const k of KINDS) {
      if (!k.namespaced) continue;
      for (const o of [...this.state(k).objects.values()]) {
        if (o.metadata.namespace !== ns) continue;
        // Garbage collection of an earlier object may already have removed (or changed) this one.
        const id = key(ns, o.metadata.name!);
        const live = this.state(k).objects.get(id);
        // Finalizers of contents would block namespace removal; the simulator drops them.
        if (live) this.remove(k, id, live);
      }
    }
    const nsKind = kindInfo('Namespace');
    const cur = this.state(nsKind).objects.get(key(undefined, ns));
    if (cur) this.remove(nsKind, key(undefined, ns), cur);
  }

  /**
   * Subscribe to changes of a kind after `fromRv` (exclusive). Replays retained history first; throws
   * 410 Expired when events after `fromRv` are no longer retained.
   */
  watch(k: KindInfo, ns: string | undefined, selector: Selector, fromRv: number | undefined, push: (e: StoreEvent) => void): () => void {
    const st = this.state(k);
    const w: Watcher = { ...(ns ? { namespace: ns } : {}), selector, push };
    if (fromRv === undefined) {
      // resourceVersion unset or "0": start with the current state as ADDED events.
      for (const o of this.list(k, ns, selector)) push({ type: 'ADDED', object: o, rv: Number(o.metadata.resourceVersion) });
    } else if (fromRv < this.rv) {
      const oldest = st.history[0]?.rv;
      if (oldest !== undefined && fromRv < oldest - 1 && st.history.length >= HISTORY_PER_KIND) {
        throw expired(`too old resource version: ${fromRv} (${oldest - 1})`);
      }
      for (const ev of st.history) {
        if (ev.rv <= fromRv) continue;
        if (ns && ev.object.metadata.namespace !== ns) continue;
        deliver(w, ev);
      }
    }
    st.watchers.add(w);
    return () => st.watchers.delete(w);
  }
}

/** Selector-filtered delivery: an object moving in or out of the selection is ADDED or DELETED for this watcher. */
function deliver(w: Watcher, ev: StoreEvent): void {
  const now = w.selector(ev.object);
  if (ev.type !== 'MODIFIED') {
    if (now) w.push(ev);
    return;
  }
  const before = ev.old ? w.selector(ev.old) : now;
  if (now && before) w.push(ev);
  else if (now) w.push({ ...ev, type: 'ADDED' });
  else if (before) w.push({ ...ev, type: 'DELETED' });
}
