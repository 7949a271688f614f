/**
 * The README's "Operating migrations with the Temporal CLI" section, run for real: every `temporal …`
 * command in the section's ```sh blocks is parsed (shell words, no shell), pointed at the test's dev
 * server with `--address`, and run with the `temporal` binary against the worker and the two-cluster
 * simulator. Nothing goes through the TypeScript client: starts, queries, updates, signals,
 * cancellation, listing and results all come from the CLI, and the assertions are on the CLI's parsed
 * JSON output, its exit codes and the simulated clusters.
 *
 * The README's commands name web-01. For the other VMs the test changes the VM name and adds fast
 * deadlines to `--input`; the command forms stay the same. The last test checks that every README
 * command form was run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ensureTemporalCli } from '../../tools/temporal-cli.js';
import { DEFAULT_OPTIONS, migrationInputSchema, type MigrationResult, type MigrationStatus } from '../../workflows/contract.js';
import { staticSummary } from '../../workflows/details.js';
import { startStack, type Stack } from '../support/e2e.js';
import { fencedBlocks, readmeSection, shellWords } from '../support/readme.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';
import { diff, snapshot } from '../support/snapshot.js';

const SECTION = '## Operating migrations with the Temporal CLI';
const README_VM = 'web-01';
const README_ID = `migration/source/demo/${README_VM}`;
const TYPO_ID = 'migration/source/demo/typo';

// ---------------------------------------------------------------------------------------------------
// The README section, as commands
// ---------------------------------------------------------------------------------------------------

/** The value after `flag` (or one of its spellings), if present. */
function flagValue(argv: readonly string[], ...flags: string[]): string | undefined {
  const i = argv.findIndex((a) => flags.includes(a));
  return i >= 0 ? argv[i + 1] : undefined;
}

/** What makes two commands "the same command": the subcommand words, plus `--name` and `--query`. */
function formOf(argv: readonly string[]): string {
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  const name = flagValue(argv, '--name');
  const query = flagValue(argv, '--query', '-q');
  return [...words, ...(name ? ['--name', name] : []), ...(query ? ['--query', query] : [])].join(' ');
}

interface ReadmeCommand {
  argv: string[];
  form: string;
  workflowId?: string;
}

/** Every `temporal …` command of the section's ```sh blocks, line continuations joined. */
function readmeCommands(): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (const block of fencedBlocks(readmeSection(SECTION), 'sh')) {
    for (const line of block.replace(/\\\n/g, ' ').split('\n')) {
      if (!line.trim().startsWith('temporal ')) continue;
      const argv = shellWords(line);
      commands.push({ argv, form: formOf(argv), workflowId: flagValue(argv, '-w', '--workflow-id') });
    }
  }
  return commands;
}

const COMMANDS = readmeCommands();

/** The one README command of `form` (and, when it names one, for `workflowId`). */
function readme(form: string, workflowId: string | undefined = README_ID): string[] {
  const found = COMMANDS.filter((c) => c.form === form && (c.workflowId === undefined || c.workflowId === workflowId));
  assert.equal(found.length, 1, `README should have exactly one "${form}" command for ${workflowId}; found ${found.length}`);
  return [...found[0]!.argv];
}

/** A README command for another VM, with options merged into its `--input` (start only). */
function forVm(argv: readonly string[], vm: string, options?: Record<string, unknown>): string[] {
  const out = argv.map((a) => a.replaceAll(README_VM, vm));
  if (options) {
    const i = out.indexOf('--input');
    assert.ok(i >= 0 && out[i + 1], `no --input in ${out.join(' ')}`);
    const input = JSON.parse(out[i + 1]!) as { options?: Record<string, unknown> };
    out[i + 1] = JSON.stringify({ ...input, options: { ...input.options, ...options } });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------------

let stack: Stack;
let cli: string;
/** Forms of the commands actually run. */
const ran = new Set<string>();

interface CliRun {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed stdout when run with `-o json` and stdout is not empty. */
  json: unknown;
}

/** The CLI's environment without TEMPORAL_* settings, so only `--address` decides where it goes. */
const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));

