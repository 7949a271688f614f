/**
 * `npm run sim -- --bed kube` as a person runs it: the real bed in the foreground, kubectl against
 * its kubeconfig (ferry's ServiceAccount and the admin contexts), `npm run sim:control` and
 * `ferry-sim` driving its fault proxy, and Ctrl-C leaving no etcd or kube-apiserver behind.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { FERRY_USER } from '../../simulator/kube-bed/cluster.js';
import { scrapeMetrics } from '../../simulator/testing/metrics.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';

const KUBECTL = '/usr/bin/kubectl';
/** What tools/kube-bed/build.ts pins; the bed's binaries say so through /version. */
const KUBERNETES_VERSION = 'v1.34.2';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let tmp: string;
let kubeconfig: string;
let bedDir: string;
let bed: ChildProcess;
let stdout = '';
let stderr = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

const kubectl = (...args: string[]) => run(KUBECTL, ['--kubeconfig', kubeconfig, ...args]);
const control = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'simulator/control.ts', '--kubeconfig', kubeconfig, ...args]);
const json = <T>(r: Run): T => {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

/** Processes whose command line names `dir`, other than the bed's own node process. */
function processesUnder(dir: string): { pid: number; cmd: string }[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== bed.pid && Number(p) !== process.pid)
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
        return cmd.includes(dir) ? [{ pid: Number(p), cmd }] : [];
      } catch {
        return [];
      }
    });
}

