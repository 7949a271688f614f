/**
 * `npm run sim:control -- [--kubeconfig FILE] [--context source|destination] COMMAND`: change a running
 * simulator's faults from a terminal. It talks to the cluster's `/sim/v1/...` endpoints with the
 * kubeconfig's server, CA and token, as any client would.
 */
import { request } from 'node:https';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';

const USAGE = `usage: npm run sim:control -- [--kubeconfig FILE] [--context NAME] COMMAND

commands:
  faults show                         current fault configuration and counters
  faults clear                        remove all faults
  faults set [--error-rate R] [--code 500|503|429] [--retry-after S] [--verbs get,list,...]
             [--resources virtualmachines,...] [--latency MIN-MAX] [--watch-drop-rate R] [--seed N]
  partition on|off                    cut or heal the network between the clusters' sync endpoints
  sync-controller stop|start          stop or start this cluster's synchronization controller
  drop-watches                        cut every open watch stream now
  metrics                             request counts and latency of this cluster's API server

defaults: --kubeconfig .state/sim/kubeconfig, --context source`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kubeconfig: { type: 'string', default: '.state/sim/kubeconfig' },
    context: { type: 'string', default: 'source' },
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
});

function fail(msg: string): never {
  console.error(`${msg}\n\n${USAGE}`);
  process.exit(2);
}

function num(v: string | undefined, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${flag} must be a number between ${min} and ${max}, got "${v}"`);
  return n;
}

function faultConfig() {
  const rate = num(values['error-rate'], 'error-rate', 0, 1);
  const code = num(values.code, 'code');
  if (![500, 503, 429].includes(code!)) fail(`--code must be 500, 503 or 429, got "${values.code}"`);
  const latency = values.latency?.split('-').map((x) => num(x, 'latency'));
  if (values.latency && (latency!.length !== 2 || latency![0]! > latency![1]!)) fail(`--latency must be MIN-MAX in milliseconds, e.g. 20-80`);
  return {
    errors: rate
      ? [{ rate, code, retryAfterSeconds: num(values['retry-after'], 'retry-after'), ...(values.verbs ? { verbs: values.verbs.split(',') } : {}), ...(values.resources ? { resources: values.resources.split(',') } : {}) }]
      : [],
    ...(latency ? { latencyMs: { min: latency[0], max: latency[1] } } : {}),
    ...(values['watch-drop-rate'] ? { watchDropRatePerSecond: num(values['watch-drop-rate'], 'watch-drop-rate', 0, 1) } : {}),
    ...(values.seed ? { seed: num(values.seed, 'seed') } : {}),
  };
}

function route(): [string, string, unknown?] {
  const [what, arg] = positionals;
  switch (what) {
    case 'faults':
      if (arg === 'show') return ['GET', 'faults'];
      if (arg === 'clear') return ['DELETE', 'faults'];
      if (arg === 'set') return ['PUT', 'faults', faultConfig()];
      return fail('faults needs show, clear or set');
    case 'partition':
      if (arg !== 'on' && arg !== 'off') fail('partition needs on or off');
      return ['PUT', 'network', { partitioned: arg === 'on' }];
    case 'sync-controller':
      if (arg !== 'stop' && arg !== 'start') fail('sync-controller needs stop or start');
      return ['PUT', 'sync-controller', { running: arg === 'start' }];
    case 'drop-watches':
      return ['DELETE', 'watches'];
    case 'metrics':
      return ['GET', 'metrics'];
    default:
      return fail(what ? `unknown command "${what}"` : 'a command is required');
  }
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const [method, path, body] = route();
const kc = new KubeConfig();
try {
  kc.loadFromFile(values.kubeconfig!);
  kc.setCurrentContext(values.context!);
} catch (e) {
  fail(`cannot use context "${values.context}" of ${values.kubeconfig}: ${(e as Error).message}`);
}
const cluster = kc.getCurrentCluster();
const token = kc.getCurrentUser()?.token;
if (!cluster || !token) fail(`context "${values.context}" has no cluster or no token`);
const url = new URL(`/sim/v1/${path}`, cluster.server);
const payload = body === undefined ? undefined : JSON.stringify(body);
const res = await new Promise<{ code: number; text: string }>((resolve, reject) => {
  const req = request(
    url,
    {
      method,
      ca: cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined,
      headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
    },
    (r) => {
      let text = '';
      r.on('data', (d: Buffer) => (text += d.toString()));
      r.on('end', () => resolve({ code: r.statusCode ?? 0, text }));
    },
  );
  req.on('error', reject);
  req.end(payload);
});
if (res.code >= 300) {
  console.error(`${values.context}: HTTP ${res.code}: ${res.text}`);
  process.exit(1);
}
console.log(JSON.stringify(JSON.parse(res.text), null, 2));
