/**
 * An in-memory Kubernetes API server for one simulated cluster, served over HTTPS with bearer-token
 * authentication. It speaks enough of the real protocol (discovery, CRUD, list/watch with selectors,
 * patch, status subresource, finalizers, Status errors, server-side tables) for kubectl and
 * @kubernetes/client-node to work against it unchanged.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, badRequest, qualifiedResource } from './errors.js';
import { apiVersions, group, groupList, resourceList, VERSION } from './discovery.js';
import { Faults } from './faults.js';
import { injectedFaultError, isWatch, parseRoute, verbOf } from './routes.js';
import { apiGroups, groupVersion, kindForRoute, type KindInfo } from './kinds.js';
import { RequestMetrics } from './metrics.js';
import type { KubeObject } from './object.js';
import { openapiDocument, openapiRoot, openapiV2 } from './openapi.js';
import { applyPatch, patchTypeOf } from './patch.js';
import { both, fieldSelector, labelSelector } from './selectors.js';
import { Store, type StoreEvent } from './store.js';
import { table, wantsTable } from './tables.js';

export interface User {
  name: string;
  token: string;
  /** May create, update, patch and delete; otherwise only get, list and watch. */
  write: boolean;
  /** May use the simulator's control endpoints (`/sim/v1/...`). */
  admin?: boolean;
  /** A simulated in-cluster component: exempt from fault injection. */
  system?: boolean;
}

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
}

export type ControlHandler = (method: string, body: unknown) => unknown | Promise<unknown>;

export interface ApiServerOptions {
  users: User[];
  tls: TlsMaterial;
  host?: string;
  port?: number;
}

interface Route {
  kind: KindInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const MAX_BODY = 3 * 1024 * 1024;
/** Deeper than any Kubernetes object; kube-apiserver also refuses bodies nested past a limit. */
const MAX_DEPTH = 100;
const OPEN_PATHS = new Set(['/version', '/healthz', '/readyz', '/livez']);

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

/** A request's JSON body (undefined when empty); 413 past the size limit, 400 when not JSON. */
export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, 'BadRequest', 'request entity too large');
    chunks.push(c as Buffer);
  }
  if (!size) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
  // The store, patches and selectors walk objects recursively: a body nested thousands deep would overflow the stack (a 500).
  if (depthOver(body, MAX_DEPTH)) throw badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
  return body;
}

/** Whether `v` nests objects or lists deeper than `max` (counted without recursion). */
function depthOver(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [cur, depth] = stack.pop()!;
    if (typeof cur !== 'object' || cur === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(cur)) stack.push([child, depth + 1]);
  }
  return false;
}

interface SelfReviewBody {
  apiVersion?: string;
  kind?: string;
  spec?: { namespace?: string; resourceAttributes?: { verb?: string } };
}

/**
 * SelfSubjectAccessReview and SelfSubjectRulesReview, answered from the simulator's two kinds of
 * users (writers may do everything, the others only read), which is all the authorization it has.
 */
