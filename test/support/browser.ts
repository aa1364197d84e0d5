/**
 * Headless Chromium for browser tests and the dashboard screenshot, driven by
 * playwright-core: Debian's `chromium` (CI installs it, see .ci/run), or the executable
 * named by SHOAL_CHROMIUM. Playwright's own browser downloads are never used.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The browser to drive, or undefined when none is installed. */
export function chromiumPath(): string | undefined {
  const named = process.env.SHOAL_CHROMIUM;
  if (named !== undefined && named !== '') return named;
  return CHROMIUM_PATHS.find((path) => existsSync(path));
}

/** Whether a missing browser fails the test rather than skipping it (CI sets it where it installed one). */
export function browserRequired(): boolean {
  return process.env.SHOAL_REQUIRE_BROWSER === '1';
}

export function launchChromium(executablePath: string): Promise<Browser> {
  // /dev/shm is small in containers; Chromium then uses /tmp for shared memory.
  return chromium.launch({ executablePath, headless: true, args: ['--disable-dev-shm-usage'] });
}
