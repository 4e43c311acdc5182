/**
 * The browser of the page tests: Debian's chromium (`.ci/run` installs it; by hand: `apt-get install
 * chromium`), or the binary CHROMIUM_PATH names, driven by playwright-core (which downloads no browser
 * of its own). A missing browser fails the test with what to do, never skips it.
 */
import { existsSync } from 'node:fs';
import { Browser, chromium } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string {
  const given = process.env.CHROMIUM_PATH?.trim();
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return given;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      `no chromium at ${CANDIDATES.join(' or ')}: install it (Debian: apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`,
    );
  }
  return found;
}

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu'], timeout: 60_000 });
}
