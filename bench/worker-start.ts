/**
 * Worker start benchmark (`npm run bench:worker-start -- [--runs N]`): how long `ferry-worker` takes
 * from `node` starting to ready to poll (its startup line, printed once the Worker is created, bundling
 * included, just before it runs), and its RSS then, three ways against one Temporal dev server:
 *
 *   prebuilt      dist/workers/main.js loading dist/workflow-bundle.js (what the package and image run)
 *   bundle        the same dist/ without the prebuilt bundle: webpack bundles the workflows at start
 *   source (tsx)  workers/main.ts under tsx, bundling at start (`npm run worker`, the only way before)
 *
 * Needs `npm run build` first. Prints a table; exit 1 if a worker fails to start.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, startDevServer } from '../tools/temporal-cli.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(args.runs);
const dist = join(REPO_ROOT, 'dist');
if (!existsSync(join(dist, 'workflow-bundle.js'))) {
  console.error('no dist/workflow-bundle.js: run npm run build first');
  process.exit(1);
}
// A dist/ without the bundle, inside the repository so that node_modules still resolves.
const unbundled = join(REPO_ROOT, '.state', 'bench-dist-unbundled');
rmSync(unbundled, { recursive: true, force: true });
cpSync(dist, unbundled, { recursive: true });
rmSync(join(unbundled, 'workflow-bundle.js'));

const tmp = mkdtempSync(join(tmpdir(), 'ferry-worker-start-'));
const kubeconfig = join(tmp, 'kubeconfig');
// A cluster the worker never calls: starting needs a kubeconfig, not an API server.
writeFileSync(
  kubeconfig,
  'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
);
const server = await startDevServer({ uiPort: false });

const variants: [string, string[]][] = [
  ['prebuilt', [join(dist, 'workers', 'main.js')]],
  ['bundle', [join(unbundled, 'workers', 'main.js')]],
  ['source (tsx)', ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')]],
];

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function startOnce(argv: string[]): Promise<{ ms: number; rss: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: 'default', FERRY_KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const ready = await new Promise<{ ms: number; rss: number }>((resolve, reject) => {
    const onData = (d: Buffer) => {
      log += d.toString();
      if (/ferry worker: Temporal /.test(log)) resolve({ ms: performance.now() - started, rss: rssMiB(child.pid!) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before starting:\n${log}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  return ready;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[] = [];
try {
  for (const [name, argv] of variants) {
    const samples: { ms: number; rss: number }[] = [];
    for (let i = 0; i < runs; i++) samples.push(await startOnce(argv));
    const ms = samples.map((s) => s.ms);
    rows.push(
      `${name.padEnd(14)} ${String(Math.round(median(ms))).padStart(8)} ${String(Math.round(Math.min(...ms))).padStart(8)} ${String(Math.round(Math.max(...ms))).padStart(8)} ${median(
        samples.map((s) => s.rss),
      )
        .toFixed(0)
        .padStart(8)}`,
    );
  }
} finally {
  await server.stop();
  rmSync(unbundled, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
}
console.log(
  `worker start to polling, ${runs} runs each (ms), RSS at start (MiB)\n${'variant'.padEnd(14)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)} ${'RSS'.padStart(8)}\n${rows.join('\n')}`,
);
