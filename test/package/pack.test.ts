/**
 * ferry as a user gets it: `npm pack` (which builds), the tarball installed into an empty directory
 * outside the repository, and its bins run with plain node from there — `ferry --help`, `ferry
 * validate`, and a migration by `ferry-worker` + `ferry migrate --wait` against the demo stack (a
 * Temporal dev server and the simulator, both from the repository). Run by `npm run test:package`.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { FAST, startStack, type Stack } from '../support/e2e.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'ferry-package-'));
const app = join(tmp, 'app');
let tarball: string;
let files: string[];
let stack: Stack;
let worker: ChildProcess | undefined;

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

before(async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  // prepack's build logs precede the JSON on stdout.
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as Packed[];
  tarball = join(tmp, info!.filename);
  files = info!.files.map((f) => f.path);
  console.log(`# tarball ${info!.filename}: ${(info!.size / 1024).toFixed(0)} KiB, ${(info!.unpackedSize / 1024 / 1024).toFixed(1)} MiB unpacked, ${files.length} files`);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ferry-user', private: true }));
  const started = Date.now();
  await run('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', tarball], { cwd: app, maxBuffer: 64 * 1024 * 1024 });
  console.log(`# npm install of the tarball: ${Date.now() - started} ms`);
  stack = await startStack({ inProcessWorker: false });
});

after(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) {
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker.kill('SIGTERM');
    // Its grace time is for running activities; none run now, so a worker still up after 10 s is stuck.
    const stuck = setTimeout(() => worker!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(stuck);
  }
  await stack?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A bin of the installed package, run from the empty directory with plain node (no tsx anywhere). */
function ferryEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmp, TEMPORAL_ADDRESS: stack.server.address, FERRY_KUBECONFIG: stack.kubeconfigFile, ...extra };
  return env;
}
const bin = (name: string) => join(app, 'node_modules', '.bin', name);
async function ferry(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(bin('ferry'), args, { cwd: app, env: ferryEnv() });
    return { code: 0, ...r };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('the packed product', () => {
  it('holds the built product and none of the simulator, tests, tools or TypeScript sources', () => {
    // client-node is bundled with the undici it was tested with: its own range (^8) needs Node ≥ 22.19.
    assert.ok(files.includes('node_modules/@kubernetes/client-node/package.json'));
    assert.equal(
      (JSON.parse(readFileSync(join(app, 'node_modules', 'ferry', 'node_modules', 'undici', 'package.json'), 'utf8')) as { version: string }).version.split('.')[0],
      '7',
    );
    assert.ok(files.includes('dist/client/main.js'));
    assert.ok(files.includes('dist/workers/main.js'));
    assert.ok(files.includes('dist/workflow-bundle.js'), 'the prebuilt workflow bundle');
    assert.ok(files.includes('deploy/rbac.yaml'));
    const own = files.filter((f) => !f.startsWith('node_modules/'));
    const foreign = own.filter((f) => /^(simulator|test|tools|bench|examples)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    assert.deepEqual(foreign, []);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', 'ferry', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const simulatorOnly of ['@peculiar/x509', 'reflect-metadata', 'tsx']) assert.equal(manifest.dependencies[simulatorOnly], undefined, simulatorOnly);
  });

  it('ferry --help runs with plain node from an empty directory', async () => {
    const r = await ferry('--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: ferry <command>/);
    assert.doesNotMatch(r.stdout, /^ {2}sim /m, 'the simulator is not a ferry command');
  });

  it('ferry validate reads the clusters from FERRY_KUBECONFIG', async () => {
    const r = await ferry('validate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--output', 'json');
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { blockers: unknown[] };
    assert.deepEqual(result.blockers, []);
  });

  it('ferry-worker and ferry migrate --wait move web-01: the destination runs it, the source is halted', async () => {
    worker = spawn(bin('ferry-worker'), [], { cwd: app, env: ferryEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    worker.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await eventually('the worker to start', async () => /ferry worker: Temporal .* task queue ferry/.test(log), 60_000, 100).catch((e: Error) => {
      throw new Error(`${e.message}; worker log:\n${log}`);
    });
    assert.doesNotMatch(log, /webpack|Workflow bundle created/, 'the worker loads the prebuilt bundle, it does not bundle');
    const options = Object.entries(FAST).flatMap(([k, v]) => ['--option', `${k}=${v}`]);
    const r = await ferry('migrate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--wait', ...options);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\nworker log:\n${log}`);
    const dst = kubevirt(clients(stack.sim, 'destination'));
    const src = kubevirt(clients(stack.sim, 'source'));
    assert.equal(path(await dst.get('virtualmachines', 'demo', 'web-01'), 'spec.runStrategy'), 'Always');
    assert.equal(path(await dst.get('virtualmachineinstances', 'demo', 'web-01'), 'status.phase'), 'Running');
    assert.equal(path(await src.get('virtualmachines', 'demo', 'web-01'), 'spec.runStrategy'), 'Halted');
  });
});
