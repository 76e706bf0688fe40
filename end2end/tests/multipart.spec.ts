import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Request, Route } from '@playwright/test';
import { expect, test, waitHydrated } from './fixtures';

// Big files through the dashboard: the page uploads them in parts straight to the embedded S3
// endpoint, survives dropped part requests, an expired part URL and a reload, and cancels.

const MIB = 1 << 20;
// The server's defaults: uploads of 64 MiB and more go in parts of 16 MiB.
const PART_SIZE = 16 * MIB;

interface BigFile {
  dir: string;
  path: string;
  name: string;
  sha256: string;
}

/** A file of `mib` MiB, each MiB different (its index hashed, repeated), and its SHA-256. */
function makeBigFile(prefix: string, mib: number): BigFile {
  const dir = mkdtempSync(join(tmpdir(), 'assets-e2e-multipart-'));
  const name = `${prefix}-${Date.now()}.bin`;
  const path = join(dir, name);
  const whole = createHash('sha256');
  const block = Buffer.alloc(MIB);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i++) {
      block.fill(createHash('sha256').update(`${name}:${i}`).digest());
      whole.update(block);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  // A whole second, which survives being set again exactly (see changeInPlace).
  const modified = new Date(Math.floor(Date.now() / 1000) * 1000);
  utimesSync(path, modified, modified);
  return { dir, path, name, sha256: whole.digest('hex') };
}

/** The SHA-256 of a file's bytes as they are now. */
async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MIB })) hash.update(chunk);
  return hash.digest('hex');
}

/** Overwrites 1 MiB at `offset` with other bytes, keeping the file's size and times (its identity
 * to the page: name, size, last modified). */
function changeInPlace(path: string, offset: number) {
  const times = statSync(path);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.alloc(MIB, 0x5a), 0, MIB, offset);
  } finally {
    closeSync(fd);
  }
  utimesSync(path, times.atime, times.mtime);
}

/** A presigned UploadPart request (to the embedded S3 endpoint). */
function isPartUrl(url: URL | string): boolean {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return parsed.searchParams.has('partNumber') && parsed.searchParams.has('uploadId');
}
const isPartPut = (request: Request) => request.method() === 'PUT' && isPartUrl(request.url());
const partNumber = (request: Request) => Number(new URL(request.url()).searchParams.get('partNumber'));

function uploadItem(page: Page, name: string) {
  return page.locator(`li.upload-item[data-upload="${name}"]`);
}

async function openHydrated(page: Page) {
  await page.goto('/');
  await waitHydrated(page);
}

async function rememberedUploads(page: Page): Promise<string[]> {
  return page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('assets.upload')));
}

// S3's answer to an expired presigned URL, with the CORS headers the browser needs to read it.
const EXPIRED = {
  status: 403,
  headers: {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'ETag',
    'content-type': 'application/xml',
  },
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
};

