/**
 * Plan benchmark (`npm run bench -- [--vms N] [--mode fast|realistic]`): one plan of N VMs through the
 * whole product — Temporal dev server, ferry's worker as its own process (`workers/main.ts`), the
 * two-cluster simulator over HTTPS — and what it cost:
 *
 *   wall time and VMs per minute; per VM the migration's wall time, the simulated transfer time and
 *   the difference (orchestration overhead); history events per VM workflow and per plan (all runs);
 *   Kubernetes API requests per VM (ferry's own, not the simulated controllers'); peak RSS of the
 *   worker and of the Temporal server.
 *
 * Mode `fast` (default): 64Mi guests at the fixture bandwidth, so the transfer is near zero and the
 * overhead is nearly all of the time. Mode `realistic`: 2Gi guests at 64Mi/s, about 32 s of transfer
 * each, and the overhead is reported as a ratio to the transfer time. Prints a table, writes JSON
 * (default artifacts/bench-plan-<mode>-<N>.json). Exit 0 only if every VM migrated.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { kindInfo } from '../simulator/apiserver/kinds.js';
import { percentile } from '../simulator/apiserver/metrics.js';
import { fleetVmName } from '../simulator/fleet.js';
import { Simulator } from '../simulator/sim.js';
import { REPO_ROOT, startDevServer } from '../tools/temporal-cli.js';
import { type MigrationStatus, TASK_QUEUE } from '../workflows/contract.js';
import { planStatusQuery, statusQuery } from '../workflows/messages.js';
import { type PlanInput, type PlanResult, planWorkflowId } from '../workflows/plan-contract.js';
import { STEPS } from '../workflows/phases.js';

const USAGE = `usage: npm run bench -- [--vms N] [--mode fast|realistic] [--max-in-flight N] [--out FILE]

  --vms N              VMs in the plan (default 100; fast mode has been run with 1000)
  --mode M             fast: near-zero transfer (64Mi guests); realistic: 2Gi guests at 64Mi/s (default fast)
  --max-in-flight N    the plan's maxInFlight (default 20, like Forklift)
  --timeout S          give up after S seconds (default 3600)
  --out FILE           JSON report (default artifacts/bench-plan-<mode>-<N>.json)`;

const { values: args } = parseArgs({
  options: {
    vms: { type: 'string', default: '100' },
    mode: { type: 'string', default: 'fast' },
    'max-in-flight': { type: 'string', default: '20' },
    timeout: { type: 'string', default: '3600' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (v: string, flag: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${flag} must be a whole number >= 1, got "${v}"\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const VMS = int(args.vms, 'vms');
const MAX_IN_FLIGHT = int(args['max-in-flight'], 'max-in-flight');
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

const log = (s: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

/** Resident set size of a process, now and at its peak (kB → MiB). */
function rss(pid: number): { now: number; peak: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => percentile(sorted(xs), 50);
const p95 = (xs: number[]) => percentile(sorted(xs), 95);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function main(): Promise<number> {
  log(`mode ${MODE}: ${VMS} VMs of ${MEMORY.text} at ${BANDWIDTH.text}/s, maxInFlight ${MAX_IN_FLIGHT}; ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  const server = await startDevServer({ uiPort: false });
  const sim = await Simulator.start();
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  sim.writeKubeconfig(kubeconfig);
  let worker: ReturnType<typeof spawn> | undefined;
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const tLoad = Date.now();
    await sim.loadFleet({ namespace: NS, count: VMS, prefix: 'vm', memory: MEMORY.text }, 600_000);
    log(`loaded ${VMS} running VMs in ${round((Date.now() - tLoad) / 1000)} s`);
    if (MODE === 'realistic') {
      for (const c of [sim.source, sim.destination]) {
        const kv = structuredClone(c.api.store.peek('KubeVirt', 'kubevirt', 'kubevirt')!);
        const spec = kv.spec as { configuration: { migrations?: Record<string, unknown> } };
        spec.configuration.migrations = { ...(spec.configuration.migrations ?? {}), bandwidthPerMigration: BANDWIDTH.text };
        c.api.store.update(kindInfo('KubeVirt'), 'kubevirt', 'kubevirt', kv);
      }
    }

    worker = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default', FERRY_KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const workerPid = worker.pid!;

    const plan: PlanInput = {
      name: `bench-${VMS}`,
      source: { cluster: 'source' },
      destination: { cluster: 'destination' },
      maxInFlight: MAX_IN_FLIGHT,
      vms: Array.from({ length: VMS }, (_, i) => ({ namespace: NS, name: fleetVmName('vm', i + 1) })),
      options: { pollInterval: '500ms', minCompletionTimeout: '30m' },
    };
    for (const c of [sim.source, sim.destination]) c.api.metrics.reset();
    const peaks = { worker: 0, server: 0 };
    const sample = () => {
      peaks.worker = Math.max(peaks.worker, rss(workerPid)?.now ?? 0);
      peaks.server = Math.max(peaks.server, rss(server.pid)?.now ?? 0);
    };
    const sampler = setInterval(sample, 500);

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
    clearInterval(sampler);
    sample();
    const workerPeak = Math.max(peaks.worker, rss(workerPid)?.peak ?? 0);
    const serverPeak = Math.max(peaks.server, rss(server.pid)?.peak ?? 0);
    const metrics = [sim.source, sim.destination].map((c) => c.api.metrics.snapshot());
    const ferryRequests = metrics.reduce((n, m) => n + (m.byUser.admin ?? 0), 0);
    log(`plan ${result.outcome} in ${round(wallMs / 1000)} s; collecting per-VM figures`);

    // Per VM: history length (visibility), wall time and phase durations (the status query's history).
    const children = new Map<string, { historyLength: number }>();
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'migrateVm' AND FerryPlan = '${plan.name}'` }))
      children.set(wf.workflowId, { historyLength: wf.historyLength ?? 0 });
    let planEvents = 0;
    let planRuns = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${planWorkflowId(plan.name)}'` })) {
      planEvents += wf.historyLength ?? 0;
      planRuns++;
    }
    const walls: number[] = [];
    const phaseMs: Record<string, number[]> = Object.fromEntries(STEPS.map((s) => [s.phase, []]));
    for await (const v of client.workflow.list({ query: `WorkflowType = 'migrateVm' AND FerryPlan = '${plan.name}' AND FerryPhase = 'Succeeded'` })) {
      // One query per VM: its phase history gives both the wall time and the time in each phase.
      const s: MigrationStatus = await client.workflow.getHandle(v.workflowId).query(statusQuery);
      walls.push(Date.parse(s.history.at(-1)!.at) - Date.parse(s.history[0]!.at));
      s.history.forEach((e, i) => {
        const next = s.history[i + 1];
        if (next && phaseMs[e.phase]) phaseMs[e.phase]!.push(Date.parse(next.at) - Date.parse(e.at));
      });
    }
    const transferMs = (MEMORY.bytes / BANDWIDTH.bytes) * 1000;
    const overhead = walls.map((w) => w - transferMs);
    const events = [...children.values()].map((c) => c.historyLength);
    const report = {
      when: new Date().toISOString(),
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      params: { mode: MODE, vms: VMS, maxInFlight: MAX_IN_FLIGHT, guestMemory: MEMORY.text, bandwidthPerMigration: BANDWIDTH.text },
      outcome: result.outcome,
      succeeded: result.succeeded,
      failed: result.failed + result.rolledBack,
      wallSeconds: round(wallMs / 1000),
      vmsPerMinute: round((result.succeeded / wallMs) * 60_000),
      perVm: {
        wallSecondsMedian: round(median(walls) / 1000, 2),
        wallSecondsP95: round(p95(walls) / 1000, 2),
        transferSeconds: round(transferMs / 1000, 2),
        overheadSecondsMedian: round(median(overhead) / 1000, 2),
        overheadSecondsP95: round(p95(overhead) / 1000, 2),
        // Only meaningful when there is a transfer to compare with (realistic mode).
        overheadToTransferRatio: MODE === 'realistic' ? round(median(overhead) / transferMs, 3) : null,
        phaseSecondsMedian: Object.fromEntries(Object.entries(phaseMs).map(([k, xs]) => [k, round(median(xs) / 1000, 2)])),
        historyEventsMedian: median(events),
        historyEventsMax: Math.max(0, ...events),
        kubernetesRequests: round(ferryRequests / VMS, 1),
      },
      plan: { historyEvents: planEvents, runs: planRuns },
      kubernetes: { ferryRequests, byVerb: metrics.map((m) => m.byVerb) },
      peakRssMiB: { worker: Math.round(workerPeak), temporalServer: Math.round(serverPeak) },
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
    print(report);
    log(`wrote ${OUT}`);
    return result.succeeded === VMS ? 0 : 1;
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGINT');
      await new Promise((r) => worker!.once('exit', r));
    }
    await connection.close();
    await sim.stop();
    await server.stop();
  }
}

