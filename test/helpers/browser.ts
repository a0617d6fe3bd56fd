/**
 * Headless Debian Chromium for tests, driven by puppeteer-core (which never downloads a
 * browser). Tests that need it skip when it is missing, and fail on CI.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

import type { Browser } from 'puppeteer-core';

import { onCi } from './data.js';

/** Where Debian's package puts Chromium. */
export const chromiumPath = '/usr/bin/chromium';

/**
 * Chromium, closed when `t` ends; or null after skipping `t` (failing it under CI=true) when
 * it is not installed. Use as `const browser = await requireChromium(t); if (!browser) return;`.
 */
export async function requireChromium(t: TestContext): Promise<Browser | null> {
  if (!existsSync(chromiumPath)) {
    const reason = `${chromiumPath} not found (apt-get install chromium, or scripts/install.sh)`;
    if (onCi()) assert.fail(`${reason}; CI=true requires it`);
    t.skip(reason);
    return null;
  }
  const { launch } = await import('puppeteer-core');
  const browser = await launch({
    executablePath: chromiumPath,
    headless: true,
    // As root, Chromium runs only without its sandbox; the pages are the tests' own files.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  t.after(() => browser.close());
  return browser;
}