test('a 1 GiB file goes up in parts through dropped requests, an expired URL and a reload', async ({
  page,
  request,
}) => {
  test.setTimeout(15 * 60_000);
  const file = makeBigFile('big', 1024);
  const parts = Math.ceil((1024 * MIB) / PART_SIZE);
  try {
    // Part PUTs as the browser sends them and as storage answers them.
    let sent: number[] = [];
    const stored = new Set<number>();
    page.on('request', (r) => {
      if (isPartPut(r)) sent.push(partNumber(r));
    });
    page.on('response', (r) => {
      if (isPartPut(r.request()) && r.status() === 200) stored.add(partNumber(r.request()));
    });

    // Fault injection: the 3rd, 8th and 13th part requests lose their connection, the 5th is
    // answered as S3 answers an expired URL (its part is signed again). All are retried; none
    // shows as a failure.
    let partRequests = 0;
    const dropped: number[] = [];
    let expired = 0;
    const faults = async (route: Route) => {
      if (route.request().method() !== 'PUT') return route.continue();
      partRequests++;
      if ([3, 8, 13].includes(partRequests)) {
        dropped.push(partNumber(route.request()));
        return route.abort('connectionreset');
      }
      if (partRequests === 5) {
        expired++;
        dropped.push(partNumber(route.request()));
        return route.fulfill(EXPIRED);
      }
      return route.continue();
    };
    await page.route(isPartUrl, faults);

    await openHydrated(page);
    await page.getByLabel('Choose files to upload').setInputFiles(file.path);
    const item = uploadItem(page, file.name);
    // Progress with speed and time left.
    await expect(item.locator('.upload-status')).toHaveText(/of 1\.0 GiB \(\d+%\), .*\/s, .* left$/, {
      timeout: 120_000,
    });
    await expect.poll(() => dropped.length, { timeout: 300_000 }).toBe(4);
    expect(expired).toBe(1);
    await page.unroute(isPartUrl, faults);
    await expect(item.getByRole('button', { name: `Pause uploading ${file.name}` })).toBeVisible();
    await expect(item).not.toHaveClass(/failed/);

    // Reload mid-way: the parts stored so far stay in storage (asked of the REST API).
    await expect.poll(() => stored.size, { timeout: 600_000 }).toBeGreaterThanOrEqual(24);
    await page.reload();
    await waitHydrated(page);
    sent = [];
    const list = await (await request.get('/assets?limit=1000')).json();
    const id = list.items.find((a: { filename?: string }) => a.filename === file.name).asset_id;
    const listed = await request.get(`/assets/${id}/multipart/parts`);
    expect(listed.status()).toBe(200);
    const storedParts: number[] = (await listed.json()).parts.map((p: { part_number: number }) => p.part_number);
    const storedBefore = storedParts.length;
    expect(storedBefore).toBeGreaterThanOrEqual(24);
    expect(storedBefore).toBeLessThan(parts);
    // The parts dropped or refused earlier went again and were stored.
    for (const n of dropped) expect(storedParts).toContain(n);

    // Meanwhile one stored part's bytes change (same name, size and time): resuming must send
    // that part again, since its SHA-256 no longer matches what storage holds.
    const changed = Math.min(...storedParts);
    changeInPlace(file.path, (changed - 1) * PART_SIZE);
    const finalSha256 = await sha256Of(file.path);
    expect(finalSha256).not.toBe(file.sha256);

    // Re-selecting the same file offers to resume it; resuming sends only the missing parts.
    await page.getByLabel('Choose files to upload').setInputFiles(file.path);
    await expect(item.locator('.upload-status')).toHaveText(/unfinished upload of this file/);
    await expect(item.getByRole('button', { name: `Start uploading ${file.name} over` })).toBeVisible();
    await item.getByRole('button', { name: `Resume uploading ${file.name}` }).click();
    await expect(item.locator('.upload-status')).toHaveText('Uploaded 1.0 GiB (100%)', { timeout: 600_000 });
    console.log(`${parts} parts: ${storedBefore} stored before the reload, ${sent.length} sent after it`);
    expect(sent).toContain(changed);
    expect(sent.length).toBeLessThanOrEqual(parts - storedBefore + 1);
    expect(new Set(sent).size).toBe(sent.length);
    expect(await rememberedUploads(page)).toEqual([]);

    // The asset is UPLOADED and its bytes are the file's, as it is now.
    const after = await (await request.get('/assets?limit=1000')).json();
    const asset = after.items.find((a: { filename?: string }) => a.asset_id === id);
    expect(asset.state).toBe('UPLOADED');
    expect(asset.size).toBe(1024 * MIB);
    const link = await request.get(`/assets/${id}`);
    expect(link.status()).toBe(200);
    const download = await fetch((await link.json()).download_url);
    expect(download.status).toBe(200);
    const downloaded = createHash('sha256');
    let bytes = 0;
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) {
      downloaded.update(chunk);
      bytes += chunk.length;
    }
    expect(bytes).toBe(1024 * MIB);
    expect(downloaded.digest('hex')).toBe(finalSha256);
  } finally {
    rmSync(file.dir, { recursive: true, force: true });
  }
});

test('pause stops sending, resume goes on, cancel deletes the asset', async ({ page, request }) => {
  test.setTimeout(5 * 60_000);
  const file = makeBigFile('cancel', 64);
  try {
    // Slow storage down so the upload is still running when the buttons are pressed.
    const slow = async (route: Route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // The page may have aborted the request meanwhile (Pause, Cancel).
      await route.continue().catch(() => undefined);
    };
    await page.route(isPartUrl, slow);
    let puts = 0;
    page.on('request', (r) => {
      if (isPartPut(r)) puts++;
    });

    await openHydrated(page);
    await page.getByLabel('Choose files to upload').setInputFiles(file.path);
    const item = uploadItem(page, file.name);
    await expect.poll(() => puts).toBeGreaterThan(0);
    await item.getByRole('button', { name: `Pause uploading ${file.name}` }).click();
    await expect(item.locator('.upload-status')).toHaveText(/^Paused at /);
    expect(await rememberedUploads(page)).toHaveLength(1);
    const whilePaused = puts;
    await page.waitForTimeout(2000);
    expect(puts).toBe(whilePaused);

    await item.getByRole('button', { name: `Resume uploading ${file.name}` }).click();
    await expect.poll(() => puts).toBeGreaterThan(whilePaused);
    await item.getByRole('button', { name: `Cancel uploading ${file.name}` }).click();
    await expect(item.locator('.upload-status')).toHaveText('Cancelled');
    expect(await rememberedUploads(page)).toEqual([]);
    await expect(item.getByRole('button', { name: `Retry uploading ${file.name}` })).toBeVisible();

    const list = await (await request.get('/assets?include_deleted=true&limit=1000')).json();
    const records = list.items.filter((a: { filename?: string }) => a.filename === file.name);
    expect(records.map((a: { state: string }) => a.state)).toEqual(['DELETED']);
    // Its parts are gone from storage: there is no upload left to list.
    const listed = await request.get(`/assets/${records[0].asset_id}/multipart/parts`);
    expect(listed.status()).toBeGreaterThanOrEqual(400);
  } finally {
    rmSync(file.dir, { recursive: true, force: true });
  }
});
