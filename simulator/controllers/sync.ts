/**
 * virt-synchronization-controller, one per cluster: a real TLS listener on loopback (advertised through
 * the KubeVirt CR) and a client that dials the target's `connectURL` for every source VMIM. Both ends
 * verify the peer's certificate against their own `kubevirt-ca` bundle, read live from the API, so
 * CA sync really decides whether the handshake works. After the handshake the source streams the VM's
 * memory and disk bytes (scaled down by `byteScale`) at the migration bandwidth, iterating pre-copy
 * rounds while the guest dirties memory; KubeVirt's progress and completion timeouts abort a transfer
 * that cannot converge. Progress is not written to the API (KubeVirt has no such field): it is kept as
 * libvirt-like job stats for the virt-handler metrics endpoint. Failures to connect never fail the
 * migration: they are written to the VMI as DecentralizedLiveMigrationFailure and retried with
 * backoff, forever, as KubeVirt does.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { MigrationJobs } from '../metrics/migration-jobs.js';
import type { SimNetwork } from '../network.js';
import { splitBundle } from '../pki.js';
import type { LeafCert } from '../pki.js';
import type { ControllerContext } from './context.js';
import { readFrames, writeData, writeJson } from './frames.js';
import {
  ANN_MIGRATION_TARGET,
  ANN_SIM_DIRTY_RATE,
  CA_BUNDLE_KEY,
  CA_CONFIGMAP,
  type Condition,
  FINAL_VMIM_PHASES,
  getPath,
  KUBEVIRT_CR,
  KUBEVIRT_NAMESPACE,
  migrationConfig,
  type MigrationConfig,
  now,
  parseQuantity,
  removeCondition,
  setCondition,
  SYNC_CLIENT_CN,
  SYNC_SERVER_CN,
  vmimRole,
} from './kubevirt.js';
import { errorCode, type KubeObject } from './kube.js';
import { BLOCKED_REASON, VMI_SYNC_FAILURE } from './migration.js';
import { claimNames } from './vmi.js';

export interface SyncControllerOptions {
  network: SimNetwork;
  serverCert: LeafCert;
  clientCert: LeafCert;
  /** Fixed listen port, so a restarted controller keeps its advertised address. 0 picks one once. */
  port?: number;
  /** One real byte on the wire stands for this many bytes of guest state. */
  byteScale: number;
  /** Where the source side keeps its transfers' job stats (guest bytes), for virt-handler's metrics. */
  jobs: MigrationJobs;
}

const GiB = 1024 ** 3;
const TICK_MS = 50;
const RPC_TIMEOUT_MS = 10_000;
/**
 * Flow control on the wire: kernel socket buffers on loopback hold megabytes, which at the scaled-down
 * byte rate would hide a partition for seconds. A small acknowledged window makes a stalled network
 * stall the sender within a tick, as a saturated TCP window does at real migration volumes.
 */
const WINDOW_BYTES = 64 * 1024;
const ACK_EVERY_BYTES = 8 * 1024;

class SyncError extends Error {}

/** gRPC-style error texts, so what lands in the conditions reads like KubeVirt's. */
const dialError = (address: string, what: string) =>
  new SyncError(`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ${address}: ${what}"`);
const tlsError = (what: string) => new SyncError(`rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: ${what}"`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Msg = Record<string, unknown>;

/** Bytes written to and acknowledged by the peer on one connection. */
interface Wire {
  sent: number;
  acked: number;
}

/** Queue of incoming control messages with an awaitable `next`. */
class Mailbox {
  private readonly items: Msg[] = [];
  private waiter?: (m: Msg | undefined) => void;
  closed?: Error;

  push(m: Msg): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(m);
    } else this.items.push(m);
  }

  close(e: Error): void {
    this.closed = e;
    this.waiter?.(undefined);
    this.waiter = undefined;
  }

  /** Next message, or undefined on timeout/close. */
  next(timeoutMs: number): Promise<Msg | undefined> {
    const m = this.items.shift();
    if (m || this.closed) return Promise.resolve(m);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    });
  }
}

