/**
 * `npm run sim -- --kubeconfig FILE` (also `ferry sim`): run both simulated clusters in the
 * foreground. The kubeconfig (contexts `source` and `destination`) is written once both API servers
 * answer. The functions are exported for the ferry CLI; run directly, this file is the npm script.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Simulator } from './sim.js';

export const DEFAULT_SIM_KUBECONFIG = '.state/sim/kubeconfig';

export const SIM_OPTIONS_HELP = `  --kubeconfig FILE        where to write the kubeconfig (default ${DEFAULT_SIM_KUBECONFIG})
  --fixtures DIR           fixture directory with both/, source/, destination/ (default simulator/fixtures)
  --no-fixtures            start with empty clusters
  --source-port N          API server port of the source cluster (default: random)
  --destination-port N     API server port of the destination cluster (default: random)
  --verbose                log what the simulated components do (stderr)`;

const USAGE = `usage: npm run sim -- [--kubeconfig FILE] [--fixtures DIR | --no-fixtures]
                        [--source-port N] [--destination-port N] [--verbose]

Runs the source and destination clusters until Ctrl-C.

${SIM_OPTIONS_HELP}`;

/** A bad command line: the caller reports the message and exits 2. */
export class SimArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimArgsError';
  }
}

export interface SimArgs {
  /** Absolute path of the kubeconfig to write. */
  kubeconfig: string;
  fixtures?: string | false;
  sourcePort?: number;
  destinationPort?: number;
  verbose: boolean;
  help: boolean;
}

export function parseSimArgs(argv: string[]): SimArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        kubeconfig: { type: 'string', default: DEFAULT_SIM_KUBECONFIG },
        fixtures: { type: 'string' },
        'no-fixtures': { type: 'boolean', default: false },
        'source-port': { type: 'string' },
        'destination-port': { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new SimArgsError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const port = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SimArgsError(`--${flag} must be a port number between 1 and 65535, got "${v}"`);
    return n;
  };
  if (values.fixtures !== undefined && values['no-fixtures']) throw new SimArgsError('--fixtures and --no-fixtures exclude each other');
  const sourcePort = port(values['source-port'], 'source-port');
  const destinationPort = port(values['destination-port'], 'destination-port');
  return {
    kubeconfig: resolve(values.kubeconfig),
    ...(values['no-fixtures'] ? { fixtures: false as const } : values.fixtures !== undefined ? { fixtures: values.fixtures } : {}),
    ...(sourcePort ? { sourcePort } : {}),
    ...(destinationPort ? { destinationPort } : {}),
    verbose: values.verbose,
    help: values.help,
  };
}

/**
 * Start both clusters, write the kubeconfig, print where they are, and keep running until SIGINT or
 * SIGTERM; resolves once both clusters have stopped.
 */
export async function serveSimulator(args: SimArgs, out: (line: string) => void = console.log): Promise<void> {
  const sim = await Simulator.start({
    ...(args.fixtures !== undefined ? { fixtures: args.fixtures } : {}),
    ...(args.sourcePort ? { sourcePort: args.sourcePort } : {}),
    ...(args.destinationPort ? { destinationPort: args.destinationPort } : {}),
    ...(args.verbose ? { log: (m: string) => console.error(m) } : {}),
  });
  const file = args.kubeconfig;
  sim.writeKubeconfig(file);
  out(`ferry simulator running
  source       ${sim.source.api.url}   sync ${sim.source.sync.address()}
  destination  ${sim.destination.api.url}   sync ${sim.destination.sync.address()}
  kubeconfig   ${file}  (contexts: source, destination)

  try: kubectl --kubeconfig ${file} --context source get vm -A
Ctrl-C stops both clusters.`);

  // Ctrl-C often arrives twice (the terminal signals the process group, a launcher forwards it):
  // the handlers stay until both clusters have stopped, and a repeated signal is ignored.
  let stopped: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => void (stopping ??= sim.stop().finally(() => stopped?.()));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise<void>((resolve) => (stopped = resolve));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const args = parseSimArgs(process.argv.slice(2));
    if (args.help) {
      console.log(USAGE);
      process.exit(0);
    }
    await serveSimulator(args);
    process.exit(0);
  } catch (e) {
    if (!(e instanceof SimArgsError)) throw e;
    console.error(`${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
}
