/** `ferry migrate`: validate the input locally, start the migration, optionally follow it to the end. */
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { alreadyRunning, connect } from '../connection.js';
import { refuseWithoutSearchAttributes } from '../search-attributes.js';
import { CONNECTION_HELP, connectionOptions, EXIT, EXIT_CODES_HELP, ExitError, onePositional, parse, sleep, UsageError, type ExitCode } from '../cli.js';
import {
  describeInputIssues,
  migrationInputSchema,
  migrationWorkflowId,
  TASK_QUEUE,
  type MigrationInput,
  type MigrationResult,
  type MigrationStatus,
} from '../../workflows/contract.js';
import { staticDetails, staticSummary } from '../../workflows/details.js';
import { statusQuery } from '../../workflows/messages.js';
import { ending } from '../progress.js';
import { errorMessage } from '../../workflows/errors.js';

export const migrateHelp = `Usage: ferry migrate <namespace>/<vm> --from <cluster> --to <cluster> [options]

Start a live migration of a running KubeVirt VM (workflow migrateVm, task queue ${TASK_QUEUE}).
The input is validated before anything is sent; every bad field is named.

Options:
  --from cluster          source cluster (kubeconfig context known to the worker)
  --to cluster            destination cluster
  --to-namespace ns       destination namespace (default: the VM's namespace)
  --option key=value      a migration option, repeatable (handshakeTimeout=3m, pollInterval=200ms,
                          stallFallback=cancel, maxAutoRetries=3, ...)
  --wait                  follow the phases until the migration ends
  --ui-url url            Temporal Web UI base URL (default http://127.0.0.1:8233)
${CONNECTION_HELP}

Example:
  ferry migrate demo/web-01 --from source --to destination --option handshakeTimeout=10m --wait

${EXIT_CODES_HELP}`;

const options = {
  ...connectionOptions,
  from: { type: 'string' },
  to: { type: 'string' },
  'to-namespace': { type: 'string' },
  option: { type: 'string', multiple: true },
  wait: { type: 'boolean' },
  'ui-url': { type: 'string' },
} as const;

/** `key=value`; whole numbers become numbers (durations accept milliseconds too). */
function parseOptions(pairs: string[]): Record<string, string | number> {
  const entries = pairs.map((pair): [string, string | number] => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError([`--option "${pair}": expected key=value, e.g. --option handshakeTimeout=10m`]);
    const value = pair.slice(eq + 1);
    return [pair.slice(0, eq), /^\d+$/.test(value) ? Number(value) : value];
  });
  // Own properties even for a key like __proto__ (an assignment would set the prototype and drop the
  // option silently): the schema then names it as an unknown option.
  return Object.fromEntries(entries);
}

export function buildInput(ref: string, v: { from?: string; to?: string; 'to-namespace'?: string; option?: string[] }): MigrationInput {
  const parts = ref.split('/');
  if (parts.length !== 2) throw new UsageError([`VM "${ref}": expected <namespace>/<vm>, e.g. demo/web-01`]);
  const [namespace, name] = parts as [string, string];
  return {
    source: { cluster: v.from as string, namespace, name },
    destination: { cluster: v.to as string, ...(v['to-namespace'] !== undefined ? { namespace: v['to-namespace'] } : {}) },
    ...(v.option?.length ? { options: parseOptions(v.option) } : {}),
  } as MigrationInput;
}

/** The command-line argument each input field comes from, so a refusal says what to change on the command line. */
const FLAG_OF: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/^source\.cluster\b/, () => '--from <cluster>'],
  [/^destination\.cluster\b/, () => '--to <cluster>'],
  [/^destination\.namespace\b/, () => '--to-namespace <namespace>'],
  [/^source\.(namespace|name)\b/, () => 'the VM as <namespace>/<vm>, e.g. demo/web-01'],
  [/^options\.([\w$]+)/, (m) => `--option ${m[1]}=<value>`],
  [/^options\b/, () => '--option key=value'],
];

/**
 * describeInputIssues' lines (which name input fields, as the Temporal CLI user sees them), then one
 * line naming the command-line arguments that set those fields.
 */
export function withFlags(lines: string[]): string[] {
  const flags = new Set<string>();
  for (const line of lines) {
    for (const [re, flag] of FLAG_OF) {
      const m = line.match(re);
      if (m) {
        flags.add(flag(m));
        break;
      }
    }
  }
  return flags.size ? [...lines, `fix with: ${[...flags].join('; ')}`] : lines;
}

export function uiLink(ui: string, namespace: string, workflowId: string): string {
  return `${ui.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export async function migrate(argv: string[]): Promise<ExitCode> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    console.log(migrateHelp);
    return EXIT.ok;
  }
  const input = buildInput(onePositional(positionals, '<namespace>/<vm>'), v);
  const checked = migrationInputSchema.safeParse(input);
  if (!checked.success) throw new UsageError(['invalid migration input:', ...withFlags(describeInputIssues(checked.error)).map((l) => `  ${l}`)]);
  const migration = checked.data;
  const workflowId = migrationWorkflowId(migration);

  const conn = await connect(v);
  try {
    await refuseWithoutSearchAttributes(conn, 'ferry migrate', v);
    let handle: WorkflowHandle;
    try {
      handle = await conn.client.workflow.start('migrateVm', {
        taskQueue: TASK_QUEUE,
        workflowId,
        args: [input],
        staticSummary: staticSummary(migration),
        staticDetails: staticDetails(migration),
      });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      throw await alreadyRunning(conn.client, workflowId, {
        command: 'ferry migrate',
        what: `a migration of ${migration.source.namespace}/${migration.source.name} from cluster ${migration.source.cluster}`,
        follow: [
          ['follow it', `ferry watch ${workflowId}`],
          ['its status', `ferry status ${workflowId}`],
        ],
        flags: v,
      });
    }
    console.log(`Started ${staticSummary(migration)}`);
    console.log(`Workflow ID: ${workflowId}`);
    console.log(`Web UI:      ${uiLink(v['ui-url'] ?? 'http://127.0.0.1:8233', conn.namespace, workflowId)}`);
    return v.wait ? await follow(handle) : EXIT.ok;
  } finally {
    await conn.close();
  }
}

/** Prints each phase change (polling the status query every 500 ms) and maps the outcome to an exit code. */
async function follow(handle: WorkflowHandle): Promise<ExitCode> {
  let done = false;
  const result = handle.result().then(
    (r: MigrationResult) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  void result.then(() => (done = true));
  let last = '';
  const show = async () => {
    const s: MigrationStatus | undefined = await handle.query(statusQuery).catch(() => undefined);
    if (!s || s.phase === last) return s;
    last = s.phase;
    const extra = s.phase === 'Stalled' && s.stall ? `: ${s.stall.diagnosis}` : s.attempt > 1 ? ` (attempt ${s.attempt})` : '';
    console.log(`${new Date().toISOString()}  ${s.phase}${extra}`);
    return s;
  };
  while (!done) {
    await show();
    await Promise.race([sleep(500), result]);
  }
  const final = await show();
  const outcome = await result;
  const end = outcome.ok
    ? ending({ ok: true, result: outcome.r })
    : ending({ ok: false, message: errorMessage(outcome.e), ...(outcome.e instanceof WorkflowFailedError && final ? { finalPhase: final.phase } : {}) });
  if (end.code === EXIT.failed) throw new ExitError(end.text, EXIT.failed);
  console.log(end.text);
  return end.code;
}