export class SyncController {
  private server?: tls.Server;
  private port: number;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Map<string, Promise<void>>();
  private running = false;
  private kickTimer?: NodeJS.Timeout;
  /** Bytes received by this controller's listener, for tests to prove state crossed the wire. */
  bytesReceived = 0;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly opts: SyncControllerOptions,
    private readonly onAddressChange: () => void = () => {},
  ) {
    this.port = opts.port ?? 0;
    const kick = () => this.kick();
    ctx.informers.VirtualMachineInstanceMigration.on(kick);
  }

  address(): string | undefined {
    return this.running ? `127.0.0.1:${this.port}` : this.lastAddress;
  }

  private lastAddress?: string;

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const server = tls.createServer({ cert: this.opts.serverCert.certPem, key: this.opts.serverCert.keyPem, requestCert: true, rejectUnauthorized: false }, (socket) =>
      this.serve(socket),
    );
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    this.running = true;
    this.lastAddress = `127.0.0.1:${this.port}`;
    this.opts.network.register(this.lastAddress, this.ctx.cluster);
    this.kickTimer = setInterval(() => this.kick(), 500);
    this.kickTimer.unref();
    this.onAddressChange();
    this.kick();
  }

  /** Stop serving and dialling; the advertised address stays (stale), as a dead pod's IP would. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.kickTimer);
    if (this.lastAddress) this.opts.network.unregister(this.lastAddress);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
    await Promise.allSettled([...this.sessions.values()]);
  }

  // ---- trust -------------------------------------------------------------------------------------

  private trusted(peer: X509Certificate | undefined, cns: string[]): string | undefined {
    if (!peer) return "tls: client didn't provide a certificate";
    const bundle = String((this.ctx.get('ConfigMap', KUBEVIRT_NAMESPACE, CA_CONFIGMAP)?.data as Record<string, string> | undefined)?.[CA_BUNDLE_KEY] ?? '');
    const t = Date.now();
    const valid = Date.parse(peer.validFrom) <= t && t <= Date.parse(peer.validTo);
    if (!valid) return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
    const signed = splitBundle(bundle).some((pem) => {
      try {
        const ca = new X509Certificate(pem);
        return peer.checkIssued(ca) && peer.verify(ca.publicKey);
      } catch {
        return false;
      }
    });
    if (!signed) return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    const cn = /CN=([^\n,]+)/.exec(peer.subject)?.[1];
    if (!cn || !cns.includes(cn)) return `tls: failed to verify certificate: unexpected common name ${cn}`;
    return undefined;
  }

  // ---- server (target side) ----------------------------------------------------------------------

  private serve(socket: tls.TLSSocket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const problem = this.trusted(socket.getPeerX509Certificate(), [SYNC_CLIENT_CN, SYNC_SERVER_CN]);
    if (problem) {
      writeJson(socket, { t: 'error', message: tlsError('remote error: tls: bad certificate').message });
      socket.end();
      return;
    }
    const box = new Mailbox();
    let received = 0;
    let acked = 0;
    readFrames(
      socket,
      (m) => box.push(m),
      (n) => {
        this.bytesReceived += n;
        received += n;
        // Acknowledge as the bytes arrive: the sender keeps at most WINDOW_BYTES unacknowledged.
        if (received - acked >= ACK_EVERY_BYTES) {
          acked = received;
          writeJson(socket, { t: 'ack', bytes: received });
        }
      },
    );
    socket.on('close', () => box.close(new Error('connection closed')));
    void this.receive(socket, box).catch((e) => this.ctx.log(`sync receive: ${(e as Error).message}`));
  }

  private findTarget(migrationID: string): KubeObject | undefined {
    return this.ctx.informers.VirtualMachineInstanceMigration.list(
      (m) =>
        vmimRole(m) === 'target' &&
        getPath(m, 'spec.receive.migrationID') === migrationID &&
        !m.metadata.deletionTimestamp &&
        !FINAL_VMIM_PHASES.has(String(getPath(m, 'status.phase') ?? '')),
    )[0];
  }

  private async receive(socket: tls.TLSSocket, box: Mailbox): Promise<void> {
    const hello = await box.next(RPC_TIMEOUT_MS);
    if (!hello || hello.t !== 'hello') return void socket.destroy();
    const id = String(hello.migrationID);
    const vmim = this.findTarget(id);
    if (!vmim) {
      writeJson(socket, { t: 'error', message: `rpc error: code = Unknown desc = source: unable to locate VMI for migrationID ${id}` });
      return void socket.end();
    }
    const ns = vmim.metadata.namespace!;
    const vmiName = String(getPath(vmim, 'spec.vmiName'));
    const vmi = await this.updateVMIStatus(ns, vmiName, (s) => {
      const ms = (s.migrationState ?? {}) as Msg;
      s.migrationState = { ...ms, sourceState: hello.sourceState };
      s.conditions = removeCondition((s.conditions as Condition[]) ?? [], VMI_SYNC_FAILURE);
    });
    const kv = this.ctx.get('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR);
    writeJson(socket, { t: 'welcome', targetState: getPath(vmi, 'status.migrationState.targetState'), config: migrationConfig(kv) });

    const alive = () => {
      const m = this.ctx.get('VirtualMachineInstanceMigration', ns, vmim.metadata.name!);
      return !!m && m.metadata.uid === vmim.metadata.uid && !m.metadata.deletionTimestamp && getPath(m, 'status.phase') !== 'Failed';
    };
    let completed = false;
    let cancelled = false;
    // The source asking to cancel deletes our VMIM (CancelMigration); our VMIM going away cancels the source.
    const watchdog = setInterval(() => {
      if (!alive() && !completed && !cancelled) {
        cancelled = true;
        writeJson(socket, { t: 'cancel' });
        socket.end();
      }
    }, TICK_MS);
    try {
      while (alive() && getPath(this.ctx.get('VirtualMachineInstanceMigration', ns, vmim.metadata.name!), 'status.phase') !== 'TargetReady') {
        if (box.closed) return;
        await sleep(20);
      }
      if (!alive()) return;
      const ready = this.ctx.get('VirtualMachineInstance', ns, vmiName);
      writeJson(socket, { t: 'target-ready', nodeAddress: getPath(ready, 'status.migrationState.targetState.nodeAddress') });
      for (;;) {
        const m = await box.next(60_000);
        if (!m) {
          if (box.closed) break;
          continue;
        }
        if (m.t === 'start') {
          await this.updateVMIStatus(ns, vmiName, (s) => {
            s.migrationState = { ...(s.migrationState as Msg), startTimestamp: m.startTimestamp, mode: 'PreCopy' };
          });
        } else if (m.t === 'complete') {
          // All state is here. The source stops its copy first, then we resume: never two running guests.
          completed = true;
          writeJson(socket, { t: 'completed' });
          await box.next(RPC_TIMEOUT_MS); // 'handoff', or the connection closing: either way the guest is ours now
          await this.completeReceiver(ns, vmiName);
          socket.end();
          return;
        } else if (m.t === 'abort' || m.t === 'cancel') {
          cancelled = true;
          await this.failVMI(ns, vmiName, String(m.reason ?? 'migration cancelled by the source'), true);
          if (m.t === 'cancel') await this.ctx.client.delete('VirtualMachineInstanceMigration', ns, vmim.metadata.name!);
          return;
        }
      }
      if (!completed && !cancelled) await this.failVMI(ns, vmiName, 'connection to the migration source was lost', true);
    } finally {
      clearInterval(watchdog);
    }
  }

  private async completeReceiver(ns: string, name: string): Promise<void> {
    const vmi = await this.ctx.client.get('VirtualMachineInstance', ns, name);
    if (!vmi) return;
    const annotations = { ...(vmi.metadata.annotations ?? {}) };
    delete annotations[ANN_MIGRATION_TARGET];
    await this.ctx.client.update({ ...vmi, metadata: { ...vmi.metadata, annotations } });
    await this.updateVMIStatus(ns, name, (s) => {
      s.phase = 'Running';
      s.phaseTransitionTimestamps = [...((s.phaseTransitionTimestamps as object[]) ?? []), { phase: 'Running', phaseTransitionTimestamp: now() }];
      s.migrationState = { ...(s.migrationState as Msg), completed: true, endTimestamp: now() };
      s.conditions = setCondition((s.conditions as Condition[]) ?? [], { type: 'Ready', status: 'True' });
    });
  }

  private async failVMI(ns: string, name: string, reason: string, receiver: boolean): Promise<void> {
    await this.updateVMIStatus(ns, name, (s) => {
      s.migrationState = { ...(s.migrationState as Msg), failed: true, failureReason: reason, endTimestamp: now() };
      if (receiver) s.phase = 'Failed';
    });
  }

  // ---- client (source side) ----------------------------------------------------------------------

  /** Make sure every active source VMIM has a session. */
  private kick(): void {
    if (!this.running) return;
    for (const m of this.ctx.informers.VirtualMachineInstanceMigration.list((x) => vmimRole(x) === 'source')) {
      const uid = m.metadata.uid!;
      if (this.sessions.has(uid) || !this.sourceActive(m)) continue;
      const p = this.sendSession(m)
        .catch((e) => this.ctx.log(`sync send ${m.metadata.name}: ${(e as Error).message}`))
        .finally(() => this.sessions.delete(uid));
      this.sessions.set(uid, p);
    }
  }

  /** The source VMIM still wants to migrate: present, not being deleted, not final, owns the VMI. */
  private sourceActive(vmim: KubeObject): boolean {
    const cur = this.ctx.get('VirtualMachineInstanceMigration', vmim.metadata.namespace, vmim.metadata.name!);
    if (!cur || cur.metadata.uid !== vmim.metadata.uid || cur.metadata.deletionTimestamp) return false;
    if (FINAL_VMIM_PHASES.has(String(getPath(cur, 'status.phase') ?? ''))) return false;
    const vmi = this.ctx.get('VirtualMachineInstance', cur.metadata.namespace, String(getPath(cur, 'spec.vmiName')));
    const ms = getPath<Msg>(vmi, 'status.migrationState');
    return !!ms && ms.migrationUid === cur.metadata.uid && ms.failed !== true && ms.completed !== true;
  }

  private async sendSession(vmim: KubeObject): Promise<void> {
    let backoff = 100;
    while (this.running && this.sourceActive(vmim)) {
      const r = await this.attempt(vmim).catch((e: unknown) => e);
      if (r === 'done') return;
      if (r instanceof SyncError) {
        await this.recordSyncFailure(vmim, r.message);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.ctx.timing.syncMaxBackoffMs);
      } else if (r instanceof Error) {
        this.ctx.log(`sync ${vmim.metadata.name}: ${r.message}`);
        await sleep(backoff);
      }
    }
  }

  private async recordSyncFailure(vmim: KubeObject, message: string): Promise<void> {
    if (!this.sourceActive(vmim)) return;
    await this.updateVMIStatus(vmim.metadata.namespace!, String(getPath(vmim, 'spec.vmiName')), (s) => {
      s.conditions = setCondition((s.conditions as Condition[]) ?? [], { type: VMI_SYNC_FAILURE, status: 'True', reason: BLOCKED_REASON, message });
    });
  }

  private dial(address: string): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock?.destroy();
        reject(e);
      };
      let sock: tls.TLSSocket | undefined;
      const timer = setTimeout(() => fail(dialError(address, 'i/o timeout')), this.ctx.timing.syncDialTimeoutMs);
      this.opts.network
        .connect(this.ctx.cluster, address)
        .then((raw) => {
          raw.on('error', (e: NodeJS.ErrnoException) => fail(e.code === 'ECONNREFUSED' ? dialError(address, 'connect: connection refused') : dialError(address, e.message)));
          sock = tls.connect({ socket: raw, cert: this.opts.clientCert.certPem, key: this.opts.clientCert.keyPem, rejectUnauthorized: false });
          sock.on('error', (e) => fail(tlsError(e.message)));
          sock.on('close', () => fail(tlsError('connection closed before the handshake completed')));
          sock.once('secureConnect', () => {
            const problem = this.trusted(sock!.getPeerX509Certificate(), [SYNC_SERVER_CN, SYNC_CLIENT_CN]);
            if (problem) return fail(tlsError(problem));
            settled = true;
            clearTimeout(timer);
            sock!.removeAllListeners('close');
            resolve(sock!);
          });
        })
        .catch((e: Error) => fail(dialError(address, e.message)));
    });
  }

  /** One connection: handshake, wait for the target, transfer. Resolves 'done' when the migration ended. */
  private async attempt(vmim: KubeObject): Promise<'done'> {
    const ns = vmim.metadata.namespace!;
    const vmiName = String(getPath(vmim, 'spec.vmiName'));
    const address = String(getPath(vmim, 'spec.sendTo.connectURL'));
    const id = String(getPath(vmim, 'spec.sendTo.migrationID'));
    const socket = await this.dial(address);
    this.sockets.add(socket);
    const box = new Mailbox();
    const wire = { sent: 0, acked: 0 };
    readFrames(
      socket,
      (m) => (m.t === 'ack' ? (wire.acked = Number(m.bytes)) : box.push(m)),
      () => {},
    );
    socket.on('close', () => {
      this.sockets.delete(socket);
      box.close(new Error('connection closed'));
    });
    socket.on('error', () => {});
    try {
      const vmi = this.ctx.get('VirtualMachineInstance', ns, vmiName);
      writeJson(socket, {
        t: 'hello',
        migrationID: id,
        sourceState: getPath(vmi, 'status.migrationState.sourceState'),
        vmi: { namespace: ns, name: vmiName, uid: vmi?.metadata.uid },
      });
      const welcome = await box.next(RPC_TIMEOUT_MS);
      if (!welcome) throw new SyncError(box.closed ? tlsError('connection closed').message : 'rpc error: code = DeadlineExceeded desc = context deadline exceeded');
      if (welcome.t === 'error') throw new SyncError(String(welcome.message));
      await this.updateVMIStatus(ns, vmiName, (s) => {
        const ms = s.migrationState as Msg;
        s.migrationState = { ...ms, targetState: { ...(ms.targetState as Msg), ...(welcome.targetState as Msg), syncAddress: address } };
        s.conditions = removeCondition((s.conditions as Condition[]) ?? [], VMI_SYNC_FAILURE);
      });
      // From here the migration is under way: losing the connection fails it rather than retrying.
      return await this.migrate(vmim, socket, box, wire, welcome.config as MigrationConfig);
    } finally {
      socket.destroy();
    }
  }

  private async migrate(vmim: KubeObject, socket: tls.TLSSocket, box: Mailbox, wire: Wire, cfg: MigrationConfig): Promise<'done'> {
    const ns = vmim.metadata.namespace!;
    const vmiName = String(getPath(vmim, 'spec.vmiName'));
    const fail = async (reason: string) => {
      writeJson(socket, { t: 'abort', reason });
      await this.failVMI(ns, vmiName, reason, false);
      return 'done' as const;
    };
    const cancel = async () => {
      writeJson(socket, { t: 'cancel' });
      return 'done' as const;
    };
    // Wait for the target to be ready to receive, and for our side to catch up to TargetReady.
    for (;;) {
      if (!this.sourceActive(vmim)) return cancel();
      const m = await box.next(TICK_MS);
      if (m?.t === 'cancel') return this.cancelledByPeer(vmim);
      if (m?.t === 'target-ready') {
        await this.updateVMIStatus(ns, vmiName, (s) => {
          const ms = s.migrationState as Msg;
          s.migrationState = { ...ms, targetNodeAddress: m.nodeAddress, targetState: { ...(ms.targetState as Msg), nodeAddress: m.nodeAddress } };
        });
        break;
      }
      if (!m && box.closed) return fail('migration connection lost before the transfer started');
    }
    while (getPath(this.ctx.get('VirtualMachineInstanceMigration', ns, vmim.metadata.name!), 'status.phase') !== 'TargetReady') {
      if (!this.sourceActive(vmim)) return cancel();
      if (box.closed) return fail('migration connection lost before the transfer started');
      await sleep(20);
    }
    const startTimestamp = now();
    await this.updateVMIStatus(ns, vmiName, (s) => {
      s.migrationState = { ...(s.migrationState as Msg), startTimestamp, mode: 'PreCopy' };
    });
    writeJson(socket, { t: 'start', startTimestamp });

    // libvirt's job info exists while the job runs: completed, failed or aborted, its stats are gone.
    const outcome = await this.transfer(vmim, socket, box, wire, cfg).finally(() => this.opts.jobs.end(ns, vmiName, vmim.metadata.uid!));
    if (outcome.kind === 'cancelled') return cancel();
    if (outcome.kind === 'peer-cancelled') return this.cancelledByPeer(vmim);
    if (outcome.kind === 'failed') return fail(outcome.reason);
    writeJson(socket, { t: 'complete' });
    const ack = await box.next(RPC_TIMEOUT_MS);
    if (ack?.t !== 'completed') return fail('the target did not confirm completion');
    await this.updateVMIStatus(ns, vmiName, (s) => {
      s.phase = 'Succeeded';
      s.phaseTransitionTimestamps = [...((s.phaseTransitionTimestamps as object[]) ?? []), { phase: 'Succeeded', phaseTransitionTimestamp: now() }];
      s.migrationState = { ...(s.migrationState as Msg), completed: true, endTimestamp: now() };
      s.conditions = setCondition((s.conditions as Condition[]) ?? [], { type: 'Ready', status: 'False', reason: 'PodCompleted' });
    });
    writeJson(socket, { t: 'handoff' });
    return 'done';
  }

  private async cancelledByPeer(vmim: KubeObject): Promise<'done'> {
    // CancelMigration from the target: delete our VMIM; the migration controller records the abort.
    await this.ctx.client.delete('VirtualMachineInstanceMigration', vmim.metadata.namespace, vmim.metadata.name!);
    return 'done';
  }

  private stateSizes(ns: string, vmi: KubeObject | undefined): { memory: number; disks: number } {
    const memory = parseQuantity(getPath(vmi, 'spec.domain.memory.guest') ?? getPath(vmi, 'spec.domain.resources.requests.memory') ?? '1Gi');
    let disks = 0;
    for (const { claim } of claimNames(vmi?.spec)) {
      const pvc = this.ctx.get('PersistentVolumeClaim', ns, claim);
      disks += parseQuantity(getPath(pvc, 'status.capacity.storage') ?? getPath(pvc, 'spec.resources.requests.storage') ?? 0);
    }
    return { memory, disks };
  }

  /**
   * Pre-copy: copy disks and memory, then re-copy what the guest dirtied meanwhile, until what is left
   * fits in the allowed downtime. KubeVirt aborts when the remaining amount sets no new low for
   * `progressTimeout`, or when the whole thing exceeds `completionTimeoutPerGiB` × size.
   */
  private async transfer(
    vmim: KubeObject,
    socket: tls.TLSSocket,
    box: Mailbox,
    wire: Wire,
    cfg: MigrationConfig,
  ): Promise<{ kind: 'completed' } | { kind: 'cancelled' } | { kind: 'peer-cancelled' } | { kind: 'failed'; reason: string }> {
    const ns = vmim.metadata.namespace!;
    const vmiName = String(getPath(vmim, 'spec.vmiName'));
    const vmi = this.ctx.get('VirtualMachineInstance', ns, vmiName);
    const { memory, disks } = this.stateSizes(ns, vmi);
    const dirtyRate = parseQuantity(vmi?.metadata.annotations?.[ANN_SIM_DIRTY_RATE] ?? 0);
    const bw = cfg.bandwidthBytesPerSecond;
    const total = memory + disks;
    const budgetMs = cfg.completionTimeoutPerGiB * Math.max(1, Math.ceil(total / GiB)) * 1000;
    const downtimeBytes = (bw * cfg.maxDowntimeMs) / 1000;
    const start = Date.now();
    let iterationLeft = total;
    let dirty = 0;
    let processed = 0;
    let lowest = Infinity;
    let lastLow = start;
    let owed = 0;
    let last = start;
    // virt-handler reads libvirt's job info periodically; the transfer rate is what moved since the last read.
    const node = String(getPath(vmi, 'status.nodeName') ?? `${this.ctx.cluster}-node-1`);
    let sampled = { at: 0, processed: 0 };
    const sample = (t: number, remaining: number) => {
      const seconds = (t - (sampled.at || start)) / 1000;
      const rate = seconds > 0 ? (processed - sampled.processed) / seconds : 0;
      sampled = { at: t, processed };
      this.opts.jobs.update({
        namespace: ns,
        name: vmiName,
        node,
        migrationUid: vmim.metadata.uid!,
        dataTotalBytes: total,
        dataProcessedBytes: processed,
        dataRemainingBytes: remaining,
        memDirtyRateBytes: dirtyRate,
        memoryTransferRateBytes: rate,
        sampledAt: t,
      });
    };

    const timedOut = (t: number): { kind: 'failed'; reason: string } | undefined => {
      if (t - lastLow > cfg.progressTimeoutSeconds * 1000) {
        return { kind: 'failed', reason: `Live migration stuck for ${cfg.progressTimeoutSeconds} sec and has been aborted` };
      }
      if (t - start > budgetMs) {
        return { kind: 'failed', reason: `Live migration is not completed after ${Math.round(budgetMs / 1000)} sec and has been aborted` };
      }
      return undefined;
    };

    for (;;) {
      await sleep(TICK_MS);
      const t = Date.now();
      // After a stall (partition, full buffers) do not pretend the lost time carried data.
      const dt = Math.min(t - last, TICK_MS * 4) / 1000;
      last = t;
      if (!this.sourceActive(vmim)) return { kind: 'cancelled' };
      const m = await box.next(0);
      if (m?.t === 'cancel') return { kind: 'peer-cancelled' };
      if (box.closed) return { kind: 'failed', reason: `migration connection lost: ${box.closed.message}` };

      const send = Math.min(bw * dt, iterationLeft);
      // Handed to the socket counts as processed, as libvirt counts what it wrote.
      iterationLeft -= send;
      processed += send;
      owed += send / this.opts.byteScale;
      const realBytes = Math.floor(owed);
      if (realBytes > 0) {
        owed -= realBytes;
        writeData(socket, Buffer.alloc(realBytes));
        wire.sent += realBytes;
        // The network is not taking our bytes (partition, slow peer): block like libvirt would, while
        // KubeVirt's clocks keep running.
        while (wire.sent - wire.acked > WINDOW_BYTES) {
          await sleep(20);
          if (!this.sourceActive(vmim)) return { kind: 'cancelled' };
          const lost = box.closed as Error | undefined;
          if (lost) return { kind: 'failed', reason: `migration connection lost: ${lost.message}` };
          const now = Date.now();
          const stuck = timedOut(now);
          if (stuck) return stuck;
          // Stalled, libvirt still answers: nothing moved, so the transfer rate drops to zero.
          if (now - sampled.at >= this.ctx.timing.progressIntervalMs) sample(now, iterationLeft + dirty);
          last = now;
        }
      }
      dirty = Math.min(memory, dirty + dirtyRate * dt);
      if (iterationLeft <= 0) {
        if (dirty <= downtimeBytes) {
          // Stop-and-copy: the guest pauses and the last dirty pages go over the wire.
          const rest = Math.ceil((dirty + owed * this.opts.byteScale) / this.opts.byteScale);
          if (rest > 0) writeData(socket, Buffer.alloc(rest));
          processed += dirty;
          return { kind: 'completed' };
        }
        iterationLeft = dirty;
        dirty = 0;
      }
      const remaining = iterationLeft + dirty;
      if (remaining < lowest) {
        lowest = remaining;
        lastLow = t;
      }
      const stuck = timedOut(t);
      if (stuck) return stuck;
      if (processed > 0 && t - sampled.at >= this.ctx.timing.progressIntervalMs) sample(t, remaining);
    }
  }

  /**
   * Read-modify-write of a VMI's status, retried on conflicts with the other controllers. The VMI has
   * no status subresource, so the whole object is written back.
   */
  private async updateVMIStatus(ns: string, name: string, mutate: (status: Msg) => void): Promise<KubeObject | undefined> {
    for (let i = 0; ; i++) {
      const vmi = await this.ctx.client.get('VirtualMachineInstance', ns, name);
      if (!vmi) return undefined;
      const status = structuredClone((vmi.status as Msg) ?? {});
      mutate(status);
      try {
        return await this.ctx.client.update({ ...vmi, status });
      } catch (e) {
        if (errorCode(e) !== 409 || i > 20) throw e;
      }
    }
  }
}
