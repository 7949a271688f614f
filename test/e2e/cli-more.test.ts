/**
 * The ferry CLI's validate and watch commands and the help texts, end to end: the CLI as a child
 * process (its stdout is a pipe, not a terminal: watch prints plain lines) against one shared stack
 * (dev server, simulator, in-process worker).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ListedMigration } from '../../client/commands/list.js';
import type { ValidateResult } from '../../client/commands/validate.js';
import type { MigrationStatus } from '../../workflows/contract.js';
import { ALL_PHASES, STEPS } from '../../workflows/phases.js';
import { startFerry } from '../support/cli.js';
import { startStack, type Stack } from '../support/e2e.js';
import { eventually, simControl } from '../../simulator/testing/sim.js';

let stack: Stack;
let viewerKubeconfig: string;
const tmp = mkdtempSync(join(tmpdir(), 'ferry-cli-more-'));

before(async () => {
  stack = await startStack();
  viewerKubeconfig = join(tmp, 'viewer-kubeconfig');
  writeFileSync(viewerKubeconfig, stack.sim.kubeconfig('viewer'), { mode: 0o600 });
});
after(async () => {
  await stack?.sim.partition(false).catch(() => {});
  await stack?.stop();
});

const start = (args: string[], env: NodeJS.ProcessEnv = {}) => startFerry(stack, args, env);
const ferry = (...args: string[]) => start(args).done;
const ferryEnv = (env: NodeJS.ProcessEnv, ...args: string[]) => start(args, env).done;

const FAST_OPTIONS = ['--option', 'pollInterval=200ms', '--option', 'receiverReadyTimeout=20s', '--option', 'syncAddressTimeout=20s', '--option', 'minCompletionTimeout=60s'];
const migrate = (vm: string, ...extra: string[]) => ferry('migrate', `demo/${vm}`, '--from', 'source', '--to', 'destination', ...FAST_OPTIONS, ...extra);
const id = (vm: string) => `migration/source/demo/${vm}`;

const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) => eventually(what, probe, timeoutMs, 250);

async function statusOf(workflowId: string): Promise<MigrationStatus> {
  const r = await ferry('status', workflowId, '--output', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as MigrationStatus;
}

async function listed(...args: string[]): Promise<ListedMigration[]> {
  const r = await ferry('list', ...args, '--output', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ListedMigration[];
}

/** watch's plain lines: `<timestamp>  <workflow id>  <phase>  <progress>[  attempt N][  stalled ...]`. */
interface WatchLine {
  at: string;
  workflowId: string;
  phase: string;
  progress: string;
  rest: string[];
}
function watchLines(stdout: string): WatchLine[] {
  return stdout
    .split('\n')
    .filter((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}/.test(l))
    .map((l) => {
      const [at, workflowId, phase, progress, ...rest] = l.split('  ');
      return { at: at!, workflowId: workflowId!, phase: phase!, progress: progress!, rest };
    });
}

/** Phases as watch printed them must follow the workflow's order (steps, then the end). */
function assertInOrder(phases: string[]): void {
  const idx = phases.map((p) => ALL_PHASES.indexOf(p as (typeof ALL_PHASES)[number]));
  assert.ok(!idx.includes(-1), `unknown phase in ${phases.join(' → ')}`);
  for (let i = 1; i < idx.length; i++) assert.ok(idx[i]! >= idx[i - 1]!, `phases out of order: ${phases.join(' → ')}`);
}

/** Each cluster's store-wide resourceVersion: it moves with every write of any client. */
const resourceVersions = () => ({ source: stack.sim.source.api.store.resourceVersion, destination: stack.sim.destination.api.store.resourceVersion });
const requestsBy = async (user: string) => ((await simControl(stack.sim.destination, 'metrics')) as { byUser: Record<string, number> }).byUser[user] ?? 0;

