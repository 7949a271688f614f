/** The simulator's fault controls from a terminal (`npm run sim:control`), against a running simulator. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Simulator } from '../sim.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { clients, startSim } from '../testing/sim.js';

const run = promisify(execFile);
let sim: Simulator;
let kubeconfig: string;

before(async () => {
  sim = await startSim();
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'ferry-control-')), 'kubeconfig');
  sim.writeKubeconfig(kubeconfig);
});
after(async () => {
  await sim.stop();
});

async function control(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'simulator', 'control.ts'), '--kubeconfig', kubeconfig, ...args], { cwd: REPO_ROOT });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe('npm run sim:control', () => {
  it('sets, shows and clears API faults', async () => {
    const set = await control('--context', 'destination', 'faults', 'set', '--error-rate', '1', '--verbs', 'list', '--resources', 'configmaps', '--latency', '1-2');
    assert.equal(set.code, 0, set.err);
    await assert.rejects(clients(sim, 'destination').core.listNamespacedConfigMap({ namespace: 'demo' }), (e: { code?: number }) => e.code === 500);
    const shown = JSON.parse((await control('--context', 'destination', 'faults', 'show')).out) as { config: { errors: { rate: number }[] }; injected: { errors: number } };
    assert.equal(shown.config.errors[0]!.rate, 1);
    assert.ok(shown.injected.errors >= 1);
    assert.equal((await control('--context', 'destination', 'faults', 'clear')).code, 0);
    await clients(sim, 'destination').core.listNamespacedConfigMap({ namespace: 'demo' });
  });

  it('partitions the clusters and stops the sync controller', async () => {
    assert.equal((await control('partition', 'on')).code, 0);
    assert.equal(sim.network.isPartitioned('source', 'destination'), true);
    assert.equal((await control('partition', 'off')).code, 0);
    assert.equal(sim.network.isPartitioned('source', 'destination'), false);
    assert.equal((await control('--context', 'destination', 'sync-controller', 'stop')).code, 0);
    assert.equal(sim.destination.sync.isRunning, false);
    assert.equal((await control('--context', 'destination', 'sync-controller', 'start')).code, 0);
    assert.equal(sim.destination.sync.isRunning, true);
  });

  it('refuses bad input with a message naming the flag', async () => {
    const r = await control('faults', 'set', '--error-rate', '2');
    assert.equal(r.code, 2);
    assert.match(r.err, /--error-rate must be a number between 0 and 1/);
    const c = await control('partition', 'maybe');
    assert.equal(c.code, 2);
    assert.match(c.err, /partition needs on or off/);
  });
});
