/** `ferry retry|cancel|extend`: the workflow's updates; a refusal comes back with its reason (exit 4). */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { connect } from '../connection.js';
import { deliverUpdate } from '../deliver-update.js';
import { CONNECTION_HELP, connectionOptions, EXIT, EXIT_CODES_HELP, ExitError, onePositional, parse, UsageError, type ExitCode } from '../cli.js';
import { cancelUpdate, extendUpdate, retryUpdate, type ControlAnswer } from '../../workflows/messages.js';
import { errorMessage } from '../../workflows/errors.js';
import { EXTEND_MAX_MS, extendBy, REASON_MAX } from '../../workflows/control-request.js';
import { quote } from '../../workflows/quote.js';

export type Control = 'retry' | 'cancel' | 'extend';

const what: Record<Control, { summary: string; example: string }> = {
  retry: {
    summary: 'Retry a Stalled migration: clean up this attempt and start a new one with a new migration ID.',
    example: "ferry retry migration/source/demo/web-01 --reason 'partition healed'",
  },
  cancel: {
    summary: 'Cancel a migration before cutover: roll back, the source VM keeps running.',
    example: "ferry cancel migration/source/demo/web-01 --reason 'change window over'",
  },
  extend: { summary: 'Push the running deadline (also while Stalled: the migration goes back to waiting).', example: 'ferry extend migration/source/demo/web-01 --by 10m' },
};

export function controlHelp(c: Control): string {
  return `Usage: ferry ${c} <workflow-id> [--reason text]${c === 'extend' ? ' --by <duration>' : ''}

${what[c].summary}

Options:
  --reason text           why (recorded in the workflow's history)${c === 'extend' ? '\n  --by duration           how much longer to wait: 30s, 10m, 1h30m or milliseconds' : ''}
${CONNECTION_HELP}

Example:
  ${what[c].example}

${EXIT_CODES_HELP}`;
}

const options = { ...connectionOptions, reason: { type: 'string' }, by: { type: 'string' } } as const;

/** `--by` as the extend update takes it: bare digits are milliseconds, anything else a duration. */
const byArg = (by: string) => (/^\d+$/.test(by) ? Number(by) : by);

/** --by and --reason as the workflow's validator checks them (workflows/control-request.ts), in the command line's terms. */
export function refuseFlags(v: { by?: string; reason?: string }): void {
  if (v.reason !== undefined && v.reason.length > REASON_MAX) throw new UsageError([`--reason must be at most ${REASON_MAX} characters (got ${v.reason.length})`]);
  if (v.by === undefined) return;
  const ms = extendBy({ by: byArg(v.by) });
  if (ms === undefined || ms <= 0) throw new UsageError([`--by must be a positive duration, e.g. --by 10m or --by 1h30m (got ${quote(v.by)})`]);
  if (ms > EXTEND_MAX_MS) throw new UsageError([`--by must be at most 7d (got ${quote(v.by)}); extend again later for a longer wait`]);
}

export async function control(c: Control, argv: string[]): Promise<ExitCode> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    console.log(controlHelp(c));
    return EXIT.ok;
  }
  const workflowId = onePositional(positionals, '<workflow-id>');
  if (c !== 'extend' && v.by !== undefined) throw new UsageError([`--by applies only to extend`]);
  if (c === 'extend' && v.by === undefined) throw new UsageError(['extend needs --by <duration>, e.g. --by 10m']);
  const reason = v.reason !== undefined ? { reason: v.reason } : {};
  // What the workflow's validator would refuse is refused here, before a connection is made.
  refuseFlags(v);
  const conn = await connect(v);
  try {
    const handle = conn.client.workflow.getHandle(workflowId);
    let answer: ControlAnswer;
    try {
      answer =
        c === 'extend'
          ? await deliverUpdate(handle, extendUpdate, [{ ...reason, by: byArg(v.by!) }])
          : await deliverUpdate(handle, c === 'retry' ? retryUpdate : cancelUpdate, [reason]);
    } catch (e) {
      if (e instanceof WorkflowUpdateFailedError) throw new ExitError(errorMessage(e), EXIT.refused);
      if (e instanceof WorkflowNotFoundError && /already completed/i.test(e.message)) throw new ExitError(`${c} refused: the migration has already ended`, EXIT.refused);
      throw e;
    }
    console.log(answer.message);
    if (answer.deadline) console.log(`Deadline: ${answer.deadline}`);
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
