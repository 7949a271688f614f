/**
 * ferry's payload encryption (workers/codec/): the AES-256-GCM codec through the SDK's own payload
 * converter, rotation, the errors for missing or wrong keys and bad key configuration. The
 * end-to-end side (histories on a real server, the codec server, the Web UI) is in
 * test/observability/codec*.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { ferryCodec } from '../../workers/codec/data-converter.js';
import { EncryptionCodec, keyIdOf, NoKeysCodec } from '../../workers/codec/encryption-codec.js';
import { codecKeysFromEnvironment, type CodecKeys } from '../../workers/codec/keys.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const keys = (encryptKeyId: string, entries: [string, Buffer][]): CodecKeys => ({ source: '/keys', encryptKeyId, keys: new Map(entries) });
const VM = { source: { cluster: 'source', namespace: 'demo', name: 'secret-vm-01' } };
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

function keyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-keys-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

describe('encryption codec', () => {
  const codec = new EncryptionCodec(keys('k1', [['k1', k1]]));

  it('round-trips a payload and leaves no plaintext in the encoded one', async () => {
    const plain = defaultPayloadConverter.toPayload(VM);
    const [enc] = await codec.encode([plain]);
    assert.equal(text(enc!.metadata!.encoding), 'binary/encrypted');
    assert.equal(text(enc!.metadata!['encryption-key-id']), 'k1');
    assert.deepEqual(Object.keys(enc!.metadata!).sort(), ['encoding', 'encryption-key-id']);
    assert.ok(!Buffer.from(enc!.data!).includes('secret-vm-01'));
    assert.ok(!Buffer.from(enc!.data!).includes('json/plain'));
    const [dec] = await codec.decode([enc!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), VM);
  });

  it('uses a fresh IV per payload: the same value encrypts differently each time', async () => {
    const plain = defaultPayloadConverter.toPayload('same');
    const [a, b] = await codec.encode([plain, plain]);
    assert.notDeepEqual(Buffer.from(a!.data!).subarray(0, 12), Buffer.from(b!.data!).subarray(0, 12));
    assert.notDeepEqual(a!.data, b!.data);
  });

  it("is the samples' format: IV ‖ AES-GCM(ciphertext ‖ tag) of the Payload's protobuf bytes (WebCrypto decrypts it)", async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(VM)]);
    const data = Buffer.from(enc!.data!);
    const key = await webcrypto.subtle.importKey('raw', k1, 'AES-GCM', false, ['decrypt']);
    const plaintext = await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv: data.subarray(0, 12) }, key, data.subarray(12));
    assert.deepEqual(defaultPayloadConverter.fromPayload(proto.temporal.api.common.v1.Payload.decode(new Uint8Array(plaintext))), VM);
  });

  it('passes plaintext payloads through on decode (histories from before encryption)', async () => {
    const plain = defaultPayloadConverter.toPayload(VM);
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  it('rotation: the new key encrypts, the old key still decrypts', async () => {
    const [old] = await codec.encode([defaultPayloadConverter.toPayload('before')]);
    const rotated = new EncryptionCodec(
      keys('k2', [
        ['k1', k1],
        ['k2', k2],
      ]),
    );
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload('after')]);
    assert.equal(keyIdOf(fresh!), 'k2');
    const [a, b] = await rotated.decode([old!, fresh!]);
    assert.equal(defaultPayloadConverter.fromPayload(a!), 'before');
    assert.equal(defaultPayloadConverter.fromPayload(b!), 'after');
  });

  it('a key the process does not have: an error naming the key id and the variable, never garbage', async () => {
    const [fresh] = await new EncryptionCodec(keys('k2', [['k2', k2]])).encode([defaultPayloadConverter.toPayload('x')]);
    await assert.rejects(codec.decode([fresh!]), {
      name: 'PayloadConverterError',
      message: /payload encrypted with key "k2", which this process does not have \(FERRY_CODEC_KEYS=\/keys has k1\): add key "k2" to FERRY_CODEC_KEYS/,
    });
  });

  it('a wrong key under the right id, or altered bytes: an authentication error', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const impostor = new EncryptionCodec(keys('k1', [['k1', k2]]));
    await assert.rejects(
      impostor.decode([enc!]),
      /key "k1" failed to decrypt: the key "k1" in FERRY_CODEC_KEYS=\/keys is not the one that encrypted it, or the payload was altered/,
    );
    const altered: Payload = { ...enc!, data: Buffer.from(enc!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
    await assert.rejects(codec.decode([altered]), /failed to decrypt/);
  });

  it('without keys: encodes nothing, and an encrypted payload names its key and FERRY_CODEC_KEYS', async () => {
    const none = new NoKeysCodec();
    const plain = defaultPayloadConverter.toPayload(VM);
    assert.deepEqual(await none.encode([plain]), [plain]);
    assert.deepEqual(await none.decode([plain]), [plain]);
    const [enc] = await codec.encode([plain]);
    await assert.rejects(none.decode([enc!]), /payload encrypted with key "k1", but FERRY_CODEC_KEYS is not set: set FERRY_CODEC_KEYS/);
    assert.match(ferryCodec({}).description, /not encrypted/);
  });
});

describe('codec keys from the environment', () => {
  const b64 = (b: Buffer) => b.toString('base64');

  it('a Secret-like directory: one file per key, dot entries skipped, newest id by natural order', () => {
    const dir = keyDir({ k2: `${b64(k1)}\n`, k10: b64(k2) });
    // What a mounted Secret looks like besides its keys.
    mkdirSync(join(dir, '..2026_12_02_05_00_00.000000001'));
    symlinkSync('..2026_12_02_05_00_00.000000001', join(dir, '..data'));
    const c = codecKeysFromEnvironment({ FERRY_CODEC_KEYS: dir })!;
    assert.deepEqual([...c.keys.keys()].sort(), ['k10', 'k2']);
    assert.equal(c.encryptKeyId, 'k10');
    assert.equal(codecKeysFromEnvironment({ FERRY_CODEC_KEYS: dir, FERRY_CODEC_ENCRYPT_KEY_ID: 'k2' })!.encryptKeyId, 'k2');
  });

  it('a YAML or JSON file mapping key id to key', () => {
    const dir = keyDir({ 'keys.yaml': `2026-01: ${b64(k1)}\n2026-12: ${b64(k2)}\n`, 'keys.json': JSON.stringify({ a: b64(k1) }) });
    const y = codecKeysFromEnvironment({ FERRY_CODEC_KEYS: join(dir, 'keys.yaml') })!;
    assert.equal(y.encryptKeyId, '2026-12');
    assert.deepEqual(y.keys.get('2026-01'), k1);
    assert.equal(codecKeysFromEnvironment({ FERRY_CODEC_KEYS: join(dir, 'keys.json') })!.encryptKeyId, 'a');
  });

  it('unset: encryption off', () => {
    assert.equal(codecKeysFromEnvironment({}), undefined);
    assert.equal(codecKeysFromEnvironment({ FERRY_CODEC_KEYS: '' }), undefined);
  });

  it('bad configuration: errors naming the variable and the fix, never the key', () => {
    const short = randomBytes(16);
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ FERRY_CODEC_KEYS: '/nonexistent/keys' }, /FERRY_CODEC_KEYS=\/nonexistent\/keys: no such file or directory: point it at a directory of key files/],
      [{ FERRY_CODEC_KEYS: keyDir({ k1: b64(short) }) }, /key "k1" \(.*\) is 16 bytes, AES-256 needs 32: generate one with `openssl rand -base64 32`/],
      [{ FERRY_CODEC_KEYS: keyDir({ k1: 'not base64!' }) }, /key "k1" .* is not base64/],
      [{ FERRY_CODEC_KEYS: keyDir({}) }, /holds no keys/],
      [{ FERRY_CODEC_KEYS: keyDir({ k1: b64(k1) }), FERRY_CODEC_ENCRYPT_KEY_ID: 'k9' }, /FERRY_CODEC_ENCRYPT_KEY_ID=k9 is not a key in FERRY_CODEC_KEYS=.* \(it has k1\)/],
      [{ FERRY_CODEC_ENCRYPT_KEY_ID: 'k1' }, /FERRY_CODEC_ENCRYPT_KEY_ID=k1 is set but FERRY_CODEC_KEYS is not/],
      [{ FERRY_CODEC_KEYS: join(keyDir({ 'k.yaml': '- a\n- b\n' }), 'k.yaml') }, /must be a map of key id to base64 key/],
      [{ FERRY_CODEC_KEYS: join(keyDir({ 'k.yaml': `"bad id": ${b64(k1)}\n` }), 'k.yaml') }, /key id "bad id" .* must be 1–128 letters/],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => codecKeysFromEnvironment(env),
        (e: Error) => {
          assert.equal(e.name, 'CodecConfigError');
          assert.match(e.message, message);
          assert.ok(!e.message.includes(b64(short)) && !e.message.includes(b64(k1)));
          return true;
        },
      );
    }
  });
});