describe('ferry validate', () => {
  it('web-01 passes (exit 0, JSON) using a read-only token; nothing is written to either cluster', async () => {
    const rvBefore = resourceVersions();
    const readsBefore = await requestsBy('viewer');
    const r = await ferry('validate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--kubeconfig', viewerKubeconfig, '--output', 'json');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const v = JSON.parse(r.stdout) as ValidateResult;
    assert.equal(v.ok, true);
    assert.deepEqual(v.blockers, []);
    assert.equal(v.workflowId, id('web-01'));
    assert.equal(v.memoryBytes, 1024 ** 3);
    assert.ok(v.diskBytes >= 10 * 1024 ** 3, `diskBytes ${v.diskBytes}`);
    assert.equal(v.runStrategy, 'Always');
    assert.ok(
      v.warnings.some((w) => w.code === 'ExistingObjectReused' && /team-ca-bundle/.test(w.message)),
      JSON.stringify(v.warnings),
    );
    assert.equal(v.destination.namespace, 'demo');
    // It did read the clusters (as the viewer), and nothing moved a resourceVersion on either side.
    assert.ok((await requestsBy('viewer')) > readsBefore, 'validate made no requests to the destination');
    assert.deepEqual(resourceVersions(), rvBefore);

    // The table, with the kubeconfig from FERRY_KUBECONFIG (the admin token: it could write, and does not).
    const t = await ferryEnv({ FERRY_KUBECONFIG: stack.kubeconfigFile }, 'validate', 'demo/web-01', '--from', 'source', '--to', 'destination');
    assert.equal(t.code, 0, t.stderr + t.stdout);
    assert.match(t.stdout, /dry run, nothing written/);
    assert.match(t.stdout, /Blockers: none/);
    assert.match(t.stdout, /Warnings \(\d+\):\n {2}\w+: /);
    assert.match(t.stdout, /Memory to move\s+1\.0 GiB/);
    assert.match(t.stdout, /Disk to move\s+\d+\.\d GiB/);
    assert.match(t.stdout, /Run strategy\s+Always/);
    assert.match(t.stdout, /^OK: no blockers/m);
    assert.deepEqual(resourceVersions(), rvBefore);
  });

  it('batch-01 (Halted) is blocked: exit 1, the blocker named with its code', async () => {
    const rvBefore = resourceVersions();
    const r = await ferry('validate', 'demo/batch-01', '--from', 'source', '--to', 'destination', '--kubeconfig', stack.kubeconfigFile, '--output', 'json');
    assert.equal(r.code, 1, r.stderr + r.stdout);
    const v = JSON.parse(r.stdout) as ValidateResult;
    assert.equal(v.ok, false);
    assert.deepEqual(
      v.blockers.map((b) => b.code),
      ['VMNotRunning'],
    );
    assert.match(v.blockers[0]!.message, /batch-01 .* is not running/);
    assert.equal(v.runStrategy, 'Halted');
    const t = await ferry('validate', 'demo/batch-01', '--from', 'source', '--to', 'destination', '--kubeconfig', stack.kubeconfigFile);
    assert.equal(t.code, 1);
    assert.match(t.stdout, /Blockers \(1\):\n {2}VMNotRunning: VM demo\/batch-01/);
    assert.match(t.stdout, /^BLOCKED: 1 blocker\(s\) \(VMNotRunning\)/m);
    assert.deepEqual(resourceVersions(), rvBefore);
  });

  it('bad input, an unknown cluster or no kubeconfig: exit 2, naming the field, nothing read', async () => {
    const readsBefore = await requestsBy('viewer');
    const bad = await ferry('validate', 'demo/Web_01', '--from', 'source', '--kubeconfig', viewerKubeconfig);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /source\.name must be a Kubernetes object name/);
    assert.match(bad.stderr, /destination\.cluster is required/);
    const option = await ferry('validate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--option', 'handshakeTimout=3s', '--kubeconfig', viewerKubeconfig);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /options: unknown field "handshakeTimout"/);
    const cluster = await ferry('validate', 'demo/web-01', '--from', 'source', '--to', 'elsewhere', '--kubeconfig', viewerKubeconfig);
    assert.equal(cluster.code, 2);
    assert.match(cluster.stderr, /destination\.cluster \(--to\): unknown cluster "elsewhere": the kubeconfig has "source", "destination"/);
    const noFile = await ferry('validate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--kubeconfig', join(tmp, 'missing'));
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /--kubeconfig .*missing: no such file/);
    const output = await ferry('validate', 'demo/web-01', '--from', 'source', '--to', 'destination', '--output', 'yaml');
    assert.equal(output.code, 2);
    assert.match(output.stderr, /--output must be "table" or "json"/);
    assert.equal(await requestsBy('viewer'), readsBefore);
  });
});

