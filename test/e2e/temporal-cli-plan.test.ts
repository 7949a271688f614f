/**
 * The README's Temporal CLI commands for plans ("### Plans from the CLIs"), run for real with the
 * `temporal` binary against a dev server, worker and simulator: start the plan (with a partition, so a
 * VM stalls; fast deadlines added to the README's --input), query planStatus, list the stalled
 * children by search attribute, retryStalled after healing, and cancelPlan refused once it ended.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ensureTemporalCli } from '../../tools/temporal-cli.js';
import type { PlanStatus } from '../../workflows/plan-contract.js';
import { FAST, startStack, type Stack } from '../support/e2e.js';
import { fencedBlocks, readmeSection, shellWords } from '../support/readme.js';
import { clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';

let stack: Stack;
let cli: string;
before(async () => {
  [stack, cli] = await Promise.all([startStack(), ensureTemporalCli()]);
});
after(async () => {
  await stack?.sim.partition(false);
  await stack?.stop();
});

/** The section's `temporal …` commands, by their subcommand words and --name. */
function readmeCommands(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const block of fencedBlocks(readmeSection('### Plans from the CLIs'), 'sh')) {
    for (const line of block.replace(/\\\n/g, ' ').split('\n')) {
      if (!line.trim().startsWith('temporal ')) continue;
      const argv = shellWords(line);
      const name = argv.indexOf('--name');
      out.set([...argv.slice(1, 3), ...(name >= 0 ? [argv[name + 1]!] : [])].join(' '), argv);
    }
  }
  return out;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
function temporal(argv: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cli, [...argv.slice(1), '--address', stack.server.address, '--output', 'json'], { env: cliEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

describe('README: plans from the Temporal CLI', () => {
  it('start, planStatus, the stalled filter, retryStalled and a refused cancelPlan all work as shown', async () => {
    const commands = readmeCommands();
    const need = (key: string) => {
      const c = commands.get(key);
      assert.ok(c, `README "### Plans from the CLIs" has no "temporal ${key}" command (has: ${[...commands.keys()].join(', ')})`);
      return [...c];
    };
    const start = need('workflow start');
    const at = start.indexOf('--input');
    const input = JSON.parse(start[at + 1]!) as { name: string; vms: { namespace: string; name: string }[]; options?: Record<string, unknown> };
    start[at + 1] = JSON.stringify({ ...input, options: { ...FAST, handshakeTimeout: '3s' } });
    const planId = start[start.indexOf('--workflow-id') + 1]!;
    assert.equal(planId, `plan/${input.name}`);

    await stack.sim.partition(true);
    const started = await temporal(start);
    assert.equal(started.code, 0, started.stderr);

    const query = async () => {
      const r = await temporal(need('workflow query planStatus'));
      assert.equal(r.code, 0, r.stderr);
      return path<PlanStatus[]>(JSON.parse(r.stdout), 'queryResult')![0]!;
    };
    const stalled = await eventually('a stalled VM in planStatus', async () => ((await query()).stalled.length > 0 ? query() : undefined), 60_000, 500);
    assert.match(stalled.stalled[0]!.diagnosis ?? '', /synchronization address/);

    const listed = await eventually(
      'the stalled child listed by FerryPlan and FerryStalled',
      async () => {
        const r = await temporal(need('workflow list'));
        assert.equal(r.code, 0, r.stderr);
        // An empty result prints nothing; otherwise one JSON array.
        const found = r.stdout.trim() ? (JSON.parse(r.stdout) as unknown[]) : [];
        const ids = found.map((w) => path<string>(w, 'execution.workflowId'));
        return ids.includes(stalled.stalled[0]!.workflowId) ? ids : undefined;
      },
      20_000,
      500,
    );
    assert.ok(
      listed.every((id) => id?.startsWith('migration/source/demo/')),
      `only the plan's children: ${listed.join(', ')}`,
    );

    // Retry, then heal: a healed partition resumes a stall on its own within a poll interval, so
    // healing first would race the retry.
    const retried = await temporal(need('workflow update retryStalled'));
    await stack.sim.partition(false);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, /retry sent to \d+ stalled VM migration/);

    const done = await eventually(
      'the plan succeeded',
      async () => {
        const s = await query();
        return s.phase === 'Succeeded' ? s : undefined;
      },
      120_000,
      500,
    ).catch(async (e: unknown) => {
      // What the children were waiting for, to tell a stuck cleanup from a slow migration.
      const s = await query();
      const waits = await Promise.all(
        s.active.map(async (v) => {
          const d = await stack.client.workflow.getHandle(v.workflowId).describe();
          return `${v.vm} ${v.state}: ${JSON.stringify(d.raw.pendingActivities?.map((a) => ({ type: a.activityType?.name, attempt: a.attempt, heartbeat: a.heartbeatDetails?.payloads?.map((p) => Buffer.from(p.data ?? []).toString()), failure: a.lastFailure?.message })))}`;
        }),
      );
      throw new Error(`${(e as Error).message}\n${waits.join('\n')}`);
    });
    assert.equal(done.counts.Succeeded, input.vms.length);
    const k = kubevirt(clients(stack.sim, 'destination'));
    for (const vm of input.vms) assert.equal(path(await k.get('virtualmachineinstances', vm.namespace, vm.name), 'status.phase'), 'Running');

    const cancel = await temporal(need('workflow update cancelPlan'));
    assert.notEqual(cancel.code, 0, 'a cancel after the end is refused');
  });
});
