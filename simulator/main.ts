/**
 * `npm run sim -- --kubeconfig FILE`: run both simulated clusters in the foreground. The kubeconfig
 * (contexts `source` and `destination`) is written once both API servers answer.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { Simulator } from './sim.js';

const USAGE = `usage: npm run sim -- [--kubeconfig FILE] [--fixtures DIR | --no-fixtures]
                        [--source-port N] [--destination-port N] [--verbose]

Runs the source and destination clusters until Ctrl-C. Defaults: --kubeconfig .state/sim/kubeconfig,
the fixtures under simulator/fixtures, random ports.`;

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: '.state/sim/kubeconfig' },
    fixtures: { type: 'string' },
    'no-fixtures': { type: 'boolean', default: false },
    'source-port': { type: 'string' },
    'destination-port': { type: 'string' },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const port = (v: string | undefined, flag: string) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    console.error(`--${flag} must be a port number between 1 and 65535, got "${v}"`);
    process.exit(2);
  }
  return n;
};

const sim = await Simulator.start({
  fixtures: values['no-fixtures'] ? false : (values.fixtures ?? undefined),
  ...(port(values['source-port'], 'source-port') ? { sourcePort: port(values['source-port'], 'source-port')! } : {}),
  ...(port(values['destination-port'], 'destination-port') ? { destinationPort: port(values['destination-port'], 'destination-port')! } : {}),
  ...(values.verbose ? { log: (m: string) => console.error(m) } : {}),
});
const file = resolve(values.kubeconfig!);
sim.writeKubeconfig(file);
console.log(`ferry simulator running
  source       ${sim.source.api.url}   sync ${sim.source.sync.address()}
  destination  ${sim.destination.api.url}   sync ${sim.destination.sync.address()}
  kubeconfig   ${file}  (contexts: source, destination)

  try: kubectl --kubeconfig ${file} --context source get vm -A
Ctrl-C stops both clusters.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await sim.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