function print(r: {
  params: { mode: string; vms: number; maxInFlight: number; guestMemory: string; bandwidthPerMigration: string };
  wallSeconds: number;
  vmsPerMinute: number;
  perVm: Record<string, unknown> & { phaseSecondsMedian: Record<string, number> };
  plan: { historyEvents: number; runs: number };
  peakRssMiB: { worker: number; temporalServer: number };
}) {
  const rows: [string, string | number][] = [
    ['mode', `${r.params.mode} (${r.params.vms} VMs, ${r.params.guestMemory} at ${r.params.bandwidthPerMigration}/s, maxInFlight ${r.params.maxInFlight})`],
    ['wall time', `${r.wallSeconds} s`],
    ['VMs per minute', r.vmsPerMinute],
    ['per-VM wall time (median / p95)', `${r.perVm.wallSecondsMedian} / ${r.perVm.wallSecondsP95} s`],
    ['simulated transfer per VM', `${r.perVm.transferSeconds} s`],
    ['orchestration overhead per VM (median / p95)', `${r.perVm.overheadSecondsMedian} / ${r.perVm.overheadSecondsP95} s`],
    ['overhead / transfer', r.perVm.overheadToTransferRatio === null ? '-' : String(r.perVm.overheadToTransferRatio)],
    ['history events per VM workflow (median / max)', `${r.perVm.historyEventsMedian} / ${r.perVm.historyEventsMax}`],
    ['history events per plan (all runs)', `${r.plan.historyEvents} in ${r.plan.runs} run(s)`],
    ['Kubernetes API requests per VM', r.perVm.kubernetesRequests as number],
    ['worker peak RSS', `${r.peakRssMiB.worker} MiB`],
    ['Temporal server peak RSS', `${r.peakRssMiB.temporalServer} MiB`],
    [
      'median seconds per phase',
      Object.entries(r.perVm.phaseSecondsMedian)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
}

process.exitCode = await main();
