/**
 * Temporal connection options for real: the production Temporal with TLS on the frontend and client
 * certificates required (mTLS), from a CA made here. ferry's worker and CLI connect with envconfig's
 * TEMPORAL_TLS_* variables and with a profile file, the Temporal CLI with the same settings, and
 * clients without the CA, without a client certificate or without TLS are refused with an error that
 * names what to set.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../tools/temporal-cli.js';
import { generateTlsFiles, type TlsFiles } from '../../tools/production-temporal/tls.js';
import { migrationWorkflowId, type MigrationResult } from '../../workflows/contract.js';
import { runFerry } from '../support/cli.js';
import { input } from '../support/e2e.js';
import { startProductionStack, startWorker, type ProductionStack } from './support.js';

let stack: ProductionStack;
let files: TlsFiles;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-production-tls-'));
  files = await generateTlsFiles(join(dir, 'tls'));
  stack = await startProductionStack({ tls: files });
});
after(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all([...stack.workers].map((w) => w.kill('SIGKILL')));
});

/** Nothing of the caller's: each case says exactly which connection settings it gives. */
const NO_TEMPORAL_ENV = { TEMPORAL_ADDRESS: undefined, TEMPORAL_NAMESPACE: undefined };

function mtlsEnv(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.caFile,
    TEMPORAL_TLS_CLIENT_CERT_PATH: files.clientCertFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: files.clientKeyFile,
    TEMPORAL_TLS_SERVER_NAME: files.serverName,
  };
}

