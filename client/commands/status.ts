/** `ferry status`: the workflow's status query, as a table or JSON. */
import { connect } from '../connection.js';
import { CONNECTION_HELP, connectionOptions, EXIT, EXIT_CODES_HELP, onePositional, outputFormat, parse, type ExitCode } from '../cli.js';
import { table } from '../format.js';
import type { MigrationStatus } from '../../workflows/contract.js';
import { progressText } from '../../workflows/progress.js';
import { statusQuery } from '../../workflows/messages.js';

export const statusHelp = `Usage: ferry status <workflow-id> [--output table|json]

Show a migration's status: phase, attempt, migration ID, deadline, observed VMIM phases,
progress and, when stalled, the diagnosis.

Options:
  --output table|json     output format (default table)
${CONNECTION_HELP}

Example:
  ferry status migration/source/demo/web-01 --output json

${EXIT_CODES_HELP}`;

const options = { ...connectionOptions, output: { type: 'string', short: 'o' } } as const;

export function progress(s: MigrationStatus): string | undefined {
  const p = s.observed?.progress;
  if (p) return progressText(p);
  return s.observed?.progressUnavailable ? `unavailable: ${s.observed.progressUnavailable}` : undefined;
}

export function statusRows(s: MigrationStatus): [string, string][] {
  const o = s.observed;
  const rows: [string, string | undefined][] = [
    ['Workflow ID', s.workflowId],
    ['VM', s.vm],
    ['From', `${s.source.cluster}/${s.source.namespace}`],
    ['To', `${s.destination.cluster}/${s.destination.namespace}`],
    ['Phase', `${s.phase} (since ${s.phaseSince})`],
    ['Attempt', String(s.attempt)],
    ['Migration ID', s.migrationId],
    ['Deadline', s.deadline],
    ['Source VMIM', o?.sourceVMIM],
    ['Target VMIM', o?.targetVMIM],
    ['Sync address', o?.syncAddress],
    ['Progress', progress(s)],
    ['Blocked', o?.blocked ? `${o.blockedSide ?? ''}: ${o.blocked}` : undefined],
    ['Stalled', s.stall ? `in ${s.stall.phase} since ${s.stall.since} (${s.stall.deadline} deadline): ${s.stall.diagnosis}` : undefined],
    ['Error', s.error],
    ['Warnings', s.warnings.length ? s.warnings.map((w) => `${w.code}: ${w.message}`).join('; ') : undefined],
  ];
  return rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '');
}

export async function status(argv: string[]): Promise<ExitCode> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    console.log(statusHelp);
    return EXIT.ok;
  }
  const workflowId = onePositional(positionals, '<workflow-id>');
  const format = outputFormat(v.output);
  const conn = await connect(v);
  try {
    const s = await conn.client.workflow.getHandle(workflowId).query(statusQuery);
    console.log(format === 'json' ? JSON.stringify(s, null, 2) : table(['FIELD', 'VALUE'], statusRows(s), { header: false }));
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
