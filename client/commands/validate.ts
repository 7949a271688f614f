/**
 * `ferry validate`: the migration's preflight as a dry run, from this machine. The input is checked
 * like `migrate` checks it, then the very preflight code the workflow's first activity runs
 * (activities/preflight.ts) reads both clusters through the kubeconfig. Preflight only reads: nothing
 * is written to either cluster, and Temporal is not involved.
 */
import { preflightActivities } from '../../activities/preflight.js';
import { describeInputIssues, migrationInputSchema, migrationWorkflowId, type Migration, type PreflightReport } from '../../workflows/contract.js';
import { EXIT, KUBECONFIG_HELP, onePositional, outputFormat, parse, UsageError, type ExitCode } from '../cli.js';
import { clusters, requireClusters } from '../connection.js';
import { bytes, table } from '../format.js';
import { buildInput, withFlags } from './migrate.js';

export const validateHelp = `Usage: ferry validate <namespace>/<vm> --from <cluster> --to <cluster> [options]

Check that a VM can be live-migrated, without migrating it: the input is validated like migrate's
(every bad field named), then the workflow's preflight runs here against both clusters: KubeVirt
and its DecentralizedLiveMigration gate, the VM running and migratable, devices, instancetypes,
disks, name and MAC collisions, ConfigMaps and Secrets. It only reads; nothing is written to either
cluster. Prints every blocker and warning, the memory and disk to move, and the run strategy.

Options:
  --from cluster          source cluster (a kubeconfig context)
  --to cluster            destination cluster (a kubeconfig context)
  --to-namespace ns       destination namespace (default: the VM's namespace)
  --option key=value      a migration option, repeatable (validated like migrate's)
  --output table|json     output format (default table)
${KUBECONFIG_HELP}

Examples:
  ferry validate demo/web-01 --from source --to destination
  FERRY_KUBECONFIG=.state/sim/kubeconfig ferry validate demo/batch-01 --from source --to destination --output json

Exit codes:
  0  no blockers: the migration can start (warnings may be shown)
  1  blockers found (each named with its code), or an error talking to a cluster
  2  usage or validation error, unknown cluster, or no kubeconfig (nothing was read)`;

const options = {
  from: { type: 'string' },
  to: { type: 'string' },
  'to-namespace': { type: 'string' },
  option: { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `--output json` prints: the preflight report with the migration it is about. */
export interface ValidateResult extends PreflightReport {
  ok: boolean;
  workflowId: string;
  vm: string;
  source: Migration['source'];
  destination: Migration['destination'];
}

export function validateText(r: ValidateResult): string {
  const lines = [`Preflight of VM ${r.vm}: ${r.source.cluster} → ${r.destination.cluster}/${r.destination.namespace} (dry run, nothing written)`, ''];
  const issues = (title: string, list: { code: string; message: string }[]) => {
    lines.push(list.length ? `${title} (${list.length}):` : `${title}: none`);
    for (const i of list) lines.push(`  ${i.code}: ${i.message}`);
  };
  issues('Blockers', r.blockers);
  issues('Warnings', r.warnings);
  lines.push(
    '',
    table(
      ['FIELD', 'VALUE'],
      [
        ['Memory to move', bytes(r.memoryBytes)],
        ['Disk to move', bytes(r.diskBytes)],
        ['Run strategy', r.runStrategy],
        ...(r.destinationSyncAddress ? [['Destination sync address', r.destinationSyncAddress]] : []),
      ],
      { header: false },
    ),
    '',
    r.ok
      ? `OK: no blockers${r.warnings.length ? ` (${r.warnings.length} warning(s))` : ''}; start it with: ferry migrate ${r.vm} --from ${r.source.cluster} --to ${r.destination.cluster}${r.destination.namespace !== r.source.namespace ? ` --to-namespace ${r.destination.namespace}` : ''}`
      : `BLOCKED: ${r.blockers.length} blocker(s) (${[...new Set(r.blockers.map((b) => b.code))].join(', ')}); fix them and validate again`,
  );
  return lines.join('\n');
}

export async function validate(argv: string[]): Promise<ExitCode> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    console.log(validateHelp);
    return EXIT.ok;
  }
  const input = buildInput(onePositional(positionals, '<namespace>/<vm>'), v);
  const format = outputFormat(v.output);
  const checked = migrationInputSchema.safeParse(input);
  if (!checked.success) throw new UsageError(['invalid migration input:', ...withFlags(describeInputIssues(checked.error)).map((l) => `  ${l}`)]);
  const migration = checked.data;

  const registry = await clusters(v.kubeconfig);
  requireClusters(registry, [
    ['source.cluster (--from)', migration.source.cluster],
    ['destination.cluster (--to)', migration.destination.cluster],
  ]);

  const workflowId = migrationWorkflowId(migration);
  // The credentials here may be a person's read-only ones: what the worker may do is its own RBAC's business.
  const report = await preflightActivities({ clusters: registry }).preflight({ workflowId, migration, accessIssues: 'warn' });
  const result: ValidateResult = {
    ok: report.blockers.length === 0,
    workflowId,
    vm: `${migration.source.namespace}/${migration.source.name}`,
    source: migration.source,
    destination: migration.destination,
    ...report,
  };
  console.log(format === 'json' ? JSON.stringify(result, null, 2) : validateText(result));
  return result.ok ? EXIT.ok : EXIT.failed;
}
