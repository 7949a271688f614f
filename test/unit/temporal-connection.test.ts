/**
 * How ferry describes its Temporal connection and explains a failed one (workers/temporal-connection.ts).
 * The TLS diagnoses run against a real mTLS frontend in test/production/tls.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { connectionError, describeTls } from '../../workers/temporal-connection.js';

describe('Temporal connection descriptions', () => {
  it('names the TLS mode without any secret', () => {
    assert.equal(describeTls({ address: 'x:7233' }), 'plaintext');
    assert.equal(describeTls({ tls: true }), 'TLS (system CAs)');
    assert.equal(describeTls({ tls: true, apiKey: 'secret-key' }), 'TLS (system CAs), API key');
    const pem = Buffer.from('-----BEGIN CERTIFICATE-----');
    assert.equal(
      describeTls({ tls: { serverRootCACertificate: pem, clientCertPair: { crt: pem, key: pem }, serverNameOverride: 'temporal.internal' } }),
      'TLS (server CA from config, client certificate, server name temporal.internal)',
    );
  });

  it('says nothing listens, naming TEMPORAL_ADDRESS, and keeps what the SDK said', async () => {
    const probe = createServer();
    const port = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as { port: number }).port)));
    await new Promise((r) => probe.close(r)); // a port nothing listens on
    const e = await connectionError({ address: `127.0.0.1:${port}` }, new Error('Failed to connect before the deadline'));
    assert.match(e.message, new RegExp(`^cannot connect to Temporal at 127\\.0\\.0\\.1:${port} with plaintext: nothing answers at .*ECONNREFUSED.*TEMPORAL_ADDRESS`));
    assert.match(e.message, /the SDK said: Failed to connect before the deadline/);
  });

  it('against a plaintext server (a TLS hello is reset), shows what the SDK said, no TLS verdict', async () => {
    const plaintext = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const port = await new Promise<number>((r) => plaintext.listen(0, '127.0.0.1', () => r((plaintext.address() as { port: number }).port)));
    try {
      const e = await connectionError({ address: `127.0.0.1:${port}` }, new Error('Failed to connect before the deadline'));
      assert.equal(e.message, `cannot connect to Temporal at 127.0.0.1:${port} with plaintext: Failed to connect before the deadline`);
    } finally {
      await new Promise((r) => plaintext.close(r));
    }
  });

  it('refuses an address that is not host:port, naming the variable', async () => {
    const e = await connectionError({ address: 'temporal.internal' }, new Error('x'));
    assert.match(e.message, /"temporal\.internal" is not host:port: set TEMPORAL_ADDRESS/);
  });
});
