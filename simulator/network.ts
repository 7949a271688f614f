/**
 * The network between simulated clusters' synchronization endpoints. Every connection a sync controller
 * makes to an advertised address goes through a per-link TCP relay, so a partition acts on bytes the
 * way a real one does: new connections hang in the TLS handshake until they time out, and open
 * connections stop delivering data (the sender's buffers fill and it blocks) until the partition heals.
 * Addresses nobody registered are dialled directly, so a stopped listener gives a real ECONNREFUSED.
 */
import net from 'node:net';

interface Relay {
  server: net.Server;
  port: number;
  pairs: Set<Pair>;
}

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  queued: { to: 'client' | 'upstream'; chunk: Buffer }[];
}

const pairKey = (a: string, b: string) => [a, b].sort().join('|');

export class SimNetwork {
  private readonly owners = new Map<string, string>();
  private readonly relays = new Map<string, Promise<Relay>>();
  private readonly partitions = new Set<string>();

  /** Announce that `address` (host:port) is served inside `cluster`. */
  register(address: string, cluster: string): void {
    this.owners.set(address, cluster);
  }

  unregister(address: string): void {
    this.owners.delete(address);
  }

  ownerOf(address: string): string | undefined {
    return this.owners.get(address);
  }

  isPartitioned(a: string, b: string): boolean {
    return a !== b && this.partitions.has(pairKey(a, b));
  }

  /** Cut (or heal) the network between two clusters. Traffic inside a cluster is never affected. */
  async setPartition(a: string, b: string, on: boolean): Promise<void> {
    if (a === b) return;
    if (on) this.partitions.add(pairKey(a, b));
    else this.partitions.delete(pairKey(a, b));
    for (const [key, relayP] of this.relays) {
      const [from, address] = key.split('>') as [string, string];
      const to = this.owners.get(address);
      if (!to || pairKey(from, to) !== pairKey(a, b)) continue;
      const relay = await relayP;
      for (const p of relay.pairs) if (!on) this.flow(from, address, p);
    }
  }

  get partitioned(): string[][] {
    return [...this.partitions].map((k) => k.split('|'));
  }

  /** Open a TCP connection from a component in `from` to `address` (host:port), as that cluster sees the network. */
  async connect(from: string, address: string): Promise<net.Socket> {
    const to = this.owners.get(address);
    const { host, port } = splitAddress(address);
    if (!to) return net.connect({ host, port });
    const key = `${from}>${address}`;
    let relay = this.relays.get(key);
    if (!relay) {
      relay = this.startRelay(from, address);
      this.relays.set(key, relay);
    }
    return net.connect({ host: '127.0.0.1', port: (await relay).port });
  }

  async close(): Promise<void> {
    for (const r of this.relays.values()) {
      const relay = await r;
      for (const p of relay.pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      relay.server.close();
    }
    this.relays.clear();
  }

  private linkUp(from: string, address: string): boolean {
    const to = this.owners.get(address);
    return !to || !this.isPartitioned(from, to);
  }

  private startRelay(from: string, address: string): Promise<Relay> {
    const pairs = new Set<Pair>();
    const server = net.createServer((client) => {
      const p: Pair = { client, queued: [] };
      pairs.add(p);
      client.pause();
      client.on('error', () => p.upstream?.destroy());
      client.on('close', () => {
        p.upstream?.destroy();
        pairs.delete(p);
      });
      client.on('data', (chunk) => this.forward(from, address, p, 'upstream', chunk));
      this.flow(from, address, p);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, pairs }));
    });
  }

  /** Connect upstream if needed and let bytes move, when the link is up. */
  private flow(from: string, address: string, p: Pair): void {
    if (!this.linkUp(from, address) || p.client.destroyed) return;
    if (!p.upstream) {
      const { host, port } = splitAddress(address);
      const up = net.connect({ host, port });
      p.upstream = up;
      up.on('error', () => p.client.destroy());
      up.on('close', () => p.client.destroy());
      up.on('data', (chunk) => this.forward(from, address, p, 'client', chunk));
    }
    for (const q of p.queued.splice(0)) (q.to === 'client' ? p.client : p.upstream).write(q.chunk);
    p.client.resume();
    p.upstream.resume();
  }

  private forward(from: string, address: string, p: Pair, to: 'client' | 'upstream', chunk: Buffer): void {
    const src = to === 'client' ? p.upstream! : p.client;
    const dst = to === 'client' ? p.client : p.upstream;
    if (!dst || !this.linkUp(from, address)) {
      // Partitioned: hold what was already read and stop reading, so the sender's buffers fill up.
      p.queued.push({ to, chunk });
      src.pause();
      return;
    }
    if (!dst.write(chunk)) {
      src.pause();
      dst.once('drain', () => {
        if (this.linkUp(from, address)) src.resume();
      });
    }
  }
}

export function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid address "${address}": expected host:port`);
  return { host: m[1]!, port: Number(m[2]) };
}
