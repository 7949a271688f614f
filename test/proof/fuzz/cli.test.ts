/**
 * Fuzzing ferry's command line (client/run.ts main, in process, a few also as the real executable):
 * every command with a valid argument vector broken one way — an unknown or misspelt flag, a flag
 * without its value, a value for a switch, a bad VM reference, a bad field, a bad --option, --output,
 * --interval, --by, --reason or --listen, a missing or extra positional, a bad or missing plan file,
 * an unknown command or subcommand. Each must exit 2 with a plain message naming the argument and
 * what to do, and refuse before any connection: Temporal and the kubeconfig's clusters point at
 * listeners that count every connection made to them, and the count must stay 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { main } from '../../../client/run.js';
import { REPO_ROOT } from '../../../tools/temporal-cli.js';
import { recordRun } from '../support/figures.js';
import { Count, params, plainProblems, RUNS, SEED } from './fuzz.js';
import { ferryDocument, fileText } from './plan-files.js';

interface Answer {
  code: number | 'hung';
  stdout: string;
  stderr: string;
}

/** A listener that counts connections and never answers: whatever reaches it was sent too early. */
class Tripwire {
  connections = 0;
  private readonly server: Server = createServer((socket) => {
    this.connections++;
    socket.destroy();
  });
  port = 0;
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** One in-process run of `ferry …` with stdout and stderr captured; 'hung' if it has not answered in `ms`. */
async function ferry(argv: string[], ms = 15_000): Promise<Answer> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error, warn } = console;
  console.log = (...a: unknown[]) => void out.push(a.map(String).join(' '));
  console.error = console.warn = (...a: unknown[]) => void err.push(a.map(String).join(' '));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await Promise.race([main(argv), new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)))]);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    clearTimeout(timer);
    Object.assign(console, { log, error, warn });
  }
}

/** A broken argument vector and what its refusal must name. */
interface Broken {
  argv: string[];
  /** The refusal must contain one of these (the flag, argument or field). */
  names: string[];
  what: string;
}

const VM = 'demo/web-01';
const ID = 'migration/source/demo/web-01';

// ---- the generator ------------------------------------------------------------------------------

const misspelt = fc.oneof(
  fc.constantFrom(
    '--frm',
    '--too',
    '--opton',
    '--wiat',
    '--output-format',
    '--adress',
    '--namspace',
    '--Reason',
    '--by-',
    '-x',
    '-F',
    '--kube-config',
    '--watch-all',
    '--ui',
    // Not '--': it ends the options (POSIX), so `ferry cancel ID --` is a valid command, not a misspelling.
  ),
  fc.stringMatching(/^[a-z]{3,10}$/).map((s) => `--x${s}`),
  fc.constantFrom('--__proto__', '--constructor', '--toString', '--🚀', `--${'f'.repeat(3000)}`),
);

/** A valid vector per command (nothing wrong with it but that it would connect), with its string and boolean flags. */
interface Base {
  command: string[];
  argv: fc.Arbitrary<string[]>;
  strings: string[];
  switches: string[];
}

