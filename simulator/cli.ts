#!/usr/bin/env node
/**
 * `ferry-sim`, the simulator package's command: the two-cluster simulator or, with `--bed kube`, the
 * real bed (simulator/main.ts, what `npm run sim` runs) in the foreground, and
 * `ferry-sim partition|faults|sync-controller|drop-watches|metrics` to change a running one through its
 * `/sim/v1` control endpoints (simulator/control.ts, `npm run sim:control`). A test bed, not part of
 * ferry: the product package neither contains nor imports it.
 */
import { CONTROL_COMMANDS, CONTROL_COMMANDS_HELP, CONTROL_OPTIONS_HELP, ControlArgsError, parseControlArgs, sendControl } from './control.js';
import { DEFAULT_KUBE_BED_KUBECONFIG, DEFAULT_SIM_KUBECONFIG, parseSimArgs, serveBed, SIM_OPTIONS_HELP, SimArgsError } from './main.js';

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
type ExitCode = (typeof EXIT)[keyof typeof EXIT];

class UsageError extends Error {}

export const simHelp = `Usage: ferry-sim [--bed sim|kube] [--kubeconfig FILE] [options] [-- options]
       ferry-sim [--kubeconfig FILE | --bed sim|kube] [--context source|destination] <control command>

Without a control command: run the two clusters, source and destination (KubeVirt with decentralized
live migration, fixtures in simulator/fixtures), in the foreground until Ctrl-C, and write a
kubeconfig with the contexts "source" and "destination" (the same as npm run sim). --bed kube runs
them as real etcd + kube-apiserver + kube-controller-manager with KubeVirt's CRDs; its contexts
"source"/"destination" are ferry's ServiceAccount, "source-admin"/"destination-admin" the bed's admin.

Bed options (also accepted after "--"):
${SIM_OPTIONS_HELP}

Control commands, against a running simulator or real bed (the same as npm run sim:control):
${CONTROL_COMMANDS_HELP}

Control options (FERRY_KUBECONFIG, when set, is the default --kubeconfig):
${CONTROL_OPTIONS_HELP}

Examples:
  ferry-sim                                          # writes ${DEFAULT_SIM_KUBECONFIG}
  ferry-sim -- --source-port 6443 --verbose
  ferry-sim --bed kube                               # writes ${DEFAULT_KUBE_BED_KUBECONFIG}
  ferry-sim --bed kube faults show                   # uses it, with the source-admin context
  ferry-sim partition on                             # sync endpoints of the two clusters cut off
  ferry-sim partition off
  ferry-sim --context destination faults set --error-rate 0.1 --latency 20-80
  ferry-sim --context destination faults show       # configuration and how many faults fired
  ferry-sim --context destination faults clear
  ferry-sim --context destination sync-controller stop

Exit codes:
  0  ok (the bed was stopped with Ctrl-C, or the control command was applied; its state is printed as JSON)
  1  the control endpoint failed or could not be reached (is the bed running?)
  2  usage error`;

/** Flags of either parser that take a value (the word after them is not a command). */
const VALUED = new Set([
  '--kubeconfig',
  '--context',
  '--error-rate',
  '--code',
  '--retry-after',
  '--verbs',
  '--resources',
  '--latency',
  '--watch-drop-rate',
  '--seed',
  '--fixtures',
  '--source-port',
  '--destination-port',
  '--bed',
  '--dir',
]);

function firstWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) return a;
    if (VALUED.has(a)) i++;
  }
  return undefined;
}

async function sim(argv: string[]): Promise<ExitCode> {
  // `--` separates ferry's words from the simulator's flags; both parsers know the same flags.
  const args = argv.filter((a) => a !== '--');
  if (args.includes('--help') || args.includes('-h')) {
    console.log(simHelp);
    return EXIT.ok;
  }
  const word = firstWord(args);
  if (word !== undefined) {
    if (!(CONTROL_COMMANDS as readonly string[]).includes(word))
      throw new UsageError(`unknown command "${word}": use ${CONTROL_COMMANDS.join(', ')}, or no command to run the simulator`);
    try {
      const req = parseControlArgs(args, process.env.FERRY_KUBECONFIG ? { kubeconfig: process.env.FERRY_KUBECONFIG } : {});
      console.log(JSON.stringify(await sendControl(req), null, 2));
      return EXIT.ok;
    } catch (e) {
      if (e instanceof ControlArgsError) throw new UsageError(e.message);
      throw e;
    }
  }
  let parsed;
  try {
    parsed = parseSimArgs(args);
  } catch (e) {
    if (e instanceof SimArgsError) throw new UsageError(e.message);
    throw e;
  }
  await serveBed(parsed);
  return EXIT.ok;
}

try {
  process.exitCode = await sim(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`ferry-sim: ${e.message}\nRun "ferry-sim --help" for usage.`);
    process.exitCode = EXIT.usage;
  } else {
    console.error(`ferry-sim: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = EXIT.failed;
  }
}
