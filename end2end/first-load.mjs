// Measures the dashboard's first load in headless Chromium: time to the server-rendered page
// (DOMContentLoaded) and to hydration (the page's data-hydrated marker), with a cold cache (a
// new context per run) and a warm one (the same context loading again: wasm, JS and CSS from
// its cache). Prints two lines of numbers; used by bench/run.sh, not a test.
// Usage: node first-load.mjs http://127.0.0.1:3000 [runs]
// The dashboard needs a session: set ASSETS_USER and ASSETS_PASSWORD (a user made with
// `server users add`); each run signs in through the API, which loads no page, so the cache
// stays cold.
import { chromium } from '@playwright/test';

const base = process.argv[2] ?? 'http://127.0.0.1:3000';
const runs = Number(process.argv[3] ?? 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dom = [];
const hydrated = [];
const warmDom = [];
const warmHydrated = [];
async function load(page, doms, hydrateds) {
  const started = Date.now();
  await page.goto(base, { waitUntil: 'domcontentloaded' });
  doms.push(Date.now() - started);
  await page.waitForSelector('section.dashboard[data-hydrated="true"]');
  hydrateds.push(Date.now() - started);
}
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext(); // cold cache each run
  if (process.env.ASSETS_USER) {
    const signedIn = await context.request.post(`${base}/api/sign_in`, {
      headers: { Origin: new URL(base).origin },
      data: { form: { name: process.env.ASSETS_USER, password: process.env.ASSETS_PASSWORD ?? '' } },
    });
    if (!signedIn.ok()) throw new Error(`sign-in failed: ${signedIn.status()} ${await signedIn.text()}`);
  }
  const page = await context.newPage();
  await load(page, dom, hydrated);
  // The same context again, in a new tab: the static files come from its cache.
  const again = await context.newPage();
  await load(again, warmDom, warmHydrated);
  await context.close();
}
await browser.close();
console.log(`first load, cold cache (median of ${runs}): page ${median(dom)} ms, hydrated ${median(hydrated)} ms`);
console.log(`load, warm cache (median of ${runs}): page ${median(warmDom)} ms, hydrated ${median(warmHydrated)} ms`);
