/**
 * The Temporal Web UI (headless Chromium) with encrypted payloads: the dev server's UI is pointed at
 * a codec server (`--ui-codec-endpoint`) that accepts the UI's origin without a token, as the demo
 * runs it. With the codec server the workflow page shows the migration's input and result in
 * plaintext; with the codec server unreachable the same page says so and shows only ciphertext.
 * Screenshots: artifacts/web-ui/codec-plaintext.png, artifacts/web-ui/codec-unreachable.png.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../../tools/temporal-cli.js';
import { ferryCodec } from '../../workers/codec/data-converter.js';
import { startCodecServer, type RunningCodecServer } from '../../workers/codec/server.js';
import { migrationInputSchema, migrationWorkflowId, TASK_QUEUE, type MigrationResult } from '../../workflows/contract.js';
import { staticDetails, staticSummary } from '../../workflows/details.js';
import { chromiumSkip, launchChromium, withScreenshot } from '../support/browser.js';
import { input, startStack, type Stack } from '../support/e2e.js';

/** Generous: the UI's first page load compiles and fetches a lot on a busy CI machine. */
const UI_TIMEOUT = 30_000;

describe('Web UI through the codec server', { skip: chromiumSkip() }, () => {
  let stack: Stack;
  let codecServer: RunningCodecServer;
  let browser: Browser | undefined;
  let page: Page;
  let handle: WorkflowHandle;
  const decoded: string[] = [];

  before(async () => {
    const keys = mkdtempSync(join(tmpdir(), 'ferry-codec-keys-'));
    writeFileSync(join(keys, 'ui-1'), randomBytes(32).toString('base64'));
    const codec = ferryCodec({ FERRY_CODEC_KEYS: keys });
    const uiPort = await freePort();
    codecServer = await startCodecServer({
      codec: codec.dataConverter.payloadCodecs![0]!,
      token: randomBytes(16).toString('hex'),
      uiOrigins: [`http://127.0.0.1:${uiPort}`],
      uiWithoutToken: true,
    });
    stack = await startStack({ ui: true, uiPort, uiCodecEndpoint: codecServer.url, dataConverter: codec.dataConverter });
    const i = input('web-01');
    const m = migrationInputSchema.parse(i);
    handle = await stack.client.workflow.start('migrateVm', {
      taskQueue: TASK_QUEUE,
      workflowId: migrationWorkflowId(m),
      args: [i],
      staticSummary: staticSummary(m),
      staticDetails: staticDetails(m),
    });
    assert.equal(((await handle.result()) as MigrationResult).outcome, 'Succeeded');
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1920, height: 1080 }, timezoneId: 'UTC' })).newPage();
    // What the browser itself asked the codec server: proof the plaintext came through it.
    page.on('response', (r) => {
      if (r.url().startsWith(`${codecServer.url}/decode`)) decoded.push(String(r.status()));
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
    await codecServer?.close();
  });

  it("shows the migration's input and result in plaintext, decoded by the codec server", async () => {
    await withScreenshot(page, 'codec-plaintext', async () => {
      await page.goto(`${stack.server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`);
      // The input as the VM's name and clusters: only a decrypted payload has them as JSON.
      await page
        .getByText(/"cluster":\s*"destination"/)
        .first()
        .waitFor({ timeout: UI_TIMEOUT });
      const text = await page.locator('body').innerText();
      assert.match(text, /"name":\s*"web-01"/);
      assert.match(text, /"outcome":\s*"Succeeded"/);
      assert.doesNotMatch(text, /binary\/encrypted/);
    });
    assert.ok(decoded.length > 0 && decoded.every((d) => d === '200'), `codec server answers: ${decoded.join(', ')}`);
  });

  it('with the codec server unreachable, the same page shows ciphertext only', async () => {
    await page.route(`${codecServer.url}/**`, (route) => route.abort());
    await withScreenshot(page, 'codec-unreachable', async () => {
      await page.goto(`${stack.server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`);
      await page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor({ timeout: UI_TIMEOUT });
      // The input box holds the payload as the server stores it: base64 ciphertext.
      await page
        .getByText(/^"[A-Za-z0-9+/=]{200,}"$/)
        .first()
        .waitFor({ timeout: UI_TIMEOUT });
      const text = await page.locator('body').innerText();
      assert.doesNotMatch(text, /"name":\s*"web-01"/);
      assert.doesNotMatch(text, /"cluster":\s*"destination"/);
      assert.doesNotMatch(text, /"outcome":\s*"Succeeded"/);
    });
  });
});