function selfReview(resource: string | undefined, user: User, body: SelfReviewBody): unknown {
  const reads = ['get', 'list', 'watch'];
  const base = { apiVersion: 'authorization.k8s.io/v1', spec: body?.spec ?? {} };
  if (resource === 'selfsubjectaccessreviews') {
    const verb = body?.spec?.resourceAttributes?.verb ?? '';
    return { ...base, kind: 'SelfSubjectAccessReview', status: { allowed: user.write || reads.includes(verb) } };
  }
  if (resource === 'selfsubjectrulesreviews') {
    const rule = { apiGroups: ['*'], resources: ['*'], verbs: user.write ? ['*'] : reads };
    return { ...base, kind: 'SelfSubjectRulesReview', status: { resourceRules: [rule], nonResourceRules: [], incomplete: false } };
  }
  throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

export class ApiServer {
  readonly store: Store;
  readonly faults = new Faults();
  readonly metrics = new RequestMetrics();
  private readonly users: Map<string, User>;
  private readonly controls = new Map<string, ControlHandler>();
  private readonly openWatches = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  /** Open watches of `system` users: exempt from the watch-drop fault, like all faults. */
  private readonly systemWatches = new WeakSet<ServerResponse>();
  private server?: Server;
  private address?: AddressInfo;
  private dropTimer?: NodeJS.Timeout;

  constructor(
    private readonly opts: ApiServerOptions,
    store = new Store(),
  ) {
    this.store = store;
    this.users = new Map(opts.users.map((u) => [u.token, u]));
    this.registerControl('faults', (method, body) => {
      if (method === 'PUT') {
        try {
          this.faults.set((body ?? {}) as object);
        } catch (e) {
          // A config that does not validate is the caller's error, not the server's.
          throw badRequest(`invalid fault configuration: ${(e as Error).message}`);
        }
      }
      if (method === 'DELETE') this.faults.clear();
      return { config: this.faults.config, injected: this.faults.injected };
    });
    this.registerControl('metrics', (method) => {
      if (method === 'DELETE') this.metrics.reset();
      return this.metrics.snapshot();
    });
  }

  /** Expose a simulator control under `/sim/v1/<name>` (admin token only). */
  registerControl(name: string, handler: ControlHandler): void {
    this.controls.set(name, handler);
  }

  get url(): string {
    if (!this.address) throw new Error('API server not started');
    return `https://${this.opts.host ?? '127.0.0.1'}:${this.address.port}`;
  }

  async start(): Promise<void> {
    const server = createServer({ cert: this.opts.tls.certPem, key: this.opts.tls.keyPem }, (req, res) => {
      void this.handle(req, res);
    });
    server.keepAliveTimeout = 30_000;
    // closeAllConnections() misses some idle TLS keep-alive sockets; track them so stop() is immediate.
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.address = server.address() as AddressInfo;
    this.dropTimer = setInterval(() => {
      for (const w of this.openWatches) if (!this.systemWatches.has(w) && this.faults.shouldDropWatch()) w.destroy();
    }, 1000);
    this.dropTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.dropTimer);
    for (const w of this.openWatches) w.destroy();
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
      for (const sock of this.sockets) sock.destroy();
    });
    this.server = undefined;
  }

  /** Cut every open watch stream now (fault injection from tests and the CLI). */
  dropWatches(): number {
    const n = this.openWatches.size;
    for (const w of this.openWatches) w.destroy();
    this.faults.injected.droppedWatches += n;
    return n;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let user: User | undefined;
    let verb = 'other';
    let resource = '';
    try {
      const url = requestUrl(req.url);
      if (OPEN_PATHS.has(url.pathname)) {
        return send(res, 200, url.pathname === '/version' ? VERSION : 'ok');
      }
      user = this.authenticate(req);
      const segs = pathSegments(url.pathname);
      if (segs[0] === 'sim') return await this.control(user, req, res, segs);
      if (req.method === 'POST' && segs[0] === 'apis' && segs[1] === 'authorization.k8s.io' && segs[2] === 'v1') {
        verb = 'create';
        resource = segs[3] ?? '';
        return send(res, 201, selfReview(segs[3], user, (await readBody(req)) as SelfReviewBody));
      }
      const discovery = this.discovery(segs);
      if (discovery !== undefined) return send(res, 200, discovery);
      if (segs[0] === 'openapi' && segs[1] === 'v2' && segs.length === 2) {
        const v2 = openapiV2(req.headers.accept);
        res.writeHead(200, { 'content-type': v2.contentType, 'content-length': v2.body.length });
        return void res.end(v2.body);
      }
      if (segs[0] === 'openapi') {
        const doc = segs[1] === 'v3' ? (segs.length === 2 ? openapiRoot() : openapiDocument(segs.slice(2))) : undefined;
        if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
        return send(res, 200, doc);
      }

      const { gv, route: raw } = parseRoute(segs);
      const kind = raw ? kindForRoute(gv, raw.plural) : undefined;
      if (!raw || !kind) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      if (raw.subresource && (raw.subresource !== 'status' || !kind.hasStatus)) {
        throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      }
      const route: Route = { ...raw, kind };
      resource = raw.subresource ? `${kind.plural}/${raw.subresource}` : kind.plural;
      const watch = isWatch(url);
      const v = verbOf(req.method ?? 'GET', route, watch);
      verb = v;
      this.authorize(user, v, route);
      if (!user.system) {
        const delay = this.faults.latency();
        if (delay > 0) await sleep(delay);
        const fault = this.faults.errorFor(v === 'deletecollection' ? 'delete' : v, kind.plural);
        if (fault) {
          this.metrics.injectedErrors++;
          throw injectedFaultError(fault, kind.plural, user.name, v);
        }
      }
      if (v === 'watch') {
        this.metrics.record(user.name, v, undefined, resource);
        if (user.system) this.systemWatches.add(res);
        return this.watch(route, url, req, res, user.name);
      }
      await this.serve(v, route, url, req, res);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      const headers: Record<string, string> = {};
      if (err.details?.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.details.retryAfterSeconds);
      if (!res.headersSent) send(res, err.code, err.toStatus(), headers);
      else res.destroy();
    } finally {
      if (verb !== 'watch') this.metrics.record(user?.name ?? 'anonymous', verb, performance.now() - started, resource);
    }
  }

  private authenticate(req: IncomingMessage): User {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const u = m ? this.users.get(m[1]!) : undefined;
    if (!u) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    return u;
  }

  private authorize(user: User, verb: string, route: Route): void {
    const reads = verb === 'get' || verb === 'list' || verb === 'watch';
    if (reads || user.write) return;
    const k = route.kind;
    const where = route.namespace ? ` in the namespace "${route.namespace}"` : ' at the cluster scope';
    const res = route.subresource ? `${k.plural}/${route.subresource}` : k.plural;
    throw new ApiError(
      403,
      'Forbidden',
      `${qualifiedResource(k)}${route.name ? ` "${route.name}"` : ''} is forbidden: User "${user.name}" cannot ${verb} resource "${res}" in API group "${k.group}"${where}`,
      { ...(route.name ? { name: route.name } : {}), group: k.group, kind: k.plural },
    );
  }

  private discovery(segs: string[]): unknown {
    const path = segs.join('/');
    if (path === 'api') return apiVersions(`${this.opts.host ?? '127.0.0.1'}:${this.address?.port}`);
    if (path === 'apis') return groupList();
    if (segs[0] === 'api' && segs.length === 2) return resourceList(segs[1]!) ?? notFoundDoc();
    if (segs[0] === 'apis' && segs.length === 2) {
      const g = apiGroups().find((x) => x.name === segs[1]);
      return g ? group(g.name, g.version) : notFoundDoc();
    }
    if (segs[0] === 'apis' && segs.length === 3) return resourceList(`${segs[1]}/${segs[2]}`) ?? notFoundDoc();
    return undefined;
  }

  private async control(user: User, req: IncomingMessage, res: ServerResponse, segs: string[]): Promise<void> {
    if (!user.admin) throw new ApiError(403, 'Forbidden', `User "${user.name}" may not use simulator controls`);
    const h = segs[1] === 'v1' ? this.controls.get(segs.slice(2).join('/')) : undefined;
    if (!h) throw new ApiError(404, 'NotFound', `no simulator control at /${segs.join('/')}; known: ${[...this.controls.keys()].join(', ')}`);
    const body = req.method === 'GET' ? undefined : await readBody(req);
    send(res, 200, await h(req.method ?? 'GET', body));
  }

  private async serve(verb: string, route: Route, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { kind, namespace, name } = route;
    const store = this.store;
    const sub = route.subresource === 'status' ? ('status' as const) : undefined;
    switch (verb) {
      case 'get': {
        const o = store.get(kind, namespace, name!);
        return send(res, 200, wantsTable(req.headers.accept) ? table(kind, [o], o.metadata.resourceVersion!) : o);
      }
      case 'list':
        return send(res, 200, this.list(route, url, req.headers.accept));
      case 'create': {
        const body = (await readBody(req)) as KubeObject | undefined;
        if (!body || typeof body !== 'object') throw badRequest('a request body is required');
        return send(res, 201, store.create(kind, namespace, body));
      }
      case 'update': {
        const body = (await readBody(req)) as KubeObject | undefined;
        if (!body || typeof body !== 'object') throw badRequest('a request body is required');
        return send(res, 200, store.update(kind, namespace, name!, body, sub));
      }
      case 'patch': {
        const type = patchTypeOf(req.headers['content-type']);
        const patch = await readBody(req);
        // As kube-apiserver: custom resources have no strategic-merge metadata, so no strategic merge patch.
        if (type === 'strategic' && kind.group !== '') {
          throw new ApiError(
            415,
            'UnsupportedMediaType',
            'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
          );
        }
        const cur = store.get(kind, namespace, name!);
        const next = applyPatch(type, cur, patch) as KubeObject;
        // A patch only asserts a resourceVersion when it carries one itself.
        const patchRv = (patch as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
        if (type === 'json' || !patchRv) next.metadata.resourceVersion = cur.metadata.resourceVersion!;
        return send(res, 200, store.update(kind, namespace, name!, next, sub));
      }
      case 'delete': {
        const body = (await readBody(req)) as { preconditions?: { uid?: string } } | undefined;
        const uid = body?.preconditions?.uid;
        const o = store.delete(kind, namespace, name!, uid ? { preconditionUid: uid } : {});
        return send(res, 200, kind.group === '' && kind.kind !== 'Namespace' ? successStatus(kind, o) : o);
      }
      case 'deletecollection': {
        const sel = both(labelSelector(url.searchParams.get('labelSelector')), fieldSelector(url.searchParams.get('fieldSelector')));
        const items = store.list(kind, namespace, sel);
        for (const o of items) store.delete(kind, o.metadata.namespace, o.metadata.name!);
        return send(res, 200, { kind: kind.listKind, apiVersion: groupVersion(kind), metadata: {}, items: items.map(listItem) });
      }
    }
  }

  private list(route: Route, url: URL, accept: string | undefined): unknown {
    const { kind, namespace } = route;
    const sel = both(labelSelector(url.searchParams.get('labelSelector')), fieldSelector(url.searchParams.get('fieldSelector')));
    const rv = this.store.resourceVersion;
    let items = this.store.list(kind, namespace, sel);
    const limit = Number(url.searchParams.get('limit') ?? 0);
    let offset = 0;
    const cont = url.searchParams.get('continue');
    if (cont) {
      try {
        offset = (JSON.parse(Buffer.from(cont, 'base64url').toString()) as { o: number }).o;
      } catch {
        throw badRequest('invalid continue token');
      }
    }
    let next: string | undefined;
    if (limit > 0 || offset > 0) {
      const end = limit > 0 ? offset + limit : items.length;
      if (end < items.length) next = Buffer.from(JSON.stringify({ o: end })).toString('base64url');
      items = items.slice(offset, end);
    }
    if (wantsTable(accept)) return { ...table(kind, items, rv), metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) } };
    return {
      kind: kind.listKind,
      apiVersion: groupVersion(kind),
      metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) },
      items: items.map(listItem),
    };
  }

  private watch(route: Route, url: URL, req: IncomingMessage, res: ServerResponse, user: string): void {
    const { kind, namespace } = route;
    const sel = both(labelSelector(url.searchParams.get('labelSelector')), fieldSelector(url.searchParams.get('fieldSelector')));
    const rvParam = url.searchParams.get('resourceVersion');
    const fromRv = !rvParam || rvParam === '0' ? undefined : Number(rvParam);
    if (fromRv !== undefined && !Number.isFinite(fromRv)) throw badRequest(`invalid resourceVersion "${rvParam}"`);
    const asTable = wantsTable(req.headers.accept);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const write = (ev: StoreEvent) => {
      // A watch whose timeoutSeconds ended it stays subscribed until its 'close': an event in between
      // was a write after end, an uncaught error that took the whole simulator down.
      if (res.writableEnded || res.destroyed) return;
      const object = asTable ? table(kind, [ev.object], ev.object.metadata.resourceVersion!) : ev.object;
      res.write(JSON.stringify({ type: ev.type, object }) + '\n');
    };
    let unsubscribe = () => {};
    try {
      unsubscribe = this.store.watch(kind, namespace, sel, fromRv, write);
    } catch (e) {
      if (e instanceof ApiError) {
        res.end(JSON.stringify({ type: 'ERROR', object: e.toStatus() }) + '\n');
        return;
      }
      throw e;
    }
    this.openWatches.add(res);
    this.metrics.watchOpened(user);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    let closed = false;
    const done = () => {
      unsubscribe();
      clearTimeout(timer);
      this.openWatches.delete(res);
      if (!closed) this.metrics.watchClosed(user);
      closed = true;
    };
    const timer =
      timeout > 0
        ? setTimeout(() => {
            done();
            res.end();
          }, timeout * 1000)
        : undefined;
    res.on('close', done);
    req.on('close', done);
  }
}

/**
 * The items of a real list carry no kind or apiVersion: only the list says what they are. Watch
 * events and single-object answers do carry them.
 */
function listItem(o: KubeObject): Omit<KubeObject, 'kind' | 'apiVersion'> {
  const { kind: _k, apiVersion: _v, ...rest } = o;
  return rest;
}

/**
 * The request's URL. Parsed against a base, a path such as `//x` would be read as a host, and an
 * invalid one (`//%00`) threw outside any handler: an unhandled rejection, no answer (a hang), and
 * in the simulator's own process a crash.
 */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(`https://sim${target?.startsWith('/') ? target : '/'}`);
  } catch {
    throw badRequest(`the request target is not a valid path: ${(target ?? '').slice(0, 100)}`);
  }
}

/** The path's segments, unescaped; a malformed escape (`%ZZ`) is the client's error, as kube-apiserver answers it. */
function pathSegments(pathname: string): string[] {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw badRequest(`the request path is not validly escaped: ${pathname.slice(0, 100)}`);
  }
}

function notFoundDoc(): never {
  throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

function successStatus(k: KindInfo, o: KubeObject) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name: o.metadata.name, kind: k.plural, uid: o.metadata.uid },
  };
}