describe('ferry watch', () => {
  it('follows web-01 to Succeeded with plain lines when stdout is not a terminal: phases in order, exit 0', async () => {
    const started = await migrate('web-01');
    assert.equal(started.code, 0, started.stderr);
    const w = await start(['watch', id('web-01'), '--interval', '200ms']).done;
    assert.equal(w.code, 0, w.stderr + w.stdout);
    assert.ok(!w.stdout.includes('\x1b['), `escape codes in non-TTY output:\n${w.stdout}`);
    const lines = watchLines(w.stdout);
    assert.ok(lines.length >= 2, w.stdout);
    assert.ok(lines.every((l) => l.workflowId === id('web-01')));
    const phases = lines.map((l) => l.phase);
    assertInOrder(phases);
    assert.equal(phases.at(-1), 'Succeeded');
    assert.ok(
      phases.some((p) => STEPS.some((s) => s.phase === p)),
      `no running phase seen: ${phases.join(' → ')}`,
    );
    for (const l of lines) assert.match(l.progress, /^(-|\d{1,3}%)$/);
    // A line per change: never the same state twice in a row.
    for (let i = 1; i < lines.length; i++)
      assert.notDeepEqual([lines[i]!.phase, lines[i]!.progress, lines[i]!.rest], [lines[i - 1]!.phase, lines[i - 1]!.progress, lines[i - 1]!.rest]);
    assert.match(w.stdout, /^migration\/source\/demo\/web-01: Succeeded after 1 attempt\(s\) in \d+\.\d s/m);

    // status and list, as JSON for scripts.
    const s = await statusOf(id('web-01'));
    assert.equal(s.phase, 'Succeeded');
    assert.equal(s.vm, 'demo/web-01');
    const l = await until('web-01 listed as completed', 15_000, async () => (await listed()).find((m) => m.workflowId === id('web-01') && m.status === 'COMPLETED'));
    assert.equal(l.phase, 'Succeeded');

    // Watching a migration that has already ended reports its end at once.
    const again = await ferry('watch', id('web-01'));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(watchLines(again.stdout).at(-1)?.phase, 'Succeeded');
  });

  it('refuses bad flags and unknown workflows', async () => {
    const both = await ferry('watch', id('web-01'), '--stalled');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either workflow IDs or --stalled/);
    const interval = await ferry('watch', '--interval', 'soon');
    assert.equal(interval.code, 2);
    assert.match(interval.stderr, /--interval must be a duration/);
    const unknown = await ferry('watch', id('nothing-here'));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no migration with workflow ID "migration\/source\/demo\/nothing-here"/);
    const none = await ferry('watch', '--stalled');
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /No stalled migrations\./);
  });

  it('without IDs shows the running cache-01 stalling with its diagnosis; Ctrl-C stops a watch (exit 0); ferry retry + heal: watch ends with exit 0', async () => {
    await stack.sim.partition(true);
    const started = await migrate('cache-01', '--option', 'handshakeTimeout=3s');
    assert.equal(started.code, 0, started.stderr);
    await until('cache-01 listed as running', 15_000, async () => ((await listed()).some((m) => m.workflowId === id('cache-01') && m.status === 'RUNNING') ? true : undefined));

    const all = start(['watch', '--interval', '250ms']);
    const one = start(['watch', id('cache-01')]);
    await all.waitFor(/ {2}Stalled {2}.*cannot reach the destination's synchronization address/, 60_000);
    const stallLine = watchLines(all.out()).find((l) => l.phase === 'Stalled')!;
    assert.equal(stallLine.workflowId, id('cache-01'));
    assert.match(stallLine.rest.join('  '), /stalled in Synchronizing \(handshake deadline passed\)/);

    await one.waitFor(new RegExp(id('cache-01')), 30_000);
    one.child.kill('SIGINT');
    const interrupted = await one.done;
    assert.equal(interrupted.code, 0, interrupted.stderr);
    assert.match(interrupted.stdout, /Stopped watching; 1 migration\(s\) still running/);

    const retry = await ferry('retry', id('cache-01'), '--reason', 'partition healed');
    await stack.sim.partition(false);
    assert.equal(retry.code, 0, retry.stderr);
    const w = await all.done;
    assert.equal(w.code, 0, w.stderr + w.stdout);
    assert.ok(!w.stdout.includes('\x1b['), `escape codes in non-TTY output:\n${w.stdout}`);
    const lines = watchLines(w.stdout);
    assert.ok(
      lines.every((l) => l.workflowId === id('cache-01')),
      w.stdout,
    );
    const stalledAt = lines.findIndex((l) => l.phase === 'Stalled');
    assertInOrder(lines.slice(0, stalledAt + 1).map((l) => l.phase));
    // After the retry: the first attempt's cleanup (RollingBack), then attempt 2 in order.
    const after = lines.slice(stalledAt + 1);
    assert.ok(
      after.every((l) => l.rest.includes('attempt 2') || l.phase === 'RollingBack'),
      w.stdout,
    );
    const second = after.filter((l) => l.rest.includes('attempt 2'));
    assert.ok(second.length >= 1, w.stdout);
    assertInOrder(second.map((l) => l.phase));
    assert.equal(second.at(-1)!.phase, 'Succeeded');
    assert.match(w.stdout, /^migration\/source\/demo\/cache-01: Succeeded after 2 attempt\(s\)/m);
  });

  it('exits 3 when the watched migration rolls back (db-01 stalled, then cancelled)', async () => {
    await stack.sim.partition(true);
    try {
      const started = await migrate('db-01', '--option', 'handshakeTimeout=2s');
      assert.equal(started.code, 0, started.stderr);
      const w = start(['watch', id('db-01'), '--interval', '250ms']);
      await w.waitFor(/ {2}Stalled {2}/, 60_000);
      const cancel = await ferry('cancel', id('db-01'), '--reason', 'change window over');
      assert.equal(cancel.code, 0, cancel.stderr);
      const r = await w.done;
      assert.equal(r.code, 3, r.stderr + r.stdout);
      assert.equal(watchLines(r.stdout).at(-1)?.phase, 'RolledBack');
      assert.match(r.stdout, /^migration\/source\/demo\/db-01: RolledBack: .*change window over/m);
    } finally {
      await stack.sim.partition(false);
    }
  });
});

