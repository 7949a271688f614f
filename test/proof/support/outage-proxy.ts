/**
 * An API outage between ferry and one cluster, not inside it: a TCP proxy on loopback that ferry's
 * kubeconfig points at instead of the cluster's API server. It passes the TLS bytes through untouched
 * (the simulator's certificate covers 127.0.0.1, so ferry verifies the real server through it), and
 * the simulated KubeVirt components, which talk to their API server directly, never notice it.
 *
 * Modes, switchable at any time:
 * - `up`: bytes flow (connections stalled by `hang` resume where they stopped);
 * - `refuse`: the listener is closed (a new connection gets ECONNREFUSED) and every open connection is
 *   destroyed;
 * - `hang`: connections are accepted but nothing is forwarded either way, open ones included: a TLS
 *   handshake never completes, a request never gets its answer, a watch goes silent.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type OutageMode = 'up' | 'refuse' | 'hang';

interface Pipe {
  client: Socket;
  upstream?: Socket;
}

export class OutageProxy {
  private mode: OutageMode = 'up';
  private server: Server | undefined;
  private readonly pipes = new Set<Pipe>();
  /** Connections accepted while hanging or up: how often ferry came back. */
  connections = 0;
  /** Mode changes away from `up`, by mode: the faults this proxy injected. */
  readonly outages: Record<Exclude<OutageMode, 'up'>, number> = { refuse: 0, hang: 0 };

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** A proxy to `target` (an https URL or host:port) on a free loopback port. */
  static async start(target: string): Promise<OutageProxy> {
    const u = new URL(target.includes('://') ? target : `https://${target}`);
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const p = new OutageProxy({ host: u.hostname, port: Number(u.port || 443) }, port);
    await p.listen();
    return p;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get current(): OutageMode {
    return this.mode;
  }

  async set(mode: OutageMode): Promise<void> {
    if (mode === this.mode) return;
    const was = this.mode;
    this.mode = mode;
    if (mode !== 'up') this.outages[mode]++;
    if (mode === 'refuse') {
      // Open connections first, and synchronously: server.close() calls back only once they are all
      // gone, so dropping them after it would leave ferry's keep-alive connections working.
      const closed = this.close();
      for (const p of this.pipes) this.drop(p);
      await closed;
    } else {
      if (was === 'refuse') await this.listen();
      for (const p of this.pipes) (mode === 'hang' ? this.pause : this.resume).call(this, p);
    }
  }

  async stop(): Promise<void> {
    this.mode = 'refuse';
    const closed = this.close();
    for (const p of this.pipes) this.drop(p);
    await closed;
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    return s ? new Promise((r) => s.close(() => r())) : Promise.resolve();
  }

  private accept(client: Socket): void {
    this.connections++;
    const p: Pipe = { client };
    this.pipes.add(p);
    client.on('error', () => this.drop(p));
    client.on('close', () => this.drop(p));
    if (this.mode === 'hang') client.pause();
    else this.connect(p);
  }

  /** The upstream side exists only once bytes may flow: a hung connection has none yet. */
  private connect(p: Pipe): void {
    const upstream = createConnection(this.target);
    p.upstream = upstream;
    upstream.on('error', () => this.drop(p));
    upstream.on('close', () => this.drop(p));
    // Forwarded by hand, not with pipe(): pipe() resumes a source on the destination's 'drain', which
    // would undo a hang's pause.
    const forward = (to: Socket) => (d: Buffer) => void (to.writable ? to.write(d) : undefined);
    p.client.on('data', forward(upstream));
    upstream.on('data', forward(p.client));
    p.client.on('end', () => upstream.end());
    upstream.on('end', () => p.client.end());
    p.client.resume();
  }

  private pause(p: Pipe): void {
    p.client.pause();
    p.upstream?.pause();
  }

  private resume(p: Pipe): void {
    if (!p.upstream) this.connect(p);
    else {
      p.client.resume();
      p.upstream.resume();
    }
  }

  private drop(p: Pipe): void {
    if (!this.pipes.delete(p)) return;
    p.client.destroy();
    p.upstream?.destroy();
  }
}
