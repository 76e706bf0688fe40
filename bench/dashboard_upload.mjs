// Measures a big upload through the dashboard in headless Chromium: the page hashes each part,
// signs it and PUTs it straight to storage, 4 at a time, then completes the upload and marks
// the asset uploaded. Prints seconds and MB/s; a measurement, not a test.
//   BASE_URL=http://127.0.0.1:3000 ASSETS_USER=alice ASSETS_PASSWORD=... node bench/dashboard_upload.mjs
// Optional: BENCH_UPLOAD_MIB (default 1024), CHROMIUM_PATH (default /usr/bin/chromium).
// Playwright comes from end2end/node_modules (npm ci there first).
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { launchChromium, signedInContext } from './chromium.mjs';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const user = process.env.ASSETS_USER;
const password = process.env.ASSETS_PASSWORD;
const mib = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
if (!user || !password) {
  console.error('set ASSETS_USER and ASSETS_PASSWORD (a user made with `server users add`)');
  process.exit(2);
}

// The file: each MiB different, so storage cannot take shortcuts.
const dir = mkdtempSync(join(tmpdir(), 'assets-bench-upload-'));
const name = `bench-${Date.now()}.bin`;
const path = join(dir, name);
const block = Buffer.alloc(1 << 20);
const fd = openSync(path, 'w');
for (let i = 0; i < mib; i++) {
  block.fill(createHash('sha256').update(`${name}:${i}`).digest());
  writeSync(fd, block);
}
closeSync(fd);

const browser = await launchChromium();
try {
  const context = await signedInContext(browser, base, user, password);
  const page = await context.newPage();
  let parts = 0;
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (response.request().method() === 'PUT' && url.searchParams.has('partNumber') && response.ok()) parts++;
  });
  await page.goto(base);
  await page.waitForSelector('section.dashboard[data-hydrated="true"]');

  const status = page.locator(`li.upload-item[data-upload="${name}"] .upload-status`);
  const started = performance.now();
  await page.getByLabel('Choose files to upload').setInputFiles(path);
  await status.filter({ hasText: /^(Finishing…|Uploaded .*)$/ }).waitFor({ timeout: 3_600_000 });
  const stored = performance.now();
  await status.filter({ hasText: /^Uploaded / }).waitFor({ timeout: 3_600_000 });
  const done = performance.now();

  const bytes = mib * (1 << 20);
  const seconds = (done - started) / 1000;
  console.log(
    `dashboard upload of ${mib} MiB in Chromium: ${seconds.toFixed(1)} s, ` +
      `${(bytes / 1e6 / seconds).toFixed(1)} MB/s (${parts} parts; all parts stored after ` +
      `${((stored - started) / 1000).toFixed(1)} s, completing took ${((done - stored) / 1000).toFixed(1)} s)`,
  );
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