const planFile = (dir: string, name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

function bases(dir: string): Base[] {
  const good = planFile(
    dir,
    'good.yaml',
    fileText([ferryDocument({ name: 'wave', source: { cluster: 'source' }, destination: { cluster: 'destination' }, vms: [{ namespace: 'demo', name: 'web-01' }] })], false),
  );
  const conn = ['--address', '--namespace'];
  const vmFlags = fc.constantFrom<string[]>(
    [VM, '--from', 'source', '--to', 'destination'],
    [VM, '--from', 'source', '--to', 'destination', '--to-namespace', 'apps', '--option', 'pollInterval=200ms'],
  );
  return [
    { command: ['migrate'], argv: vmFlags.map((a) => [...a, '--wait']), strings: ['--from', '--to', '--to-namespace', '--option', '--ui-url', ...conn], switches: ['--wait'] },
    {
      command: ['validate'],
      argv: vmFlags.map((a) => [...a, '--output', 'json']),
      strings: ['--from', '--to', '--to-namespace', '--option', '--output', '--kubeconfig'],
      switches: [],
    },
    { command: ['status'], argv: fc.constantFrom([ID], [ID, '--output', 'json']), strings: ['--output', ...conn], switches: [] },
    { command: ['list'], argv: fc.constantFrom([], ['--stalled']), strings: ['--output', ...conn], switches: ['--stalled'] },
    { command: ['watch'], argv: fc.constantFrom([ID], [ID, '--interval', '2s'], ['--stalled']), strings: ['--interval', ...conn], switches: ['--stalled'] },
    { command: ['retry'], argv: fc.constantFrom([ID], [ID, '--reason', 'fixed']), strings: ['--reason', ...conn], switches: [] },
    { command: ['cancel'], argv: fc.constantFrom([ID], [ID, '--reason', 'window over']), strings: ['--reason', ...conn], switches: [] },
    { command: ['extend'], argv: fc.constantFrom([ID, '--by', '10m'], [ID, '--by', '600000', '--reason', 'vendor']), strings: ['--by', '--reason', ...conn], switches: [] },
    { command: ['plan', 'start'], argv: fc.constantFrom(['-f', good], ['-f', good, '--watch']), strings: ['--file', '--interval', '--ui-url', ...conn], switches: ['--watch'] },
    { command: ['plan', 'status'], argv: fc.constantFrom(['wave'], ['-f', good, '--output', 'json']), strings: ['--file', '--output', ...conn], switches: [] },
    { command: ['plan', 'watch'], argv: fc.constantFrom(['wave'], ['wave', '--interval', '500ms']), strings: ['--interval', ...conn], switches: [] },
    { command: ['plan', 'cancel'], argv: fc.constantFrom(['wave'], ['wave', '--reason', 'stop']), strings: ['--reason', ...conn], switches: [] },
    { command: ['plan', 'retry'], argv: fc.constantFrom(['wave']), strings: ['--reason', ...conn], switches: [] },
  ];
}

const longText = (n: number) => 'r'.repeat(n);
const withValue = (argv: string[], flag: string, value: string): string[] => {
  const i = argv.indexOf(flag);
  return i >= 0 ? [...argv.slice(0, i + 1), value, ...argv.slice(i + 2)] : [...argv, flag, value];
};
const without = (argv: string[], flag: string): string[] => {
  const i = argv.indexOf(flag);
  return i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv;
};

/** Breaks that apply to every command. */
const generic = (b: Base): fc.Arbitrary<Broken>[] => [
  fc.tuple(b.argv, misspelt, fc.nat()).map(([argv, flag, at]) => {
    // Not between a flag and its value: that is refused too, but as the flag's missing value.
    const places = [...Array(argv.length + 1).keys()].filter((i) => !b.strings.includes(argv[i - 1] ?? '') && argv[i - 1] !== '-f');
    const i = places[at % places.length]!;
    return {
      argv: [...b.command, ...argv.slice(0, i), flag, ...argv.slice(i)],
      names: [flag === '--' ? 'unexpected argument' : flag.length > 60 ? flag.slice(0, 40) : flag],
      what: `unknown flag ${flag.slice(0, 20)}`,
    };
  }),
  fc.tuple(b.argv, fc.constantFrom(...b.strings)).map(([argv, flag]) => ({ argv: [...b.command, ...without(argv, flag), flag], names: [flag], what: `${flag} without its value` })),
  ...(b.switches.length
    ? [
        fc
          .tuple(b.argv, fc.constantFrom(...b.switches), fc.constantFrom('yes', 'true', '1', ''))
          .map(([argv, flag, v]) => ({ argv: [...b.command, ...argv, `${flag}=${v}`], names: [flag], what: `${flag}=${v}` })),
      ]
    : []),
];

const badRef = fc.constantFrom(
  'demo',
  'demo/web/01',
  '/web-01',
  'demo/',
  'Demo/web-01',
  'demo/Web_01',
  '-demo/web-01',
  'demo/web 01',
  `demo/${'w'.repeat(300)}`,
  'ｄｅｍｏ/web-01',
  '__proto__/x',
);
const badCluster = fc.constantFrom('', ' source', 'sou rce', '-source', `${'c'.repeat(300)}`, '{source}');
const badOption = fc.constantFrom(
  ['pollInterval', ['--option']],
  ['=200ms', ['--option']],
  ['pollIntervall=1s', ['pollIntervall']],
  ['__proto__=1', ['__proto__']],
  ['constructor=x', ['constructor']],
  ['pollInterval=soon', ['pollInterval']],
  ['pollInterval=0', ['pollInterval']],
  ['handshakeTimeout=99999999999999999999d', ['handshakeTimeout']],
  ['stallFallback=explode', ['stallFallback']],
  ['maxAutoRetries=1000', ['maxAutoRetries']],
  ['maxAutoRetries=-1', ['maxAutoRetries']],
) as fc.Arbitrary<[string, string[]]>;

/** Breaks of one command's own arguments. */
function specific(b: Base, dir: string): fc.Arbitrary<Broken>[] {
  const [cmd, sub] = b.command;
  const arbs: fc.Arbitrary<Broken>[] = [];
  const at = (argv: fc.Arbitrary<string[]>, f: (argv: string[]) => Omit<Broken, 'argv'> & { args: string[] }) =>
    argv.map((a) => {
      const r = f(a);
      return { argv: [...b.command, ...r.args], names: r.names, what: r.what };
    });
  if (cmd === 'migrate' || cmd === 'validate') {
    arbs.push(
      fc.tuple(b.argv, badRef).map(([a, ref]) => ({
        argv: [cmd, ref, ...a.slice(1)],
        names: ['<namespace>/<vm>', 'source.namespace', 'source.name', `VM "${ref.slice(0, 20)}`],
        what: `VM ${ref.slice(0, 20)}`,
      })),
    );
    arbs.push(
      fc
        .tuple(b.argv, fc.constantFrom('--from', '--to'), badCluster)
        .map(([a, flag, c]) => ({ argv: [cmd, ...withValue(a, flag, c)], names: [flag], what: `${flag} ${JSON.stringify(c.slice(0, 20))}` })),
    );
    arbs.push(at(b.argv, (a) => ({ args: without(a, '--from'), names: ['--from'], what: 'no --from' })));
    arbs.push(at(b.argv, (a) => ({ args: without(a, '--to'), names: ['--to'], what: 'no --to' })));
    arbs.push(at(b.argv, (a) => ({ args: a.filter((x) => x !== VM), names: ['<namespace>/<vm>'], what: 'no VM' })));
    arbs.push(at(b.argv, (a) => ({ args: [...a, 'demo/db-01'], names: ['demo/db-01'], what: 'two VMs' })));
    arbs.push(at(b.argv, (a) => ({ args: withValue(a, '--to', 'source').concat(['--to-namespace', 'demo']), names: ['--to', 'destination'], what: 'to itself' })));
    arbs.push(
      fc
        .tuple(b.argv, fc.constantFrom('Apps', 'apps_1', '-apps', `${'n'.repeat(64)}`))
        .map(([a, ns]) => ({ argv: [cmd, ...withValue(a, '--to-namespace', ns)], names: ['--to-namespace'], what: `--to-namespace ${ns.slice(0, 20)}` })),
    );
    arbs.push(fc.tuple(b.argv, badOption).map(([a, [opt, names]]) => ({ argv: [cmd, ...a, '--option', opt], names, what: `--option ${opt}` })));
  }
  if (cmd === 'validate') {
    arbs.push(at(b.argv, (a) => ({ args: withValue(a, '--from', 'elsewhere'), names: ['--from'], what: 'an unknown cluster' })));
    arbs.push(at(b.argv, (a) => ({ args: [...a, '--kubeconfig', join(dir, 'missing')], names: ['--kubeconfig'], what: 'a missing kubeconfig' })));
  }
  if (b.strings.includes('--output')) {
    arbs.push(
      fc
        .tuple(b.argv, fc.constantFrom('yaml', 'JSON', '', 'table ', 'wide'))
        .map(([a, o]) => ({ argv: [...b.command, ...withValue(a, '--output', o)], names: ['--output'], what: `--output ${o}` })),
    );
  }
  if (b.strings.includes('--interval')) {
    arbs.push(
      fc
        .tuple(b.argv, fc.constantFrom('0', '50ms', 'soon', '2h', '-1s', '1e3', ''))
        .map(([a, i]) => ({ argv: [...b.command, ...withValue(a, '--interval', i)], names: ['--interval'], what: `--interval ${i}` })),
    );
  }
  if (['status', 'retry', 'cancel', 'extend'].includes(cmd!)) {
    arbs.push(at(b.argv, (a) => ({ args: a.filter((x) => x !== ID), names: ['<workflow-id>'], what: 'no workflow ID' })));
    arbs.push(at(b.argv, (a) => ({ args: [...a, 'migration/source/demo/db-01'], names: ['migration/source/demo/db-01'], what: 'two workflow IDs' })));
  }
  if (cmd === 'retry' || cmd === 'cancel') {
    arbs.push(at(b.argv, (a) => ({ args: [...a, '--by', '10m'], names: ['--by'], what: '--by on retry/cancel' })));
  }
  if (cmd === 'retry' || cmd === 'cancel' || cmd === 'extend' || (cmd === 'plan' && (sub === 'retry' || sub === 'cancel'))) {
    arbs.push(
      fc
        .tuple(b.argv, fc.integer({ min: 1001, max: 100_000 }))
        .map(([a, n]) => ({ argv: [...b.command, ...withValue(a, '--reason', longText(n))], names: ['--reason'], what: `--reason of ${n} characters` })),
    );
  }
  if (cmd === 'extend') {
    arbs.push(at(b.argv, (a) => ({ args: without(a, '--by'), names: ['--by'], what: 'extend without --by' })));
    arbs.push(
      fc
        .tuple(b.argv, fc.constantFrom('soon', '0', '0s', '8d', '99999999999999999999d', '1y', '', '5 minutes', '=10m'))
        .map(([a, by]) => ({ argv: [...b.command, ...withValue(a, '--by', by)], names: ['--by'], what: `--by ${by}` })),
    );
  }
  if (cmd === 'watch') {
    arbs.push(at(b.argv, (a) => ({ args: [...a.filter((x) => x !== '--stalled'), ID, '--stalled'], names: ['--stalled'], what: 'IDs and --stalled' })));
  }
  if (cmd === 'list') arbs.push(at(b.argv, (a) => ({ args: [...a, 'extra'], names: ['extra'], what: 'a positional' })));
  if (cmd === 'plan') {
    const bad = planFile(
      dir,
      'bad.yaml',
      'apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\nmetadata: {name: Wave_1}\nspec: {source: {cluster: source}, destination: {cluster: destination}, vms: []}\n',
    );
    const broken = planFile(dir, 'broken.yaml', 'apiVersion: ferry.dev/v1alpha1\nkind: [\n');
    const files: [string, string[]][] = [
      [bad, ['metadata.name', 'spec.vms']],
      // The flow sequence opened on line 2 is found unclosed at the end of the file, line 3.
      [broken, ['line 2', 'line 3']],
      [join(dir, 'nowhere.yaml'), ['nowhere.yaml']],
      [dir, ['cannot read']],
    ];
    if (sub === 'start' || sub === 'status') {
      arbs.push(
        fc
          .tuple(b.argv, fc.constantFrom(...files))
          .map(([a, [file, names]]) => ({ argv: ['plan', sub, ...without(a, '-f').filter((x) => x !== 'wave'), '-f', file], names, what: `plan file ${file.split('/').pop()}` })),
      );
      // A good file: start used to ignore the name and go ahead.
      const good = join(dir, 'good.yaml');
      arbs.push(
        at(b.argv, (a) => ({
          args: [...without(a, '-f').filter((x) => x !== 'wave'), '-f', good, 'wave'],
          names: sub === 'start' ? ['unexpected argument "wave"'] : ['-f FILE or a plan name'],
          what: 'both -f and a name',
        })),
      );
    }
    if (sub === 'start') arbs.push(at(b.argv, (a) => ({ args: without(a, '-f'), names: ['-f plan.yaml'], what: 'start without -f' })));
    if (sub !== 'start') arbs.push(at(b.argv, (a) => ({ args: a.filter((x) => x !== 'wave' && x !== '-f' && !x.endsWith('.yaml')), names: ['name the plan'], what: 'no plan' })));
  }
  return arbs;
}

/** Breaks outside any one command. */
const topLevel = (dir: string): fc.Arbitrary<Broken>[] => [
  fc
    .oneof(
      fc.constantFrom('frobnicate', 'migrte', 'Migrate', 'stat', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', '🚀', '-v', '--version', 'help-me'),
      fc.stringMatching(/^[a-z]{2,12}$/),
    )
    .filter((c) => !['migrate', 'validate', 'status', 'list', 'watch', 'retry', 'cancel', 'extend', 'plan', 'help', 'codec-server'].includes(c))
    .map((c) => ({ argv: [c, VM], names: [`unknown command "${c}"`], what: `command ${c}` })),
  fc.constantFrom('apply', 'Start', 'delete', '__proto__', 'run', '').map((s) => ({ argv: ['plan', s, 'wave'], names: [`"${s}"`], what: `plan ${s}` })),
  fc.constantFrom('validate').map((s) => ({ argv: ['plan', s], names: ['-f plan.yaml'], what: 'plan validate without -f' })),
  fc
    .constantFrom('8888', 'localhost', ':8888', 'host:99999', 'host:port', '127.0.0.1:-1', '')
    .map((l) => ({ argv: ['codec-server', '--listen', l], names: ['--listen'], what: `codec-server --listen ${l}` })),
  fc.constant({ argv: ['codec-server', '--token-file', join(dir, 'none')], names: ['FERRY_CODEC_KEYS', '--token-file'], what: 'codec-server without keys' }),
];

/** Why an answer is not a good refusal (empty: it is). */
function answerProblems(a: Answer, b: Broken): string[] {
  if (a.code === 'hung') return ['did not answer within 15 s (it was waiting on a connection)'];
  const problems: string[] = [];
  if (a.code !== 2) problems.push(`exit ${a.code}, not 2`);
  problems.push(...plainProblems(a.stderr));
  if (!b.names.some((n) => a.stderr.includes(n))) problems.push(`names none of ${b.names.map((n) => JSON.stringify(n.slice(0, 40))).join(', ')}`);
  if (
    !/--help|e\.g\.|must be|fix with|expected|use |give |needs|name the|remove|unknown|required|is not set|no such|cannot|missing|expected|not both|applies only|either/i.test(
      a.stderr,
    )
  )
    problems.push('says nothing about what to do');
  if (a.stdout.trim()) problems.push(`printed to stdout: ${a.stdout.slice(0, 100)}`);
  return problems;
}

describe('fuzz: the ferry command line', () => {
  const temporal = new Tripwire();
  const cluster = new Tripwire();
  const saved: Record<string, string | undefined> = {};
  let dir = '';
  let kubeconfig = '';

  before(async () => {
    await Promise.all([temporal.start(), cluster.start()]);
    dir = mkdtempSync(join(tmpdir(), 'ferry-fuzz-cli-'));
    const contexts = ['source', 'destination'];
    kubeconfig = planFile(
      dir,
      'kubeconfig',
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: contexts.map((name) => ({ name, cluster: { server: `https://127.0.0.1:${cluster.port}`, 'insecure-skip-tls-verify': true } })),
        users: [{ name: 'ferry', user: { token: 'not-a-secret' } }],
        contexts: contexts.map((name) => ({ name, context: { cluster: name, user: 'ferry' } })),
        'current-context': 'source',
      }),
    );
    const env = {
      TEMPORAL_ADDRESS: `127.0.0.1:${temporal.port}`,
      TEMPORAL_NAMESPACE: 'default',
      FERRY_KUBECONFIG: kubeconfig,
      FERRY_CODEC_KEYS: undefined,
      FERRY_CODEC_SERVER_TOKEN: undefined,
      TEMPORAL_PROFILE: undefined,
    };
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  after(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await Promise.all([temporal.close(), cluster.close()]);
  });

  it(`${RUNS} broken argument vectors over every command exit 2 naming the argument and the fix, before any connection`, async () => {
    const all = bases(dir).flatMap((b) => [...generic(b), ...specific(b, dir)]);
    const broken = fc.oneof(...all, ...topLevel(dir));
    const count = new Count();
    const byCommand = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(broken, async (b) => {
        count.add();
        const command = b.argv[0] === 'plan' ? `plan ${b.argv[1]}` : (b.argv[0] ?? '');
        byCommand.set(command, (byCommand.get(command) ?? 0) + 1);
        const before = temporal.connections + cluster.connections;
        const answer = await ferry(b.argv);
        const problems = answerProblems(answer, b);
        if (temporal.connections + cluster.connections > before) problems.push(`connected first (Temporal ${temporal.connections}, clusters ${cluster.connections})`);
        if (problems.length)
          throw new Error(
            `ferry ${b.argv.map((a) => (a.length > 40 ? `${a.slice(0, 30)}…(${a.length})` : a)).join(' ')} (${b.what}): ${problems.join('; ')}\nstderr:\n${answer.stderr.slice(0, 1500)}`,
          );
      }),
      params('cli-arguments'),
    );
    assert.ok(count.n >= RUNS);
    assert.equal(temporal.connections + cluster.connections, 0, 'no connection to Temporal or a cluster');
    console.log(`cli-arguments: ${count.n} vectors: ${[...byCommand].map(([c, n]) => `${c || '(empty)'} ${n}`).join(', ')}`);
    recordRun({
      suite: 'fuzz',
      scenario: 'cli-arguments',
      outcome: 'refused',
      expected: 'refused',
      violations: [],
      faults: { inputs: count.n, commands: byCommand.size },
      seed: SEED,
    });
  });

  it('the real executable answers a sample the same way (exit 2, stderr, no connection)', async () => {
    const sample: Broken[] = [
      { argv: ['migrate', VM, '--from', 'source'], names: ['--to'], what: 'no --to' },
      { argv: ['extend', ID, '--by', 'soon'], names: ['--by'], what: '--by soon' },
      { argv: ['plan', 'start', '-f', join(dir, 'nowhere.yaml')], names: ['nowhere.yaml'], what: 'a missing plan file' },
      { argv: ['frobnicate'], names: ['unknown command "frobnicate"'], what: 'unknown command' },
    ];
    for (const b of sample) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'client/main.ts', ...b.argv], { cwd: REPO_ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      const problems = answerProblems({ code: code ?? -1, stdout, stderr }, b);
      assert.deepEqual(problems, [], `ferry ${b.argv.join(' ')}: ${stderr}`);
    }
    assert.equal(temporal.connections + cluster.connections, 0);
  });

  describe('regressions (each connected to Temporal before refusing, or echoed too much)', () => {
    it('extend --by soon, --by 8d and a 1,001-character --reason are refused on the command line', async () => {
      for (const [argv, re] of [
        [['extend', ID, '--by', 'soon'], /^ferry extend: --by must be a positive duration, e\.g\. --by 10m/],
        [['extend', ID, '--by', '8d'], /^ferry extend: --by must be at most 7d/],
        [['cancel', ID, '--reason', longText(1001)], /^ferry cancel: --reason must be at most 1000 characters \(got 1001\)/],
        [['plan', 'cancel', 'wave', '--reason', longText(1001)], /^ferry plan: --reason must be at most 1000 characters/],
        [['plan', 'start', '-f', join(dir, 'good.yaml'), 'wave'], /^ferry plan: unexpected argument "wave": plan start reads the plan from -f FILE/],
      ] as [string[], RegExp][]) {
        const a = await ferry(argv);
        assert.equal(a.code, 2, a.stderr);
        assert.match(a.stderr, re);
      }
      assert.equal(temporal.connections, 0);
    });

    it('ferry __proto__ and ferry constructor are unknown commands, not "command.run is not a function"', async () => {
      for (const name of ['__proto__', 'constructor', 'toString']) {
        const a = await ferry([name]);
        assert.equal(a.code, 2, a.stderr);
        assert.match(a.stderr, new RegExp(`^ferry: unknown command "${name}"`));
      }
    });

    it('a 3,000-character unknown flag is quoted short', async () => {
      const a = await ferry(['list', `--${'f'.repeat(3000)}`]);
      assert.equal(a.code, 2);
      assert.match(a.stderr, /^ferry list: Unknown option "--f{58}…" \(3002 characters\)/);
    });

    it('a VM name starting with "-" is named, not only the short option it was read as (seed 20261302, path 255)', async () => {
      const a = await ferry(['migrate', '-demo/web-01', '--from', 'source', '--to', 'destination', '--wait']);
      assert.equal(a.code, 2, a.stderr);
      assert.match(a.stderr, /^ferry migrate: Unknown option '-d', read from "-demo\/web-01": a name cannot start with "-" \(a VM is <namespace>\/<vm>/);
      assert.equal(temporal.connections, 0);
    });

    it('a bad field names the flag that sets it', async () => {
      const a = await ferry(['migrate', VM, '--from', 'source', '--option', 'pollInterval=soon']);
      assert.match(a.stderr, /^ {2}fix with: --to <cluster>; --option pollInterval=<value>$/m);
    });
  });
});
