/**
 * Headless Chromium for Web UI tests (playwright-core with Debian's `chromium`; no browser download):
 * finding it, launching it as CI needs it, and screenshots that are saved whether a check passed or
 * failed. Screenshots go to artifacts/web-ui/ (git-ignored; CI keeps them).
 */
import { accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '../../tools/temporal-cli.js';

export const WEB_UI_ARTIFACTS = join(REPO_ROOT, 'artifacts', 'web-ui');

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A Chromium to drive; $FERRY_CHROMIUM must name one when set (CI sets it: no silent skip there). */
export function findChromium(): string | undefined {
  const fromEnv = process.env.FERRY_CHROMIUM;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`FERRY_CHROMIUM=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(isExecutable);
}

/** For `describe(..., { skip })`: false when a Chromium is there, else why the test skips. */
export function chromiumSkip(): false | string {
  return findChromium() ? false : 'no Chromium found ($FERRY_CHROMIUM, /usr/bin/chromium, /usr/bin/chromium-browser): apt-get install -y chromium';
}

export async function launchChromium(): Promise<Browser> {
  mkdirSync(WEB_UI_ARTIFACTS, { recursive: true });
  // CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: findChromium(), headless: true, chromiumSandbox: false, args: ['--no-sandbox'] });
}

/** Runs `fn`, then saves a full-page screenshot as artifacts/web-ui/<name>.png whether `fn` passed or failed. */
export async function withScreenshot(page: Page, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } finally {
    await page.screenshot({ path: join(WEB_UI_ARTIFACTS, `${name}.png`), fullPage: true }).catch((e: Error) => console.error(`screenshot ${name}: ${e.message}`));
  }
}
