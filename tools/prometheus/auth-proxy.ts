/**
 * The query endpoint as production has it: OpenShift's Thanos querier sits behind kube-rbac-proxy,
 * HTTPS with the cluster's CA, and a request without a bearer token is 401, one with a token that
 * may not query is 403. This proxy plays that part in front of a plain-HTTP, loopback-only
 * Prometheus: one random token is allowed, only `/api/v1/*` is forwarded. The token never goes into
 * a log line or an error.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { LOOPBACK } from '../processes.js';
import type { QueryTlsFiles } from './tls.js';

export interface AuthProxy {
  /** `https://127.0.0.1:PORT`: append `/api/v1/query` etc. */
  url: string;
  token: string;
  close(): Promise<void>;
}

export interface AuthProxyOptions {
  /** Where requests go: `http://127.0.0.1:PORT` (Prometheus's plain listener). */
  upstream: string;
  tls: QueryTlsFiles;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  port?: number;
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** 'missing' (401), 'wrong' (403) or 'ok'; constant-time in the token's content. */
export function checkBearer(header: string | undefined, token: string): 'missing' | 'wrong' | 'ok' {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) return 'missing';
  const given = Buffer.from(match[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want) ? 'ok' : 'wrong';
}

function reject(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  // The body is Prometheus's error shape, so a client reports it the same way as a query error.
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify({ status: 'error', errorType: status === 404 ? 'not_found' : 'unauthorized', error: message }));
}

export async function startAuthProxy(opts: AuthProxyOptions): Promise<AuthProxy> {
  const token = opts.token ?? newToken();
  const upstream = new URL(opts.upstream);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const auth = checkBearer(req.headers.authorization, token);
    if (auth === 'missing') return reject(res, 401, 'Unauthorized: send Authorization: Bearer <token>', { 'www-authenticate': 'Bearer realm="prometheus"' });
    if (auth === 'wrong') return reject(res, 403, 'Forbidden: the bearer token is not allowed to query');
    const path = req.url ?? '/';
    if (!path.startsWith('/api/v1/')) return reject(res, 404, `only /api/v1/* is served here, not ${path.split('?')[0]}`);
    const headers = { ...req.headers, host: upstream.host };
    delete headers.authorization; // Prometheus needs none, and its logs must not see it
    const forward = httpRequest({ hostname: upstream.hostname, port: upstream.port, method: req.method, path, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', (e) => {
      if (!res.headersSent) reject(res, 502, `Prometheus did not answer: ${e.message}`);
      else res.destroy(e);
    });
    req.pipe(forward);
  };
  const server: Server = createServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, onRequest);
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(opts.port ?? 0, LOOPBACK, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${LOOPBACK}:${port}`,
    token,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