/** Run a README-derived command against the test server: `--address` added, and `-o json` unless `json: false`. */
function run(argv: readonly string[], opts: { json?: boolean; timeoutMs?: number } = {}): Promise<CliRun> {
  assert.equal(argv[0], 'temporal');
  const json = opts.json !== false;
  const args = [...argv.slice(1), '--address', stack.server.address, ...(json ? ['--output', 'json'] : [])];
  const command = argv.join(' ');
  ran.add(formOf(argv));
  return new Promise((resolve, reject) => {
    execFile(cli, args, { timeout: opts.timeoutMs ?? 60_000, env: cliEnv, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`${command}: ${err.killed ? `killed after ${opts.timeoutMs ?? 60_000} ms` : err.message}\n${stderr}`));
        return;
      }
      let parsed: unknown;
      if (json && stdout.trim()) {
        try {
          parsed = JSON.parse(stdout);
        } catch (e) {
          reject(new Error(`${command}: stdout is not JSON (${(e as Error).message}):\n${stdout}`));
          return;
        }
      }
      resolve({ command, code: err ? (err.code as number) : 0, stdout, stderr, json: parsed });
    });
  });
}

/** Run and insist on exit code 0. */
async function ok(argv: readonly string[], opts: { json?: boolean; timeoutMs?: number } = {}): Promise<CliRun> {
  const r = await run(argv, opts);
  assert.equal(r.code, 0, `${r.command} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

const idOf = (vm: string) => README_ID.replace(README_VM, vm);

/** The `status` query, through the CLI. */
async function status(vm: string): Promise<MigrationStatus> {
  const r = await ok(forVm(readme('temporal workflow query --name status'), vm));
  const s = path<MigrationStatus[]>(r.json, 'queryResult')?.[0];
  assert.ok(s, `no query result in ${r.stdout}`);
  return s;
}

async function waitStatus(vm: string, what: string, pred: (s: MigrationStatus) => boolean, timeoutMs = 30_000): Promise<MigrationStatus> {
  let last: MigrationStatus | undefined;
  try {
    return await eventually(
      what,
      async () => {
        last = await status(vm);
        return pred(last) ? last : undefined;
      },
      timeoutMs,
      150,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}; last status: phase ${last?.phase}, attempt ${last?.attempt}, history ${JSON.stringify(last?.history)}`);
  }
}

/** Workflow IDs a README `list` command returns, through the CLI. */
async function listed(query: string): Promise<string[]> {
  const r = await ok(readme(`temporal workflow list --query ${query}`, undefined));
  assert.ok(Array.isArray(r.json), `list output is not a JSON array: ${r.stdout}`);
  return (r.json as unknown[]).map((e) => path<string>(e, 'execution.workflowId')!);
}

async function waitListed(query: string, workflowId: string): Promise<void> {
  await eventually(`${workflowId} listed by ${query}`, async () => (await listed(query)).includes(workflowId), 15_000, 200);
}

/** `workflow result` through the CLI: its exit code, status and completion result or failure. */
async function result(vm: string, readmeId = README_ID) {
  const r = await run(forVm(readme('temporal workflow result', readmeId), vm), { timeoutMs: 90_000 });
  assert.ok(r.json, `${r.command} printed no JSON (exit ${r.code}):\n${r.stderr}`);
  return {
    code: r.code,
    status: path<string>(r.json, 'status'),
    result: path<MigrationResult>(r.json, 'result'),
    failure: path<Record<string, unknown>>(r.json, 'closeEvent.workflowExecutionFailedEventAttributes.failure'),
  };
}

async function sourceRunning(vm: string): Promise<void> {
  const src = kubevirt(clients(stack.sim, 'source'));
  assert.equal(path(await src.get('virtualmachineinstances', 'demo', vm), 'status.phase'), 'Running', `source VMI ${vm} is not Running`);
  assert.notEqual(path(await src.get('virtualmachines', 'demo', vm), 'spec.runStrategy'), 'Halted', `source VM ${vm} is halted`);
  assert.deepEqual(
    (await src.list('virtualmachineinstancemigrations', 'demo')).map((m) => m.metadata.name),
    [],
    'VMIMs left on the source',
  );
  assert.equal(await kubevirt(clients(stack.sim, 'destination')).tryGet('virtualmachines', 'demo', vm), undefined, `${vm} left on the destination`);
}

async function movedToDestination(vm: string): Promise<void> {
  assert.equal(path(await kubevirt(clients(stack.sim, 'source')).get('virtualmachines', 'demo', vm), 'spec.runStrategy'), 'Halted');
  assert.equal(path(await kubevirt(clients(stack.sim, 'destination')).get('virtualmachineinstances', 'demo', vm), 'status.phase'), 'Running');
}

const decode = (b64: string | undefined) => (b64 === undefined ? undefined : (JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as unknown));

/** The stalled-partition options for the VMs other than web-01. */
const stallOptions = (handshakeTimeout: string) => ({ handshakeTimeout, pollInterval: '200ms', decisionWindow: '1s' });

// ---------------------------------------------------------------------------------------------------

