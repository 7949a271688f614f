/**
 * Encrypted payloads end to end (docs/encryption.md): a real Temporal dev server, the simulator, and
 * ferry's worker as the product runs it (`workers/main.ts` in a child process, keys from
 * FERRY_CODEC_KEYS), the ferry CLI, `ferry codec-server` and the Temporal CLI.
 *
 * One story on one stack, in order: a worker without the key cannot run a migration started
 * encrypted (and says which key it lacks); with the key the same migration succeeds; its stored
 * history, read raw by the Temporal CLI, holds ciphertext only, and the same read through the codec
 * server shows the plaintext; the ferry CLI without the key fails clearly; the key is rotated (k2
 * encrypts, k1 still decrypts the old history).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { eventually } from '../../simulator/testing/sim.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { ferryCodec } from '../../workers/codec/data-converter.js';
import { migrationInputSchema, migrationWorkflowId, TASK_QUEUE, type MigrationInput, type MigrationResult } from '../../workflows/contract.js';
import { staticDetails, staticSummary } from '../../workflows/details.js';
import { runFerry } from '../support/cli.js';
import { input, spawnWorker, startStack, type Stack } from '../support/e2e.js';

const execFileAsync = promisify(execFile);

/** A key directory as a mounted Secret has it: one file per key id. */
function keyDir(ids: string[], keys: Record<string, Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-codec-keys-'));
  for (const id of ids) writeFileSync(join(dir, id), keys[id]!.toString('base64'), { mode: 0o600 });
  return dir;
}

interface RawPayload {
  path: string;
  encoding: string;
  keyId?: string;
  data: string;
}

