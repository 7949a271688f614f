/**
 * `ferry plan validate|start|status|watch|retry|cancel`: many VMs as one plan (workflow migratePlan).
 * A plan is named by its file (`-f plan.yaml`, ferry's MigrationPlan or a Forklift Plan with its
 * Provider/StorageMap/NetworkMap documents) or by its name.
 */
import { deliverUpdate } from '../deliver-update.js';
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { preflightPlan } from '../../activities/plan.js';
import { migrationInputSchema, migrationWorkflowId, TASK_QUEUE, type PreflightReport } from '../../workflows/contract.js';
import { cancelPlanUpdate, planStatusQuery, retryStalledUpdate } from '../../workflows/messages.js';
import { type Plan, planInputSchema, type PlanResult, type PlanStatus, planWorkflowId, vmMigrationInput } from '../../workflows/plan-contract.js';
import { planSummary } from '../../workflows/plan-details.js';
import { CONNECTION_HELP, connectionOptions, EXIT, ExitError, intervalFlag, KUBECONFIG_HELP, outputFormat, parse, sleep, UsageError, type ExitCode } from '../cli.js';
import { alreadyRunning, clusters, connect, expectWorkflow, requireClusters } from '../connection.js';
import { refuseWithoutSearchAttributes } from '../search-attributes.js';
import { table } from '../format.js';
import { loadPlanFile, PlanFileError } from '../plan/load.js';
import { planChangeLines, planExitCode, planFrame, planTable } from '../plan-progress.js';
import { rewind } from '../progress.js';
import { uiLink } from './migrate.js';
import { refuseFlags } from './control.js';
import { quote } from '../../workflows/quote.js';
import { errorMessage } from '../../workflows/errors.js';

export const planHelp = `Usage: ferry plan <validate|start|status|watch|retry|cancel> (-f plan.yaml | <plan-name>) [options]

Migrate many VMs as one plan: every VM is preflighted first (blockers reported together; the plan's
onBlocked policy aborts the plan or skips the blocked VMs), the clusters' CAs are synchronized once,
then one migration per VM runs with at most maxInFlight at a time (default 20).

The plan file is ferry's own (apiVersion ferry.dev/v1alpha1, kind MigrationPlan) or Forklift's
(forklift.konveyor.io/v1beta1 Plan with spec.type: live, plus its Provider, StorageMap and
NetworkMap documents in the same multi-document YAML). Forklift fields ferry does not support are
reported by path, never dropped silently.

Subcommands:
  validate -f FILE          check the file and preflight every VM from here (dry run, nothing written)
  start -f FILE [--watch]   start the plan (workflow ID plan/<name>); --watch follows it to the end
  status  (-f FILE | NAME)  counts per phase, stalled VMs with their diagnosis, failures (--output json)
  watch   (-f FILE | NAME)  live: overall bar plus one line per VM in flight; plain lines when piped
  retry   (-f FILE | NAME)  retry every stalled VM migration of the plan (after fixing the cause)
  cancel  (-f FILE | NAME)  stop the plan: VMs in flight roll back, the rest never start

Options:
  -f, --file FILE           the plan file (YAML or JSON)
  --output table|json       for validate and status (default table)
  --interval duration       for watch (default 1s)
  --reason text             for retry and cancel
  --ui-url url              Temporal Web UI base URL for links (default http://127.0.0.1:8233)
${CONNECTION_HELP}
${KUBECONFIG_HELP}

Examples:
  ferry plan validate -f examples/forklift-plan.yaml
  ferry plan start -f examples/forklift-plan.yaml --watch
  ferry plan status demo-wave-1 --output json
  ferry plan retry demo-wave-1 --reason "firewall fixed"

Exit codes:
  0  ok (validate: no blockers; start --watch / watch: every VM migrated)
  1  validate: blockers found; watch: a VM or the plan failed (also a plan cancelled through
     Temporal); no such plan; start: the plan is already running; or an error talking to Temporal
  2  usage error, or the plan file is invalid (every problem named; nothing was started)
  3  watch: the plan ended with VMs skipped, rolled back or cancelled, none failed
  4  refused (retry with nothing stalled, cancel of an ended plan), with the reason`;

const options = {
  ...connectionOptions,
  file: { type: 'string', short: 'f' },
  output: { type: 'string', short: 'o' },
  interval: { type: 'string' },
  reason: { type: 'string' },
  watch: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'ui-url': { type: 'string' },
} as const;

type Values = ReturnType<typeof parse<typeof options>>['values'];

async function loadPlan(file: string): Promise<{ plan: Plan; raw: unknown; warnings: string[] }> {
  try {
    const loaded = await loadPlanFile(file);
    for (const w of loaded.warnings) console.error(`warning: ${w}`);
    return { plan: planInputSchema.parse(loaded.plan), raw: loaded.plan, warnings: loaded.warnings };
  } catch (e) {
    if (e instanceof PlanFileError) throw new ExitError([...e.warnings.map((w) => `warning: ${w}`), ...e.lines].join('\n'), EXIT.usage);
    throw e;
  }
}

