/**
 * The ferry CLI end to end, as a child process against one shared stack (dev server, simulator,
 * in-process worker): migrate (--wait, validation), status, list (--stalled), retry, cancel, and the
 * exit codes that go with them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MigrationResult, MigrationStatus } from '../../workflows/contract.js';
import type { ListedMigration } from '../../client/commands/list.js';
import { runFerry } from '../support/cli.js';
import { startStack, type Stack } from '../support/e2e.js';
import { eventually } from '../../simulator/testing/sim.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.sim.partition(false).catch(() => {});
  await stack?.stop();
});

const ferry = (...args: string[]) => runFerry(stack, args);

const FAST_OPTIONS = ['--option', 'pollInterval=200ms', '--option', 'receiverReadyTimeout=20s', '--option', 'syncAddressTimeout=20s', '--option', 'minCompletionTimeout=60s'];
const migrate = (vm: string, ...extra: string[]) => ferry('migrate', `demo/${vm}`, '--from', 'source', '--to', 'destination', ...FAST_OPTIONS, ...extra);
const id = (vm: string) => `migration/source/demo/${vm}`;

async function statusOf(workflowId: string): Promise<MigrationStatus | undefined> {
  const r = await ferry('status', workflowId, '--output', 'json');
  return r.code === 0 ? (JSON.parse(r.stdout) as MigrationStatus) : undefined;
}

const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) => eventually(what, probe, timeoutMs, 250);

async function listed(...args: string[]): Promise<ListedMigration[]> {
  const r = await ferry('list', ...args, '--output', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ListedMigration[];
}

describe('ferry CLI', () => {
  it('migrate --wait follows the phases to Succeeded (exit 0) and prints the workflow ID and Web UI link', async () => {
    const r = await migrate('web-01', '--wait');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Workflow ID: migration\/source\/demo\/web-01/);
    assert.match(r.stdout, /http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/migration%2Fsource%2Fdemo%2Fweb-01/);
    assert.match(r.stdout, /Synchronizing/);
    assert.match(r.stdout, /Succeeded/);
  });

  it('rejects bad input before sending anything (exit 2), naming each field or flag', async () => {
    const bad = await ferry('migrate', 'demo/Web_01', '--from', 'source');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /source\.name/);
    assert.match(bad.stderr, /destination\.cluster is required/);
    const ref = await ferry('migrate', 'web-01', '--from', 'source', '--to', 'destination');
    assert.equal(ref.code, 2);
    assert.match(ref.stderr, /<namespace>\/<vm>/);
    const option = await ferry('migrate', 'demo/web-02', '--from', 'source', '--to', 'destination', '--option', 'handshakeTimout=3s');
    assert.equal(option.code, 2);
    assert.match(option.stderr, /options: unknown field "handshakeTimout"/);
    // A limit is not "required": each says the field, the limit and what was given.
    const long = await ferry(
      'migrate',
      `demo/${'a'.repeat(254)}`,
      '--from',
      'source',
      '--to',
      'destination',
      '--option',
      'handshakeTimeout=0',
      '--option',
      'pollInterval=1000000000000',
    );
    assert.equal(long.code, 2, long.stderr);
    assert.match(long.stderr, /^ {2}source\.name: must be at most 63 characters \(a KubeVirt VM name: it becomes a label value; got 254\)$/m);
    assert.match(long.stderr, /^ {2}options\.handshakeTimeout: must be between 1s and 24h \(got 0ms\)$/m);
    assert.match(long.stderr, /^ {2}options\.pollInterval: must be between 100ms and 1m \(got 1000000000000ms\)$/m);
    assert.doesNotMatch(long.stderr, /is required/);
    const flag = await ferry('list', '--bogus');
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--bogus/);
    const help = await ferry('retry', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Example:[\s\S]*ferry retry[\s\S]*Exit codes:/);
  });

  it('status --output json and the table show the outcome; list shows the migration', async () => {
    assert.equal((await statusOf(id('web-01')))?.phase, 'Succeeded');
    const t = await ferry('status', id('web-01'));
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Phase\s+Succeeded/);
    assert.match(t.stdout, /Migration ID\s+\S+/);
    const all = await until('web-01 listed', 15_000, async () => {
      const l = await listed();
      return l.some((m) => m.workflowId === id('web-01') && m.phase === 'Succeeded') ? l : undefined;
    });
    const m = all.find((x) => x.workflowId === id('web-01'))!;
    assert.equal(m.vm, 'demo/web-01');
    assert.equal(m.status, 'COMPLETED');
  });

  it('retry of a finished migration is refused with the reason (exit 4)', async () => {
    const r = await ferry('retry', id('web-01'));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /retry refused: the migration has already ended/);
  });

  it('a partition stalls cache-01; list --stalled finds it; retry refused before the stall, accepted while Stalled', async () => {
    await stack.sim.partition(true);
    // Long enough that the two CLI runs below come before the stall, even on a loaded machine.
    const start = await migrate('cache-01', '--option', 'handshakeTimeout=12s');
    assert.equal(start.code, 0, start.stderr);
    // A second migrate of the same VM names the running workflow and how to follow it (exit 1).
    const again = await migrate('cache-01');
    assert.equal(again.code, 1, again.stderr);
    const runId = (await stack.client.workflow.getHandle(id('cache-01')).describe()).runId;
    assert.match(
      again.stderr,
      new RegExp(
        `^ferry migrate: a migration of demo/cache-01 from cluster source is already running as workflow migration/source/demo/cache-01 \\(run ID ${runId}, started \\S+Z(, phase \\w+)?\\); nothing new was started\\.$`,
        'm',
      ),
    );
    assert.match(again.stderr, /^ {2}follow it: +ferry watch migration\/source\/demo\/cache-01$/m);
    assert.match(again.stderr, /^ {2}its status: +ferry status migration\/source\/demo\/cache-01$/m);
    assert.match(again.stderr, /^ {2}Temporal CLI: +temporal workflow describe -w migration\/source\/demo\/cache-01$/m);
    assert.doesNotMatch(again.stderr, /Workflow execution already started$/m);
    const early = await ferry('retry', id('cache-01'), '--reason', 'too early');
    assert.equal(early.code, 4, early.stderr);
    assert.match(early.stderr, /only a Stalled migration can be retried/);
    const stalled = await until('cache-01 Stalled', 45_000, async () => {
      const s = await statusOf(id('cache-01'));
      return s?.phase === 'Stalled' ? s : undefined;
    });
    assert.equal(stalled.stall?.deadline, 'handshake');
    const table = await ferry('status', id('cache-01'));
    assert.match(table.stdout, /Stalled\s+in Synchronizing/);
    await until('cache-01 listed as stalled', 15_000, async () => ((await listed('--stalled')).some((m) => m.workflowId === id('cache-01')) ? true : undefined));
    const text = await ferry('list', '--stalled');
    assert.match(text.stdout, /migration\/source\/demo\/cache-01\s+demo\/cache-01\s+Stalled\s+RUNNING/);

    // Retry while still Stalled, then heal: a healed partition resumes a stall on its own within a
    // poll interval, faster than a CLI process starts, so healing first would race the retry.
    const retry = await ferry('retry', id('cache-01'), '--reason', 'partition healed');
    await stack.sim.partition(false);
    assert.equal(retry.code, 0, retry.stderr);
    assert.match(retry.stdout, /retrying/);
    const result = (await stack.client.workflow.getHandle(id('cache-01')).result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    assert.equal(result.attempts, 2);
  });

  it('extend of a stalled db-01 resumes the wait with a new deadline; a bad --by is refused before anything is sent (exit 2); cancel rolls back (exit 0)', async () => {
    await stack.sim.partition(true);
    try {
      const start = await migrate('db-01', '--option', 'handshakeTimeout=2s');
      assert.equal(start.code, 0, start.stderr);
      await until('db-01 Stalled', 45_000, async () => ((await statusOf(id('db-01')))?.phase === 'Stalled' ? true : undefined));
      const missing = await ferry('extend', id('db-01'));
      assert.equal(missing.code, 2, 'extend without --by is a usage error');
      const bad = await ferry('extend', id('db-01'), '--by', 'soon');
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--by must be a positive duration/);
      const before = Date.now();
      const extend = await ferry('extend', id('db-01'), '--by', '10m', '--reason', 'vendor is looking');
      assert.equal(extend.code, 0, extend.stderr);
      assert.match(extend.stdout, /deadline extended by 10m/);
      const waiting = await statusOf(id('db-01'));
      assert.equal(waiting?.phase, 'Synchronizing', 'back to waiting');
      assert.ok(Date.parse(waiting!.deadline!) >= before + 9 * 60_000, `deadline ${waiting?.deadline}`);
      const cancel = await ferry('cancel', id('db-01'), '--reason', 'change window over');
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.match(cancel.stdout, /rolling back/);
      const result = (await stack.client.workflow.getHandle(id('db-01')).result()) as MigrationResult;
      assert.equal(result.outcome, 'RolledBack');
      assert.equal((await statusOf(id('db-01')))?.phase, 'RolledBack');
    } finally {
      await stack.sim.partition(false);
    }
  });
});
