/**
 * Plan benchmark (`npm run bench -- [--vms N] [--mode fast|realistic] [--workers N] [--cache-cap N]`):
 * one plan of N VMs through the whole product — Temporal dev server, ferry's worker(s) as processes of
 * their own (`workers/main.ts`), the two-cluster simulator over HTTPS — and what each VM cost:
 *
 *   CPU seconds of each process (each worker, the Temporal server, the simulator with this driver),
 *   from /proc, counted from the plan's start to its end; peak RSS; Temporal Cloud actions (the
 *   server's own `action` counter) and history events and bytes per VM workflow and per plan;
 *   Kubernetes requests per VM by verb and peak open watches per cluster (ferry's user only); time in
 *   each phase; and, beside them, Forklift's design floor and the physical limit as ratios
 *   (cost/references.ts). With several workers, the split of tasks between them.
 *
 * Mode `fast` (default): 64Mi guests at the fixture bandwidth, so the transfer is near zero and the
 * overhead is nearly all of the time. Mode `realistic`: 2Gi guests at 64Mi/s, about 32 s of transfer
 * each. Prints the cost table, writes JSON (default artifacts/bench-plan-<mode>-<N>.json). Exit 0 only
 * if every VM migrated.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { kindInfo } from '../simulator/apiserver/kinds.js';
import { percentile } from '../simulator/apiserver/metrics.js';
import { fleetVmName } from '../simulator/fleet.js';
import { Simulator } from '../simulator/sim.js';
import { freePort, REPO_ROOT, startDevServer } from '../tools/temporal-cli.js';
import { type MigrationStatus, TASK_QUEUE } from '../workflows/contract.js';
import { planStatusQuery, statusQuery } from '../workflows/messages.js';
import { type PlanInput, type PlanResult, planWorkflowId } from '../workflows/plan-contract.js';
import { STEPS } from '../workflows/phases.js';
import { ProcessMeter } from './cost/processes.js';
import { references } from './cost/references.js';
import { printCostTable, type CostReport } from './cost/table.js';
import { actionsBetween, historyCost, OBSERVER_ACTIONS, scrapeActions, type WorkflowCost } from './cost/temporal.js';

const USAGE = `usage: npm run bench -- [--vms N] [--mode fast|realistic] [--max-in-flight N] [--workers N] [--cache-cap N] [--out FILE]

  --vms N              VMs in the plan (default 100)
  --mode M             fast: near-zero transfer (64Mi guests); realistic: 2Gi guests at 64Mi/s (default fast)
  --max-in-flight N    the plan's maxInFlight (default 20, like Forklift)
  --workers N          ferry worker processes on the task queue (default 1)
  --cache-cap N        each worker's workflow cache cap (FERRY_MAX_CACHED_WORKFLOWS; default the SDK's)
  --sample N           VM workflows whose histories and phases are read in full (default 200)
  --cpu-prof DIR       run the workers under node --cpu-prof, profiles into DIR
  --from-source        run workers/main.ts under tsx (bundling the workflows at start) instead of the
                       built package (dist/, built first by npm run build), which is what deployments run
  --temporal-cli PATH  the Temporal CLI that runs the dev server (default ferry's pinned one)
  --timeout S          give up after S seconds (default 3600)
  --out FILE           JSON report (default artifacts/bench-plan-<mode>-<N>.json)`;

const { values: args } = parseArgs({
  options: {
    vms: { type: 'string', default: '100' },
    mode: { type: 'string', default: 'fast' },
    'max-in-flight': { type: 'string', default: '20' },
    workers: { type: 'string', default: '1' },
    'cache-cap': { type: 'string' },
    sample: { type: 'string', default: '200' },
    'cpu-prof': { type: 'string' },
    'from-source': { type: 'boolean', default: false },
    'temporal-cli': { type: 'string' },
    timeout: { type: 'string', default: '3600' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (v: string, flag: string, min = 1) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${flag} must be a whole number >= ${min}, got "${v}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const VMS = int(args.vms, 'vms');
const MAX_IN_FLIGHT = int(args['max-in-flight'], 'max-in-flight');
const WORKERS = int(args.workers, 'workers');
const CACHE_CAP = args['cache-cap'] === undefined ? undefined : int(args['cache-cap'], 'cache-cap', 2);
const SAMPLE = int(args.sample, 'sample');
const TIMEOUT_MS = int(args.timeout, 'timeout') * 1000;
if (args.mode !== 'fast' && args.mode !== 'realistic') {
  console.error(`--mode must be fast or realistic, got "${args.mode}"`);
  process.exit(2);
}
const MODE = args.mode;
const MEMORY = MODE === 'fast' ? { text: '64Mi', bytes: 64 * 2 ** 20 } : { text: '2Gi', bytes: 2 * 2 ** 30 };
/** Per-migration bandwidth (the fixture's 4Gi, or 64Mi for realistic transfers). */
const BANDWIDTH = MODE === 'fast' ? { text: '4Gi', bytes: 4 * 2 ** 30 } : { text: '64Mi', bytes: 64 * 2 ** 20 };
const OUT = resolve(args.out ?? join(REPO_ROOT, 'artifacts', `bench-plan-${MODE}-${VMS}.json`));
const NS = 'bench';
/** The simulator's user in the kubeconfig the workers get: its requests and watches are ferry's. */
const FERRY_USER = 'admin';