function skipWithoutKubectl(t: TestContext): boolean {
  if (existsSync(KUBECTL)) return false;
  t.skip(`kubectl is not installed at ${KUBECTL}: the kubectl assertions need it`);
  return true;
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ferry-sim-cli-'));
  kubeconfig = join(tmp, 'kubeconfig');
  bedDir = join(tmp, 'bed');
  bed = spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts', '--bed', 'kube', '--kubeconfig', kubeconfig, '--dir', bedDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  bed.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  bed.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  exited = new Promise((resolve) => bed.on('exit', (code, signal) => resolve({ code, signal })));
  // Started in ~15 s; a machine without the bed's binaries builds them first (~15 min).
  const deadline = Date.now() + 25 * 60_000;
  let ended = false;
  void exited.then(() => (ended = true));
  while (!/Ctrl-C stops both clusters/.test(stdout)) {
    if (ended) throw new Error(`the bed ended before it was running\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`the bed was not running in time\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  if (bed && bed.exitCode === null && bed.signalCode === null) {
    bed.kill('SIGTERM');
    await exited;
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('npm run sim -- --bed kube', () => {
  it('prints where both clusters are and writes a kubeconfig with ferry and admin contexts', () => {
    assert.ok(existsSync(kubeconfig));
    const kc = parseYaml(readFileSync(kubeconfig, 'utf8')) as { contexts: { name: string }[]; clusters: { name: string; cluster: { server: string } }[] };
    assert.deepEqual(
      kc.contexts.map((c) => c.name),
      ['source', 'destination', 'source-admin', 'destination-admin'],
    );
    assert.match(stdout, /ferry real bed running/);
    for (const c of kc.clusters) assert.ok(stdout.includes(c.cluster.server), `the output names ${c.name}'s server ${c.cluster.server}`);
    assert.match(stdout, new RegExp(`kube-apiserver ${KUBERNETES_VERSION.replace(/\./g, '\\.')} at https://127\\.0\\.0\\.1:\\d+`));
    assert.match(stdout, /sync 127\.0\.0\.1:\d+/);
    assert.ok(stdout.includes(join(bedDir, 'source')), 'the output names the log folder');
    assert.ok(stdout.includes(`--kubeconfig ${kubeconfig} --context source version`));
  });

  it("writes virt-handler-metrics.json beside the kubeconfig: each cluster's virt-handler metrics endpoint answers over HTTPS", async () => {
    const endpoints = JSON.parse(readFileSync(join(tmp, 'virt-handler-metrics.json'), 'utf8')) as Record<string, { url: string; caFile: string }>;
    assert.deepEqual(Object.keys(endpoints), ['source', 'destination']);
    for (const [name, e] of Object.entries(endpoints)) {
      assert.ok(stdout.includes(`virt-handler metrics ${e.url}`), `the output names ${name}'s metrics endpoint`);
      assert.ok(e.caFile.startsWith(join(bedDir, name)), `${name}'s CA file ${e.caFile} is in its bed folder`);
      const scrape = await scrapeMetrics(e);
      assert.equal(scrape.status, 200);
      assert.equal(scrape.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    }
  });

  it("kubectl: the real kube-apiserver, KubeVirt's own VMIM CRD, and ferry's RBAC", async (t) => {
    if (skipWithoutKubectl(t)) return;
    const version = json<{ serverVersion: { gitVersion: string } }>(await kubectl('--context', 'source', 'version', '-o', 'json'));
    assert.equal(version.serverVersion.gitVersion, KUBERNETES_VERSION);

    const crd = json<{ spec: { versions: { name: string; schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }[] } }>(
      await kubectl('--context', 'source-admin', 'get', 'crd', 'virtualmachineinstancemigrations.kubevirt.io', '-o', 'json'),
    );
    assert.ok(
      crd.spec.versions.some((v) => v.schema.openAPIV3Schema.properties.spec.properties.sendTo !== undefined),
      "KubeVirt's schema has spec.sendTo (decentralized migration)",
    );

    const canI = (verb: string, resource: string) => kubectl('--context', 'source-admin', 'auth', 'can-i', verb, resource, `--as=${FERRY_USER}`, '-n', 'demo');
    const create = await canI('create', 'virtualmachineinstancemigrations.kubevirt.io');
    assert.equal(create.code, 0, create.stderr);
    assert.equal(create.stdout.trim(), 'yes');
    const update = await canI('update', 'virtualmachines.kubevirt.io');
    assert.equal(update.code, 1, update.stderr);
    assert.equal(update.stdout.trim(), 'no');
  });

  it('npm run sim:control drives the fault proxy with the admin context behind "source"', async () => {
    const set = json<{ config: { errors: { rate: number; verbs?: string[] }[] } }>(await control('faults', 'set', '--error-rate', '0.5', '--verbs', 'get'));
    assert.deepEqual(
      set.config.errors.map((e) => [e.rate, e.verbs]),
      [[0.5, ['get']]],
    );
    const shown = json<{ config: { errors: { rate: number; verbs?: string[]; code: number }[] }; injected: { errors: number } }>(await control('faults', 'show'));
    assert.deepEqual(
      shown.config.errors.map((e) => [e.rate, e.verbs, e.code]),
      [[0.5, ['get'], 500]],
    );
    assert.equal(typeof shown.injected.errors, 'number');
    assert.deepEqual(json<{ config: { errors: unknown[] } }>(await control('faults', 'clear')).config.errors, []);

    assert.deepEqual(json(await control('partition', 'on')), { partitioned: true });
    assert.deepEqual(json(await control('--context', 'destination', 'partition')), { partitioned: true }, 'one network between both clusters');
    assert.deepEqual(json(await control('partition', 'off')), { partitioned: false });
    assert.deepEqual(json(await control('partition')), { partitioned: false });

    const metrics = json<{ requests: number; byUser: Record<string, number> }>(await control('--context', 'destination', 'metrics'));
    assert.ok(metrics.requests >= 1);
    assert.ok((metrics.byUser.admin ?? 0) >= 1, JSON.stringify(metrics));

    // Through ferry-sim too, with the same fallback to destination-admin.
    const ferry = await run(process.execPath, ['simulator/bin/ferry-sim.js', '--kubeconfig', kubeconfig, '--context', 'destination', 'sync-controller']);
    assert.equal(ferry.code, 0, ferry.stderr);
    assert.equal((JSON.parse(ferry.stdout) as { running: boolean }).running, true);
  });

  it("sim:control explains a 403 when the kubeconfig has only ferry's ServiceAccount", async () => {
    const kc = parseYaml(readFileSync(kubeconfig, 'utf8')) as Record<'clusters' | 'users' | 'contexts', { name: string }[]>;
    for (const key of ['clusters', 'users', 'contexts'] as const) kc[key] = kc[key].filter((x) => !x.name.endsWith('-admin'));
    const ferryOnly = join(tmp, 'ferry-only.kubeconfig');
    writeFileSync(ferryOnly, stringify(kc), { mode: 0o600 });
    const r = await run(process.execPath, ['--import', 'tsx', 'simulator/control.ts', '--kubeconfig', ferryOnly, 'faults', 'show']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 403/);
    assert.match(r.stderr, /source-admin/);
  });

  it('Ctrl-C stops both clusters (exit 0) and leaves no etcd, kube-apiserver or controller manager running', async () => {
    const children = processesUnder(bedDir);
    for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
      assert.equal(children.filter((p) => p.cmd.split(' ')[0]!.endsWith(`/${name}`)).length, 2, `${name} runs once per cluster:\n${children.map((p) => p.cmd).join('\n')}`);
    }
    bed.kill('SIGINT');
    const end = await exited;
    assert.deepEqual(end, { code: 0, signal: null }, stderr);
    const alive = children.filter((p) => {
      try {
        process.kill(p.pid, 0);
        return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(bedDir);
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, [], 'no process of the bed outlives it');
    assert.deepEqual(processesUnder(bedDir), []);
  });
});
