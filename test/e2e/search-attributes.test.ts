/**
 * ferry on a Temporal namespace without its search attributes: a real dev server started with no
 * `--search-attribute` flags, the simulator, and the worker and CLI as child processes, as an
 * operator runs them. Each case first sets the namespace's ferry attributes to a known state.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ensureTemporalCli } from '../../tools/temporal-cli.js';
import { TASK_QUEUE } from '../../workflows/contract.js';
import { FerryPhase, FerryStalled, FerryVm, ferrySearchAttributes } from '../../workflows/search-attributes.js';
import { runFerry } from '../support/cli.js';
import { spawnWorker, startStack, type Stack } from '../support/e2e.js';

const execFileAsync = promisify(execFile);
/** temporal.api.enums.v1.IndexedValueType numbers, as ListSearchAttributes returns them. */
const TEXT = 1;
const KEYWORD = 2;
const BOOL = 5;

let stack: Stack;
let cli: string;
const workers: ChildProcess[] = [];

before(async () => {
  [stack, cli] = await Promise.all([startStack({ inProcessWorker: false, searchAttributes: false }), ensureTemporalCli()]);
});
after(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await stack?.stop();
});

const operator = () => stack.client.connection.operatorService;

async function ferryAttributes(): Promise<Record<string, number>> {
  const { customAttributes } = await operator().listSearchAttributes({ namespace: 'default' });
  return Object.fromEntries(Object.entries(customAttributes).filter(([name]) => name.startsWith('Ferry')));
}

/** The namespace's ferry attributes become exactly `want` (none by default). */
async function resetAttributes(want: Record<string, number> = {}): Promise<void> {
  const present = Object.keys(await ferryAttributes());
  if (present.length) await operator().removeSearchAttributes({ namespace: 'default', searchAttributes: present });
  if (Object.keys(want).length) await operator().addSearchAttributes({ namespace: 'default', searchAttributes: want });
  assert.deepEqual(await ferryAttributes(), want);
}

interface WorkerRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches; rejects if the worker exits first. */
  printed(re: RegExp): Promise<void>;
  exited: Promise<number | null>;
}

function worker(env: NodeJS.ProcessEnv = {}): WorkerRun {
  const child = spawnWorker(stack, env);
  workers.push(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    printed: (re) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!re.test(out)) return;
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
        void exited.then((code) => {
          if (!re.test(out)) reject(new Error(`the worker exited (${code}) before printing ${re}\nstdout:\n${out}\nstderr:\n${err}`));
        });
      }),
  };
}

/** Who has polled task queue `ferry` (workflow and activity tasks) on this server. */
async function pollers(): Promise<string[]> {
  const identities: string[] = [];
  for (const taskQueueType of [1, 2]) {
    const r = await stack.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: TASK_QUEUE, kind: 1 }, taskQueueType });
    identities.push(...(r.pollers ?? []).map((p) => p.identity ?? '?'));
  }
  return identities;
}

/** Runs a command the way the message prints it, with `temporal` being the CLI these tests use. */
async function runPrinted(command: string): Promise<void> {
  for (const part of command.split(' && ')) {
    const [program, ...args] = part.trim().split(/\s+/);
    assert.equal(program, 'temporal', part);
    await execFileAsync(cli, args, { timeout: 30_000 });
  }
}

const selfHostedCommand = (text: string, verb: 'create' | 'remove'): string => {
  const line = text.split('\n').find((l) => l.includes('self-hosted Temporal:') && l.includes(`search-attribute ${verb}`));
  assert.ok(line, `no self-hosted ${verb} command in:\n${text}`);
  return line.slice(line.indexOf('temporal operator'));
};

const everyAttribute = Object.fromEntries(ferrySearchAttributes.map((a) => [a.name, a.type === 'Bool' ? BOOL : KEYWORD]));

