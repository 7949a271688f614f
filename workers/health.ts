/**
 * The worker's health endpoint, for Kubernetes probes: the worker serves no traffic, so "healthy"
 * means what the Temporal SDK reports about it, not that a port answers.
 *
 * - `GET /readyz`: 200 while the worker runs and both its workflow and activity pollers are polling
 *   the task queue; 503 otherwise (starting, draining on SIGTERM, stopped, a poller failed). A rolling
 *   update waits for it, so a new pod takes tasks before the old one stops.
 * - `GET /livez`: 200 unless the worker is beyond recovery (failed or stopped, or a poller failed);
 *   a restart is the fix for exactly those. Draining is alive: the grace period must not be cut short.
 *
 * The body is the SDK's status (run state, poller states, in-flight counts): nothing secret.
 * Off unless FERRY_HEALTH_PORT is set (the Deployment sets it); FERRY_HEALTH_HOST defaults to all
 * interfaces, since the kubelet probes the pod's IP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkerStatus } from '@temporalio/worker';

export type HealthStatus = Pick<WorkerStatus, 'runState' | 'workflowPollerState' | 'activityPollerState'> & Partial<WorkerStatus>;

export function isReady(s: HealthStatus): boolean {
  return s.runState === 'RUNNING' && s.workflowPollerState === 'POLLING' && s.activityPollerState === 'POLLING';
}

export function isAlive(s: HealthStatus): boolean {
  return s.runState !== 'FAILED' && s.runState !== 'STOPPED' && s.workflowPollerState !== 'FAILED' && s.activityPollerState !== 'FAILED';
}

export interface HealthServer {
  /** `http://host:port`, with the port actually bound (FERRY_HEALTH_PORT=0 picks a free one). */
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(status: () => HealthStatus, port: number, host = '0.0.0.0'): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://health').pathname;
    const check = path === '/readyz' ? isReady : path === '/livez' ? isAlive : undefined;
    if (req.method !== 'GET' || !check) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /readyz or /livez\n');
      return;
    }
    const s = status();
    res.writeHead(check(s) ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(s)}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The health server FERRY_HEALTH_PORT asks for, or undefined when it is unset (outside the image). */
export async function healthFromEnvironment(status: () => HealthStatus, env: NodeJS.ProcessEnv = process.env): Promise<HealthServer | undefined> {
  const raw = env.FERRY_HEALTH_PORT;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`FERRY_HEALTH_PORT must be a TCP port number 0-65535 (got "${raw}"); unset it to serve no health endpoint`);
  return startHealthServer(status, Number(raw), env.FERRY_HEALTH_HOST || '0.0.0.0');
}
