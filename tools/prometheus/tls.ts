/**
 * The query endpoint's TLS material, made with the `openssl` CLI (no npm dependency): a throwaway CA
 * and one server certificate for `localhost` and the loopback address. The CA's key is deleted once
 * the certificate is signed: nothing else is ever signed with it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findOnPath, LOOPBACK } from '../processes.js';

export interface QueryTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A name the certificate is valid for besides the loopback address. */
  serverName: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function generateQueryTls(dir: string, opts: { validDays?: number } = {}): Promise<QueryTlsFiles> {
  const openssl = findOnPath('openssl');
  if (!openssl) throw new Error('openssl is not on PATH: the Prometheus query endpoint gets its TLS certificate from it (Debian: apt-get install openssl)');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = String(opts.validDays ?? 30);
  const serverName = 'localhost';
  const files: QueryTlsFiles = { caFile: join(dir, 'query-ca.pem'), certFile: join(dir, 'query.pem'), keyFile: join(dir, 'query-key.pem'), serverName };
  const caKey = join(dir, 'query-ca-key.pem');
  const run = async (args: string[]): Promise<void> => {
    try {
      await promisify(execFile)(openssl, args, { cwd: dir });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`openssl ${args[0]} failed while making the query endpoint's certificate: ${(err.stderr || err.message).trim()}`);
    }
  };
  try {
    await run([
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      caKey,
      '-out',
      files.caFile,
      '-days',
      days,
      '-subj',
      '/CN=ferry prometheus query CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    // `req -x509 -CA` (OpenSSL >= 3.0) signs the new key's certificate with the CA in one step.
    await run([
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      files.keyFile,
      '-out',
      files.certFile,
      '-days',
      days,
      '-CA',
      files.caFile,
      '-CAkey',
      caKey,
      '-subj',
      `/CN=${serverName}`,
      '-addext',
      `subjectAltName=DNS:${serverName},IP:${LOOPBACK}`,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature',
      '-addext',
      'extendedKeyUsage=serverAuth',
    ]);
  } finally {
    rmSync(caKey, { force: true });
  }
  return files;
}
