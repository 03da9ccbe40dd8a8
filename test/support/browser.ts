/** Chromium for browser tests, driven by playwright-core; a missing browser fails loudly, never skips. */
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.OUTPAINT_CHROMIUM ?? '/usr/bin/chromium';
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
