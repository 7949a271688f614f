/**
 * `ferry watch`: live progress of migrations until they end. Each interval it asks every watched
 * workflow for its status (the `status` query); the end comes from the workflow's result. On a
 * terminal the frame is redrawn in place; otherwise a plain line is printed per change.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { connect, expectWorkflow } from '../connection.js';
import { CONNECTION_HELP, connectionOptions, EXIT, intervalFlag, parse, sleep, UsageError, type ExitCode } from '../cli.js';
import { changeKey, changeLine, ending, frame, overallCode, rewind, type Style, type Watched } from '../progress.js';
import type { MigrationResult, MigrationStatus } from '../../workflows/contract.js';
import { statusQuery } from '../../workflows/messages.js';
import { listQuery } from './list.js';
import { errorMessage } from '../../workflows/errors.js';

export const watchHelp = `Usage: ferry watch [<workflow-id> ...] [--stalled] [--interval 1s]

Follow migrations live until every one has ended: per migration the VM, phase, bytes transferred
of the total with a progress bar, time in the phase, time left to the deadline, attempt, and a
stall's diagnosis with the commands to decide. Without workflow IDs it watches every migration
running when it starts (found like "ferry list"); --stalled only the stalled ones.

On a terminal the display is redrawn in place (stalls in colour; NO_COLOR turns colours off).
When stdout is not a terminal it prints one plain line per change instead: timestamp, workflow ID,
phase, progress, attempt, stall diagnosis. Ctrl-C stops watching (the migrations go on).

Options:
  --stalled               without IDs: watch only migrations that are stalled now (FerryStalled = true)
  --interval duration     how often to ask each migration for its status (default 1s; 500ms, 2s, ...)
${CONNECTION_HELP}

Examples:
  ferry watch migration/source/demo/web-01
  ferry watch                                  # every running migration
  ferry watch --stalled --interval 5s > stalls.log

Exit codes (when every watched migration has ended):
  0  every migration succeeded (also: nothing to watch, or stopped with Ctrl-C)
  1  at least one failed, or an error talking to Temporal (e.g. an unknown workflow ID)
  2  usage error
  3  at least one rolled back, none failed`;

const options = { ...connectionOptions, stalled: { type: 'boolean' }, interval: { type: 'string' } } as const;

/** A status query that does not hang the display when no worker answers. */
async function queryStatus(client: Client, workflowId: string, timeoutMs: number): Promise<MigrationStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s (is a worker running?)`)), timeoutMs);
  });
  try {
    return await Promise.race([client.workflow.getHandle(workflowId).query(statusQuery), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function running(client: Client, stalled: boolean): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `${listQuery(stalled)} AND ExecutionStatus = 'Running'` })) ids.push(wf.workflowId);
  return ids.sort();
}

export async function watch(argv: string[]): Promise<ExitCode> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    console.log(watchHelp);
    return EXIT.ok;
  }
  const intervalMs = intervalFlag(v.interval);
  if (v.stalled && positionals.length) throw new UsageError(['--stalled selects the migrations to watch: give either workflow IDs or --stalled, not both']);
  const ids = [...new Set(positionals)];

  const tty = process.stdout.isTTY === true;
  const style = (): Style => ({ color: tty && !process.env.NO_COLOR, width: process.stdout.columns || 100 });

  const conn = await connect(v);
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { client } = conn;
    if (!ids.length) {
      ids.push(...(await running(client, v.stalled ?? false)));
      if (!ids.length) {
        console.log(v.stalled ? 'No stalled migrations.' : 'No running migrations.');
        return EXIT.ok;
      }
    }
    for (const id of ids) await expectWorkflow(client, id, { type: 'migrateVm', noun: 'migration', command: 'ferry watch' });

    const items: Watched[] = ids.map((workflowId) => ({ workflowId }));
    // The end of each workflow, from its result (a long poll per workflow): then its final status.
    let wake: () => void = () => {};
    const settled = items.map((w) =>
      client.workflow
        .getHandle(w.workflowId)
        .result()
        .then(
          (r: MigrationResult) => ({ ok: true as const, result: r }),
          (e: unknown) => ({ ok: false as const, e }),
        )
        .then(async (outcome) => {
          if (interrupted) return;
          const final = await queryStatus(client, w.workflowId, 10_000).catch(() => undefined);
          if (final) w.status = final;
          if (outcome.ok) w.end = ending(outcome);
          else {
            // Only a workflow failure can be a rollback; anything else (the connection) is an error.
            const failed = outcome.e instanceof WorkflowFailedError;
            w.end = ending({ ok: false, message: errorMessage(outcome.e), ...(failed && w.status ? { finalPhase: w.status.phase } : {}) });
          }
          wake();
        }),
    );

    let drawn = 0;
    const printed = new Map<string, string>();
    const render = () => {
      const now = new Date();
      if (tty) {
        const lines = frame(items, now, style());
        process.stdout.write(`${rewind(drawn)}${lines.join('\n')}\n`);
        drawn = lines.length;
        return;
      }
      for (const w of items) {
        const key = changeKey(w);
        if (printed.get(w.workflowId) === key) continue;
        printed.set(w.workflowId, key);
        console.log(changeLine(w, now));
      }
    };

    while (!interrupted && items.some((w) => !w.end)) {
      await Promise.all(
        items
          .filter((w) => !w.end)
          .map(async (w) => {
            try {
              const s = await queryStatus(client, w.workflowId, Math.max(5000, 2 * intervalMs));
              if (!w.end) {
                w.status = s;
                delete w.error;
              }
            } catch (e) {
              if (!w.end) w.error = errorMessage(e);
            }
          }),
      );
      render();
      if (items.every((w) => w.end)) break;
      await Promise.race([sleep(intervalMs), stopped, new Promise<void>((r) => (wake = r))]);
    }
    if (interrupted) {
      if (tty) render();
      console.log(`Stopped watching; ${items.filter((w) => !w.end).length} migration(s) still running.`);
      return EXIT.ok;
    }
    await Promise.all(settled);
    render();
    if (!tty) for (const w of items) console.log(`${w.workflowId}: ${w.end!.text}`);
    return overallCode(items.map((w) => w.end!));
  } finally {
    // After Ctrl-C the handler stays: a second signal (a launcher forwarding it) must not kill us.
    if (!interrupted) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await conn.close();
  }
}
