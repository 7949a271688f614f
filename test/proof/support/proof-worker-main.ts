/**
 * The proof suite's worker: ferry's worker (createFerryWorker, as workers/main.ts builds it) with a kill
 * hook. It reads its kill points from FERRY_PROOF_KILLS (a JSON file) and the points already used from
 * FERRY_PROOF_STATE (one index per line, appended before each kill), so each point fires once across
 * restarts. It kills itself with SIGKILL: nothing is flushed, no activity is failed, as when a node dies.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import { NativeConnection, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { KubeconfigRegistry } from '../../../workers/clusters.js';
import { createFerryWorker } from '../../../workers/worker.js';
import { attemptOf, describePoint, stepOf, type KillPoint } from './kill-points.js';

const env = (name: string) =>
  process.env[name] ??
  (() => {
    throw new Error(`${name} is not set`);
  })();
const points = JSON.parse(readFileSync(env('FERRY_PROOF_KILLS'), 'utf8')) as KillPoint[];
const stateFile = env('FERRY_PROOF_STATE');
const used = new Set(existsSync(stateFile) ? readFileSync(stateFile, 'utf8').split('\n').filter(Boolean).map(Number) : []);
const seen = new Map<number, number>();

function die(index: number, why: string): never {
  appendFileSync(stateFile, `${index}\n`);
  console.log(`proof worker ${process.pid}: SIGKILL ${why}`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

/** The first unused point this execution reaches at `at`, counting its Nth. */
function reached(step: string, workflowId: string, at: KillPoint['at'], attempt: number | undefined): number | undefined {
  for (const [i, p] of points.entries()) {
    if (used.has(i) || p.at !== at || p.step !== step || (p.workflowId && p.workflowId !== workflowId)) continue;
    if (p.attempt !== undefined && p.attempt !== attempt) continue;
    const n = (seen.get(i) ?? 0) + 1;
    seen.set(i, n);
    if (n >= (p.nth ?? 1)) return i;
  }
  return undefined;
}

const killHook: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const step = stepOf(ctx.info.activityType, input.args);
      const workflowId = ctx.info.workflowExecution?.workflowId ?? '';
      const attempt = attemptOf(input.args);
      const at = (moment: KillPoint['at']) => {
        const i = reached(step, workflowId, moment, attempt);
        if (i !== undefined) die(i, `${describePoint(points[i]!)} of ${workflowId}`);
      };
      at('start');
      const context = ctx as unknown as { heartbeatFn: (d?: unknown) => void };
      const send = context.heartbeatFn;
      context.heartbeatFn = (details?: unknown) => {
        at('heartbeat');
        send(details);
      };
      const result = await next(input);
      at('end');
      return result;
    },
  },
});

const address = env('TEMPORAL_ADDRESS');
const connection = await NativeConnection.connect({ address });
const client = await Connection.connect({ address });
const worker = await createFerryWorker({
  connection,
  client,
  namespace: 'default',
  clusters: KubeconfigRegistry.fromEnvironment(),
  workflowBundle: { codePath: env('FERRY_PROOF_BUNDLE') },
  activityInterceptors: [killHook],
  // A killed worker's sticky queue has no poller: let the next workflow task go to any worker at once.
  stickyQueueScheduleToStartTimeout: '1s',
});
console.log(`proof worker ${process.pid}: polling (${points.length - used.size} kill points left)`);
await worker.run();
await client.close();
await connection.close();