/** The plan's workflow ID from `-f FILE` or a name (or the ID itself). */
async function planId(v: Values, positionals: string[]): Promise<string> {
  if (v.file && positionals.length) throw new UsageError(['give either -f FILE or a plan name, not both']);
  if (v.file) return planWorkflowId((await loadPlan(v.file)).plan.name);
  if (positionals.length !== 1) throw new UsageError(['name the plan: -f plan.yaml, or its name (e.g. demo-wave-1)']);
  const name = positionals[0]!;
  return name.startsWith('plan/') ? name : planWorkflowId(name);
}

async function checkIsPlan(client: Client, workflowId: string): Promise<WorkflowHandle> {
  await expectWorkflow(client, workflowId, { type: 'migratePlan', noun: 'plan', command: 'ferry plan', hint: 'start it with: ferry plan start -f plan.yaml' });
  return client.workflow.getHandle(workflowId);
}

export async function plan(argv: string[]): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(planHelp);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const { values: v, positionals } = parse(rest, options);
  if (v.help) {
    console.log(planHelp);
    return EXIT.ok;
  }
  // Flags are checked before anything is sent: a bad --interval must not leave a plan started.
  const intervalMs = intervalFlag(v.interval);
  const format = outputFormat(v.output);
  // validate and start read the plan from its file: a name given as well would be silently ignored.
  if ((sub === 'validate' || sub === 'start') && positionals.length)
    throw new UsageError([`unexpected argument ${quote(positionals[0]!)}: plan ${sub} reads the plan from -f FILE (give no plan name)`]);
  switch (sub) {
    case 'validate':
      return validatePlan(v);
    case 'start':
      return startPlan(v, intervalMs);
    case 'status':
    case 'watch':
    case 'retry':
    case 'cancel': {
      refuseFlags({ reason: v.reason });
      const workflowId = await planId(v, positionals);
      const conn = await connect(v);
      try {
        const handle = await checkIsPlan(conn.client, workflowId);
        if (sub === 'status') return await showStatus(handle, format);
        if (sub === 'watch') return await watchPlan(handle, intervalMs);
        return await control(handle, sub, v.reason);
      } finally {
        await conn.close();
      }
    }
    default:
      throw new UsageError([`unknown plan subcommand "${sub}": use validate, start, status, watch, retry or cancel`]);
  }
}

interface VmPreflight {
  vm: string;
  workflowId: string;
  report: PreflightReport;
}

async function validatePlan(v: Values): Promise<ExitCode> {
  if (!v.file) throw new UsageError(['validate needs the plan file: -f plan.yaml']);
  const format = outputFormat(v.output);
  const { plan: p, warnings } = await loadPlan(v.file);
  const registry = await clusters(v.kubeconfig);
  requireClusters(registry, [
    ['source.cluster', p.source.cluster],
    ['destination.cluster', p.destination.cluster],
  ]);
  const items = p.vms.map((vm) => {
    const migration = migrationInputSchema.parse(vmMigrationInput(p, vm));
    return { workflowId: migrationWorkflowId(migration), migration };
  });
  // In the plan's order; a few VMs at a time (fast on big plans without hammering the API servers),
  // then the VMs against each other (same names or MACs on the destination), as the plan does.
  const reports = await preflightPlan({ clusters: registry }, items, { accessIssues: 'warn', parallel: 8 });
  const results: VmPreflight[] = reports.map((report, i) => ({ vm: `${p.vms[i]!.namespace}/${p.vms[i]!.name}`, workflowId: items[i]!.workflowId, report }));
  const blocked = results.filter((r) => r.report.blockers.length);
  if (format === 'json') {
    console.log(JSON.stringify({ ok: blocked.length === 0, plan: p.name, onBlocked: p.onBlocked, warnings, vms: results }, null, 2));
  } else {
    console.log(
      `Plan ${p.name}: ${p.vms.length} VM(s) ${p.source.cluster} → ${p.destination.cluster}, ${p.maxInFlight} at a time, onBlocked ${p.onBlocked} (dry run, nothing written)\n`,
    );
    console.log(
      table(
        ['VM', 'RESULT', 'BLOCKERS / WARNINGS'],
        results.map((r) => [
          r.vm,
          r.report.blockers.length ? 'BLOCKED' : 'ok',
          [...r.report.blockers.map((b) => `${b.code}: ${b.message}`), ...r.report.warnings.map((w) => `warning ${w.code}`)].join('; '),
        ]),
      ),
    );
    console.log(
      blocked.length
        ? `\n${blocked.length} VM(s) blocked: ${p.onBlocked === 'abort' ? 'the plan would abort before writing anything' : 'the plan would skip them and migrate the rest'}`
        : `\nOK: every VM passed preflight; start it with: ferry plan start -f ${v.file}`,
    );
  }
  return blocked.length ? EXIT.failed : EXIT.ok;
}

