/**
 * ferry: live-migrate KubeVirt VMs between clusters. Each command is a module under commands/;
 * this file only dispatches and turns errors into exit codes.
 */
import { CONNECTION_HELP, EXIT, EXIT_CODES_HELP, ExitError, UsageError, type ExitCode } from './cli.js';
import { control } from './commands/control.js';
import { list } from './commands/list.js';
import { migrate } from './commands/migrate.js';
import { status } from './commands/status.js';

const HELP = `Usage: ferry <command> [options]   (ferry <command> --help for details)

Commands:
  migrate <namespace>/<vm> --from <cluster> --to <cluster>   start a live migration (--wait to follow it)
  status <workflow-id>                                       show a migration's status
  list [--stalled]                                           list migrations
  retry <workflow-id>                                        retry a Stalled migration
  cancel <workflow-id> [--reason text]                       roll back a migration (before cutover)
  extend <workflow-id> --by <duration>                       push the running deadline

${CONNECTION_HELP}

Example:
  ferry migrate demo/web-01 --from source --to destination --wait

${EXIT_CODES_HELP}`;

const commands: Record<string, (argv: string[]) => Promise<ExitCode>> = {
  migrate,
  status,
  list,
  retry: (argv) => control('retry', argv),
  cancel: (argv) => control('cancel', argv),
  extend: (argv) => control('extend', argv),
};

export async function main(argv: string[]): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError([`unknown command "${name}"`]);
    return await command(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`ferry ${command ? name : ''}: ${e.message}`.replace('ferry :', 'ferry:'));
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

process.exitCode = await main(process.argv.slice(2));
