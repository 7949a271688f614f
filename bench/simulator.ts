/**
 * Simulator benchmark (`npm run bench:sim -- [--vms N] [--migrations N]`): API request latency
 * (p50/p99, client- and server-side) and process memory with N extra running VMs loaded on the
 * source cluster and M decentralized live migrations in flight at once.
 *
 * Everything goes through the real API with @kubernetes/client-node, as ferry would: the VMs (each with
 * a blank DataVolume root disk) are created in namespace `bench` with a bounded concurrency; the CAs
 * are exchanged; `bandwidthPerMigration` is lowered on both KubeVirt CRs so the transfers overlap; then
 * all migrations are started at once (receiver VM + DataVolume, target VMIM, source VMIM) while a
 * closed-loop load of gets and label-selector lists measures latency. Phases: idle (fixtures only),
 * loading (creating the VMs), loaded, migrating. Writes artifacts/bench-simulator.json.
 *
 * Exit codes: 0 all migrations succeeded; 1 some failed or the VMs did not end as expected; 2 timeout.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as k8s from '@kubernetes/client-node';
import { percentile, type MetricsSnapshot } from '../simulator/apiserver/metrics.js';
import { Simulator } from '../simulator/sim.js';

const USAGE = `usage: npm run bench:sim -- [--vms N] [--migrations N] [options]

  --vms N               extra running VMs to load on the source (default 1000)
  --migrations N        decentralized migrations started at once (default 50)
  --concurrency N       parallel requests while creating the VMs (default 20)
  --load-workers N      closed-loop client workers measuring latency (default 8)
  --phase-seconds N     how long the idle and loaded phases are measured (default 5)
  --bandwidth Q         bandwidthPerMigration during the migrations (default 512Mi)
  --memory Q            guest memory of each bench VM (default 1Gi)
  --disk Q              root disk size of each bench VM (default 2Gi)
  --timeout N           overall limit in seconds (default 900)
  --out FILE            JSON report (default artifacts/bench-simulator.json)
`;

const { values: args } = parseArgs({
  options: {
    vms: { type: 'string', default: '1000' },
    migrations: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '20' },
    'load-workers': { type: 'string', default: '8' },
    'phase-seconds': { type: 'string', default: '5' },
    bandwidth: { type: 'string', default: '512Mi' },
    memory: { type: 'string', default: '1Gi' },
    disk: { type: 'string', default: '2Gi' },
    timeout: { type: 'string', default: '900' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

function intArg(name: keyof typeof args, min: number): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`--${name} must be an integer >= ${min}, got "${String(args[name])}"`);
    process.exit(64);
  }
  return v;
}

const VMS = intArg('vms', 1);
const MIGRATIONS = intArg('migrations', 0);
const CONCURRENCY = intArg('concurrency', 1);
const LOAD_WORKERS = intArg('load-workers', 1);
const PHASE_MS = intArg('phase-seconds', 1) * 1000;
const TIMEOUT_MS = intArg('timeout', 10) * 1000;
if (MIGRATIONS > VMS) {
  console.error(`--migrations (${MIGRATIONS}) cannot exceed --vms (${VMS})`);
  process.exit(64);
}
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = resolve(args.out ?? resolve(ROOT, 'artifacts/bench-simulator.json'));

const NS = 'bench';
const SHARDS = 20;
const SHARD_LABEL = 'bench.ferry.dev/shard';
const MIGRATE_LABEL = 'bench.ferry.dev/migrate';
const started = Date.now();
const deadline = started + TIMEOUT_MS;

class Timeout extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const elapsed = () => ((Date.now() - started) / 1000).toFixed(1).padStart(6);
const log = (msg: string) => console.error(`[${elapsed()}s] ${msg}`);

// ---- measurement helpers --------------------------------------------------------------------------

interface LatencySummary {
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

function summarize(samples: number[], errors: number, ms: number): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 100) / 100;
  return {
    requests: samples.length + errors,
    errors,
    perSecond: r((samples.length + errors) / Math.max(ms / 1000, 0.001)),
    p50: r(percentile(sorted, 50)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted.at(-1) ?? 0),
  };
}

interface Memory {
  rssMB: number;
  heapUsedMB: number;
}

const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
function memory(): Memory {
  const m = process.memoryUsage();
  return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed) };
}
/** TCP sockets open in this process right now. */
const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
/** A full GC before the memory snapshots, so they show what is retained (peaks are sampled without). */
const gc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose_gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