const log = (s: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => percentile(sorted(xs), 50);
const p95 = (xs: number[]) => percentile(sorted(xs), 95);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  identity: string;
}

/** A worker process, resolved once it printed its startup line (bundling done, about to poll). */
function startWorker(index: number, env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  const prof = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(args['cpu-prof'])] : [];
  const entry = args['from-source'] ? ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')] : [join(REPO_ROOT, 'dist', 'workers', 'main.js')];
  const child = spawn(process.execPath, [...prof, ...entry], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolveReady, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('ferry worker: Temporal'))
        // The SDK's default identity: pid@hostname.
        resolveReady({ name: `worker ${index + 1}`, child, identity: `${child.pid}@${hostname()}` });
    });
    child.once('exit', (code) => reject(new Error(`worker ${index + 1} exited (${code}) before it was ready`)));
  });
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  if (w.child.exitCode !== null) return;
  const exited = new Promise((r) => w.child.once('exit', r));
  w.child.kill('SIGINT');
  await exited;
}

async function main(): Promise<number> {
  log(
    `mode ${MODE}: ${VMS} VMs of ${MEMORY.text} at ${BANDWIDTH.text}/s, maxInFlight ${MAX_IN_FLIGHT}, ${WORKERS} worker(s), cache cap ${CACHE_CAP ?? 'SDK default'}; ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  );
  if (!args['from-source']) execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'tools', 'build.ts')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const metricsPort = await freePort();
  const server = await startDevServer({ uiPort: false, metricsPort, ...(args['temporal-cli'] ? { cli: resolve(args['temporal-cli']) } : {}) });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const sim = await Simulator.start();
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  sim.writeKubeconfig(kubeconfig);
  const workers: WorkerProcess[] = [];
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const tLoad = Date.now();
    await sim.loadFleet({ namespace: NS, count: VMS, prefix: 'vm', memory: MEMORY.text }, 1_800_000);
    log(`loaded ${VMS} running VMs in ${round((Date.now() - tLoad) / 1000)} s`);
    if (MODE === 'realistic') {
      for (const c of [sim.source, sim.destination]) {
        const kv = structuredClone(c.api.store.peek('KubeVirt', 'kubevirt', 'kubevirt')!);
        const spec = kv.spec as { configuration: { migrations?: Record<string, unknown> } };
        spec.configuration.migrations = { ...(spec.configuration.migrations ?? {}), bandwidthPerMigration: BANDWIDTH.text };
        c.api.store.update(kindInfo('KubeVirt'), 'kubevirt', 'kubevirt', kv);
      }
    }

    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      FERRY_KUBECONFIG: kubeconfig,
      ...(CACHE_CAP !== undefined ? { FERRY_MAX_CACHED_WORKFLOWS: String(CACHE_CAP) } : {}),
    };
    workers.push(...(await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(i, env)))));

    const plan: PlanInput = {
      name: `bench-${VMS}`,
      source: { cluster: 'source' },
      destination: { cluster: 'destination' },
      maxInFlight: MAX_IN_FLIGHT,
      vms: Array.from({ length: VMS }, (_, i) => ({ namespace: NS, name: fleetVmName('vm', i + 1) })),
      options: { pollInterval: '500ms', minCompletionTimeout: '30m' },
    };
    const meter = new ProcessMeter({
      ...Object.fromEntries(workers.map((w) => [w.name, w.child.pid!])),
      'Temporal server': server.pid,
      'simulator + bench': 0,
    });
    for (const c of [sim.source, sim.destination]) c.api.metrics.reset();
    const actionsBefore = await scrapeActions(metricsUrl, 'default');
    meter.start();
    const stealBefore = stealShare();

    const t0 = Date.now();
    const handle = await client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: planWorkflowId(plan.name), args: [plan] });
    let done = false;
    const resultP = handle.result().finally(() => (done = true)) as Promise<PlanResult>;
    let lastLine = '';
    while (!done && Date.now() - t0 < TIMEOUT_MS) {
      const s = await handle.query(planStatusQuery).catch(() => undefined);
      if (s) {
        const line = `${Object.entries(s.counts)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}; in flight ${s.inFlight}, runs ${s.runs + 1}`;
        if (line !== lastLine) log(line);
        lastLine = line;
      }
      await Promise.race([new Promise((r) => setTimeout(r, 2000)), resultP.catch(() => undefined)]);
    }
    if (!done) {
      log(`timed out after ${TIMEOUT_MS / 1000} s`);
      return 2;
    }
    const result = await resultP;
    const wallMs = Date.now() - t0;
    meter.stop();
    const steal = stealShare(stealBefore);
    const actions = actionsBetween(actionsBefore, await scrapeActions(metricsUrl, 'default'));
    const kube = Object.fromEntries([sim.source, sim.destination].map((c) => [c.name, c.api.metrics.snapshot()]));
    log(`plan ${result.outcome} in ${round(wallMs / 1000)} s; collecting per-VM figures`);

    // Every VM workflow from visibility (wall time, history length and size); a sample read in full.
    const children: { workflowId: string; runId: string; wallMs: number; events: number; bytes: number; succeeded: boolean }[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'migrateVm' AND FerryPlan = '${plan.name}'` })) {
      children.push({
        workflowId: wf.workflowId,
        runId: wf.runId,
        wallMs: (wf.closeTime?.getTime() ?? Date.now()) - wf.startTime.getTime(),
        events: wf.historyLength ?? 0,
        bytes: wf.historySize ?? 0,
        succeeded: wf.status.name === 'COMPLETED',
      });
    }
    const planRuns: WorkflowCost[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${planWorkflowId(plan.name)}'` })) planRuns.push(await historyCost(client, wf.workflowId, wf.runId));
    const sample = children.filter((c) => c.succeeded).slice(0, SAMPLE);
    const sampled = await Promise.all(sample.map((c) => historyCost(client, c.workflowId, c.runId)));
    const phaseMs: Record<string, number[]> = Object.fromEntries(STEPS.map((s) => [s.phase, []]));
    for (const c of sample) {
      const s: MigrationStatus = await client.workflow.getHandle(c.workflowId, c.runId).query(statusQuery);
      s.history.forEach((e, i) => {
        const next = s.history[i + 1];
        if (next && phaseMs[e.phase]) phaseMs[e.phase]!.push(Date.parse(next.at) - Date.parse(e.at));
      });
    }

    const succeeded = children.filter((c) => c.succeeded);
    const transferMs = (MEMORY.bytes / BANDWIDTH.bytes) * 1000;
    const walls = succeeded.map((c) => c.wallMs);
    const overhead = walls.map((w) => w - transferMs);
    const tasks: Record<string, number> = {};
    for (const h of [...sampled, ...planRuns]) for (const [id, n] of Object.entries(h.tasksByWorker)) tasks[id] = (tasks[id] ?? 0) + n;
    const totalTasks = Object.values(tasks).reduce((a, b) => a + b, 0) || 1;
    const planActions = Object.entries(actions).filter(([k]) => !OBSERVER_ACTIONS.test(k));
    const actionTotal = planActions.reduce((n, [, v]) => n + v, 0);
    const ref = references({ vms: VMS, maxInFlight: MAX_IN_FLIGHT, bytesPerVm: MEMORY.bytes, bandwidthBytesPerSecond: BANDWIDTH.bytes });
    const perVm = (x: number) => x / VMS;

    const report: CostReport = {
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, stealPercent: round(steal.percent, 1) },
      params: {
        mode: MODE,
        vms: VMS,
        maxInFlight: MAX_IN_FLIGHT,
        workers: WORKERS,
        worker: args['from-source'] ? 'source (tsx)' : 'dist',
        cacheCap: CACHE_CAP ?? null,
        guestMemory: MEMORY.text,
        bandwidthPerMigration: BANDWIDTH.text,
        sample: sample.length,
      },
      outcome: result.outcome,
      succeeded: result.succeeded,
      failed: result.failed + result.rolledBack,
      wallSeconds: round(wallMs / 1000),
      vmsPerMinute: round((result.succeeded / wallMs) * 60_000),
      peakInFlight: (await handle.query(planStatusQuery).catch(() => undefined))?.peakInFlight ?? null,
      perVm: {
        wallSecondsMedian: round(median(walls) / 1000, 2),
        wallSecondsP95: round(p95(walls) / 1000, 2),
        transferSeconds: round(transferMs / 1000, 3),
        overheadSecondsMedian: round(median(overhead) / 1000, 2),
        overheadSecondsP95: round(p95(overhead) / 1000, 2),
        phaseSecondsMedian: Object.fromEntries(Object.entries(phaseMs).map(([k, xs]) => [k, round(median(xs) / 1000, 2)])),
      },
      cpuSecondsPerVm: Object.fromEntries([...workers.map((w) => w.name), 'Temporal server', 'simulator + bench'].map((name) => [name, round(perVm(meter.cpuSeconds(name)), 3)])),
      cpuSeconds: Object.fromEntries([...workers.map((w) => w.name), 'Temporal server', 'simulator + bench'].map((name) => [name, round(meter.cpuSeconds(name), 1)])),
      peakRssMiB: Object.fromEntries([...workers.map((w) => w.name), 'Temporal server'].map((name) => [name, Math.round(meter.peakRssMiB(name))])),
      temporal: {
        actionsPerVm: round(perVm(actionTotal), 1),
        actionsByType: Object.fromEntries(planActions.sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(perVm(v), 2)])),
        observerActions: Object.fromEntries(Object.entries(actions).filter(([k]) => OBSERVER_ACTIONS.test(k))),
        vmHistoryEventsMedian: median(children.map((c) => c.events)),
        vmHistoryEventsMax: Math.max(0, ...children.map((c) => c.events)),
        // Visibility's historySize where the server fills it in, else the sampled histories' own bytes.
        vmHistoryBytesMedian: median(children.some((c) => c.bytes > 0) ? children.map((c) => c.bytes) : sampled.map((h) => h.bytes)),
        vmHistoryEventsByType: mergeMedian(sampled.map((h) => h.eventsByType)),
        planHistoryEvents: planRuns.reduce((n, h) => n + h.events, 0),
        planHistoryBytes: planRuns.reduce((n, h) => n + h.bytes, 0),
        planRuns: planRuns.length,
      },
      kubernetes: Object.fromEntries(
        Object.entries(kube).map(([cluster, m]) => [
          cluster,
          {
            requestsPerVm: round(perVm(m.byUser[FERRY_USER] ?? 0), 2),
            byVerbPerVm: Object.fromEntries(Object.entries(m.byUserVerb[FERRY_USER] ?? {}).map(([verb, n]) => [verb, round(perVm(n), 2)])),
            byRequestPerVm: Object.fromEntries(
              Object.entries(m.byUserRequest[FERRY_USER] ?? {})
                .sort((a, b) => b[1] - a[1])
                .map(([request, n]) => [request, round(perVm(n), 2)]),
            ),
            peakOpenWatches: m.peakOpenWatches[FERRY_USER] ?? 0,
          },
        ]),
      ),
      workers: workers.map((w) => ({
        name: w.name,
        cpuSeconds: round(meter.cpuSeconds(w.name), 1),
        shareOfTasks: round((tasks[w.identity] ?? 0) / totalTasks, 3),
      })),
      references: {
        forkliftSecondsPerVm: ref.forkliftSecondsPerVm,
        physicalSecondsPerVm: round(ref.physicalSecondsPerVm, 3),
        forkliftPlanSeconds: round(ref.forkliftPlanSeconds),
        physicalPlanSeconds: round(ref.physicalPlanSeconds, 1),
        // How many times ferry is faster than Forklift's floor, and how far ferry is above the physical limit.
        forkliftOverFerryPerVm: round(ref.forkliftSecondsPerVm / (median(walls) / 1000), 1),
        ferryOverPhysicalPerVm: round(median(walls) / 1000 / ref.physicalSecondsPerVm, 1),
        forkliftOverFerryPlan: round(ref.forkliftPlanSeconds / (wallMs / 1000), 1),
        ferryOverPhysicalPlan: round(wallMs / 1000 / ref.physicalPlanSeconds, 1),
      },
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
    printCostTable(report);
    log(`wrote ${OUT}`);
    return result.succeeded === VMS ? 0 : 1;
  } finally {
    await Promise.all(workers.map(stopWorker));
    await connection.close();
    await sim.stop();
    await server.stop();
  }
}

/**
 * The share of CPU time the hypervisor gave to others since `since` (/proc/stat's steal): on a shared
 * virtual machine a busy neighbour slows every process here, and the figures with it.
 */
function stealShare(since?: { steal: number; total: number }): { steal: number; total: number; percent: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const steal = fields[7] ?? 0;
  const percent = since ? (100 * (steal - since.steal)) / Math.max(1, total - since.total) : 0;
  return { steal, total, percent };
}

/** Per key, the median over the records (missing counts as 0). */
function mergeMedian(records: Record<string, number>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...keys].map((k) => [k, median(records.map((r) => r[k] ?? 0))]).sort((a, b) => (b[1] as number) - (a[1] as number)));
}

process.exitCode = await main();