describe('ferry help', () => {
  const COMMANDS = ['migrate', 'validate', 'status', 'list', 'watch', 'retry', 'cancel', 'extend'];

  it('the top-level help lists every command, the kubeconfig and Temporal settings, and the exit codes', async () => {
    const r = await ferry('--help');
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^ {2}${c} `, 'm'), `${c} missing from the help`);
    assert.match(r.stdout, /FERRY_KUBECONFIG/);
    assert.match(r.stdout, /--kubeconfig FILE/);
    assert.match(r.stdout, /TEMPORAL_ADDRESS/);
    assert.match(r.stdout, /Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 .*\n {2}4 /);
    const bare = await ferry();
    assert.equal(bare.code, 2);
    const unknown = await ferry('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('every command has --help with an example and its exit codes; ferry help <command> is the same', async () => {
    for (const c of COMMANDS) {
      const r = await ferry(c, '--help');
      assert.equal(r.code, 0, `${c}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: ferry ${c}`), c);
      assert.match(r.stdout, new RegExp(`Examples?:\\n {2}.*ferry ${c}`), c);
      assert.match(r.stdout, /Exit codes/, c);
    }
    const viaHelp = await ferry('help', 'watch');
    assert.equal(viaHelp.code, 0);
    assert.match(viaHelp.stdout, /^Usage: ferry watch/);
  });
});
