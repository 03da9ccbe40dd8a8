/**
 * Chromium for browser tests (Debian's, from /usr/bin/chromium or CHROMIUM_PATH), driven by
 * playwright-core; when it cannot start, the tests fail saying how to install it, never skip.
 */
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  } catch (err) {
    throw new Error(
      `Chromium cannot start from ${CHROMIUM} (install it with: apt-get install -y chromium; .ci/run does): ` +
        (err as Error).message.split('\n')[0],
    );
  }
}
