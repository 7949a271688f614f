/**
 * Acceptance: "kubectl against the written kubeconfig". The simulator runs in-process; the real
 * `kubectl` binary talks to it through the kubeconfig `Simulator.writeKubeconfig` writes, with the
 * `source` and `destination` contexts, exactly as a user would after `npm run sim`.
 *
 * kubectl is required: CI installs Debian's kubernetes-client. `FERRY_KUBECTL` may name another binary.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Simulator } from '../sim.js';
import { createSourceVMIM, createTargetVMIM, prepareReceiver, syncCAs, vmimPhase } from '../testing/hand-migration.js';
import { apiError, clients, eventually, kubevirt, path, startSim } from '../testing/sim.js';

type Context = 'source' | 'destination';

const MISSING =
  "kubectl is not installed (looked for /usr/bin/kubectl and on PATH): install Debian's kubernetes-client " +
  '(`apt-get install kubernetes-client`) to run the kubectl acceptance test; CI installs it';

function findKubectl(): string | undefined {
  const candidates = [
    process.env.FERRY_KUBECTL,
    '/usr/bin/kubectl',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'kubectl')),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next candidate */
    }
  }
  return undefined;
}

const KUBECTL = findKubectl();
const COMMAND_TIMEOUT_MS = 20_000;

let sim: Simulator;
let dir: string;
let kubeconfig: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment kubectl runs in: no ambient KUBECONFIG, so only `--kubeconfig` counts. */
function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.KUBECONFIG;
  return e;
}

function baseArgs(context: Context): string[] {
  return ['--kubeconfig', kubeconfig, '--context', context, '--cache-dir', join(dir, 'cache'), '--request-timeout', '15s'];
}

/** Run kubectl to completion; never rejects (the exit code is in the result). */
function kubectlRun(context: Context, args: string[]): Promise<Run> {
  if (!KUBECTL) throw new Error(MISSING);
  return new Promise((resolve) => {
    execFile(KUBECTL, [...baseArgs(context), ...args], { timeout: COMMAND_TIMEOUT_MS, env: env(), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const killed = err && (err as { killed?: boolean }).killed ? ` (killed after ${COMMAND_TIMEOUT_MS} ms)` : '';
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + killed });
    });
  });
}