const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** Every payload in a protobuf-JSON history (objects with metadata.encoding), with where it is. */
function payloadsIn(node: unknown, path = '$', out: RawPayload[] = []): RawPayload[] {
  if (Array.isArray(node)) node.forEach((n, i) => payloadsIn(n, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const meta = o.metadata as Record<string, string> | undefined;
    if (meta && typeof meta === 'object' && typeof meta.encoding === 'string') {
      out.push({
        path,
        encoding: unb64(meta.encoding),
        ...(meta['encryption-key-id'] ? { keyId: unb64(meta['encryption-key-id']) } : {}),
        data: typeof o.data === 'string' ? o.data : '',
      });
    } else for (const [k, v] of Object.entries(o)) payloadsIn(v, `${path}.${k}`, out);
  }
  return out;
}

/** Started the way `ferry migrate` starts it: input, static summary and details (all payloads). */
function startLikeFerry(client: Client, i: MigrationInput): Promise<WorkflowHandle> {
  const m = migrationInputSchema.parse(i);
  return client.workflow.start('migrateVm', {
    taskQueue: TASK_QUEUE,
    workflowId: migrationWorkflowId(m),
    args: [i],
    staticSummary: staticSummary(m),
    staticDetails: staticDetails(m),
  });
}

function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${re}; output:\n${out}`));
    });
  });
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('encrypted payloads', () => {
  const keys = { k1: randomBytes(32), k2: randomBytes(32) };
  const k1Dir = keyDir(['k1'], keys);
  const rotatedDir = keyDir(['k1', 'k2'], keys);
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'ferry-codec-token-')), 'token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  let stack: Stack;
  let worker: ChildProcess | undefined;
  let codecServer: ChildProcess | undefined;
  let codecUrl: string;
  let first: WorkflowHandle;

  const temporal = async (...args: string[]): Promise<string> =>
    (await execFileAsync(stack.server.cli, [...args, '--address', stack.server.address], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  const history = async (workflowId: string, ...codec: string[]) => JSON.parse(await temporal('workflow', 'show', '-w', workflowId, '--output', 'json', ...codec)) as unknown;

  before(async () => {
    stack = await startStack({ inProcessWorker: false, dataConverter: ferryCodec({ FERRY_CODEC_KEYS: k1Dir }).dataConverter });
  });
  after(async () => {
    await stopProcess(worker);
    await stopProcess(codecServer);
    await stack?.stop();
  });

  it('a worker without the key cannot run a migration started encrypted, and says which key it lacks', async () => {
    worker = spawnWorker(stack, { FERRY_CODEC_KEYS: '' });
    await waitForLine(worker, /payloads not encrypted \(FERRY_CODEC_KEYS unset\)/);
    first = await startLikeFerry(stack.client, input('web-01'));
    const failed = await eventually(
      'a failed workflow task',
      async () => {
        for (const e of (await first.fetchHistory()).events ?? []) if (e.workflowTaskFailedEventAttributes) return e.workflowTaskFailedEventAttributes;
        return undefined;
      },
      60_000,
      200,
    );
    assert.match(failed.failure?.message ?? '', /payload encrypted with key "k1", but FERRY_CODEC_KEYS is not set: set FERRY_CODEC_KEYS/);
    // Stuck, not failed: the workflow waits for a worker that has the key.
    assert.equal((await first.describe()).status.name, 'RUNNING');
  });

  it('with the key, the same migration succeeds', async () => {
    await stopProcess(worker);
    worker = spawnWorker(stack, { FERRY_CODEC_KEYS: k1Dir });
    await waitForLine(worker, /payloads encrypted with key k1/);
    const result = (await first.result()) as MigrationResult;
    assert.equal(result.outcome, 'Succeeded');
  });

  it('its stored history, read raw by the Temporal CLI, holds ciphertext only (search attributes and the workflow ID aside)', async () => {
    const raw = await history(first.workflowId);
    const payloads = payloadsIn(raw);
    const indexed = payloads.filter((p) => p.path.includes('.searchAttributes.indexedFields.'));
    // Headers are not run through codecs: OpenTelemetry's trace context (trace and span IDs) travels in clear.
    const traceContext = payloads.filter((p) => p.path.endsWith('.header.fields._tracer-data'));
    const encrypted = payloads.filter((p) => !indexed.includes(p) && !traceContext.includes(p));
    for (const p of traceContext) assert.match(Buffer.from(p.data, 'base64').toString(), /^\{("traceparent":"[\w-]+")?\}$/, `${p.path} carries more than a trace context`);
    // Input, activity inputs and results, signals, the result, the static summary and details, activity summaries.
    assert.ok(encrypted.length > 20, `only ${encrypted.length} payloads`);
    for (const kind of [
      'workflowExecutionStartedEventAttributes.input',
      'userMetadata.summary',
      'userMetadata.details',
      'activityTaskCompletedEventAttributes.result',
      'workflowExecutionSignaledEventAttributes.input',
      'workflowExecutionCompletedEventAttributes.result',
    ])
      assert.ok(
        encrypted.some((p) => p.path.includes(kind)),
        `no ${kind} payload in the history`,
      );
    for (const p of encrypted) {
      assert.equal(p.encoding, 'binary/encrypted', p.path);
      assert.equal(p.keyId, 'k1', p.path);
      for (const secret of ['web-01', '"namespace"', 'destination', 'json/plain']) assert.ok(!Buffer.from(p.data, 'base64').includes(secret), `${p.path} holds "${secret}"`);
    }
    // Plaintext by design (docs/encryption.md): the search attributes the server indexes, and the workflow ID.
    assert.deepEqual([...new Set(indexed.map((p) => p.encoding))], ['json/plain']);
    const withoutIndexed = JSON.stringify(raw, (k, v: unknown) => (k === 'searchAttributes' || k === 'workflowId' ? undefined : v));
    assert.ok(!withoutIndexed.includes('web-01'), 'the VM name outside the search attributes and the workflow ID');
  });

  it('`ferry codec-server` lets the Temporal CLI read the plaintext, with the token only', async () => {
    codecServer = spawn(process.execPath, ['--import', 'tsx', 'client/main.ts', 'codec-server', '--listen', '127.0.0.1:0', '--token-file', tokenFile], {
      cwd: REPO_ROOT,
      env: { ...process.env, FERRY_CODEC_KEYS: rotatedDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    codecUrl = (await waitForLine(codecServer, /http:\/\/127\.0\.0\.1:\d+/, 30_000)).trim();
    const decoded = await history(first.workflowId, '--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${token}`);
    const text = JSON.stringify(decoded);
    assert.ok(!text.includes(Buffer.from('binary/encrypted').toString('base64')), 'an encrypted payload left after decoding');
    const started = payloadsIn(decoded).find((p) => p.path.includes('workflowExecutionStartedEventAttributes.input'));
    assert.equal(started?.encoding, 'json/plain');
    const inputText = unb64(started.data);
    assert.match(inputText, /"name":\s*"web-01"/);
    assert.match(inputText, /"cluster":\s*"destination"/);
    // A wrong token: the server answers 401, and the Temporal CLI fails rather than show anything.
    let serverLog = '';
    codecServer.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
    await assert.rejects(history(first.workflowId, '--codec-endpoint', codecUrl, '--codec-auth', 'Bearer wrong'));
    assert.match(serverLog, /POST \/decode → 401 wrong token/);
  });

  it('the ferry CLI without the key fails clearly; with it, shows the status', async () => {
    const without = await runFerry(stack, ['status', first.workflowId], { FERRY_CODEC_KEYS: '' });
    assert.equal(without.code, 1, without.stderr);
    assert.match(without.stderr, /payload encrypted with key "k1", but FERRY_CODEC_KEYS is not set/);
    const withKey = await runFerry(stack, ['status', first.workflowId], { FERRY_CODEC_KEYS: k1Dir });
    assert.equal(withKey.code, 0, withKey.stderr);
    assert.match(withKey.stdout, /Succeeded/);
    const badConfig = await runFerry(stack, ['status', first.workflowId], { FERRY_CODEC_KEYS: k1Dir, FERRY_CODEC_ENCRYPT_KEY_ID: 'k7' });
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /FERRY_CODEC_ENCRYPT_KEY_ID=k7 is not a key in FERRY_CODEC_KEYS=.* \(it has k1\)/);
  });

  it('rotation: k2 encrypts new migrations, k1 still decrypts the old history', async () => {
    await stopProcess(worker);
    worker = spawnWorker(stack, { FERRY_CODEC_KEYS: rotatedDir });
    await waitForLine(worker, /payloads encrypted with key k2 \(decrypt: k1, k2/);
    const rotated = new Client({ connection: stack.client.connection, dataConverter: ferryCodec({ FERRY_CODEC_KEYS: rotatedDir }).dataConverter });
    const second = await startLikeFerry(rotated, input('cache-01'));
    assert.equal(((await second.result()) as MigrationResult).outcome, 'Succeeded');
    const ids = new Set(payloadsIn(await history(second.workflowId)).flatMap((p) => (p.keyId ? [p.keyId] : [])));
    assert.deepEqual([...ids], ['k2']);
    // The old history, with the rotated keys: in process and through the codec server.
    assert.equal(((await rotated.workflow.getHandle(first.workflowId).result()) as MigrationResult).outcome, 'Succeeded');
    assert.match(JSON.stringify(await history(first.workflowId, '--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${token}`)), /Succeeded|U3VjY2VlZGVk/);
    // A process that still has only k1 cannot read what k2 encrypted, and says so.
    await assert.rejects(
      stack.client.workflow.getHandle(second.workflowId).result(),
      /payload encrypted with key "k2", which this process does not have \(FERRY_CODEC_KEYS=.* has k1\): add key "k2"/,
    );
  });
});
