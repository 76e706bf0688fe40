// What the browser benchmarks share: headless Chromium (Debian's, or CHROMIUM_PATH) from
// end2end's Playwright (npm ci there first), and a context signed in as a dashboard user.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A new context of `browser` with `user`'s session cookie (the sign-in server function). */
export async function signedInContext(browser, base, user, password) {
  const context = await browser.newContext();
  const signedIn = await context.request.post(`${base}/api/sign_in`, {
    headers: { Origin: new URL(base).origin },
    data: { form: { name: user, password } },
  });
  if (!signedIn.ok()) throw new Error(`sign-in failed: ${signedIn.status()} ${await signedIn.text()}`);
  return context;
}
