/**
 * Saying how ferry (worker and CLI) connects to Temporal, and why it could not. The SDK's own errors
 * for TLS problems are "Failed to connect before the deadline" (client) or a tonic transport error
 * (worker); neither says what to set. On a failed connect, one TLS handshake with the same settings
 * finds the cause and names the envconfig variable (and profile key) that fixes it.
 */
import { createConnection } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TLSConfig } from '@temporalio/client';

type TLSConfigOption = TLSConfig | boolean | null | undefined;

export interface TemporalConnectionSettings {
  address?: string;
  tls?: TLSConfigOption;
  apiKey?: unknown;
}

const tlsObject = (tls: TLSConfigOption) => (tls === true ? {} : tls || undefined);

/** e.g. `TLS (server CA from config, client certificate)`, `TLS (system CAs), API key`, `plaintext`. */
export function describeTls(s: TemporalConnectionSettings): string {
  const tls = tlsObject(s.tls);
  const key = s.apiKey !== undefined ? ', API key' : '';
  if (!tls) return `plaintext${key}`;
  const parts = [tls.serverRootCACertificate ? 'server CA from config' : 'system CAs'];
  if (tls.clientCertPair) parts.push('client certificate');
  if (tls.serverNameOverride) parts.push(`server name ${tls.serverNameOverride}`);
  return `TLS (${parts.join(', ')})${key}`;
}

const CA_HINT = 'set TEMPORAL_TLS_SERVER_CA_CERT_PATH (profile: tls.server_ca_cert_path) to the CA that signed the server certificate';
const CERT_HINT = 'set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (profile: tls.client_cert_path, tls.client_key_path)';

const TLS_OK = 'the TLS handshake succeeds with these settings';

type Probe = { kind: 'tls-error'; code: string; message: string } | { kind: 'tls-ok' };

/** One handshake as the SDK would make it (ALPN h2, same CA, certificate and server name), then a moment for an alert. */
function probe(host: string, port: number, tls: ReturnType<typeof tlsObject>, verify: boolean): Promise<Probe> {
  return new Promise((resolve) => {
    let socket: TLSSocket | undefined;
    const done = (p: Probe) => {
      clearTimeout(timer);
      socket?.destroy();
      resolve(p);
    };
    const timer = setTimeout(() => done({ kind: 'tls-error', code: 'ETIMEDOUT', message: 'no TLS answer within 5 s' }), 5_000);
    const servername = tls?.serverNameOverride ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
    try {
      socket = tlsConnect({
        host,
        port,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: verify,
        ...(servername ? { servername } : {}),
        ...(tls?.serverRootCACertificate ? { ca: Buffer.from(tls.serverRootCACertificate) } : {}),
        ...(tls?.clientCertPair ? { cert: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) } : {}),
      });
    } catch (e) {
      // Unreadable or mismatched certificate and key: refused before any byte is sent.
      done({ kind: 'tls-error', code: (e as NodeJS.ErrnoException).code ?? '', message: (e as Error).message });
      return;
    }
    socket.once('error', (e: NodeJS.ErrnoException) => done({ kind: 'tls-error', code: e.code ?? '', message: e.message }));
    // TLS 1.3: a server that refuses the client certificate says so just after the handshake.
    socket.once('secureConnect', () => setTimeout(() => done({ kind: 'tls-ok' }), 300));
  });
}

function tcpReachable(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (problem?: string) => {
      s.destroy();
      resolve(problem);
    };
    s.setTimeout(3_000, () => done('ETIMEDOUT'));
    s.once('connect', () => done());
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** What is wrong with connecting to `s.address`, as a sentence with the fix. */
export async function diagnoseConnection(s: TemporalConnectionSettings): Promise<string> {
  const address = s.address ?? 'localhost:7233';
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) return `"${address}" is not host:port: set TEMPORAL_ADDRESS (or --address)`;
  const tcp = await tcpReachable(host, port);
  if (tcp) return `nothing answers at ${address} (${tcp}): check TEMPORAL_ADDRESS (profile: address) or --address`;
  const tls = tlsObject(s.tls);
  if (!tls) {
    const p = await probe(host, port, undefined, false);
    if (p.kind === 'tls-ok' || /CERTIFICATE_REQUIRED|alert/i.test(p.kind === 'tls-error' ? p.code + p.message : '')) {
      return `the server speaks TLS but ferry connected without it: set TEMPORAL_TLS=true (profile: [profile.NAME.tls]) and ${CA_HINT.replace(/^set /, '')}`;
    }
    // A plaintext Temporal resets a TLS hello: the transport is as configured, so the SDK's own words
    // (a frontend still starting, a deadline) say more than a verdict about TLS would.
    return TLS_OK;
  }
  const p = await probe(host, port, tls, true);
  if (p.kind === 'tls-ok') return TLS_OK;
  const c = `${p.code} ${p.message}`;
  if (/ERR_TLS_CERT_ALTNAME_INVALID/.test(c))
    return `the server certificate is not for "${tls.serverNameOverride ?? host}" (${p.message}): set TEMPORAL_TLS_SERVER_NAME (profile: tls.server_name) to a name it holds`;
  if (/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT|CERT_UNTRUSTED|unable to verify/i.test(c)) {
    return `the server certificate is not signed by a CA ferry trusts (${p.code}): ${tls.serverRootCACertificate ? 'the CA given is not the one; ' : ''}${CA_HINT}`;
  }
  if (/CERTIFICATE_REQUIRED/i.test(c)) return `the server requires a client certificate (mTLS) and none was given: ${CERT_HINT}`;
  if (/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR/i.test(c))
    return `the server refused the client certificate (${p.code}): it must be signed by a CA the server accepts; ${CERT_HINT}`;
  if (/KEY_VALUES_MISMATCH|PEM|DECODER/i.test(c))
    return `the client certificate and key cannot be used together (${p.message}): check TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH`;
  if (/WRONG_VERSION_NUMBER|ECONNRESET|EPROTO/i.test(c)) return `no TLS at ${address} (${p.code}): set TEMPORAL_TLS=false or remove the tls settings`;
  return `TLS failed: ${p.message}`;
}

/** An error's message with its causes' ("Failed to connect to Temporal server: 16 UNAUTHENTICATED: ..."). */
function messageChain(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e; c !== undefined && c !== null && parts.length < 5; c = c instanceof Error ? c.cause : undefined) {
    const m = c instanceof Error ? c.message : String(c);
    if (!parts.some((p) => p.includes(m))) parts.push(m);
  }
  return parts.join(': ');
}

/** The error to show for a failed connect: where, how, why, and the fix. */
export async function connectionError(s: TemporalConnectionSettings, cause: unknown): Promise<Error> {
  const why = await diagnoseConnection(s).catch(() => undefined);
  const original = messageChain(cause);
  const where = `cannot connect to Temporal at ${s.address ?? 'localhost:7233'} with ${describeTls(s)}`;
  // Past TLS, the SDK's own words are the diagnosis (an API key refused, a namespace missing, ...).
  if (why === undefined || why === TLS_OK) return new Error(`${where}: ${original}`, { cause });
  return new Error(`${where}: ${why}\n  (the SDK said: ${original})`, { cause });
}
