/**
 * Throwaway TLS material for a Temporal frontend with mTLS: a CA, the frontend's certificate (for
 * `localhost` and the loopback address), one client certificate for Temporal's own system workers and
 * one for ferry (worker, CLI) and the Temporal CLI. For trying TLS and for tests; a real deployment
 * brings its own PKI and points the same settings at it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA, issue } from '../../simulator/pki.js';
import { LOOPBACK } from '../processes.js';

export interface TlsFiles {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** The name clients verify the frontend by. */
  serverName: string;
  systemWorkerCertFile: string;
  systemWorkerKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export async function generateTlsFiles(dir: string, opts: { validDays?: number } = {}): Promise<TlsFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const validDays = opts.validDays ?? 30;
  const ca = await createCA('ferry production-temporal CA', validDays);
  const serverName = 'localhost';
  const server = await issue(ca, { commonName: serverName, dnsNames: [serverName], ips: [LOOPBACK], usage: ['server'], validDays });
  const systemWorker = await issue(ca, { commonName: 'temporal-system-worker', usage: ['client'], validDays });
  const client = await issue(ca, { commonName: 'ferry', usage: ['client'], validDays });
  const files: TlsFiles = {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'frontend.pem'),
    serverKeyFile: join(dir, 'frontend-key.pem'),
    serverName,
    systemWorkerCertFile: join(dir, 'system-worker.pem'),
    systemWorkerKeyFile: join(dir, 'system-worker-key.pem'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client-key.pem'),
  };
  // The CA's key is not written: nothing more is signed after this.
  writeFileSync(files.caFile, ca.certPem);
  for (const [cert, certFile, keyFile] of [
    [server, files.serverCertFile, files.serverKeyFile],
    [systemWorker, files.systemWorkerCertFile, files.systemWorkerKeyFile],
    [client, files.clientCertFile, files.clientKeyFile],
  ] as const) {
    writeFileSync(certFile, cert.certPem);
    writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  }
  return files;
}
