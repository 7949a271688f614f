/**
 * `npm run sim -- [--bed sim|kube] --kubeconfig FILE` (also `ferry-sim`): run both clusters in the
 * foreground, simulated (`--bed sim`, the default) or as real kube-apiservers (`--bed kube`,
 * simulator/kube-bed/). The kubeconfig is written once both API servers answer. The functions are
 * exported for the ferry CLI; run directly, this file is the npm script.
 */
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BED_KINDS, DEFAULT_KUBECONFIGS, type BedKind } from './bed-paths.js';
import { writeEndpointsBeside } from './metrics/endpoints.js';
import { Simulator } from './sim.js';

export const DEFAULT_SIM_KUBECONFIG = DEFAULT_KUBECONFIGS.sim;
export const DEFAULT_KUBE_BED_KUBECONFIG = DEFAULT_KUBECONFIGS.kube;

export const SIM_OPTIONS_HELP = `  --bed sim|kube           sim: the in-process simulator (default); kube: the real bed, etcd +
                           kube-apiserver + kube-controller-manager per cluster (built on first use)
  --kubeconfig FILE        where to write the kubeconfig (default ${DEFAULT_SIM_KUBECONFIG},
                           with --bed kube ${DEFAULT_KUBE_BED_KUBECONFIG})
  --fixtures DIR           fixture directory with both/, source/, destination/ (default simulator/fixtures)
  --no-fixtures            start with empty clusters
  --source-port N          API server port of the source cluster (default: random; --bed sim only)
  --destination-port N     API server port of the destination cluster (default: random; --bed sim only)
  --dir DIR                --bed kube: keep etcd data and logs in DIR (default: a temporary folder,
                           removed on exit)
  --verbose                log what the simulated components do (stderr)`;

const USAGE = `usage: npm run sim -- [--bed sim|kube] [--kubeconfig FILE] [--fixtures DIR | --no-fixtures]
                        [--source-port N] [--destination-port N] [--dir DIR] [--verbose]

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
  bed: BedKind;
  /** Absolute path of the kubeconfig to write. */
  kubeconfig: string;
  fixtures?: string | false;
  sourcePort?: number;
  destinationPort?: number;
  /** Absolute; the real bed only. */
  dir?: string;
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
        bed: { type: 'string', default: 'sim' },
        kubeconfig: { type: 'string' },
        fixtures: { type: 'string' },
        'no-fixtures': { type: 'boolean', default: false },
        'source-port': { type: 'string' },
        'destination-port': { type: 'string' },
        dir: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new SimArgsError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const bed = values.bed as BedKind;
  if (!BED_KINDS.includes(bed)) throw new SimArgsError(`--bed must be "sim" or "kube", got "${values.bed}"`);
  const port = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (bed === 'kube') throw new SimArgsError(`--${flag} is not supported with --bed kube: the real bed's fault proxies and API servers take free ports`);
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SimArgsError(`--${flag} must be a port number between 1 and 65535, got "${v}"`);
    return n;
  };
  if (values.fixtures !== undefined && values['no-fixtures']) throw new SimArgsError('--fixtures and --no-fixtures exclude each other');
  if (values.dir !== undefined && bed !== 'kube') throw new SimArgsError('--dir applies only to --bed kube (the simulator keeps its clusters in memory)');
  const sourcePort = port(values['source-port'], 'source-port');
  const destinationPort = port(values['destination-port'], 'destination-port');
  return {
    bed,
    kubeconfig: resolve(values.kubeconfig ?? DEFAULT_KUBECONFIGS[bed]),
    ...(values['no-fixtures'] ? { fixtures: false as const } : values.fixtures !== undefined ? { fixtures: values.fixtures } : {}),
    ...(sourcePort ? { sourcePort } : {}),
    ...(destinationPort ? { destinationPort } : {}),
    ...(values.dir !== undefined ? { dir: resolve(values.dir) } : {}),
    verbose: values.verbose,
    help: values.help,
  };
}