describe('search attributes checked at start', () => {
  beforeEach(() => resetAttributes());

  it('ferry migrate and ferry plan start on the bare namespace refuse with the command (exit 2) and start no workflow', async () => {
    const migrate = await runFerry(stack, ['migrate', 'demo/web-01', '--from', 'source', '--to', 'destination']);
    assert.equal(migrate.code, 2, migrate.stderr + migrate.stdout);
    assert.match(migrate.stderr, /^ferry migrate: Temporal namespace "default" lacks search attributes ferry needs: FerryPhase \(Keyword\), FerryStalled \(Bool\)/);
    const create = selfHostedCommand(migrate.stderr, 'create');
    assert.equal(
      create,
      `temporal operator search-attribute create --address ${stack.server.address} --namespace default ${ferrySearchAttributes.map((a) => `--name ${a.name} --type ${a.type}`).join(' ')}`,
    );
    assert.match(migrate.stderr, /tcld namespace search-attributes add --namespace default --sa FerryPhase=Keyword --sa FerryStalled=Bool/);
    assert.match(migrate.stderr, /Nothing was started\.$/m);
    assert.doesNotMatch(migrate.stdout, /Started/);

    const plan = await runFerry(stack, ['plan', 'start', '-f', 'examples/ferry-plan.yaml']);
    assert.equal(plan.code, 2, plan.stderr + plan.stdout);
    assert.match(plan.stderr, /^ferry plan start: Temporal namespace "default" lacks search attributes/);
    assert.equal(selfHostedCommand(plan.stderr, 'create'), create);

    await assert.rejects(stack.client.workflow.getHandle('migration/source/demo/web-01').describe(), WorkflowNotFoundError);
    await assert.rejects(stack.client.workflow.getHandle('plan/demo-wave-1').describe(), WorkflowNotFoundError);
    const listed = [];
    for await (const w of stack.client.workflow.list()) listed.push(w.workflowId);
    assert.deepEqual(listed, []);
    // The CLI only looks: the namespace is as it was.
    assert.deepEqual(await ferryAttributes(), {});
  });

  it('with FERRY_REGISTER_SEARCH_ATTRIBUTES=false the worker exits 2 before polling, naming the command, which works as printed', async () => {
    const w = worker({ FERRY_REGISTER_SEARCH_ATTRIBUTES: 'false' });
    assert.equal(await w.exited, 2, w.stderr());
    assert.match(w.stderr(), /^ferry worker: Temporal namespace "default" lacks search attributes ferry needs/);
    assert.match(w.stderr(), /Registration is switched off \(FERRY_REGISTER_SEARCH_ATTRIBUTES=false\)\./);
    assert.match(w.stderr(), /The worker stopped before polling/);
    assert.doesNotMatch(w.stdout(), /task queue ferry/, 'the worker got as far as creating its Worker');
    assert.deepEqual(await pollers(), []);
    assert.deepEqual(await ferryAttributes(), {});

    await runPrinted(selfHostedCommand(w.stderr(), 'create'));
    assert.deepEqual(await ferryAttributes(), everyAttribute);
  });

  it('refuses FerryPhase registered as Text (worker exit 2, CLI exit 2) naming the attribute, both types and the fix; the namespace is left as it was', async () => {
    await resetAttributes({ FerryPhase: TEXT });
    const w = worker();
    assert.equal(await w.exited, 2, w.stderr());
    assert.match(w.stderr(), /FerryPhase is registered as Text; ferry needs Keyword\. ferry never changes a registered type/);
    assert.match(w.stderr(), /lacks search attributes ferry needs: FerryStalled \(Bool\), FerryVm \(Keyword\)/);
    assert.match(w.stderr(), /Nothing was registered while a type is wrong\./);
    assert.match(
      w.stderr(),
      /tcld namespace search-attributes rename --namespace default --existing-name FerryPhase --new-name FerryPhaseText && tcld namespace search-attributes add --namespace default --sa FerryPhase=Keyword/,
    );
    assert.deepEqual(await pollers(), []);
    assert.deepEqual(await ferryAttributes(), { FerryPhase: TEXT });

    const migrate = await runFerry(stack, ['migrate', 'demo/web-01', '--from', 'source', '--to', 'destination']);
    assert.equal(migrate.code, 2, migrate.stderr);
    assert.match(migrate.stderr, /FerryPhase is registered as Text; ferry needs Keyword/);

    // The printed fix does what it says.
    await runPrinted(selfHostedCommand(w.stderr(), 'remove'));
    assert.deepEqual(await ferryAttributes(), { FerryPhase: KEYWORD });
  });

  it('the worker registers the missing ones, and a migration started with ferry migrate succeeds with its search attributes set', async () => {
    const w = worker();
    await w.printed(/task queue ferry/);
    assert.match(w.stdout(), /ferry worker: registered search attributes FerryPhase=Keyword, FerryStalled=Bool, .* in namespace "default" \(listed after \d+ ms\)/);
    assert.deepEqual(await ferryAttributes(), everyAttribute);

    const r = await runFerry(stack, [
      'migrate',
      'demo/web-01',
      '--from',
      'source',
      '--to',
      'destination',
      '--option',
      'pollInterval=200ms',
      '--option',
      'receiverReadyTimeout=20s',
      '--wait',
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Succeeded/);
    const d = await stack.client.workflow.getHandle('migration/source/demo/web-01').describe();
    assert.equal(d.status.name, 'COMPLETED');
    assert.equal(d.typedSearchAttributes.get(FerryPhase), 'Succeeded');
    assert.equal(d.typedSearchAttributes.get(FerryVm), 'demo/web-01');
    assert.equal(d.typedSearchAttributes.get(FerryStalled), false);
    assert.doesNotMatch(w.stderr() + w.stdout(), /BadSearchAttributes/);
    assert.notDeepEqual(await pollers(), []);

    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 0, w.stderr());
  });
});
