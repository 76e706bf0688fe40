// Measures how soon an open dashboard shows a change made elsewhere (live updates, SSE): one
// page open in headless Chromium; a script uploads through the REST API N times (create, PUT the
// bytes to storage, then mark uploaded). For each, the time from the storage PUT's completion
// to the row showing RECEIVED (the S3 event's path: embedded endpoint -> event consumer ->
// stream -> page) and from `PUT /assets/{id}`'s reply to the row showing UPLOADED. Row changes
// are timestamped in the page by a MutationObserver. Prints medians and p90s; a measurement,
// not a test.
//   BASE_URL=http://127.0.0.1:3000 ASSETS_USER=alice ASSETS_PASSWORD=... ASSETS_API_KEY=... \
//     node bench/live_latency.mjs
// Optional: BENCH_LIVE_N (default 50), CHROMIUM_PATH (default /usr/bin/chromium).
// Playwright comes from end2end/node_modules (npm ci there first).

import { launchChromium, signedInContext } from './chromium.mjs';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const user = process.env.ASSETS_USER;
const password = process.env.ASSETS_PASSWORD;
const key = process.env.ASSETS_API_KEY;
const n = Number(process.env.BENCH_LIVE_N ?? 50);
if (!user || !password || !key) {
  console.error('set ASSETS_USER, ASSETS_PASSWORD and ASSETS_API_KEY (that user\'s key)');
  process.exit(2);
}
const bearer = { Authorization: `Bearer ${key}` };

async function rest(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...bearer, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

const browser = await launchChromium();
try {
  const context = await signedInContext(browser, base, user, password);
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('section.dashboard[data-hydrated="true"]');
  await page.waitForSelector('.live-status[data-live="open"]');
  // Wall-clock (Date.now) stamps on both sides: the page and this script share the machine.
  await page.evaluate(() => {
    const seen = (window.benchSeen = {});
    const scan = () => {
      const now = Date.now();
      for (const row of document.querySelectorAll('table.assets tbody tr')) {
        const name = row.querySelector('td.file')?.textContent?.trim();
        const state = row.querySelector('.badge')?.textContent?.trim();
        if (!name || !state) continue;
        seen[name] ??= {};
        seen[name][state] ??= now;
      }
    };
    new MutationObserver(scan).observe(document.querySelector('section.dashboard'), {
      subtree: true,
      childList: true,
      characterData: true,
    });
  });
  const seenAt = (name, state) =>
    page
      .waitForFunction(([n, s]) => window.benchSeen[n]?.[s], [name, state], { timeout: 10_000, polling: 'raf' })
      .then((handle) => handle.jsonValue());

  const received = [];
  const uploaded = [];
  const stamp = Date.now();
  for (let i = 0; i < n; i++) {
    const filename = `live-bench-${stamp}-${i}.txt`;
    const body = `live bench ${i}\n`;
    const created = await rest('POST', '/assets', { filename, content_type: 'text/plain', size: body.length });
    const put = await fetch(created.upload_url, { method: 'PUT', headers: created.upload_headers, body });
    if (!put.ok) throw new Error(`storage PUT: ${put.status} ${await put.text()}`);
    const stored = Date.now();
    received.push((await seenAt(filename, 'RECEIVED')) - stored);
    await rest('PUT', `/assets/${created.id}`);
    const marked = Date.now();
    uploaded.push((await seenAt(filename, 'UPLOADED')) - marked);
  }
  const fmt = (values) => `median ${quantile(values, 0.5)} ms, p90 ${quantile(values, 0.9)} ms, max ${Math.max(...values)} ms`;
  console.log(
    `live update to an open dashboard over ${n} uploads: storage PUT -> row RECEIVED ${fmt(received)}; ` +
      `PUT /assets/{id} -> row UPLOADED ${fmt(uploaded)}`,
  );
} finally {
  await browser.close();
}
