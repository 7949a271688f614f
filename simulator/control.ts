/**
 * `npm run sim:control -- [--kubeconfig FILE] [--context source|destination] COMMAND` (also
 * `ferry-sim COMMAND`): change a running simulator's or real bed's faults from a terminal. It talks to
 * the cluster's `/sim/v1/...` endpoints (on the real bed: its fault proxy's) with the kubeconfig's
 * server, CA and token, as any client would. The functions are exported for the ferry CLI; run
 * directly, this file is the npm script.
 */
import { request } from 'node:https';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { BED_KINDS, DEFAULT_KUBECONFIGS, newestBedKubeconfig, type BedKind } from './bed-paths.js';

export const CONTROL_COMMANDS_HELP = `  faults show                         current fault configuration and counters
  faults clear                        remove all faults
  faults set [--error-rate R] [--code 500|503|429] [--retry-after S] [--verbs get,list,...]
             [--resources virtualmachines,...] [--latency MIN-MAX] [--watch-drop-rate R] [--seed N]
  partition [on|off]                  cut or heal the network between the clusters' sync endpoints
                                      (without on/off: show whether it is cut)
  sync-controller [stop|start]        stop or start this cluster's synchronization controller
                                      (without stop/start: show its state)
  drop-watches                        cut every open watch stream now
  metrics                             request counts and latency of this cluster's API server`;

export const CONTROL_OPTIONS_HELP = `  --kubeconfig FILE        the bed's kubeconfig (default: the newer of ${DEFAULT_KUBECONFIGS.sim}, which
                           npm run sim writes, and ${DEFAULT_KUBECONFIGS.kube}, which
                           npm run sim -- --bed kube writes)
  --bed sim|kube           use that bed's default kubeconfig
  --context NAME           the cluster whose control endpoint to use (default source; the network
                           partition is shared by both). When the kubeconfig has a context NAME-admin
                           for the same server (the real bed's), its token is used: only the bed's
                           admin may use the controls there`;

const USAGE = `usage: npm run sim:control -- [--kubeconfig FILE | --bed sim|kube] [--context NAME] COMMAND

commands:
${CONTROL_COMMANDS_HELP}

options:
${CONTROL_OPTIONS_HELP}`;

/** The first words of every control command: how a caller tells a control command from other input. */
export const CONTROL_COMMANDS = ['faults', 'partition', 'sync-controller', 'drop-watches', 'metrics'] as const;

/** A bad command line: the caller reports the message and exits 2. */
export class ControlArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlArgsError';
  }
}

export interface ControlRequest {
  kubeconfig: string;
  context: string;
  method: string;
  /** Below `/sim/v1/`. */
  path: string;
  body?: unknown;
  help: boolean;
}

export function parseControlArgs(argv: string[], defaults: { kubeconfig?: string; context?: string } = {}): ControlRequest {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        kubeconfig: { type: 'string' },
        bed: { type: 'string' },
        context: { type: 'string', default: defaults.context ?? 'source' },
        'error-rate': { type: 'string' },
        code: { type: 'string', default: '500' },
        'retry-after': { type: 'string', default: '1' },
        verbs: { type: 'string' },
        resources: { type: 'string' },
        latency: { type: 'string' },
        'watch-drop-rate': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new ControlArgsError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const fail = (msg: string): never => {
    throw new ControlArgsError(msg);
  };
  const bed = values.bed as BedKind | undefined;
  if (bed !== undefined && !BED_KINDS.includes(bed)) fail(`--bed must be "sim" or "kube", got "${values.bed}"`);
  if (bed !== undefined && values.kubeconfig !== undefined) fail('--bed and --kubeconfig exclude each other: --bed only picks the default kubeconfig');
  const kubeconfig = values.kubeconfig ?? (bed ? DEFAULT_KUBECONFIGS[bed] : (defaults.kubeconfig ?? newestBedKubeconfig()));
  const base = { kubeconfig, context: values.context, help: values.help };
  if (values.help) return { ...base, method: 'GET', path: '' };

  const num = (v: string | undefined, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) fail(`--${flag} must be a number between ${min} and ${max}, got "${v}"`);
    return n;
  };
  const faultConfig = () => {
    const rate = num(values['error-rate'], 'error-rate', 0, 1);
    const code = num(values.code, 'code');
    if (![500, 503, 429].includes(code!)) fail(`--code must be 500, 503 or 429, got "${values.code}"`);
    const latency = values.latency?.split('-').map((x) => num(x, 'latency'));
    if (values.latency && (latency!.length !== 2 || latency![0]! > latency![1]!)) fail(`--latency must be MIN-MAX in milliseconds, e.g. 20-80`);
    return {
      errors: rate
        ? [
            {
              rate,
              code,
              retryAfterSeconds: num(values['retry-after'], 'retry-after'),
              ...(values.verbs ? { verbs: values.verbs.split(',') } : {}),
              ...(values.resources ? { resources: values.resources.split(',') } : {}),
            },
          ]
        : [],
      ...(latency ? { latencyMs: { min: latency[0], max: latency[1] } } : {}),
      ...(values['watch-drop-rate'] ? { watchDropRatePerSecond: num(values['watch-drop-rate'], 'watch-drop-rate', 0, 1) } : {}),
      ...(values.seed ? { seed: num(values.seed, 'seed') } : {}),
    };
  };

  const [what, arg] = positionals;
  const route = (): [string, string, unknown?] => {
    switch (what) {
      case 'faults':
        if (arg === 'show') return ['GET', 'faults'];
        if (arg === 'clear') return ['DELETE', 'faults'];
        if (arg === 'set') return ['PUT', 'faults', faultConfig()];
        return fail('faults needs show, clear or set');
      case 'partition':
        if (arg === undefined) return ['GET', 'network'];
        if (arg !== 'on' && arg !== 'off') fail('partition needs on or off (or nothing, to show it)');
        return ['PUT', 'network', { partitioned: arg === 'on' }];
      case 'sync-controller':
        if (arg === undefined) return ['GET', 'sync-controller'];
        if (arg !== 'stop' && arg !== 'start') fail('sync-controller needs stop or start (or nothing, to show it)');
        return ['PUT', 'sync-controller', { running: arg === 'start' }];
      case 'drop-watches':
        return ['DELETE', 'watches'];
      case 'metrics':
        return ['GET', 'metrics'];
      default:
        return fail(what ? `unknown command "${what}"` : 'a command is required');
    }
  };
  const [method, path, body] = route();
  const words = what === 'drop-watches' || what === 'metrics' ? 1 : 2;
  if (positionals.length > words) fail(`unexpected argument "${positionals[words]}"`);
  return { ...base, method, path, ...(body !== undefined ? { body } : {}) };
}

