/**
 * ferry: live-migrate KubeVirt VMs between clusters. Each command is a module under commands/, loaded
 * only when it runs; this file holds the command table, dispatches, and turns errors into exit codes
 * (main.ts runs it; tests call `main` in-process). A new command is one more entry in `commands`.
 */
import { CONNECTION_HELP, EXIT, EXIT_CODES_HELP, ExitError, KUBECONFIG_HELP, UsageError, type ExitCode } from './cli.js';

interface Command {
  /** The arguments, as the top-level help shows them. */
  synopsis: string;
  summary: string;
  run(argv: string[]): Promise<ExitCode>;
}

const commands: Record<string, Command> = {
  migrate: {
    synopsis: '<namespace>/<vm> --from <cluster> --to <cluster>',
    summary: 'start a live migration (--wait to follow it)',
    run: async (argv) => (await import('./commands/migrate.js')).migrate(argv),
  },
  validate: {
    synopsis: '<namespace>/<vm> --from <cluster> --to <cluster>',
    summary: 'preflight checks only, from here (dry run: nothing is written)',
    run: async (argv) => (await import('./commands/validate.js')).validate(argv),
  },
  status: {
    synopsis: '<workflow-id>',
    summary: "show a migration's status",
    run: async (argv) => (await import('./commands/status.js')).status(argv),
  },
  list: {
    synopsis: '[--stalled]',
    summary: 'list migrations',
    run: async (argv) => (await import('./commands/list.js')).list(argv),
  },
  watch: {
    synopsis: '[<workflow-id> ...] [--stalled]',
    summary: 'live progress of migrations until they end (default: all running)',
    run: async (argv) => (await import('./commands/watch.js')).watch(argv),
  },
  retry: {
    synopsis: '<workflow-id>',
    summary: 'retry a Stalled migration',
    run: async (argv) => (await import('./commands/control.js')).control('retry', argv),
  },
  cancel: {
    synopsis: '<workflow-id> [--reason text]',
    summary: 'roll back a migration (before cutover)',
    run: async (argv) => (await import('./commands/control.js')).control('cancel', argv),
  },
  extend: {
    synopsis: '<workflow-id> --by <duration>',
    summary: 'push the running deadline',
    run: async (argv) => (await import('./commands/control.js')).control('extend', argv),
  },
  plan: {
    synopsis: 'validate|start|status|watch|retry|cancel -f plan.yaml',
    summary: 'many VMs as one plan (ferry or Forklift plan file)',
    run: async (argv) => (await import('./commands/plan.js')).plan(argv),
  },
  'codec-server': {
    synopsis: '[--listen host:port] [--ui-origin URL]',
    summary: 'decrypt payloads for the Web UI and the Temporal CLI (FERRY_CODEC_KEYS)',
    run: async (argv) => (await import('./commands/codec-server.js')).codecServer(argv),
  },
};

function help(): string {
  const width = Math.max(...Object.entries(commands).map(([name, c]) => name.length + c.synopsis.length + 1));
  const lines = Object.entries(commands).map(([name, c]) => `  ${`${name} ${c.synopsis}`.padEnd(width)}  ${c.summary}`);
  return `Usage: ferry <command> [options]   (ferry <command> --help, or ferry help <command>, for details)

Commands:
${lines.join('\n')}

${CONNECTION_HELP}
  (migrate, status, list, watch, retry, cancel, extend, plan talk to Temporal; the worker reaches the clusters)
  FERRY_CODEC_KEYS      payload encryption keys, when the workers encrypt (docs/encryption.md)

${KUBECONFIG_HELP}
  (validate and plan validate read the clusters themselves)

Examples:
  FERRY_KUBECONFIG=~/.kube/clusters ferry validate demo/web-01 --from source --to destination
  ferry migrate demo/web-01 --from source --to destination --wait
  ferry watch --stalled

${EXIT_CODES_HELP}`;
}

export async function main(argv: string[]): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || (first === 'help' && rest.length === 0)) {
    console.log(help());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  // `ferry help <command>` is `ferry <command> --help`.
  const [name, args] = first === 'help' ? [rest[0]!, ['--help']] : [first, rest];
  // Own entries only: `ferry __proto__` or `ferry constructor` is an unknown command, not Object's member.
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  try {
    if (!command) throw new UsageError([`unknown command "${name}"`]);
    return await command.run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`ferry${command ? ` ${name}` : ''}: ${e.message}`);
      console.error(`Run "ferry ${command ? `${name} ` : ''}--help" for usage.`);
      return EXIT.usage;
    }
    if (e instanceof ExitError) {
      console.error(e.message);
      return e.code;
    }
    console.error(`ferry ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.failed;
  }
}