before(async () => {
  stack = await startStack();
  cli = await ensureTemporalCli();
});
after(async () => {
  await stack?.stop();
});

describe('the README section is complete and in step with the code', () => {
  it('shows the commands the acceptance asks for', () => {
    const forms = new Set(COMMANDS.map((c) => c.form));
    for (const form of [
      'temporal workflow start',
      'temporal workflow query --name status',
      'temporal workflow describe',
      'temporal workflow result',
      'temporal workflow list --query FerryStalled = true',
      'temporal workflow list --query FerryPhase = "Synchronizing"',
      'temporal workflow update execute --name retry',
      'temporal workflow update execute --name extend',
      'temporal workflow update execute --name cancel',
      'temporal workflow signal --name cancel',
      'temporal workflow cancel',
    ]) {
      assert.ok(forms.has(form), `README section lacks "${form}"; it has: ${[...forms].join(' | ')}`);
    }
    const start = readme('temporal workflow start');
    assert.equal(flagValue(start, '--type'), 'migrateVm');
    assert.equal(flagValue(start, '--task-queue'), 'ferry');
  });

  it('lists every option with its default from DEFAULT_OPTIONS', () => {
    const rows = new Map([...readmeSection(SECTION).matchAll(/^\| `options\.(\w+)` \| `([^`]+)` \|/gm)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(Object.fromEntries(rows), Object.fromEntries(Object.entries(DEFAULT_OPTIONS).map(([k, v]) => [k, String(v)])));
  });
});

describe('operating migrations with the Temporal CLI, as the README shows', () => {
  it('an invalid input started from the CLI fails with a message that names each bad field', async () => {
    const before = snapshot(stack.sim.destination, 'demo');
    const start = await ok(readme('temporal workflow start', TYPO_ID));
    assert.equal(path(start.json, 'workflowId'), TYPO_ID);

    const r = await result('typo', TYPO_ID);
    assert.notEqual(r.code, 0, 'workflow result of a failed workflow should exit non-zero');
    assert.equal(r.status, 'FAILED');
    assert.equal(path(r.failure, 'applicationFailureInfo.type'), 'InvalidInput');
    assert.equal(path(r.failure, 'applicationFailureInfo.nonRetryable'), true);
    const message = String(path(r.failure, 'message'));
    assert.match(message, /^invalid migration input:\n- /);
    const issues = message
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/^- /, ''));
    for (const field of ['source.cluster', 'source.namespace', 'source.name', 'destination.cluster']) {
      assert.ok(
        issues.some((l) => l.startsWith(field)),
        `no line names ${field}:\n${message}`,
      );
    }
    assert.deepEqual(path(r.failure, 'applicationFailureInfo.details.0'), issues, 'details[0] should list the same lines');

    // The README's example output is what the CLI prints (text output), line for line.
    const text = await run(readme('temporal workflow result', TYPO_ID), { json: false });
    assert.notEqual(text.code, 0);
    assert.match(text.stdout, /Status\s+FAILED/);
    const shown = fencedBlocks(readmeSection(SECTION), 'text')
      .flatMap((b) => b.split('\n'))
      .filter((l) => l.startsWith('- '));
    assert.deepEqual(
      shown,
      issues.map((l) => `- ${l}`),
      'the README example differs from the real message',
    );
    for (const line of shown) assert.ok(text.stdout.includes(line), `CLI text output lacks: ${line}\n${text.stdout}`);
    assert.deepEqual(diff(before, snapshot(stack.sim.destination, 'demo')), [], 'an invalid input changed the destination');
  });

  it('web-01: start, describe and query while it runs, then result: Succeeded', async () => {
    const startArgv = readme('temporal workflow start');
    const start = await ok(startArgv);
    assert.equal(path(start.json, 'workflowId'), README_ID);
    assert.equal(path(start.json, 'type'), 'migrateVm');
    assert.equal(path(start.json, 'taskQueue'), 'ferry');

    const described = await ok(readme('temporal workflow describe'));
    assert.equal(path(described.json, 'workflowExecutionInfo.type.name'), 'migrateVm');
    // The summary in the README is the one ferry's own client sets.
    const m = migrationInputSchema.parse(JSON.parse(flagValue(startArgv, '--input')!));
    assert.equal(path(described.json, 'executionConfig.userMetadata.summary'), staticSummary(m));
    const vm = await eventually('FerryVm set', async () => {
      const d = await ok(readme('temporal workflow describe'));
      return decode(path<string>(d.json, 'workflowExecutionInfo.searchAttributes.indexedFields.FerryVm.data'));
    });
    assert.equal(vm, 'demo/web-01');

    const s = await status(README_VM);
    assert.equal(s.workflowId, README_ID);
    assert.equal(s.vm, 'demo/web-01');
    assert.deepEqual(s.destination, { cluster: 'destination', namespace: 'demo' });

    const r = await result(README_VM);
    assert.equal(r.code, 0);
    assert.equal(r.status, 'COMPLETED');
    assert.equal(r.result?.outcome, 'Succeeded');
    assert.equal(r.result?.attempts, 1);
    await movedToDestination(README_VM);
    const end = await status(README_VM);
    assert.equal(end.phase, 'Succeeded');
    assert.equal(end.history.at(-1)?.phase, 'Succeeded');
  });

  it('cache-01 stalls on a partition: status, list, describe, extend (update and signal), retry (signal, then update after healing) → Succeeded', async () => {
    const vm = 'cache-01';
    const id = idOf(vm);
    await stack.sim.partition(true);
    const startArgv = forVm(readme('temporal workflow start'), vm, stallOptions('3s'));
    const first = await ok(startArgv);
    // Starting again while it runs starts nothing: the CLI answers with the running execution.
    const again = await ok(startArgv);
    assert.equal(path(again.json, 'runId'), path(first.json, 'runId'), 'a second start while running should not start another run');
    const refusedStart = await run([...startArgv, '--fail-existing']);
    assert.notEqual(refusedStart.code, 0, 'with --fail-existing a second start should fail');
    assert.match(refusedStart.stderr, /already (started|running)/i);

    // Stalled, with a diagnosis; findable as stalled; the pending activity shows what it watches.
    const stalled = await waitStatus(vm, 'Stalled', (s) => s.phase === 'Stalled', 40_000);
    assert.equal(stalled.stall?.phase, 'Synchronizing');
    assert.equal(stalled.stall?.deadline, 'handshake');
    const syncAddress = stack.sim.destination.sync.address()!;
    assert.ok(stalled.stall?.diagnosis.includes(`cannot reach the destination's synchronization address ${syncAddress}`), stalled.stall?.diagnosis);
    const firstMigrationId = stalled.migrationId;
    await waitListed('FerryStalled = true', id);
    const heartbeat = await eventually('heartbeat details in describe', async () => {
      const d = await ok(forVm(readme('temporal workflow describe'), vm));
      const act = path<unknown[]>(d.json, 'pendingActivities')?.find((a) => path(a, 'activityType.name') === 'waitFor');
      return path<Record<string, unknown>>(act, 'heartbeatDetails.0');
    });
    assert.equal(heartbeat.sourceVMIM, 'Synchronizing');
    assert.equal(heartbeat.syncAddress, syncAddress);

    // extend (update): answered with the new deadline; waiting resumes and, still partitioned, stalls again.
    const extendArgv = forVm(readme('temporal workflow update execute --name extend'), vm);
    extendArgv[extendArgv.indexOf('--input') + 1] = '{"by":"2s"}';
    const t0 = Date.now();
    const extended = await ok(extendArgv);
    const t1 = Date.now();
    assert.equal(path(extended.json, 'name'), 'extend');
    assert.equal(path(extended.json, 'result.accepted'), true);
    assert.match(String(path(extended.json, 'result.message')), /deadline extended by 2s/);
    const deadline = Date.parse(String(path(extended.json, 'result.deadline')));
    // With decisionWindow 1s the window is over, so the new deadline is about now + 2s.
    assert.ok(deadline >= t0 + 2000 - 50 && deadline <= t1 + 2000 + 1000, `new deadline ${new Date(deadline).toISOString()} is not ~2s after ${new Date(t0).toISOString()}`);
    const extendedNote = (s: MigrationStatus) => s.history.filter((h) => h.note === 'deadline extended by an operator').length;
    const restalled = await waitStatus(vm, 'stalled again after the extension', (s) => s.phase === 'Stalled' && extendedNote(s) === 1, 15_000);
    assert.ok(Date.parse(restalled.stall!.since) >= deadline - 50, `stalled at ${restalled.stall!.since}, before the extended deadline`);

    // extend (signal): no answer, but the history shows it, and it stalls once more.
    const extendSignal = forVm(readme('temporal workflow signal --name extend'), vm);
    extendSignal[extendSignal.indexOf('--input') + 1] = '{"by":"1s"}';
    await ok(extendSignal);
    await waitStatus(vm, 'stalled after the signalled extension', (s) => s.phase === 'Stalled' && extendedNote(s) === 2, 15_000);

    // retry (signal), still partitioned: a second attempt with a new migration ID, which stalls too.
    await ok(forVm(readme('temporal workflow signal --name retry'), vm));
    const second = await waitStatus(vm, 'attempt 2 stalled', (s) => s.attempt === 2 && s.phase === 'Stalled', 30_000);
    assert.notEqual(second.migrationId, firstMigrationId);

    // Heal, then retry (update): answered, and the third attempt goes through.
    await stack.sim.partition(false);
    const retried = await ok(forVm(readme('temporal workflow update execute --name retry'), vm));
    assert.equal(path(retried.json, 'result.accepted'), true);
    assert.match(String(path(retried.json, 'result.message')), /^retrying: attempt 3 /);
    const r = await result(vm);
    assert.equal(r.code, 0);
    assert.equal(r.status, 'COMPLETED');
    assert.equal(r.result?.outcome, 'Succeeded');
    assert.equal(r.result?.attempts, 3);
    assert.ok(r.result?.migrationId && ![firstMigrationId, second.migrationId].includes(r.result.migrationId), 'the last attempt should have its own migration ID');
    await movedToDestination(vm);
    await eventually('no longer listed as stalled', async () => !(await listed('FerryStalled = true')).includes(id), 15_000, 200);
  });

  it('db-01, partitioned: a refused retry says why; signal cancel rolls back and the source keeps running', async () => {
    const vm = 'db-01';
    const id = idOf(vm);
    const before = snapshot(stack.sim.destination, 'demo');
    await stack.sim.partition(true);
    await ok(forVm(readme('temporal workflow start'), vm, stallOptions('30s')));
    await waitStatus(vm, 'Synchronizing', (s) => s.phase === 'Synchronizing');
    await waitListed('FerryPhase = "Synchronizing"', id);

    const refused = await run(forVm(readme('temporal workflow update execute --name retry'), vm));
    assert.notEqual(refused.code, 0, 'retry of a migration that is not stalled should be refused');
    const example = /`(retry refused: [^`]+)`/.exec(readmeSection(SECTION).replace(/\s+/g, ' '))?.[1];
    assert.ok(example, 'README shows no refused-retry example');
    assert.ok(refused.stderr.includes(example), `stderr lacks the README's example "${example}":\n${refused.stderr}`);
    assert.equal((await status(vm)).phase, 'Synchronizing', 'a refused update changed the phase');

    await ok(forVm(readme('temporal workflow signal --name cancel'), vm));
    const r = await result(vm);
    assert.equal(r.code, 0);
    assert.equal(r.result?.outcome, 'RolledBack');
    assert.equal(r.result?.reason, 'change window over');
    await sourceRunning(vm);
    assert.deepEqual(diff(before, snapshot(stack.sim.destination, 'demo')), [], 'the rollback left changes on the destination');
  });

  it('db-01 again: update cancel is answered and rolls back', async () => {
    const vm = 'db-01';
    await ok(forVm(readme('temporal workflow start'), vm, stallOptions('30s')));
    await waitStatus(vm, 'Synchronizing', (s) => s.phase === 'Synchronizing');
    const answered = await ok(forVm(readme('temporal workflow update execute --name cancel'), vm));
    assert.equal(path(answered.json, 'result.accepted'), true);
    assert.match(String(path(answered.json, 'result.message')), /rolling back; the source VM keeps running/);
    const r = await result(vm);
    assert.equal(r.code, 0);
    assert.equal(r.result?.outcome, 'RolledBack');
    assert.equal(r.result?.reason, 'change window over');
    await sourceRunning(vm);
  });

  it('db-01 once more: temporal workflow cancel rolls back and the workflow ends Canceled', async () => {
    const vm = 'db-01';
    await ok(forVm(readme('temporal workflow start'), vm, stallOptions('30s')));
    await waitStatus(vm, 'Synchronizing', (s) => s.phase === 'Synchronizing');
    await ok(forVm(readme('temporal workflow cancel'), vm));
    const r = await result(vm);
    assert.notEqual(r.code, 0, 'workflow result of a cancelled workflow should exit non-zero');
    assert.equal(r.status, 'CANCELED');
    const s = await status(vm);
    assert.equal(s.phase, 'RolledBack');
    assert.deepEqual(
      s.history.slice(-2).map((h) => [h.phase, h.note]),
      [
        ['RollingBack', 'the workflow was cancelled'],
        ['RolledBack', 'the workflow was cancelled'],
      ],
    );
    await sourceRunning(vm);
    await stack.sim.partition(false);
  });

  it('ran every command form the README shows', () => {
    const missing = [...new Set(COMMANDS.map((c) => c.form))].filter((f) => !ran.has(f));
    assert.deepEqual(missing, [], `README commands never run: ${missing.join(' | ')}`);
  });
});
