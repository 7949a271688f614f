/**
 * A codec server (Temporal's remote codec protocol) for the Web UI and `temporal --codec-endpoint`:
 * `POST …/encode` and `POST …/decode` with `{"payloads": [...]}` (Payloads in protobuf JSON: bytes
 * as base64); only the last path segment counts, so it can be mounted under any prefix.
 *
 * Who may call it:
 * - every request needs `Authorization: Bearer <token>` (`temporal --codec-auth "Bearer <token>"`),
 *   compared in constant time;
 * - except, with `uiWithoutToken`, a browser request whose Origin is one of `uiOrigins`: the Web UI
 *   sends a token only when it has an OIDC login to pass and the endpoint is HTTPS, so a dev UI sends
 *   none. Browsers set Origin themselves, which stops other web pages; a local process can forge it,
 *   which is why this is refused on anything but a loopback listener and the Host must be loopback
 *   too (no DNS rebinding). docs/encryption.md says what that does and does not protect.
 * CORS: only the configured origins, matched exactly, get Access-Control-Allow-Origin (with
 * credentials allowed, for a UI configured with includeCredentials); any other Origin gets 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token every non-UI request must carry. */
  token: string;
  /** Web UI origins (scheme://host[:port]) allowed by CORS. */
  uiOrigins: string[];
  /** Accept requests from `uiOrigins` without a token (loopback listeners only). */
  uiWithoutToken?: boolean;
  host?: string;
  /** 0: a free port. */
  port?: number;
  log?: (line: string) => void;
}

export interface RunningCodecServer {
  /** e.g. http://127.0.0.1:8888 — what `--ui-codec-endpoint` and `--codec-endpoint` take. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 32 * 1024 * 1024;
const ALLOWED_HEADERS = 'Content-Type, X-Namespace, Authorization';

export const isLoopbackHost = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** A Host header's host part: "127.0.0.1:8888" → "127.0.0.1", "[::1]:8888" → "::1". */
function hostOf(header: string | undefined): string {
  if (!header) return '';
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  return m ? m[1]! : header.replace(/:\d+$/, '');
}

/** A valid origin as browsers send it, or a message naming what is wrong. */
export function checkOrigin(origin: string): string | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return `"${origin}" is not a URL: give scheme://host[:port], e.g. http://127.0.0.1:8233`;
  }
  if (!/^https?:$/.test(u.protocol) || u.origin !== origin) return `"${origin}" is not an origin: give scheme://host[:port] with no path or trailing slash (here: ${u.origin})`;
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function fromJson(body: unknown): Payload[] {
  const payloads = (body as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new HttpError(400, 'the body must be {"payloads": [...]}');
  return payloads.map((p: unknown, i) => {
    const { metadata = {}, data = '' } = (p ?? {}) as { metadata?: Record<string, unknown>; data?: unknown };
    if (typeof data !== 'string' || typeof metadata !== 'object' || metadata === null)
      throw new HttpError(400, `payloads[${i}]: metadata must map to base64 strings and data be base64`);
    const meta: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new HttpError(400, `payloads[${i}].metadata.${k} must be a base64 string`);
      meta[k] = new Uint8Array(Buffer.from(v, 'base64'));
    }
    return { metadata: meta, data: new Uint8Array(Buffer.from(data, 'base64')) };
  });
}

const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('base64');

function toJson(payloads: Payload[]): { payloads: { metadata: Record<string, string>; data: string }[] } {
  return { payloads: payloads.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) })) };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

export function startCodecServer(o: CodecServerOptions): Promise<RunningCodecServer> {
  const host = o.host ?? '127.0.0.1';
  if (!o.token) return Promise.reject(new Error('the codec server needs a token'));
  for (const origin of o.uiOrigins) {
    const problem = checkOrigin(origin);
    if (problem) return Promise.reject(new Error(`UI origin ${problem}`));
  }
  if (o.uiWithoutToken && !isLoopbackHost(host))
    return Promise.reject(
      new Error(
        `accepting the Web UI without a token is only allowed on a loopback address, not ${host}: listen on 127.0.0.1, or give the UI a token (HTTPS + OIDC passAccessToken)`,
      ),
    );
  if (o.uiWithoutToken && o.uiOrigins.length === 0) return Promise.reject(new Error('accepting the Web UI without a token needs the UI origin(s) it is for'));
  const expected = digest(`Bearer ${o.token}`);
  const origins = new Set(o.uiOrigins);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!origins.has(origin)) throw new HttpError(403, `origin ${origin} is not allowed`);
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Methods': 'POST, OPTIONS', 'Access-Control-Allow-Headers': ALLOWED_HEADERS, 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://codec').pathname;
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    const op = path.split('/').at(-1);
    if (req.method !== 'POST' || (op !== 'encode' && op !== 'decode')) throw new HttpError(404, 'POST …/encode or …/decode');
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      if (!timingSafeEqual(digest(auth), expected)) throw new HttpError(401, 'wrong token');
    } else if (!(o.uiWithoutToken && origin !== undefined && isLoopbackHost(hostOf(req.headers.host)))) {
      throw new HttpError(401, 'missing Authorization: Bearer <token>');
    }
    const payloads = fromJson(await readBody(req));
    let out: Payload[];
    try {
      out = op === 'encode' ? await o.codec.encode(payloads) : await o.codec.decode(payloads);
    } catch (e) {
      throw new HttpError(422, (e as Error).message);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(toJson(out)));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof Error ? e.message : String(e);
      if (status >= 500 || status === 401 || status === 403) o.log?.(`codec server: ${req.method} ${req.url} → ${status} ${message}`);
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: message }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      const { port } = server.address() as AddressInfo;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