async function startPlan(v: Values, intervalMs: number): Promise<ExitCode> {
  if (!v.file) throw new UsageError(['start needs the plan file: -f plan.yaml']);
  const { plan: p, raw } = await loadPlan(v.file);
  const workflowId = planWorkflowId(p.name);
  const conn = await connect(v);
  try {
    await refuseWithoutSearchAttributes(conn, 'ferry plan start', v);
    let handle: WorkflowHandle;
    try {
      handle = await conn.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId, args: [raw], staticSummary: planSummary(p) });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      throw await alreadyRunning(conn.client, workflowId, {
        command: 'ferry plan start',
        what: `plan ${p.name}`,
        follow: [
          ['follow it', `ferry plan watch ${p.name}`],
          ['its status', `ferry plan status ${p.name}`],
        ],
        flags: v,
      });
    }
    console.log(`Started ${planSummary(p)}`);
    console.log(`Workflow ID: ${workflowId}`);
    const ui = (v['ui-url'] ?? 'http://127.0.0.1:8233').replace(/\/+$/, '');
    console.log(`Web UI:      ${uiLink(ui, conn.namespace, workflowId)}`);
    console.log(`Its VMs:     ${ui}/namespaces/${encodeURIComponent(conn.namespace)}/workflows?query=${encodeURIComponent(`FerryPlan="${p.name}"`)}`);
    return v.watch ? await watchPlan(handle, intervalMs) : EXIT.ok;
  } finally {
    await conn.close();
  }
}

async function showStatus(handle: WorkflowHandle, format: 'table' | 'json'): Promise<ExitCode> {
  const s = await handle.query(planStatusQuery);
  console.log(format === 'json' ? JSON.stringify(s, null, 2) : planTable(s));
  return EXIT.ok;
}

async function control(handle: WorkflowHandle, sub: 'retry' | 'cancel', reason: string | undefined): Promise<ExitCode> {
  try {
    const answer = await deliverUpdate(handle, sub === 'retry' ? retryStalledUpdate : cancelPlanUpdate, [reason ? { reason } : {}]);
    console.log(answer.message);
    for (const id of answer.workflowIds) console.log(`  ${id}`);
    return EXIT.ok;
  } catch (e) {
    // The plan's validator said no: its reason, exit 4.
    if (e instanceof WorkflowUpdateFailedError) throw new ExitError(`ferry plan ${sub}: ${errorMessage(e)}`, EXIT.refused);
    // An ended workflow takes no updates: say so in the plan's own words. Anything else (no worker,
    // the connection) is an error, exit 1.
    const d = await handle.describe().catch(() => undefined);
    if (d && d.status.name !== 'RUNNING') {
      const phase = (await handle.query(planStatusQuery).catch(() => undefined))?.phase ?? d.status.name;
      throw new ExitError(`ferry plan ${sub}: refused: the plan already ended (${phase})`, EXIT.refused);
    }
    throw e;
  }
}

async function watchPlan(handle: WorkflowHandle, intervalMs: number): Promise<ExitCode> {
  const tty = process.stdout.isTTY === true;
  let done = false;
  let interrupted = false;
  const onSignal = () => (interrupted = true);
  process.on('SIGINT', onSignal);
  const result = handle.result().then(
    (r: PlanResult) => ({ ok: true as const, r }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  void result.then(() => (done = true));
  let prev: PlanStatus | undefined;
  let drawn = 0;
  const show = async () => {
    const s = await handle.query(planStatusQuery).catch(() => undefined);
    if (!s) return;
    if (tty) {
      const lines = planFrame(s, new Date(), { color: !process.env.NO_COLOR, width: process.stdout.columns || 100 });
      process.stdout.write(`${rewind(drawn)}${lines.join('\n')}\n`);
      drawn = lines.length;
    } else for (const l of planChangeLines(prev, s, new Date())) console.log(l);
    prev = s;
  };
  try {
    while (!done && !interrupted) {
      await show();
      await Promise.race([sleep(intervalMs), result]);
    }
    if (interrupted) {
      console.log('Stopped watching; the plan goes on.');
      return EXIT.ok;
    }
    await show();
    const outcome = await result;
    if (outcome.ok) {
      const r = outcome.r;
      console.log(
        `Plan ${r.name} ${r.outcome} in ${(r.durationMs / 1000).toFixed(1)} s: ${r.succeeded} succeeded, ${r.failed} failed, ${r.rolledBack} rolled back, ${r.skipped} skipped of ${r.total}`,
      );
      return planExitCode(r);
    }
    const why = errorMessage(outcome.e);
    throw new ExitError(`Plan failed: ${why}`, EXIT.failed);
  } finally {
    process.off('SIGINT', onSignal);
  }
}
