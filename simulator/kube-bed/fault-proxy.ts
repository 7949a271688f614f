/**
 * A fault-injecting HTTPS proxy in front of a real kube-apiserver: the real bed's stand-in for a flaky
 * path between ferry and a cluster. ferry's and people's kubeconfig contexts point here; KubeVirt's
 * components talk to the API server directly, so faults never hit them (as on the simulator).
 *
 * It serves the simulator's control endpoints (`/sim/v1/faults`, `watches`, `metrics`, and whatever the
 * bed registers) with the same schema and the same answers, so `sim:control` and the tests drive both
 * beds alike. Everything else is passed through byte for byte, authentication included: the API server
 * decides who may do what.
 */
import { Agent, createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../apiserver/errors.js';
import { Faults } from '../apiserver/faults.js';
import { RequestMetrics } from '../apiserver/metrics.js';
import { injectedFaultError, isWatch, parseRoute, verbOf } from '../apiserver/routes.js';
import { readBody, type ControlHandler } from '../apiserver/server.js';
import type { LeafCert } from '../pki.js';

export interface FaultProxyOptions {
  upstream: string;
  upstreamCA: string;
  tls: LeafCert;
  /** Bearer token allowed to use the controls. */
  adminToken: string;
  /** Names for the metrics, by bearer token. */
  users: Map<string, string>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

function sendError(res: ServerResponse, err: ApiError): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err.details?.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.details.retryAfterSeconds);
  res.writeHead(err.code, headers);
  res.end(JSON.stringify(err.toStatus()));
}

export class FaultProxy {
  readonly faults = new Faults();
  readonly metrics = new RequestMetrics();
  private readonly controls = new Map<string, ControlHandler>();
  private readonly openWatches = new Set<{ upstream: ReturnType<typeof request>; res: ServerResponse }>();
  private readonly sockets = new Set<Socket>();
  private readonly agent: Agent;
  private dropTimer?: NodeJS.Timeout;

  private constructor(
    private readonly opts: FaultProxyOptions,
    private readonly server: Server,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 256, ca: opts.upstreamCA });
    this.registerControl('faults', (method, body) => {
      if (method === 'PUT') {
        try {
          this.faults.set((body ?? {}) as object);
        } catch (e) {
          throw new ApiError(400, 'BadRequest', `invalid fault configuration: ${(e as Error).message}`);
        }
      }
      if (method === 'DELETE') this.faults.clear();
      return { config: this.faults.config, injected: this.faults.injected };
    });
    this.registerControl('metrics', (method) => {
      if (method === 'DELETE') this.metrics.reset();
      return this.metrics.snapshot();
    });
    this.registerControl('watches', (method) => (method === 'DELETE' ? { dropped: this.dropWatches() } : {}));
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem });
    const proxy = new FaultProxy(opts, server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void proxy.handle(req, res));
    server.on('connection', (sock: Socket) => {
      proxy.sockets.add(sock);
      sock.on('close', () => proxy.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.dropTimer = setInterval(() => {
      for (const w of proxy.openWatches) if (proxy.faults.shouldDropWatch()) proxy.cut(w);
    }, 1000);
    proxy.dropTimer.unref();
    return proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  registerControl(name: string, handler: ControlHandler): void {
    this.controls.set(name, handler);
  }

  dropWatches(): number {
    const n = this.openWatches.size;
    for (const w of this.openWatches) this.cut(w);
    this.faults.injected.droppedWatches += n;
    return n;
  }

  private cut(w: { upstream: ReturnType<typeof request>; res: ServerResponse }): void {
    this.openWatches.delete(w);
    w.upstream.destroy();
    w.res.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'https://proxy');
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const user = (token && this.opts.users.get(token)) || 'other';
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let verb = 'other';
    try {
      if (segs[0] === 'sim') {
        if (token !== this.opts.adminToken) throw new ApiError(403, 'Forbidden', `User "${user}" may not use simulator controls`);
        const h = segs[1] === 'v1' ? this.controls.get(segs.slice(2).join('/')) : undefined;
        if (!h) throw new ApiError(404, 'NotFound', `no simulator control at /${segs.join('/')}; known: ${[...this.controls.keys()].join(', ')}`);
        const body = req.method === 'GET' ? undefined : await readBody(req);
        const answer = await h(req.method ?? 'GET', body);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(answer));
      }
      const { route } = segs[0] === 'api' || segs[0] === 'apis' ? parseRoute(segs) : {};
      if (route) {
        const v = verbOf(req.method ?? 'GET', route, isWatch(url));
        verb = v;
        const delay = this.faults.latency();
        if (delay > 0) await sleep(delay);
        const fault = this.faults.errorFor(v === 'deletecollection' ? 'delete' : v, route.plural);
        if (fault) {
          this.metrics.injectedErrors++;
          req.resume();
          return sendError(res, injectedFaultError(fault, route.plural, user, verb));
        }
      }
      await this.forward(req, res, verb === 'watch');
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(502, 'InternalError', `fault proxy: ${(e as Error).message}`);
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    } finally {
      this.metrics.record(user, verb, verb === 'watch' ? undefined : performance.now() - started);
    }
  }

  private forward(req: IncomingMessage, res: ServerResponse, watch: boolean): Promise<void> {
    const target = new URL(req.url ?? '/', this.opts.upstream);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_BY_HOP.has(k)));
    return new Promise((resolve, reject) => {
      let answered = false;
      const upstream = request(target, { method: req.method, headers, agent: this.agent, ca: this.opts.upstreamCA }, (up) => {
        const out = Object.fromEntries(Object.entries(up.headers).filter(([k]) => !HOP_BY_HOP.has(k)));
        res.writeHead(up.statusCode ?? 502, out as Record<string, string | string[]>);
        if (watch) this.openWatches.add(entry);
        up.pipe(res);
        up.on('end', () => {
          answered = true;
          done();
        });
        up.on('error', () => res.destroy());
      });
      const entry = { upstream, res };
      const done = () => {
        this.openWatches.delete(entry);
        resolve();
      };
      // Registered before the upstream answers: a client that hangs up early (a watch stopped during
      // injected latency, say) ends the upstream request too, or it would linger with its socket.
      res.on('close', () => {
        if (!answered) upstream.destroy();
        done();
      });
      upstream.on('error', (e) => (res.headersSent || res.destroyed ? (res.destroy(), done()) : reject(e)));
      req.pipe(upstream);
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.dropTimer);
    for (const w of this.openWatches) this.cut(w);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      for (const sock of this.sockets) sock.destroy();
    });
    this.agent.destroy();
  }
}
