/**
 * The Temporal Web UI in a real browser (headless Chromium through playwright-core, Debian's
 * `chromium`, no browser download): what an operator sees of a migration that succeeded and of one
 * that stalled. Screenshots go to artifacts/web-ui/ (git-ignored; CI keeps them), also when a test
 * fails, so a failure shows what the page held.
 *
 * What the Web UI (2.54.1 in ferry's pinned CLI 1.9.1; 2.42.1 in the go-built fallback v1.5.1) can
 * show, and so what is asserted:
 * - The workflow list has no column for the static summary (its list API returns no user metadata),
 *   so the list is checked for what an operator can get there: ferry's search attributes as columns
 *   (FerryPhase, FerryStalled, FerryVm, configured the way the UI's column picker stores them) and
 *   the `FerryStalled = true` query.
 * - The summary, the static details and the current details are on a workflow's "User Metadata"
 *   tab, each rendered from Markdown in its own iframe.
 *
 * Skipped only when no Chromium is installed ($FERRY_CHROMIUM, /usr/bin/chromium,
 * /usr/bin/chromium-browser); .ci/run installs it and sets FERRY_CHROMIUM, so CI never skips.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { chromiumSkip, launchChromium, withScreenshot } from '../support/browser.js';
import { compareVersions, temporalCliVersion } from '../../tools/temporal-cli.js';
import { migrationInputSchema, migrationWorkflowId, TASK_QUEUE, type MigrationInput, type MigrationResult, type MigrationStatus } from '../../workflows/contract.js';
import { commands, staticDetails, staticSummary } from '../../workflows/details.js';
import { cancelUpdate, statusQuery } from '../../workflows/messages.js';
import { FerryPhase } from '../../workflows/search-attributes.js';
import { input, startStack, waitForPhase, type Stack } from '../support/e2e.js';
import { eventually } from '../../simulator/testing/sim.js';

/** Generous: the UI's first page load compiles and fetches a lot on a busy CI machine. */
const UI_TIMEOUT = 30_000;

/** Started the way `ferry migrate` starts it: with the static summary and details the UI shows. */
async function startLikeFerryCli(stack: Stack, i: MigrationInput): Promise<WorkflowHandle> {
  const m = migrationInputSchema.parse(i);
  return stack.client.workflow.start('migrateVm', {
    taskQueue: TASK_QUEUE,
    workflowId: migrationWorkflowId(m),
    args: [i],
    staticSummary: staticSummary(m),
    staticDetails: staticDetails(m),
  });
}

/**
 * How the workflow list writes a workflow status and a Bool search attribute, by Web UI version:
 * UI 2.42.1 as text ("Completed", "false"), UI 2.54.1 as badges in capitals ("COMPLETED", "FALSE").
 * Keyword values (FerryVm, FerryPhase) are shown as stored by both. Versions between the two were
 * not tried; they are taken to render as 2.42.1 does, and a failure here says which UI ran.
 */
function listBadge(ui: string): (text: string) => string {
  return compareVersions(ui, '2.54.0') >= 0 ? (text) => text.toUpperCase() : (text) => text;
}

/** `text` as a whole word, case and all. */
function word(text: string): RegExp {
  return new RegExp(`\\b${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\b`);
}

