/**
 * The real dev server: startDevServer brings it up headless with ferry's search attributes, a client
 * can connect, and stop() really ends it. Needs the Temporal CLI (`npm run temporal:install`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SearchAttributeType } from '@temporalio/common';
import { Connection } from '@temporalio/client';
import { isPortOpen, startDevServer, type DevServer } from '../../tools/temporal-cli.js';
import { ferrySearchAttributeKeys } from '../../workflows/search-attributes.js';

/** temporal.api.enums.v1.IndexedValueType, the numbers listSearchAttributes returns (the SDK's own mapping is not exported at runtime). */
const indexedValueType: Record<SearchAttributeType, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };

describe('temporal dev server', () => {
  let server: DevServer | undefined;
  let connection: Connection | undefined;

  before(async () => {
    const started = Date.now();
    server = await startDevServer({ uiPort: false });
    console.log(`dev server healthy at ${server.address} after ${Date.now() - started} ms`);
    connection = await Connection.connect({ address: server.address });
  });

  after(async () => {
    await connection?.close();
    await server?.stop(); // idempotent; cleans up if a test failed before stopping it
  });

  it('listens on loopback, headless', () => {
    assert.ok(server);
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(server.uiUrl, undefined);
    assert.equal(server.namespace, 'default');
  });

  it('has every ferry search attribute registered with its type', async () => {
    assert.ok(connection);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const key of ferrySearchAttributeKeys) {
      assert.equal(customAttributes[key.name], indexedValueType[key.type], `${key.name} (${key.type})`);
    }
  });

  it('refuses a port that is already taken instead of reporting the other server healthy', async () => {
    assert.ok(server);
    const port = Number(server.address.split(':')[1]);
    await assert.rejects(startDevServer({ port, uiPort: false }), /port \d+ is already in use/);
  });

  it('stop() ends the process and closes the port', async () => {
    assert.ok(server);
    const port = Number(server.address.split(':')[1]);
    assert.equal(await isPortOpen(port), true);
    await connection?.close();
    connection = undefined;
    await server.stop();
    const status = await server.exited;
    assert.equal(status.code, 0, `exit status ${JSON.stringify(status)}`);
    assert.equal(await isPortOpen(port), false, `port ${port} is still open`);
    assert.throws(() => process.kill(server!.pid, 0), /ESRCH/, 'the server process is still alive');
  });
});