/** Run kubectl and require exit code 0; returns stdout. */
async function kubectl(context: Context, ...args: string[]): Promise<string> {
  const r = await kubectlRun(context, args);
  assert.equal(r.code, 0, `kubectl --context ${context} ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Rows of a kubectl table as objects keyed by the header names (tables used here have no empty cells). */
function rows(out: string): Record<string, string>[] {
  const lines = out.split('\n').filter((l) => l.trim());
  if (!lines.length) return [];
  const header = lines[0]!.trim().split(/\s+/);
  return lines.slice(1).map((l) => {
    const cells = l.trim().split(/\s+/);
    return Object.fromEntries(header.map((h, i) => [h.trim(), cells[i] ?? '']));
  });
}

function writeManifest(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const FIXTURE_VMS: Record<string, string> = {
  'web-01': 'Running',
  'db-01': 'Running',
  'cache-01': 'Running',
  'cluster-node-a': 'Running',
  'batch-01': 'Stopped',
};

describe('kubectl against the written kubeconfig', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    sim = await startSim();
    sim.writeKubeconfig(kubeconfig);
  });

  after(async () => {
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl is installed', () => {
    assert.ok(KUBECTL, MISSING);
  });

  it('has a context per cluster', async () => {
    const out = await kubectl('source', 'config', 'get-contexts', '-o', 'name');
    assert.deepEqual(out.trim().split('\n').sort(), ['destination', 'source']);
  });

  it('get vm -A lists the fixture VMs with their Status column', async () => {
    const out = await kubectl('source', 'get', 'vm', '-A');
    const table = rows(out);
    const header = out.split('\n')[0]!;
    for (const col of ['NAMESPACE', 'NAME', 'AGE', 'STATUS', 'READY']) assert.match(header, new RegExp(`\\b${col}\\b`), `no ${col} column in:\n${out}`);
    const status = Object.fromEntries(table.map((r) => [r.NAME!, r.STATUS!]));
    assert.deepEqual(status, FIXTURE_VMS, `kubectl get vm -A printed:\n${out}`);
    for (const r of table) assert.equal(r.NAMESPACE, 'demo');
    assert.equal(table.find((r) => r.NAME === 'web-01')?.READY, 'true');

    // The destination context really is the other cluster: it has no VMs yet.
    const dst = await kubectlRun('destination', ['get', 'vm', '-A']);
    assert.equal(dst.code, 0, dst.stderr);
    assert.match(dst.stdout + dst.stderr, /No resources found/);
  });

  it('api-resources lists the KubeVirt kinds with their short names, and the short names work', async () => {
    const out = await kubectl('source', 'api-resources');
    const shortNames = new Map<string, string[]>();
    for (const line of out.split('\n').slice(1)) {
      const cells = line.trim().split(/\s+/);
      if (cells.length < 4) continue;
      // NAME [SHORTNAMES] APIVERSION NAMESPACED KIND: SHORTNAMES is the only column that may be empty.
      shortNames.set(cells.at(-1)!, cells.length >= 5 ? cells[1]!.split(',') : []);
    }
    const want: Record<string, string[]> = {
      VirtualMachine: ['vm'],
      VirtualMachineInstance: ['vmi'],
      VirtualMachineInstanceMigration: ['vmim'],
      DataVolume: ['dv'],
      KubeVirt: ['kv'],
      VirtualMachineInstancetype: ['vmf', 'vminstancetype'],
      VirtualMachineClusterInstancetype: ['vmcf'],
      VirtualMachinePreference: ['vmp'],
      VirtualMachineClusterPreference: ['vmcp'],
    };
    for (const [kind, names] of Object.entries(want)) {
      const have = shortNames.get(kind);
      assert.ok(have, `kind ${kind} missing from kubectl api-resources:\n${out}`);
      for (const n of names) assert.ok(have.includes(n), `${kind} lacks short name ${n} (has ${have.join(',')})`);
    }

    const names = (o: string) =>
      rows(o)
        .map((r) => r.NAME)
        .sort();
    assert.deepEqual(names(await kubectl('source', 'get', 'vmcf')), ['u1.medium', 'u1.small']);
    assert.deepEqual(names(await kubectl('source', 'get', 'vmcp')), ['fedora']);
    assert.deepEqual(names(await kubectl('source', 'get', 'vmf', '-n', 'demo')), ['web-small']);
    assert.deepEqual(names(await kubectl('source', 'get', 'vmp', '-n', 'demo')), ['web-pref']);
    assert.deepEqual(names(await kubectl('source', 'get', 'vmi', '-n', 'demo')), ['cache-01', 'cluster-node-a', 'db-01', 'web-01']);
    assert.ok(names(await kubectl('source', 'get', 'dv', '-n', 'demo')).includes('web-01-rootdisk'));
    const kv = rows(await kubectl('destination', 'get', 'kv', '-n', 'kubevirt'));
    assert.deepEqual(
      kv.map((r) => [r.NAME, r.PHASE]),
      [['kubevirt', 'Deployed']],
    );
  });

  it('get vmim -A shows the VMIMs of a decentralized migration done by hand', async () => {
    const empty = await kubectlRun('destination', ['get', 'vmim', '-A']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout + empty.stderr, /No resources found/);

    await syncCAs(sim);
    await prepareReceiver(sim, 'cache-01');
    const address = await createTargetVMIM(sim, 'cache-01', 'kubectl-mig');
    const waiting = rows(await kubectl('destination', 'get', 'vmim', '-A'));
    assert.deepEqual(
      waiting.map((r) => [r.NAMESPACE, r.NAME, r.PHASE, r.VMI]),
      [['demo', 'cache-01-target', 'WaitingForSync', 'cache-01']],
    );
    assert.deepEqual(
      rows(await kubectl('destination', 'get', 'vm', '-n', 'demo', 'cache-01')).map((r) => r.STATUS),
      ['WaitingForReceiver'],
    );

    await createSourceVMIM(sim, 'cache-01', 'kubectl-mig', address);
    await eventually(
      'both VMIMs Succeeded',
      async () => (await vmimPhase(sim, 'source', 'demo', 'cache-01-source')) === 'Succeeded' && (await vmimPhase(sim, 'destination', 'demo', 'cache-01-target')) === 'Succeeded',
      20_000,
    );
    assert.deepEqual(
      rows(await kubectl('source', 'get', 'vmim', '-A')).map((r) => [r.NAME, r.PHASE, r.VMI]),
      [['cache-01-source', 'Succeeded', 'cache-01']],
    );
    assert.deepEqual(
      rows(await kubectl('destination', 'get', 'vmim', '-A')).map((r) => [r.NAME, r.PHASE, r.VMI]),
      [['cache-01-target', 'Succeeded', 'cache-01']],
    );
    // The VMs as kubectl shows them once the controllers finished: halted here, running there.
    await eventually(
      'kubectl shows cache-01 Stopped on the source and Running on the destination',
      async () => {
        const [src, dst] = await Promise.all([kubectl('source', 'get', 'vm', '-n', 'demo', 'cache-01'), kubectl('destination', 'get', 'vm', '-n', 'demo', 'cache-01')]);
        return rows(src)[0]?.STATUS === 'Stopped' && rows(dst)[0]?.STATUS === 'Running';
      },
      15_000,
      200,
    );
    assert.equal((await kubectl('source', 'get', 'vm', '-n', 'demo', 'cache-01', '-o', 'jsonpath={.spec.runStrategy}')).trim(), 'Halted');
    assert.equal((await kubectl('destination', 'get', 'vm', '-n', 'demo', 'cache-01', '-o', 'jsonpath={.spec.runStrategy}')).trim(), 'Always');
  });

  const manifest = (prefix: string, greeting: string, runStrategy: string, tier: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${prefix}-config
  namespace: demo
data:
  greeting: ${greeting}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: ${prefix}-vm
  namespace: demo
  labels:
    tier: ${tier}
spec:
  runStrategy: ${runStrategy}
  template:
    spec:
      domain:
        memory:
          guest: 1Gi
        devices: {}
`;

  it('apply -f creates a ConfigMap and a VirtualMachine, and a changed file updates them ("configured")', async () => {
    const api = clients(sim, 'source');
    const kv = kubevirt(api);
    const v1 = writeManifest('apply-v1.yaml', manifest('kubectl-apply', 'hello', 'Always', 'one'));
    const created = await kubectl('source', 'apply', '-f', v1);
    assert.match(created, /^configmap\/kubectl-apply-config created$/m);
    assert.match(created, /^virtualmachine\.kubevirt\.io\/kubectl-apply-vm created$/m);
    assert.equal((await api.core.readNamespacedConfigMap({ namespace: 'demo', name: 'kubectl-apply-config' })).data?.greeting, 'hello');
    // The simulated controllers act on what kubectl created: the VM starts.
    await eventually('kubectl-apply-vm Running', async () => path(await kv.get('virtualmachines', 'demo', 'kubectl-apply-vm'), 'status.printableStatus') === 'Running');

    const v2 = writeManifest('apply-v2.yaml', manifest('kubectl-apply', 'bonjour', 'Halted', 'two'));
    const configured = await kubectl('source', 'apply', '-f', v2);
    assert.match(configured, /^configmap\/kubectl-apply-config configured$/m);
    assert.match(configured, /^virtualmachine\.kubevirt\.io\/kubectl-apply-vm configured$/m);
    assert.equal((await api.core.readNamespacedConfigMap({ namespace: 'demo', name: 'kubectl-apply-config' })).data?.greeting, 'bonjour');
    const vm = await kv.get('virtualmachines', 'demo', 'kubectl-apply-vm');
    assert.equal(path(vm, 'spec.runStrategy'), 'Halted');
    assert.equal(path<Record<string, string>>(vm, 'metadata.labels')?.tier, 'two');
    await eventually('kubectl-apply-vm Stopped', async () => path(await kv.get('virtualmachines', 'demo', 'kubectl-apply-vm'), 'status.printableStatus') === 'Stopped');

    const again = await kubectl('source', 'apply', '-f', v2);
    assert.match(again, /^configmap\/kubectl-apply-config unchanged$/m);
    assert.match(again, /^virtualmachine\.kubevirt\.io\/kubectl-apply-vm unchanged$/m);
  });

  it('delete -f removes what the file describes', async () => {
    const api = clients(sim, 'source');
    const kv = kubevirt(api);
    const file = writeManifest('delete.yaml', manifest('kubectl-delete', 'bye', 'Always', 'one'));
    await kubectl('source', 'apply', '-f', file);
    await eventually('kubectl-delete-vm has a VMI', () => kv.tryGet('virtualmachineinstances', 'demo', 'kubectl-delete-vm'));

    const out = await kubectl('source', 'delete', '-f', file);
    assert.match(out, /configmap "kubectl-delete-config" deleted/);
    assert.match(out, /virtualmachine\.kubevirt\.io "kubectl-delete-vm" deleted/);
    assert.equal((await apiError(api.core.readNamespacedConfigMap({ namespace: 'demo', name: 'kubectl-delete-config' }))).code, 404);
    assert.equal(await kv.tryGet('virtualmachines', 'demo', 'kubectl-delete-vm'), undefined);
    // The VM's VMI goes with it (owner references), as in a real cluster.
    await eventually('VMI of the deleted VM gone', async () => (await kv.tryGet('virtualmachineinstances', 'demo', 'kubectl-delete-vm')) === undefined);
    const gone = await kubectlRun('source', ['get', '-f', file]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound|not found/);
  });

  it('get vm -w sees changes made through the API', async () => {
    if (!KUBECTL) throw new Error(MISSING);
    const child = spawn(KUBECTL, [...baseArgs('source'), 'get', 'vm', '-n', 'demo', '-w'], { env: env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    const state = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
    try {
      await eventually(
        'the initial list',
        async () => {
          if (child.exitCode !== null) throw new Error(`kubectl -w exited with ${child.exitCode}\n${state()}`);
          return /^web-01\s/m.test(stdout);
        },
        15_000,
      );

      const kv = kubevirt(clients(sim, 'source'));
      // A new VM, and a run strategy change the controllers turn into status changes.
      await kv.create('virtualmachines', 'demo', {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachine',
        metadata: { name: 'kubectl-watched' },
        spec: { runStrategy: 'Halted', template: { spec: { domain: { memory: { guest: '1Gi' }, devices: {} } } } },
      });
      const batch = await kv.get('virtualmachines', 'demo', 'batch-01');
      await clients(sim, 'source').custom.replaceNamespacedCustomObject({
        group: 'kubevirt.io',
        version: 'v1',
        namespace: 'demo',
        plural: 'virtualmachines',
        name: 'batch-01',
        body: { ...batch, spec: { ...(batch.spec as object), runStrategy: 'Always' } },
      });

      await eventually('kubectl -w prints the new VM', async () => /^kubectl-watched\s/m.test(stdout), 15_000);
      await eventually('kubectl -w prints batch-01 Running', async () => /^batch-01\s+\S+\s+Running\s+true\s*$/m.test(stdout), 15_000);
      assert.match(stdout, /^batch-01\s+\S+\s+Stopped\s/m, `the initial listing shows batch-01 Stopped\n${state()}`);
      assert.equal(child.exitCode, null, `kubectl -w exited early\n${state()}`);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM'); // its process group: kubectl and anything it started
        } catch {
          child.kill('SIGTERM');
        }
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    }
  });
});