/** Markdown renders straight quotes as typographic ones; compare text modulo that and whitespace. */
function normalize(text: string): string {
  return text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The Markdown iframe under a User Metadata heading ("Summary", "Details", "Current Details"). */
function markdownUnder(page: Page, heading: string): FrameLocator {
  return page.locator(`xpath=//h3[normalize-space()="${heading}"]/following::iframe[1]`).contentFrame();
}

/** Waits for `marker` in the frame, then returns the frame's whole text, normalized. */
async function frameText(frame: FrameLocator, marker: string): Promise<string> {
  await frame.getByText(marker).first().waitFor({ timeout: UI_TIMEOUT });
  return normalize(await frame.locator('body').innerText());
}

describe('Temporal Web UI in headless Chromium', { skip: chromiumSkip() }, () => {
  let stack: Stack;
  let browser: Browser | undefined;
  let page: Page;
  let succeeded: WorkflowHandle;
  let stalled: WorkflowHandle | undefined;
  let stall: MigrationStatus;
  /** The Web UI version of the CLI that runs the dev server. */
  let uiVersion: string;

  before(async () => {
    stack = await startStack({ ui: true });
    assert.ok(stack.server.uiUrl, 'the dev server was started without its Web UI');
    const version = temporalCliVersion(stack.server.cli);
    assert.ok(version, `${stack.server.cli} --version reports no Web UI version`);
    uiVersion = version.ui;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 }, timezoneId: 'UTC' });
    // The list columns as the UI's column picker would store them: ferry's search attributes next to
    // the status, so the list says where each migration stands.
    const columns = ['Status', 'Workflow ID', 'FerryVm', 'FerryPhase', 'FerryStalled', 'Type', 'Start', 'End'].map((label) => ({ label }));
    await context.addInitScript({
      content: `localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(JSON.stringify({ default: columns }))});`,
    });
    page = await context.newPage();

    succeeded = await startLikeFerryCli(stack, input('web-01'));
    assert.equal(((await succeeded.result()) as MigrationResult).outcome, 'Succeeded');

    await stack.sim.partition(true);
    stalled = await startLikeFerryCli(stack, input('db-01'));
    await waitForPhase(stalled, 'Stalled', 60_000);
    stall = await stalled.query(statusQuery);
    assert.ok(stall.stall, 'Stalled without a stall in the status');
    // The list reads the visibility store, which follows the workflows asynchronously.
    await eventually('both migrations visible with their final search attributes', async () => {
      const phases = new Map<string, unknown>();
      for await (const wf of stack.client.workflow.list({ query: 'FerryPhase IN ("Succeeded", "Stalled")' })) phases.set(wf.workflowId, wf.typedSearchAttributes.get(FerryPhase));
      return phases.get(succeeded.workflowId) === 'Succeeded' && phases.get(stalled!.workflowId) === 'Stalled';
    });
  });

  after(async () => {
    await browser?.close().catch((e: Error) => console.error(`closing the browser: ${e.message}`));
    if (stack) {
      await stack.sim.partition(false).catch(() => {});
      if (stalled) {
        try {
          await stalled.executeUpdate(cancelUpdate, { args: [{ reason: 'web UI test done' }] });
          await stalled.result();
        } catch {
          await stalled.terminate('web UI test cleanup').catch(() => {});
        }
      }
      await stack.stop();
    }
  });

  it('the migration list shows both migrations with ferry phase columns; FerryStalled = true finds the stalled one', async () => {
    const ui = stack.server.uiUrl!;
    await withScreenshot(page, 'list', async () => {
      await page.goto(`${ui}/namespaces/default/workflows`);
      await page.getByRole('columnheader', { name: 'FerryPhase' }).waitFor({ timeout: UI_TIMEOUT });
      const row = (id: string) => page.getByRole('row').filter({ hasText: id });
      await row(succeeded.workflowId).waitFor({ timeout: UI_TIMEOUT });
      await row(stalled!.workflowId).waitFor({ timeout: UI_TIMEOUT });
      const ok = normalize(await row(succeeded.workflowId).innerText());
      const stuck = normalize(await row(stalled!.workflowId).innerText());
      const badge = listBadge(uiVersion);
      const says = (text: string, expected: string): void => assert.match(text, word(expected), `Web UI ${uiVersion} row: ${text}`);
      says(ok, badge('Completed'));
      says(ok, 'demo/web-01');
      says(ok, 'Succeeded');
      says(ok, badge('false'));
      says(stuck, badge('Running'));
      says(stuck, 'demo/db-01');
      says(stuck, 'Stalled');
      says(stuck, badge('true'));
      assert.doesNotMatch(ok, word(badge('true')), ok);
      assert.doesNotMatch(stuck, word(badge('false')), stuck);
    });

    await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent('FerryStalled = true')}`);
    await page.getByRole('row').filter({ hasText: stalled!.workflowId }).waitFor({ timeout: UI_TIMEOUT });
    assert.equal(await page.getByRole('row').filter({ hasText: succeeded.workflowId }).count(), 0, 'a succeeded migration listed as stalled');
  });

  it("a migration's User Metadata tab shows ferry's summary and static details", async () => {
    await withScreenshot(page, 'succeeded', async () => {
      await page.goto(`${stack.server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(succeeded.workflowId)}`);
      await page.getByRole('tab', { name: 'User Metadata' }).click({ timeout: UI_TIMEOUT });
      const summary = await frameText(markdownUnder(page, 'Summary'), 'Live-migrate VM demo/web-01');
      assert.equal(summary, normalize(staticSummary(migrationInputSchema.parse(input('web-01')))));
      const details = await frameText(markdownUnder(page, 'Details'), 'Stall fallback');
      assert.match(details, /VM demo\/web-01 From cluster source, namespace demo To cluster destination, namespace demo/, details);
      const current = await frameText(markdownUnder(page, 'Current Details'), 'Succeeded');
      assert.match(current, /Migration ID: [0-9a-f-]{36}/, current);
    });
  });

  it("a stalled migration's page shows the diagnosis and the commands to decide", async () => {
    const s = stall.stall!;
    await withScreenshot(page, 'stalled', async () => {
      await page.goto(`${stack.server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(stalled!.workflowId)}`);
      await page.getByRole('tab', { name: 'User Metadata' }).click({ timeout: UI_TIMEOUT });
      const summary = await frameText(markdownUnder(page, 'Summary'), 'Live-migrate VM demo/db-01');
      assert.match(summary, /^Live-migrate VM demo\/db-01: source → destination\/demo$/);
      // Current details come from the worker (the __temporal_workflow_metadata query) when the tab opens.
      const current = await frameText(markdownUnder(page, 'Current Details'), `Stalled in ${s.phase}`);
      assert.ok(current.includes(normalize(s.diagnosis)), `the diagnosis is not on the page.\nexpected: ${s.diagnosis}\npage: ${current}`);
      assert.match(current, new RegExp(`synchronization address ${stack.sim.destination.sync.address()!.replace(/\./g, '\\.')}`));
      for (const command of commands(stalled!.workflowId)) {
        assert.ok(current.includes(normalize(command)), `missing command: ${command}\npage: ${current}`);
      }
      assert.match(current, /temporal workflow update execute -w 'migration\/source\/demo\/db-01' --name retry/);
    });
  });
});