/** Run the bed `args.bed` names until SIGINT or SIGTERM; resolves once both clusters have stopped. */
export function serveBed(args: SimArgs, out: (line: string) => void = console.log): Promise<void> {
  return args.bed === 'kube' ? serveKubeBed(args, out) : serveSimulator(args, out);
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
    stateDir: dirname(args.kubeconfig),
  });
  const file = args.kubeconfig;
  sim.writeKubeconfig(file);
  const metricsFile = writeEndpointsBeside(file, sim.virtHandlerMetrics);
  out(`ferry simulator running
  source       ${sim.source.api.url}   sync ${sim.source.sync.address()}
               virt-handler metrics ${sim.virtHandlerMetrics.source.url}
  destination  ${sim.destination.api.url}   sync ${sim.destination.sync.address()}
               virt-handler metrics ${sim.virtHandlerMetrics.destination.url}
  kubeconfig   ${file}  (contexts: source, destination)
  metrics      ${metricsFile}  (per cluster: url, caFile)

  try: kubectl --kubeconfig ${file} --context source get vm -A
       curl --cacert ${sim.virtHandlerMetrics.source.caFile} ${sim.virtHandlerMetrics.source.url}
Ctrl-C stops both clusters.`);
  await untilSignalled(() => sim.stop());
}

/**
 * The real bed (simulator/kube-bed/): builds its binaries first if this machine has none (progress on
 * stderr), then runs like serveSimulator.
 */
export async function serveKubeBed(args: SimArgs, out: (line: string) => void = console.log): Promise<void> {
  // Loaded here: the simulator path and `ferry` itself should not pay for the real bed's modules.
  const [{ KubeBed }, { FERRY_USER }] = await Promise.all([import('./kube-bed/bed.js'), import('./kube-bed/cluster.js')]);
  const bed = await KubeBed.start({
    ...(args.fixtures !== undefined ? { fixtures: args.fixtures } : {}),
    ...(args.dir ? { dir: args.dir } : {}),
    log: (line) => console.error(line),
    ...(args.verbose ? { componentLog: (m: string) => console.error(m) } : {}),
  });
  try {
    const file = args.kubeconfig;
    bed.writeKubeconfig(file);
    const metricsFile = writeEndpointsBeside(file, bed.virtHandlerMetrics);
    const clusters = await Promise.all(
      [bed.source, bed.destination].map(async (c) => {
        const version = await c.admin.json<{ gitVersion: string }>('GET', '/version').then(
          (v) => v.gitVersion,
          () => bed.parts.kubernetesVersion,
        );
        return `  ${c.name.padEnd(12)} ${c.proxy.url}   (fault proxy, what the kubeconfig uses)
               kube-apiserver ${version} at ${c.controlPlane.url}
               sync ${c.components.sync.address()}
               virt-handler metrics ${c.virtHandlerMetrics.url}
               logs ${c.controlPlane.dir}/{etcd,kube-apiserver,kube-controller-manager}.log`;
      }),
    );
    const k = `kubectl --kubeconfig ${file}`;
    out(`ferry real bed running (KubeVirt ${bed.parts.kubevirtVersion} and CDI ${bed.parts.cdiVersion} CRDs)
${clusters.join('\n')}
  bed dir      ${args.dir ?? `${resolve(bed.source.controlPlane.dir, '..')}  (${process.env.FERRY_KEEP_BED ? 'kept: FERRY_KEEP_BED is set' : 'removed on exit; --dir DIR keeps it'})`}
  kubeconfig   ${file}
               contexts source, destination: ferry's ServiceAccount (${FERRY_USER}, deploy/rbac.yaml)
                        source-admin, destination-admin: the bed's admin (also for npm run sim:control)
  metrics      ${metricsFile}  (per cluster: url, caFile)

  try: ${k} --context source version
       ${k} --context source-admin get crd virtualmachineinstancemigrations.kubevirt.io
       ${k} --context source-admin auth can-i create virtualmachineinstancemigrations.kubevirt.io --as=${FERRY_USER} -n demo
       npm run sim:control -- --kubeconfig ${file} --context source faults show
Ctrl-C stops both clusters.`);
  } catch (e) {
    await bed.stop();
    throw e;
  }
  await untilSignalled(() => bed.stop());
}

async function untilSignalled(stopBed: () => Promise<void>): Promise<void> {
  // Ctrl-C often arrives twice (the terminal signals the process group, a launcher forwards it):
  // the handlers stay until both clusters have stopped, and a repeated signal is ignored.
  let stopped: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;
  const stop = () =>
    void (stopping ??= stopBed()
      .catch((error: unknown) => void (failure = { error }))
      .finally(() => stopped?.()));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise<void>((resolve) => (stopped = resolve));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (failure) throw failure.error;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const args = parseSimArgs(process.argv.slice(2));
    if (args.help) {
      console.log(USAGE);
      process.exit(0);
    }
    await serveBed(args);
    process.exit(0);
  } catch (e) {
    if (!(e instanceof SimArgsError)) throw e;
    console.error(`${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
}
