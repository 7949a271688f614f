/** `ferry list`: migrations from Temporal visibility, optionally only the stalled ones. */
import { connect } from '../connection.js';
import { CONNECTION_HELP, connectionOptions, EXIT, EXIT_CODES_HELP, outputFormat, parse, UsageError, type ExitCode } from '../cli.js';
import { table } from '../format.js';
import { FerryPhase, FerryStalled, FerryVm } from '../../workflows/search-attributes.js';

export const listHelp = `Usage: ferry list [--stalled] [--output table|json]

List migrations (workflows of type migrateVm), newest first.

Options:
  --stalled               only migrations waiting for an operator decision (FerryStalled = true)
  --output table|json     output format (default table)
${CONNECTION_HELP}

Example:
  ferry list --stalled

${EXIT_CODES_HELP}`;

const options = { ...connectionOptions, stalled: { type: 'boolean' }, output: { type: 'string', short: 'o' } } as const;

export interface ListedMigration {
  workflowId: string;
  vm?: string;
  phase?: string;
  stalled: boolean;
  status: string;
  startTime: string;
}

export function listQuery(stalled: boolean): string {
  return `WorkflowType = 'migrateVm'${stalled ? ` AND ${FerryStalled.name} = true` : ''}`;
}

export async function list(argv: string[]): Promise<ExitCode> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    console.log(listHelp);
    return EXIT.ok;
  }
  if (positionals.length) throw new UsageError([`unexpected argument "${positionals[0]}"`]);
  const format = outputFormat(v.output);
  const conn = await connect(v);
  try {
    const found: ListedMigration[] = [];
    for await (const wf of conn.client.workflow.list({ query: listQuery(v.stalled ?? false) })) {
      const sa = wf.typedSearchAttributes;
      found.push({
        workflowId: wf.workflowId,
        vm: sa.get(FerryVm),
        phase: sa.get(FerryPhase),
        stalled: sa.get(FerryStalled) ?? false,
        status: wf.status.name,
        startTime: wf.startTime.toISOString(),
      });
    }
    if (format === 'json') console.log(JSON.stringify(found, null, 2));
    else if (!found.length) console.log(v.stalled ? 'No stalled migrations.' : 'No migrations.');
    else
      console.log(
        table(
          ['WORKFLOW ID', 'VM', 'PHASE', 'STATUS'],
          found.map((m) => [m.workflowId, m.vm ?? '-', m.phase ?? '-', m.status]),
        ),
      );
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