/** Samples memory every 200 ms; `peak()` since the last `reset()`. */
class MemorySampler {
  private peakRss = 0;
  private peakHeap = 0;
  private peakSockets = 0;
  private ticks = 0;
  private readonly timer = setInterval(() => this.sample(), 200);
  constructor() {
    this.timer.unref();
    this.sample();
  }
  sample(): void {
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHeap = Math.max(this.peakHeap, m.heapUsed);
    // Listing active resources costs ~0.2 ms per 1,000 sockets: once a second is enough.
    if (++this.ticks % 5 === 1) this.peakSockets = Math.max(this.peakSockets, openSockets());
  }
  reset(): void {
    this.peakRss = 0;
    this.peakHeap = 0;
    this.peakSockets = 0;
    this.ticks = 0;
    this.sample();
  }
  /** Most TCP sockets (both ends of every API and sync connection in this process) open at once. */
  sockets(): number {
    return this.peakSockets;
  }
  peak(): Memory {
    this.sample();
    return { rssMB: mb(this.peakRss), heapUsedMB: mb(this.peakHeap) };
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** Event-loop delay (how long the single JS thread is busy): a proxy for simulator CPU saturation. */
class LoopLag {
  private samples: number[] = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    this.samples.push(Math.max(0, now - this.last - 50));
    this.last = now;
  }, 50);
  constructor() {
    this.timer.unref();
  }
  reset(): void {
    this.samples = [];
    this.last = performance.now();
  }
  summary(): { p50: number; p99: number; max: number } {
    const s = [...this.samples].sort((a, b) => a - b);
    return { p50: Math.round(percentile(s, 50)), p99: Math.round(percentile(s, 99)), max: Math.round(s.at(-1) ?? 0) };
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

// ---- API access -----------------------------------------------------------------------------------

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string; labels?: Record<string, string>; uid?: string } };

interface Api {
  core: k8s.CoreV1Api;
  custom: k8s.CustomObjectsApi;
}

function api(sim: Simulator, cluster: 'source' | 'destination'): Api {
  const kc = sim.cluster(cluster).kubeConfig('admin');
  return { core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) };
}

const KV = { group: 'kubevirt.io', version: 'v1' };
const CDI = { group: 'cdi.kubevirt.io', version: 'v1beta1' };

function at<T = unknown>(o: unknown, path: string): T | undefined {
  let cur = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur as T | undefined;
}

const listItems = async (p: Promise<unknown>) => ((await p) as { items: Obj[] }).items;

/** Run `fn` over `items` with at most `n` in flight; the first error rejects (after the in-flight ones). */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, everyMs = 100, limitMs = deadline - Date.now()): Promise<T> {
  const end = Math.min(deadline, Date.now() + limitMs);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Timeout(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

function errText(e: unknown): string {
  if (e instanceof k8s.ApiException) return `HTTP ${e.code}: ${typeof e.body === 'string' ? e.body.slice(0, 300) : JSON.stringify(e.body).slice(0, 300)}`;
  return e instanceof Error ? e.message : String(e);
}

// ---- the objects ----------------------------------------------------------------------------------

const vmName = (i: number) => `vm-${String(i).padStart(4, '0')}`;
const shardOf = (i: number) => String(i % SHARDS);

function dataVolume(name: string, labels: Record<string, string>, storage: unknown): Obj {
  return {
    apiVersion: 'cdi.kubevirt.io/v1beta1',
    kind: 'DataVolume',
    metadata: { name, labels },
    spec: { source: { blank: {} }, storage },
  };
}

function virtualMachine(i: number, migrate: boolean): Obj {
  const name = vmName(i);
  const labels = { app: 'bench', [SHARD_LABEL]: shardOf(i), ...(migrate ? { [MIGRATE_LABEL]: 'true' } : {}) };
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, labels },
    spec: {
      runStrategy: 'Always',
      template: {
        metadata: { labels },
        spec: {
          domain: {
            memory: { guest: args.memory },
            devices: { disks: [{ name: 'rootdisk', disk: { bus: 'virtio' } }], interfaces: [{ name: 'default', masquerade: {} }] },
          },
          networks: [{ name: 'default', pod: {} }],
          volumes: [{ name: 'rootdisk', dataVolume: { name: `${name}-rootdisk` } }],
        },
      },
    },
  };
}

// ---- client load ----------------------------------------------------------------------------------

interface Target {
  ns: string;
  vms: string[];
  /** Label selectors that each pick a slice of the VMs. */
  selectors: string[];
}

interface LoadResult {
  overall: LatencySummary;
  byOp: Record<string, LatencySummary>;
}

/** Closed-loop request load until `stop()`: gets and label-selector lists against both clusters. */
class Load {
  private readonly samples = new Map<string, number[]>();
  private readonly errors = new Map<string, number>();
  private readonly firstErrors: string[] = [];
  private stopped = false;
  private readonly begun = performance.now();
  private readonly workers: Promise<void>[];

  constructor(
    private readonly src: Api,
    private readonly dst: Api,
    private readonly target: Target,
    workers: number,
  ) {
    this.workers = Array.from({ length: workers }, (_, w) => this.worker(w));
  }

