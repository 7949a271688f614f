/**
 * The worker's health endpoint, for Kubernetes probes: the worker serves no traffic, so "healthy"
 * means what the Temporal SDK reports about it, not that a port answers.
 *
 * - `GET /readyz`: 200 while the worker runs and the SDK reports both its workflow and activity
 *   pollers as polling; 503 otherwise (starting, draining on SIGTERM, stopped, a poller failed). The
 *   SDK reports a poller as polling from the moment the worker runs, before its first poll returns,
 *   so ready means "running and not failed", not "a poll succeeded". A rolling update waits for it.
 * - `GET /livez`: 200 unless the worker is beyond recovery (failed or stopped, or a poller failed);
 *   a restart is the fix for exactly those. Draining is alive: the grace period must not be cut short.
 *
 * The body is the SDK's status (run state, poller states, in-flight counts): nothing secret.
 * Off unless FERRY_HEALTH_PORT is set (the Deployment sets it); FERRY_HEALTH_HOST defaults to all
 * interfaces of both families, since the kubelet probes the pod's IP.
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

/** `host` unset: Node's unspecified address, `::` (dual stack) where IPv6 exists, else 0.0.0.0 — kubelets probe the pod IP of either family. */
export async function startHealthServer(status: () => HealthStatus, port: number, host?: string): Promise<HealthServer> {
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
    if (host === undefined) server.listen(port, () => resolve());
    else server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${bound}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The health server FERRY_HEALTH_PORT asks for, or undefined when it is unset (outside the image). */
export async function healthFromEnvironment(status: () => HealthStatus, env: NodeJS.ProcessEnv = process.env): Promise<HealthServer | undefined> {
  const raw = env.FERRY_HEALTH_PORT;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`FERRY_HEALTH_PORT must be a TCP port number 0-65535 (got "${raw}"); unset it to serve no health endpoint`);
  return startHealthServer(status, Number(raw), env.FERRY_HEALTH_HOST || undefined);
}
