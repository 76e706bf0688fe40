import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Page, Request } from '@playwright/test';
import { BASE_URL, expect, test } from './fixtures';

// Uppy from npm, unchanged, against this server: `@uppy/aws-s3` in Companion mode
// (`companionEndpoint: '<server>/companion'`), signed in as alice by the dashboard's session
// cookie. Its page is bundled here by esbuild (in memory) and served at the server's own origin
// through `page.route`, so the cookie goes with Uppy's calls as it would for a page of the site.

const MiB = 1024 * 1024;
const PAGE = `${BASE_URL}/uppy-test/`;

let bundle: Promise<string> | undefined;
function uppyBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [join(__dirname, '..', 'uppy', 'page.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'warning',
  }).then((result) => result.outputFiles[0].text);
  return bundle;
}

async function openUppyPage(page: Page) {
  const script = await uppyBundle();
  // A page `page.route` fulfils has no network address, so Chromium's Local Network Access
  // counts it as public and blocks its requests to loopback (the S3 endpoint) unless allowed;
  // the same page served by this server on loopback would need no permission.
  await page.context().grantPermissions(['local-network-access'], { origin: BASE_URL });
  await page.route(`${PAGE}**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith('/uppy.js')) {
      return route.fulfill({ contentType: 'text/javascript', body: script });
    }
    return route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><title>Uppy</title><input type="file" aria-label="File"><script src="uppy.js"></script>',
    });
  });
  await page.goto(PAGE);
}

/** The Companion calls Uppy made, as `METHOD path` with the upload id and part numbers kept. */
function watchCompanion(page: Page): string[] {
  const calls: string[] = [];
  page.on('request', (request: Request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/companion/')) calls.push(`${request.method()} ${url.pathname}`);
  });
  return calls;
}

test('Uppy uploads a 12 MiB file in parts through the Companion routes', async ({ page, request, anon }) => {
  const content = randomBytes(12 * MiB + 4321);
  const name = `uppy-${Date.now()}.bin`;
  const calls = watchCompanion(page);
  await openUppyPage(page);

  await page.getByLabel('File').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: content });
  const result = (await page.evaluate(() => window.uppyDone)) as {
    successful: { name: string; response: { body: { location: string; key: string } } }[];
    failed: { name: string; error: string }[];
  };
  const events = await page.evaluate(() => window.uppyEvents);
  expect(result.failed, events.join('\n')).toEqual([]);
  expect(result.successful.map((file) => file.name)).toEqual([name]);

  // Three parts of 5, 5 and 2 MiB, each signed by the server, then one completion.
  const { key, location } = result.successful[0].response.body;
  expect(key).toMatch(/^assets\/[0-9a-f-]{36}$/);
  const id = key.slice('assets/'.length);
  expect(location).toBe(`/assets/${id}`);
  expect(events.filter((e) => e.startsWith('part '))).toEqual(['part 1', 'part 2', 'part 3']);
  expect(events).toContain(`progress ${content.length}/${content.length}`);
  const upload = calls[0] === 'POST /companion/s3/multipart' ? calls[1].split('/')[4] : '(none)';
  expect(calls).toEqual([
    'POST /companion/s3/multipart',
    `GET /companion/s3/multipart/${upload}/1`,
    `GET /companion/s3/multipart/${upload}/2`,
    `GET /companion/s3/multipart/${upload}/3`,
    `POST /companion/s3/multipart/${upload}/complete`,
  ]);

  // The REST API (alice's API key) sees her asset RECEIVED, with the file's name and size.
  const listed = await request.get('/assets?limit=100');
  expect(listed.status()).toBe(200);
  const asset = ((await listed.json()).items as { asset_id: string; [k: string]: unknown }[]).find(
    (item) => item.asset_id === id,
  );
  expect(asset).toMatchObject({ state: 'RECEIVED', owner: 'alice', filename: name, size: content.length });

  // Confirmed, it downloads as exactly the file's bytes.
  expect((await request.put(`/assets/${id}`)).status()).toBe(202);
  const link = await request.get(`/assets/${id}`);
  expect(link.status()).toBe(200);
  const downloaded = await anon.get((await link.json()).download_url);
  expect(downloaded.status()).toBe(200);
  expect(Buffer.compare(await downloaded.body(), content)).toBe(0);
});

test('cancelling in Uppy aborts the upload: the asset is DELETED', async ({ page, request }) => {
  const content = randomBytes(12 * MiB);
  const name = `uppy-cancel-${Date.now()}.bin`;
  await openUppyPage(page);
  // Cancel once the first part is stored.
  await page.evaluate(() =>
    window.uppy.on('s3-multipart:part-uploaded', () => window.uppy.cancelAll()),
  );
  const aborted = page.waitForResponse(
    (response) => response.request().method() === 'DELETE' && response.url().includes('/companion/s3/multipart/'),
  );
  await page.getByLabel('File').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: content });
  const response = await aborted;
  // (Its `{}` body is checked by the integration tests: Uppy never reads it.)
  expect(response.status()).toBe(200);
  const id = new URL(response.url()).searchParams.get('key')!.slice('assets/'.length);

  const listed = await request.get('/assets?limit=100&include_deleted=true');
  const asset = ((await listed.json()).items as { asset_id: string; state: string }[]).find(
    (item) => item.asset_id === id,
  );
  expect(asset?.state).toBe('DELETED');
});