/**
 * Send a control request to the cluster of the kubeconfig context; resolves with the endpoint's JSON
 * answer. A missing context, a non-2xx answer or an unreachable server is thrown as an Error.
 */
export async function sendControl(req: ControlRequest): Promise<unknown> {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(req.kubeconfig);
    kc.setCurrentContext(req.context);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT' ? ' (is the bed running? npm run sim writes it, or pass --kubeconfig)' : '';
    throw new ControlArgsError(`cannot use context "${req.context}" of ${req.kubeconfig}: ${(e as Error).message}${missing}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ControlArgsError(`context "${req.context}" of ${req.kubeconfig} has no cluster`);
  // The real bed's `source` context is ferry's ServiceAccount, which the fault proxy refuses (as it
  // should: ferry must not heal its own faults); `source-admin` is the same server with the admin token.
  const adminContext = `${req.context}-admin`;
  let token = kc.getCurrentUser()?.token;
  let tokenFrom = req.context;
  if (kc.getContexts().some((c) => c.name === adminContext)) {
    kc.setCurrentContext(adminContext);
    const admin = kc.getCurrentUser()?.token;
    if (admin && kc.getCurrentCluster()?.server === cluster.server) {
      token = admin;
      tokenFrom = adminContext;
    }
  }
  if (!token) throw new ControlArgsError(`context "${req.context}" of ${req.kubeconfig} has no token`);
  const url = new URL(`/sim/v1/${req.path}`, cluster.server);
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  const res = await new Promise<{ code: number; text: string }>((done, reject) => {
    const r = request(
      url,
      {
        method: req.method,
        ca: cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
      },
      (answer) => {
        let text = '';
        answer.on('data', (d: Buffer) => (text += d.toString()));
        answer.on('end', () => done({ code: answer.statusCode ?? 0, text }));
      },
    );
    r.on('error', (e) =>
      reject(new Error(`${req.context} (${url.origin}, from ${req.kubeconfig}): ${e.message}: is the simulator running? (or the real bed: npm run sim -- --bed kube)`)),
    );
    r.end(payload);
  });
  if (res.code === 403 && tokenFrom === req.context) {
    throw new Error(
      `${req.context}: HTTP 403: ${res.text}\nthe controls need the bed's admin token: use a kubeconfig with a context ${adminContext}, as the real bed's has, or --context ${adminContext}`,
    );
  }
  if (res.code >= 300) throw new Error(`${req.context}: HTTP ${res.code}: ${res.text}`);
  return JSON.parse(res.text) as unknown;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const req = parseControlArgs(process.argv.slice(2));
    if (req.help) {
      console.log(USAGE);
      process.exit(0);
    }
    console.log(JSON.stringify(await sendControl(req), null, 2));
  } catch (e) {
    if (e instanceof ControlArgsError) {
      console.error(`${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error((e as Error).message);
    process.exit(1);
  }
}