async function temporalCli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = findTemporalCli();
  assert.ok(cli, 'the Temporal CLI is needed (npm run temporal:install)');
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  try {
    const { stdout, stderr } = await promisify(execFile)(cli, args, { env: { ...base, ...env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const migrateArgs = (vm: string) => [
  'migrate',
  `demo/${vm}`,
  '--from',
  'source',
  '--to',
  'destination',
  '--wait',
  ...Object.entries(input(vm).options!).flatMap(([k, v]) => ['--option', `${k}=${String(v)}`]),
];

describe('Temporal connection options against a frontend with mTLS', () => {
  it('TEMPORAL_TLS_* in the environment: the worker polls, ferry migrate --wait succeeds, the Temporal CLI lists it', async () => {
    const worker = startWorker(stack, mtlsEnv());
    await worker.ready;
    assert.match(worker.output(), /TLS/);
    const r = await runFerry(stack, migrateArgs('web-01'), mtlsEnv());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Succeeded/);
    const id = migrationWorkflowId(input('web-01'));
    const result = (await stack.client.workflow.getHandle(id).result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
    const list = await temporalCli(['workflow', 'list', '--query', `FerryVm = 'demo/web-01'`], mtlsEnv());
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /migration\/source\/demo\/web-01/);
  });

  it('a profile file (TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE) serves ferry, its worker and the Temporal CLI', async () => {
    const profileFile = join(dir, 'temporal.toml');
    // The format docs/temporal-connection.md shows.
    writeFileSync(
      profileFile,
      [
        '[profile.prod]',
        `address = "${stack.temporal.address}"`,
        'namespace = "default"',
        '',
        '[profile.prod.tls]',
        `server_ca_cert_path = "${files.caFile}"`,
        `client_cert_path = "${files.clientCertFile}"`,
        `client_key_path = "${files.clientKeyFile}"`,
        `server_name = "${files.serverName}"`,
        '',
      ].join('\n'),
    );
    const env = { ...NO_TEMPORAL_ENV, TEMPORAL_CONFIG_FILE: profileFile, TEMPORAL_PROFILE: 'prod' };
    const worker = startWorker(stack, env);
    await worker.ready;
    const r = await runFerry(stack, migrateArgs('cache-01'), env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Succeeded/);
    const status = await runFerry(stack, ['status', migrationWorkflowId(input('cache-01'))], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Succeeded/);
    const list = await temporalCli(['workflow', 'list', '--query', `FerryVm = 'demo/cache-01'`], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /migration\/source\/demo\/cache-01/);
  });

  it('refuses clients without the CA, without a client certificate, or without TLS, saying what to set', async () => {
    const address = stack.temporal.address;
    const cases: { what: string; env: Record<string, string | undefined>; hint: RegExp }[] = [
      { what: 'TLS without the server CA', env: { TEMPORAL_ADDRESS: address, TEMPORAL_TLS: 'true' }, hint: /TEMPORAL_TLS_SERVER_CA_CERT_PATH/ },
      {
        what: 'the CA but no client certificate',
        env: { TEMPORAL_ADDRESS: address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.caFile, TEMPORAL_TLS_SERVER_NAME: files.serverName },
        hint: /TEMPORAL_TLS_CLIENT_CERT_PATH/,
      },
      { what: 'no TLS', env: { TEMPORAL_ADDRESS: address }, hint: /speaks TLS.*TEMPORAL_TLS=true/ },
    ];
    for (const c of cases) {
      const r = await runFerry(stack, ['list'], { ...NO_TEMPORAL_ENV, ...c.env });
      assert.notEqual(r.code, 0, `${c.what}: ferry list succeeded`);
      assert.match(r.stderr, new RegExp(`cannot connect to Temporal at ${address.replace(/\./g, '\\.')}`), `${c.what}: ${r.stderr}`);
      assert.match(r.stderr, c.hint, `${c.what}: ${r.stderr}`);
      console.log(`ferry list, ${c.what}:\n  ${r.stderr.trim().split('\n').join('\n  ')}`);
    }
    // The worker says the same and exits.
    const worker = startWorker(stack, { ...NO_TEMPORAL_ENV, TEMPORAL_ADDRESS: address, TEMPORAL_TLS: 'true' });
    await assert.rejects(worker.ready);
    const exit = await worker.exited;
    assert.notEqual(exit.code, 0);
    assert.match(worker.output(), /TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
    // And the Temporal CLI refuses too (its own message).
    const cli = await temporalCli(['workflow', 'list', '--address', address, '--tls'], {});
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /certificate/i);
  });

  it('TEMPORAL_API_KEY goes out as a bearer token over TLS (as Temporal Cloud takes it) from ferry and its worker, and is never printed', async () => {
    // A stand-in frontend that records what arrives and refuses it, as Cloud refuses a bad key.
    const seen: IncomingHttpHeaders[] = [];
    const fake = createSecureServer({ cert: readFileSync(files.serverCertFile), key: readFileSync(files.serverKeyFile), allowHTTP1: false }, (req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'API key rejected' });
      res.end();
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const key = 'ferry-test-api-key-7d1e0c';
      const env = {
        ...NO_TEMPORAL_ENV,
        TEMPORAL_ADDRESS: `127.0.0.1:${(fake.address() as AddressInfo).port}`,
        TEMPORAL_API_KEY: key,
        // Cloud's certificate chains to a public CA; this stand-in's to the test CA.
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.caFile,
        TEMPORAL_TLS_SERVER_NAME: files.serverName,
      };
      const r = await runFerry(stack, ['list'], env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /cannot connect to Temporal at .* with TLS \(server CA from config, server name localhost\), API key: /);
      assert.ok(!(r.stdout + r.stderr).includes(key), 'ferry printed the API key');
      const fromFerry = seen.length;
      assert.ok(fromFerry > 0, 'ferry sent nothing');
      const worker = startWorker(stack, env);
      await assert.rejects(worker.ready);
      assert.ok(!worker.output().includes(key), 'the worker printed the API key');
      assert.ok(seen.length > fromFerry, 'the worker sent nothing');
      for (const h of seen) assert.equal(h.authorization, `Bearer ${key}`, `${String(h[':path'])} from ${String(h['user-agent'])}`);
      console.log(`API key: ${fromFerry} requests from ferry, ${seen.length - fromFerry} from the worker, each with authorization: Bearer <key>`);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});
