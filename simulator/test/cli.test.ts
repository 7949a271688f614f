/**
 * The simulator's command, ferry-sim, as a user runs it (its bin, a child process): controls that
 * change a running simulator, usage errors, and running one in the foreground until Ctrl-C.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Simulator } from '../sim.js';
import { scrapeMetrics } from '../testing/metrics.js';
import { apiError, clients, startSim } from '../testing/sim.js';

const BIN = fileURLToPath(new URL('../bin/ferry-sim.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'ferry-sim-cli-'));
let sim: Simulator;
let kubeconfigFile: string;

before(async () => {
  sim = await startSim();
  kubeconfigFile = join(tmp, 'kubeconfig');
  writeFileSync(kubeconfigFile, sim.kubeconfig(), { mode: 0o600 });
});
after(async () => {
  await sim?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startSimCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const base = { ...process.env };
  delete base.FERRY_KUBECONFIG;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const seen = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const check of seen) check();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const waitFor = (re: RegExp, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
      const check = () => {
        if (!re.test(stdout)) return;
        clearTimeout(timer);
        seen.delete(check);
        resolve();
      };
      seen.add(check);
      check();
      void done.then(() => reject(new Error(`ferry-sim ended before printing ${re}; stdout:\n${stdout}\nstderr:\n${stderr}`)));
    });
  return { child, done, waitFor, out: () => stdout };
}

const ferrySim = (...args: string[]) => startSimCli(args).done;
const ferrySimEnv = (env: NodeJS.ProcessEnv, ...args: string[]) => startSimCli(args, env).done;

describe('ferry-sim', () => {
  it('partition on/off, faults set/show/clear and sync-controller stop/start change the running simulator', async () => {
    const k = ['--kubeconfig', kubeconfigFile];
    const on = await ferrySim('partition', 'on', ...k);
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(JSON.parse(on.stdout), { partitioned: true });
    assert.equal(sim.network.isPartitioned('source', 'destination'), true);
    const off = await ferrySim('partition', 'off', ...k);
    assert.equal(off.code, 0, off.stderr);
    assert.deepEqual(JSON.parse(off.stdout), { partitioned: false });
    assert.equal(sim.network.isPartitioned('source', 'destination'), false);

    const dst = clients(sim, 'destination');
    try {
      const set = await ferrySim('--context', 'destination', 'faults', 'set', '--error-rate', '1', '--verbs', 'list', '--resources', 'configmaps', ...k);
      assert.equal(set.code, 0, set.stderr);
      assert.equal((await apiError(dst.core.listNamespacedConfigMap({ namespace: 'demo' }))).code, 500);
      // The kubeconfig from FERRY_KUBECONFIG, as for validate.
      const shown = await ferrySimEnv({ FERRY_KUBECONFIG: kubeconfigFile }, '--context', 'destination', 'faults', 'show');
      assert.equal(shown.code, 0, shown.stderr);
      const faults = JSON.parse(shown.stdout) as { config: { errors: { rate: number; verbs?: string[] }[] }; injected: { errors: number } };
      assert.equal(faults.config.errors[0]!.rate, 1);
      assert.deepEqual(faults.config.errors[0]!.verbs, ['list']);
      assert.ok(faults.injected.errors >= 1);
    } finally {
      const clear = await ferrySim('--context', 'destination', 'faults', 'clear', ...k);
      assert.equal(clear.code, 0, clear.stderr);
    }
    await dst.core.listNamespacedConfigMap({ namespace: 'demo' });

    const stop = await ferrySim('--context', 'destination', 'sync-controller', 'stop', ...k);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(sim.destination.sync.isRunning, false);
    const startAgain = await ferrySim('--context', 'destination', 'sync-controller', 'start', ...k);
    assert.equal(startAgain.code, 0, startAgain.stderr);
    assert.equal(sim.destination.sync.isRunning, true);

    const bad = await ferrySim('partition', 'maybe', ...k);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /partition needs on or off/);
    const rate = await ferrySim('faults', 'set', '--error-rate', '2', ...k);
    assert.equal(rate.code, 2);
    assert.match(rate.stderr, /--error-rate must be a number between 0 and 1/);
    const unknown = await ferrySim('explode', ...k);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "explode"/);
  });

  it('runs the simulator in the foreground, writes its kubeconfig and virt-handler-metrics.json, answers controls, and stops on Ctrl-C (exit 0)', async () => {
    const file = join(tmp, 'own-sim', 'kubeconfig');
    const own = startSimCli(['--kubeconfig', file, '--', '--no-fixtures']);
    await own.waitFor(/Ctrl-C stops both clusters/, 60_000);
    assert.match(own.out(), /ferry simulator running/);
    const kc = parseYaml(readFileSync(file, 'utf8')) as { contexts: { name: string }[] };
    assert.deepEqual(
      kc.contexts.map((c) => c.name),
      ['source', 'destination'],
    );
    // Beside the kubeconfig: each cluster's virt-handler metrics endpoint, printed too, and scrapeable.
    const endpoints = JSON.parse(readFileSync(join(tmp, 'own-sim', 'virt-handler-metrics.json'), 'utf8')) as Record<string, { url: string; caFile: string }>;
    assert.deepEqual(Object.keys(endpoints), ['source', 'destination']);
    for (const [name, e] of Object.entries(endpoints)) {
      assert.ok(own.out().includes(`virt-handler metrics ${e.url}`), `${name}'s metrics URL not printed`);
      assert.equal(e.caFile, join(tmp, 'own-sim', `${name}-virt-handler-ca.pem`));
      const scrape = await scrapeMetrics(e);
      assert.equal(scrape.status, 200);
    }
    const on = await ferrySim('partition', 'on', '--kubeconfig', file);
    assert.equal(on.code, 0, on.stderr);
    assert.deepEqual(JSON.parse(on.stdout), { partitioned: true });
    assert.equal(sim.network.isPartitioned('source', 'destination'), false, 'the stack simulator was not touched');
    own.child.kill('SIGINT');
    const r = await own.done;
    assert.equal(r.code, 0, r.stderr);
    const gone = await ferrySim('partition', 'off', '--kubeconfig', file);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /is the simulator running\?/);
  });
});