  private ops(): [string, () => Promise<unknown>][] {
    const { ns, vms, selectors } = this.target;
    const vm = () => vms[Math.floor(Math.random() * vms.length)]!;
    const sel = () => selectors[Math.floor(Math.random() * selectors.length)]!;
    return [
      ['get vm', () => this.src.custom.getNamespacedCustomObject({ ...KV, namespace: ns, plural: 'virtualmachines', name: vm() })],
      ['get vmi', () => this.src.custom.getNamespacedCustomObject({ ...KV, namespace: ns, plural: 'virtualmachineinstances', name: vm() })],
      ['get dv', () => this.src.custom.getNamespacedCustomObject({ ...CDI, namespace: ns, plural: 'datavolumes', name: `${vm()}-rootdisk` })],
      ['list vm -l', () => this.src.custom.listNamespacedCustomObject({ ...KV, namespace: ns, plural: 'virtualmachines', labelSelector: sel() })],
      ['list vmi -l', () => this.src.custom.listNamespacedCustomObject({ ...KV, namespace: ns, plural: 'virtualmachineinstances', labelSelector: sel() })],
      ['list pvc -l', () => this.src.core.listNamespacedPersistentVolumeClaim({ namespace: ns, labelSelector: sel() })],
      ['list vmim', () => this.src.custom.listNamespacedCustomObject({ ...KV, namespace: ns, plural: 'virtualmachineinstancemigrations' })],
      ['list dst vmi', () => this.dst.custom.listNamespacedCustomObject({ ...KV, namespace: ns, plural: 'virtualmachineinstances' })],
      ['get kubevirt', () => this.dst.custom.getNamespacedCustomObject({ ...KV, namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt' })],
    ];
  }

  private async worker(w: number): Promise<void> {
    const ops = this.ops();
    let n = w;
    while (!this.stopped) {
      // One full, unfiltered list of all VMs (what `kubectl get vm -A` does) per 25 requests.
      const [op, fn] =
        n % 25 === 24
          ? (['list vm (all)', () => this.src.custom.listNamespacedCustomObject({ ...KV, namespace: this.target.ns, plural: 'virtualmachines' })] as const)
          : ops[n % ops.length]!;
      n++;
      const t = performance.now();
      try {
        await fn();
        const list = this.samples.get(op) ?? [];
        list.push(performance.now() - t);
        this.samples.set(op, list);
      } catch (e) {
        this.errors.set(op, (this.errors.get(op) ?? 0) + 1);
        if (this.firstErrors.length < 5) this.firstErrors.push(`${op}: ${errText(e)}`);
      }
    }
  }

  async stop(): Promise<LoadResult & { errorSamples: string[] }> {
    this.stopped = true;
    await Promise.all(this.workers);
    const ms = performance.now() - this.begun;
    const all: number[] = [];
    let errors = 0;
    const byOp: Record<string, LatencySummary> = {};
    for (const op of new Set([...this.samples.keys(), ...this.errors.keys()])) {
      const s = this.samples.get(op) ?? [];
      const e = this.errors.get(op) ?? 0;
      all.push(...s);
      errors += e;
      byOp[op] = summarize(s, e, ms);
    }
    return { overall: summarize(all, errors, ms), byOp, errorSamples: this.firstErrors };
  }
}

// ---- phases ---------------------------------------------------------------------------------------

interface ServerSide {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  byUser: Record<string, number>;
}

interface Phase {
  name: string;
  seconds: number;
  client?: LoadResult & { errorSamples?: string[] };
  server: { source: ServerSide; destination: ServerSide };
  memoryEnd: Memory;
  memoryPeak: Memory;
  /** Most TCP sockets open at once in the process (client and server ends). */
  peakOpenSockets: number;
  eventLoopLagMs: { p50: number; p99: number; max: number };
  objects: { source: number; destination: number };
}

function serverSide(s: MetricsSnapshot, ms: number): ServerSide {
  const r = (n: number) => Math.round(n * 100) / 100;
  return {
    requests: s.requests,
    perSecond: r(s.requests / Math.max(ms / 1000, 0.001)),
    p50: r(s.latencyMs.p50),
    p99: r(s.latencyMs.p99),
    max: r(s.latencyMs.max),
    byUser: s.byUser,
  };
}

const STORED_KINDS = ['VirtualMachine', 'VirtualMachineInstance', 'DataVolume', 'PersistentVolumeClaim', 'VirtualMachineInstanceMigration', 'ConfigMap'];

function objectCount(sim: Simulator, cluster: 'source' | 'destination'): number {
  let n = 0;
  for (const k of STORED_KINDS) for (const _ of sim.cluster(cluster).api.store.scan(k)) n++;
  return n;
}

/** Measure one phase: server metrics reset at the start, memory and loop lag sampled throughout. */
class PhaseMeter {
  private readonly t0 = performance.now();
  constructor(
    private readonly sim: Simulator,
    readonly name: string,
    private readonly mem: MemorySampler,
    private readonly lag: LoopLag,
  ) {
    sim.source.api.metrics.reset();
    sim.destination.api.metrics.reset();
    mem.reset();
    lag.reset();
  }

  end(client?: LoadResult & { errorSamples?: string[] }): Phase {
    const ms = performance.now() - this.t0;
    return {
      name: this.name,
      seconds: Math.round(ms / 100) / 10,
      ...(client ? { client } : {}),
      server: {
        source: serverSide(this.sim.source.api.metrics.snapshot(), ms),
        destination: serverSide(this.sim.destination.api.metrics.snapshot(), ms),
      },
      memoryEnd: memory(),
      memoryPeak: this.mem.peak(),
      peakOpenSockets: this.mem.sockets(),
      eventLoopLagMs: this.lag.summary(),
      objects: { source: objectCount(this.sim, 'source'), destination: objectCount(this.sim, 'destination') },
    };
  }
}

// ---- migrations -----------------------------------------------------------------------------------

/** Polls the bench namespace's migration objects through the API a few times a second, like an informer would. */
class Observer {
  dstVMIs = new Map<string, Obj>();
  dstVMIMs = new Map<string, Obj>();
  srcVMIMs = new Map<string, Obj>();
  private stopped = false;
  private readonly done: Promise<void>;
  errors = 0;

  constructor(
    private readonly src: Api,
    private readonly dst: Api,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const byName = (items: Obj[]) => new Map(items.map((o) => [o.metadata.name, o]));
    while (!this.stopped) {
      try {
        const [a, b, c] = await Promise.all([
          listItems(this.dst.custom.listNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachineinstances', labelSelector: MIGRATE_LABEL })),
          listItems(this.dst.custom.listNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachineinstancemigrations' })),
          listItems(this.src.custom.listNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachineinstancemigrations' })),
        ]);
        this.dstVMIs = byName(a);
        this.dstVMIMs = byName(b);
        this.srcVMIMs = byName(c);
      } catch {
        this.errors++;
      }
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

interface MigrationResult {
  vm: string;
  ok: boolean;
  error?: string;
  /** Seconds from the start of all migrations. */
  receiverReadyAt?: number;
  sourceCreatedAt?: number;
  succeededAt?: number;
  /** Source VMIM created → both VMIMs Succeeded. */
  migrateSeconds?: number;
}

async function migrate(vm: string, src: Api, dst: Api, obs: Observer, t0: number): Promise<MigrationResult> {
  const since = () => Math.round((performance.now() - t0) / 100) / 10;
  const res: MigrationResult = { vm, ok: false };
  try {
    const source = (await src.custom.getNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachines', name: vm })) as Obj;
    const spec = structuredClone(source.spec as Record<string, unknown>);
    for (const v of at<{ dataVolume?: { name: string } }[]>(spec, 'template.spec.volumes') ?? []) {
      if (!v.dataVolume) continue;
      const dv = (await src.custom.getNamespacedCustomObject({ ...CDI, namespace: NS, plural: 'datavolumes', name: v.dataVolume.name })) as Obj;
      await dst.custom.createNamespacedCustomObject({
        ...CDI,
        namespace: NS,
        plural: 'datavolumes',
        body: dataVolume(v.dataVolume.name, source.metadata.labels ?? {}, at(dv, 'spec.storage')),
      });
    }
    spec.runStrategy = 'WaitAsReceiver';
    await dst.custom.createNamespacedCustomObject({
      ...KV,
      namespace: NS,
      plural: 'virtualmachines',
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: vm, labels: source.metadata.labels, annotations: { 'kubevirt.io/restore-run-strategy': 'Always' } },
        spec,
      },
    });
    await until(`${vm} receiver VMI WaitingForSync`, () => at(obs.dstVMIs.get(vm), 'status.phase') === 'WaitingForSync', 50);
    res.receiverReadyAt = since();
    const migrationID = `bench-${vm}`;
    await dst.custom.createNamespacedCustomObject({
      ...KV,
      namespace: NS,
      plural: 'virtualmachineinstancemigrations',
      body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstanceMigration', metadata: { name: `${vm}-target` }, spec: { vmiName: vm, receive: { migrationID } } },
    });
    const connectURL = await until(`${vm} target VMIM sync address`, () => at<string[]>(obs.dstVMIMs.get(`${vm}-target`), 'status.synchronizationAddresses')?.[0], 50);
    await src.custom.createNamespacedCustomObject({
      ...KV,
      namespace: NS,
      plural: 'virtualmachineinstancemigrations',
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstanceMigration',
        metadata: { name: `${vm}-source` },
        spec: { vmiName: vm, sendTo: { migrationID, connectURL } },
      },
    });
    res.sourceCreatedAt = since();
    const outcome = await until(
      `${vm} VMIMs final`,
      () => {
        const a = at<string>(obs.srcVMIMs.get(`${vm}-source`), 'status.phase');
        const b = at<string>(obs.dstVMIMs.get(`${vm}-target`), 'status.phase');
        if (a === 'Failed' || b === 'Failed')
          return `failed (source ${a}, target ${b}): ${at<string>(obs.srcVMIMs.get(`${vm}-source`), 'status.migrationState.failureReason') ?? ''}`;
        return a === 'Succeeded' && b === 'Succeeded' ? 'ok' : undefined;
      },
      100,
    );
    res.succeededAt = since();
    res.migrateSeconds = Math.round((res.succeededAt - res.sourceCreatedAt) * 10) / 10;
    if (outcome === 'ok') res.ok = true;
    else res.error = outcome;
  } catch (e) {
    res.error = e instanceof Timeout ? e.message : errText(e);
    if (e instanceof Timeout) throw Object.assign(e, { partial: res });
  }
  return res;
}

/** Transfers in flight right now (handshake done, started, not finished), from the source store. */
function transfersInFlight(sim: Simulator): number {
  let n = 0;
  for (const vmi of sim.source.api.store.scan('VirtualMachineInstance')) {
    if (vmi.metadata.namespace !== NS) continue;
    const ms = at<Record<string, unknown>>(vmi, 'status.migrationState');
    if (ms?.startTimestamp && !ms.completed && !ms.failed) n++;
  }
  return n;
}

// ---- main -----------------------------------------------------------------------------------------

interface Report {
  when: string;
  machine: { cpus: number; cpuModel: string; memoryGB: number; node: string };
  params: Record<string, unknown>;
  setup: Record<string, number>;
  phases: Phase[];
  memory: Record<string, Memory>;
  migrations: {
    requested: number;
    succeeded: number;
    failed: number;
    wallSeconds: number;
    maxInFlight: number;
    secondsWithAtLeastHalfInFlight: number;
    secondsWithTwoOrMoreInFlight: number;
    perMigrationSeconds: { min: number; p50: number; p99: number; max: number };
    failures: { vm: string; error?: string }[];
    verified: boolean;
  };
  exitCode: number;
}

async function main(): Promise<number> {
  const mem = new MemorySampler();
  const lag = new LoopLag();
  const report: Partial<Report> & { phases: Phase[]; memory: Record<string, Memory>; setup: Record<string, number> } = {
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memoryGB: Math.round(totalmem() / 1024 ** 3), node: process.version },
    params: {
      vms: VMS,
      migrations: MIGRATIONS,
      concurrency: CONCURRENCY,
      loadWorkers: LOAD_WORKERS,
      phaseSeconds: PHASE_MS / 1000,
      bandwidthPerMigration: args.bandwidth,
      guestMemory: args.memory,
      disk: args.disk,
      gcBeforeSnapshots: !!gc,
    },
    phases: [],
    memory: {},
    setup: {},
  };
  const snapshotMemory = (label: string) => {
    gc?.();
    report.memory[label] = memory();
  };

  log(`starting the simulator (fixtures on), node ${process.version}, ${cpus().length} CPUs`);
  let t = performance.now();
  const sim = await Simulator.start({});
  report.setup.simulatorStartSeconds = Math.round((performance.now() - t) / 100) / 10;
  const src = api(sim, 'source');
  const dst = api(sim, 'destination');
  let exitCode = 0;
  try {
    // -- idle: fixtures only
    snapshotMemory('idle');
    {
      const meter = new PhaseMeter(sim, 'idle', mem, lag);
      const load = new Load(src, dst, { ns: 'demo', vms: ['web-01', 'db-01', 'cache-01', 'cluster-node-a'], selectors: ['app=web', 'app=db', 'app in (web,db)'] }, LOAD_WORKERS);
      await sleep(PHASE_MS);
      report.phases.push(meter.end(await load.stop()));
      log(`idle: ${fmtLoad(report.phases.at(-1)!)}`);
    }

    // -- loading: VMs with blank DataVolumes through the API
    for (const c of [src, dst]) await c.core.createNamespace({ body: { metadata: { name: NS } } });
    const every = MIGRATIONS ? Math.floor(VMS / MIGRATIONS) : Infinity;
    const migrating = new Set(Array.from({ length: MIGRATIONS }, (_, k) => k * every));
    const createLatencies: number[] = [];
    {
      const meter = new PhaseMeter(sim, 'loading', mem, lag);
      t = performance.now();
      log(`creating ${VMS} VMs (each with a blank ${args.disk} DataVolume) in namespace ${NS}, ${CONCURRENCY} at a time`);
      let created = 0;
      await pool(
        Array.from({ length: VMS }, (_, i) => i),
        CONCURRENCY,
        async (i) => {
          if (Date.now() > deadline) throw new Timeout('timed out creating the VMs');
          const name = vmName(i);
          const labels = { app: 'bench', [SHARD_LABEL]: shardOf(i) };
          let s = performance.now();
          await src.custom.createNamespacedCustomObject({
            ...CDI,
            namespace: NS,
            plural: 'datavolumes',
            body: dataVolume(`${name}-rootdisk`, labels, { resources: { requests: { storage: args.disk } } }),
          });
          createLatencies.push(performance.now() - s);
          s = performance.now();
          await src.custom.createNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachines', body: virtualMachine(i, migrating.has(i)) });
          createLatencies.push(performance.now() - s);
          if (++created % 200 === 0) log(`  ${created}/${VMS} created`);
        },
      );
      report.setup.createSeconds = Math.round((performance.now() - t) / 100) / 10;
      log(`created ${VMS} VMs in ${report.setup.createSeconds}s; waiting for their VMIs to run`);
      let lastLog = 0;
      await until(
        'all bench VMIs Running',
        () => {
          let running = 0;
          for (const vmi of sim.source.api.store.scan('VirtualMachineInstance')) {
            if (vmi.metadata.namespace === NS && at(vmi, 'status.phase') === 'Running') running++;
          }
          if (Date.now() - lastLog > 5000) {
            lastLog = Date.now();
            log(`  ${running}/${VMS} VMIs Running`);
          }
          return running >= VMS;
        },
        250,
      );
      report.setup.allRunningSeconds = Math.round((performance.now() - t) / 100) / 10;
      const phase = meter.end();
      phase.client = { overall: summarize(createLatencies, 0, performance.now() - t), byOp: { 'create (dv, vm)': summarize(createLatencies, 0, performance.now() - t) } };
      report.phases.push(phase);
      log(`all ${VMS} VMIs Running after ${report.setup.allRunningSeconds}s; server: ${fmtServer(phase)}`);
    }
    snapshotMemory('loaded');

    // -- preparation for migrations: CA exchange, lower bandwidth
    t = performance.now();
    await syncCAs(src, dst);
    for (const c of [src, dst]) await setBandwidth(c, args.bandwidth!);
    report.setup.caSyncAndConfigSeconds = Math.round((performance.now() - t) / 100) / 10;
    await sleep(1000);

    const targetBench: Target = {
      ns: NS,
      // Migrated VMs lose their source VMI: the gets target the VMs that stay.
      vms: Array.from({ length: VMS }, (_, i) => i)
        .filter((i) => !migrating.has(i))
        .map(vmName),
      selectors: [...Array.from({ length: SHARDS }, (_, s) => `${SHARD_LABEL}=${s}`), `app=bench,${SHARD_LABEL} in (1,2)`],
    };
    // -- loaded: N VMs running, no migrations
    {
      const meter = new PhaseMeter(sim, 'loaded', mem, lag);
      const load = new Load(src, dst, targetBench, LOAD_WORKERS);
      await sleep(PHASE_MS);
      report.phases.push(meter.end(await load.stop()));
      log(`loaded: ${fmtLoad(report.phases.at(-1)!)}`);
    }

    // -- migrating: all migrations at once, under client load
    if (MIGRATIONS > 0) {
      const meter = new PhaseMeter(sim, 'migrating', mem, lag);
      const load = new Load(src, dst, targetBench, LOAD_WORKERS);
      const obs = new Observer(src, dst);
      let maxInFlight = 0;
      let halfMs = 0;
      let overlapMs = 0;
      let lastSample = performance.now();
      const flight = setInterval(() => {
        const n = transfersInFlight(sim);
        const now = performance.now();
        if (n >= Math.max(1, MIGRATIONS / 2)) halfMs += now - lastSample;
        if (n >= 2) overlapMs += now - lastSample;
        lastSample = now;
        maxInFlight = Math.max(maxInFlight, n);
      }, 100);
      const t0 = performance.now();
      log(`starting ${MIGRATIONS} decentralized migrations at once (bandwidthPerMigration ${args.bandwidth})`);
      let results: MigrationResult[];
      let timedOut = false;
      try {
        results = await Promise.all([...migrating].map((i) => migrate(vmName(i), src, dst, obs, t0)));
      } catch (e) {
        timedOut = true;
        log(`${(e as Error).message}`);
        results = [];
      } finally {
        clearInterval(flight);
      }
      const wall = (performance.now() - t0) / 1000;
      await obs.stop();
      const phase = meter.end(await load.stop());
      report.phases.push(phase);
      log(`migrating: ${fmtLoad(phase)}`);

      const ok = results.filter((r) => r.ok);
      const secs = ok.map((r) => r.migrateSeconds!).sort((a, b) => a - b);
      let verified = false;
      if (!timedOut && ok.length === MIGRATIONS) {
        // The VMs must end as KubeVirt leaves them: halted at the source, running at the destination.
        verified = await until(
          'source VMs Halted and destination VMs Always',
          async () => {
            const [s, d] = await Promise.all([
              listItems(src.custom.listNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachines', labelSelector: `${MIGRATE_LABEL}=true` })),
              listItems(dst.custom.listNamespacedCustomObject({ ...KV, namespace: NS, plural: 'virtualmachines', labelSelector: `${MIGRATE_LABEL}=true` })),
            ]);
            return (
              s.length === MIGRATIONS &&
              d.length === MIGRATIONS &&
              s.every((v) => at(v, 'spec.runStrategy') === 'Halted') &&
              d.every((v) => at(v, 'spec.runStrategy') === 'Always' && at(v, 'status.printableStatus') === 'Running')
            );
          },
          250,
          60_000,
        ).catch(() => false);
      }
      report.migrations = {
        requested: MIGRATIONS,
        succeeded: ok.length,
        failed: results.length - ok.length,
        wallSeconds: Math.round(wall * 10) / 10,
        maxInFlight,
        secondsWithAtLeastHalfInFlight: Math.round(halfMs / 100) / 10,
        secondsWithTwoOrMoreInFlight: Math.round(overlapMs / 100) / 10,
        perMigrationSeconds: { min: secs[0] ?? 0, p50: percentile(secs, 50), p99: percentile(secs, 99), max: secs.at(-1) ?? 0 },
        failures: results.filter((r) => !r.ok).map((r) => ({ vm: r.vm, ...(r.error ? { error: r.error } : {}) })),
        verified,
      };
      report.memory.migratingPeak = phase.memoryPeak;
      snapshotMemory('afterMigrations');
      if (timedOut) exitCode = 2;
      else if (ok.length !== MIGRATIONS || !verified) exitCode = 1;
    }
  } catch (e) {
    log(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    exitCode = e instanceof Timeout ? 2 : 1;
  } finally {
    mem.stop();
    lag.stop();
    await Promise.race([sim.stop(), sleep(10_000)]);
  }
  report.exitCode = exitCode;
  print(report as Report);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nJSON report: ${OUT}`);
  return exitCode;
}

async function syncCAs(src: Api, dst: Api): Promise<void> {
  const bundle = async (c: Api) => (await c.core.readNamespacedConfigMap({ namespace: 'kubevirt', name: 'kubevirt-ca' })).data?.['ca-bundle'] ?? '';
  const [s, d] = [await bundle(src), await bundle(dst)];
  for (const [c, peer] of [
    [dst, s],
    [src, d],
  ] as const) {
    const cm = await c.core.readNamespacedConfigMap({ namespace: 'kubevirt', name: 'kubevirt-external-ca' });
    await c.core.replaceNamespacedConfigMap({ namespace: 'kubevirt', name: 'kubevirt-external-ca', body: { ...cm, data: { 'ca-bundle': peer } } });
  }
  const count = (b: string) => (b.match(/BEGIN CERTIFICATE/g) ?? []).length;
  await until('peer CAs merged into kubevirt-ca', async () => count(await bundle(src)) >= 2 && count(await bundle(dst)) >= 2, 100, 30_000);
}

async function setBandwidth(c: Api, bandwidth: string): Promise<void> {
  for (let i = 0; ; i++) {
    const kv = (await c.custom.getNamespacedCustomObject({ ...KV, namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt' })) as Obj;
    const spec = structuredClone(kv.spec as Record<string, unknown>);
    const conf = (spec.configuration ??= {}) as Record<string, unknown>;
    conf.migrations = { ...(conf.migrations as object), bandwidthPerMigration: bandwidth };
    try {
      await c.custom.replaceNamespacedCustomObject({ ...KV, namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt', body: { ...kv, spec } });
      return;
    } catch (e) {
      if (!(e instanceof k8s.ApiException && e.code === 409) || i > 10) throw e;
    }
  }
}

// ---- output ---------------------------------------------------------------------------------------

function fmtServer(p: Phase): string {
  const s = p.server.source;
  return `source ${s.requests} req (${s.perSecond}/s) p50 ${s.p50} ms p99 ${s.p99} ms`;
}

function fmtLoad(p: Phase): string {
  const c = p.client?.overall;
  return c ? `client ${c.requests} req p50 ${c.p50} ms p99 ${c.p99} ms; ${fmtServer(p)}; rss ${p.memoryEnd.rssMB} MB` : fmtServer(p);
}

function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows
    .map((r, n) => {
      const line = r.map((c, i) => (typeof c === 'number' || i > 0 ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join('  ');
      return n === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

function print(r: Report): void {
  const out: string[] = [];
  out.push(`\nferry simulator benchmark — ${r.params.vms} VMs, ${r.params.migrations} migrations, ${r.machine.cpus} CPUs (${r.machine.cpuModel}), node ${r.machine.node}`);
  out.push(
    `setup: simulator start ${r.setup.simulatorStartSeconds ?? '-'}s, create ${r.params.vms} VMs+DVs ${r.setup.createSeconds ?? '-'}s, all VMIs Running ${r.setup.allRunningSeconds ?? '-'}s, CA sync + config ${r.setup.caSyncAndConfigSeconds ?? '-'}s`,
  );
  out.push('\nAPI latency per phase (ms; client = @kubernetes/client-node round trip incl. TLS, server = handler time;');
  out.push('peaks of event-loop lag, open TCP sockets in the process, rss and heap during the phase)');
  out.push(
    table([
      [
        'phase',
        'secs',
        'client req',
        'req/s',
        'p50',
        'p99',
        'max',
        'errors',
        'srv src req',
        'req/s',
        'p50',
        'p99',
        'srv dst req',
        'p50',
        'p99',
        'loop lag p99',
        'sockets',
        'rss MB',
        'heap MB',
      ],
      ...r.phases.map((p) => [
        p.name,
        p.seconds,
        p.client?.overall.requests ?? '-',
        p.client?.overall.perSecond ?? '-',
        p.client?.overall.p50 ?? '-',
        p.client?.overall.p99 ?? '-',
        p.client?.overall.max ?? '-',
        p.client?.overall.errors ?? '-',
        p.server.source.requests,
        p.server.source.perSecond,
        p.server.source.p50,
        p.server.source.p99,
        p.server.destination.requests,
        p.server.destination.p50,
        p.server.destination.p99,
        p.eventLoopLagMs.p99,
        p.peakOpenSockets,
        p.memoryPeak.rssMB,
        p.memoryPeak.heapUsedMB,
      ]),
    ]),
  );
  const mig = r.phases.find((p) => p.name === 'migrating') ?? r.phases.find((p) => p.name === 'loaded');
  if (mig?.client) {
    out.push(`\nclient latency by request during "${mig.name}" (ms)`);
    out.push(table([['request', 'count', 'p50', 'p99', 'max', 'errors'], ...Object.entries(mig.client.byOp).map(([op, s]) => [op, s.requests, s.p50, s.p99, s.max, s.errors])]));
  }
  for (const p of r.phases) for (const e of p.client?.errorSamples ?? []) out.push(`  ${p.name} client error: ${e}`);
  out.push('\nserver requests by user per phase');
  out.push(
    table([
      ['phase', 'cluster', ...['admin', 'system:serviceaccount:kubevirt:kubevirt-controller'].map((u) => u.split(':').at(-1)!)],
      ...r.phases.flatMap((p) =>
        (['source', 'destination'] as const).map((c) => [p.name, c, p.server[c].byUser.admin ?? 0, p.server[c].byUser['system:serviceaccount:kubevirt:kubevirt-controller'] ?? 0]),
      ),
    ]),
  );
  out.push(`\nprocess memory (MB; ${gc ? 'idle/loaded/afterMigrations after a full GC, ' : ''}migratingPeak sampled every 200 ms)`);
  out.push(table([['point', 'rss', 'heapUsed'], ...Object.entries(r.memory).map(([k, m]) => [k, m.rssMB, m.heapUsedMB])]));
  if (r.migrations) {
    const m = r.migrations;
    out.push('\nmigrations (per-migration = source VMIM created -> both VMIMs Succeeded; transfers in flight sampled every 100 ms)');
    out.push(
      table([
        ['requested', 'succeeded', 'failed', 'wall s', 'max transfers in flight', 's with >= 2', 's with >= half', 'per-migration s min', 'p50', 'p99', 'max', 'VMs verified'],
        [
          m.requested,
          m.succeeded,
          m.failed,
          m.wallSeconds,
          m.maxInFlight,
          m.secondsWithTwoOrMoreInFlight,
          m.secondsWithAtLeastHalfInFlight,
          m.perMigrationSeconds.min,
          m.perMigrationSeconds.p50,
          m.perMigrationSeconds.p99,
          m.perMigrationSeconds.max,
          String(m.verified),
        ],
      ]),
    );
    for (const f of m.failures.slice(0, 10)) out.push(`  failed: ${f.vm}: ${f.error ?? ''}`);
  }
  out.push(`\nexit code ${r.exitCode}`);
  console.log(out.join('\n'));
}

// A hard stop in case something hangs past the overall timeout (including shutdown).
const hard = setTimeout(() => {
  console.error(`benchmark exceeded ${TIMEOUT_MS / 1000}s + 60s grace; aborting`);
  process.exit(2);
}, TIMEOUT_MS + 60_000);
hard.unref();

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
