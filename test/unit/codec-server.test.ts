/**
 * The codec server (workers/codec/server.ts) over real HTTP on loopback: the codec protocol, the
 * token, CORS for the Web UI's origin, and the loopback-only tokenless UI mode.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../workers/codec/encryption-codec.js';
import { startCodecServer, type RunningCodecServer } from '../../workers/codec/server.js';

const UI = 'http://127.0.0.1:8233';
const TOKEN = 'test-token-0123456789';
const codec = new EncryptionCodec({ source: '/keys', encryptKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });

const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('base64');
const asJson = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
  data: b64(p.data),
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http rather than fetch: fetch may not set Origin or Host as a browser would. */
function call(url: string, o: { method?: string; path: string; headers?: Record<string, string>; body?: unknown }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      new URL(o.path, url),
      { method: o.method ?? 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body ?? ''), ...o.headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('codec server', () => {
  let server: RunningCodecServer;
  let encrypted: ReturnType<typeof asJson>;
  before(async () => {
    server = await startCodecServer({ codec, token: TOKEN, uiOrigins: [UI], uiWithoutToken: true, port: 0 });
    encrypted = asJson((await codec.encode([defaultPayloadConverter.toPayload({ vm: 'web-01' })]))[0]!);
  });
  after(() => server.close());

  it('decodes with the token, under any path prefix, and encodes', async () => {
    for (const path of ['/decode', '/default/decode']) {
      const r = await call(server.url, { path, headers: { Authorization: `Bearer ${TOKEN}`, 'X-Namespace': 'default' }, body: { payloads: [encrypted] } });
      assert.equal(r.status, 200, r.body);
      const [p] = (JSON.parse(r.body) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
      assert.equal(Buffer.from(p!.metadata.encoding!, 'base64').toString(), 'json/plain');
      assert.deepEqual(JSON.parse(Buffer.from(p!.data, 'base64').toString()), { vm: 'web-01' });
    }
    const plain = asJson(defaultPayloadConverter.toPayload('x'));
    const r = await call(server.url, { path: '/encode', headers: { Authorization: `Bearer ${TOKEN}` }, body: { payloads: [plain] } });
    assert.equal(r.status, 200);
    assert.equal(
      Buffer.from((JSON.parse(r.body) as { payloads: { metadata: Record<string, string> }[] }).payloads[0]!.metadata.encoding!, 'base64').toString(),
      'binary/encrypted',
    );
  });

  it('rejects a missing or wrong token (no Origin: not the Web UI)', async () => {
    const missing = await call(server.url, { path: '/decode', body: { payloads: [encrypted] } });
    assert.equal(missing.status, 401);
    assert.match(missing.body, /missing Authorization: Bearer <token>/);
    const wrong = await call(server.url, { path: '/decode', headers: { Authorization: 'Bearer nope' }, body: { payloads: [encrypted] } });
    assert.equal(wrong.status, 401);
    assert.ok(!wrong.body.includes('web-01'));
  });

  it('CORS: the UI origin gets an exact Allow-Origin and credentials on preflight; a foreign origin gets 403 and no CORS headers', async () => {
    const pre = await call(server.url, {
      method: 'OPTIONS',
      path: '/decode',
      headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], UI);
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.match(String(pre.headers['access-control-allow-headers']), /X-Namespace/);
    for (const method of ['OPTIONS', 'POST']) {
      const foreign = await call(server.url, {
        method,
        path: '/decode',
        headers: { Origin: 'http://evil.example', Authorization: `Bearer ${TOKEN}` },
        body: { payloads: [encrypted] },
      });
      assert.equal(foreign.status, 403);
      assert.equal(foreign.headers['access-control-allow-origin'], undefined);
    }
    // Not a prefix match: same host, other port.
    const near = await call(server.url, { path: '/decode', headers: { Origin: 'http://127.0.0.1:8234' }, body: { payloads: [encrypted] } });
    assert.equal(near.status, 403);
  });

  it('the Web UI without a token: its origin, to a loopback Host only (no DNS rebinding)', async () => {
    const ui = await call(server.url, { path: '/decode', headers: { Origin: UI, 'X-Namespace': 'default' }, body: { payloads: [encrypted] } });
    assert.equal(ui.status, 200);
    const rebound = await call(server.url, { path: '/decode', headers: { Origin: UI, Host: 'attacker.example:8888' }, body: { payloads: [encrypted] } });
    assert.equal(rebound.status, 401);
  });

  it('bad requests: a clear 4xx, and an undecryptable payload names its key', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    assert.equal((await call(server.url, { path: '/decode', headers: auth, body: { nope: 1 } })).status, 400);
    assert.equal((await call(server.url, { path: '/other', headers: auth, body: {} })).status, 404);
    const other = asJson(
      (await new EncryptionCodec({ source: '/k', encryptKeyId: 'k2', keys: new Map([['k2', randomBytes(32)]]) }).encode([defaultPayloadConverter.toPayload(1)]))[0]!,
    );
    const r = await call(server.url, { path: '/decode', headers: auth, body: { payloads: [other] } });
    assert.equal(r.status, 422);
    assert.match(r.body, /key \\"k2\\", which this process does not have/);
  });

  it('refuses unsafe setups at start', async () => {
    await assert.rejects(
      startCodecServer({ codec, token: TOKEN, uiOrigins: [UI], uiWithoutToken: true, host: '0.0.0.0', port: 0 }),
      /only allowed on a loopback address, not 0\.0\.0\.0/,
    );
    await assert.rejects(startCodecServer({ codec, token: TOKEN, uiOrigins: ['http://127.0.0.1:8233/'], port: 0 }), /is not an origin: .* no path or trailing slash/);
    await assert.rejects(startCodecServer({ codec, token: '', uiOrigins: [], port: 0 }), /needs a token/);
  });
});
