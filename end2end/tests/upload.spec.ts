import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, test, waitHydrated } from './fixtures';

// Real files, uploaded by the real page in Chromium straight to the embedded S3 endpoint.
function makeFile(name: string, bytes: number): { path: string; content: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'assets-e2e-'));
  const content = randomBytes(bytes);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, content };
}

async function openHydrated(page: Page) {
  await page.goto('/');
  await waitHydrated(page);
}

function uploadItem(page: Page, name: string) {
  return page.locator(`li.upload-item[data-upload="${name}"]`);
}

function assetRow(page: Page, name: string) {
  return page.locator('table.assets tr', { hasText: name });
}

test('upload two files, download one, copy a link, delete one', async ({ page, context, anon }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const stamp = Date.now();
  const small = makeFile(`small-${stamp}.bin`, 300 * 1024);
  const large = makeFile(`large-${stamp}.bin`, 3 * 1024 * 1024);
  const smallName = small.path.split('/').pop()!;
  const largeName = large.path.split('/').pop()!;

  await openHydrated(page);
  await page.getByLabel('Choose files to upload').setInputFiles([small.path, large.path]);

  for (const name of [smallName, largeName]) {
    const item = uploadItem(page, name);
    await expect(item.locator('.upload-status')).toHaveText(/^Uploaded .*\(100%\)$/);
    await expect(item.locator('progress')).toHaveAttribute('value', '100');
    await expect(assetRow(page, name).locator('.badge')).toHaveText('UPLOADED');
  }

  // Download: the browser receives the same bytes as an attachment with the original name.
  await page.getByLabel('Download link lifetime').selectOption('60');
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: `Download ${largeName}` }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe(largeName);
  expect(readFileSync(await download.path()).equals(large.content)).toBe(true);

  // Copy link: the clipboard holds a working URL, and the page says when it expires.
  await page.getByRole('button', { name: `Copy link for ${smallName}` }).click();
  await expect(page.locator('.notice')).toContainText('Link copied; it expires');
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toContain('X-Amz-Signature=');
  // The presigned URL is the only credential: no cookie, no API key.
  const fetched = await anon.get(link);
  expect(fetched.status()).toBe(200);
  expect(Buffer.from(await fetched.body()).equals(small.content)).toBe(true);

  // Delete with confirmation: the row leaves the list, and shows again under "Show deleted".
  await page.getByRole('button', { name: `Delete ${smallName}` }).click();
  await page.getByRole('button', { name: `Confirm deleting ${smallName}` }).click();
  await expect(assetRow(page, smallName)).toHaveCount(0);
  await page.getByLabel('Show deleted assets').check();
  await expect(assetRow(page, smallName).locator('.badge')).toHaveText('DELETED');
  await page.getByLabel('Show deleted assets').uncheck();
  await expect(assetRow(page, smallName)).toHaveCount(0);

  await page.screenshot({ path: 'artifacts/dashboard-with-assets.png', fullPage: true });
});

test('an upload refused by storage shows why and leaves no UPLOADED record', async ({ page, request }) => {
  // Fault injection: storage answers the PUT as S3 does for an expired URL.
  await page.route('**/assets/assets/**', async (route) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'PUT, GET, HEAD',
      'access-control-allow-headers': '*',
    };
    if (route.request().method() === 'OPTIONS') {
      await route.fulfill({ status: 204, headers: cors });
      return;
    }
    await route.fulfill({
      status: 403,
      headers: { ...cors, 'content-type': 'application/xml' },
      body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
    });
  });
  const refused = makeFile(`refused-${Date.now()}.txt`, 2048);
  const name = refused.path.split('/').pop()!;
  await openHydrated(page);
  await page.getByLabel('Choose files to upload').setInputFiles(refused.path);
  const item = uploadItem(page, name);
  await expect(item.locator('.upload-status')).toHaveText(/upload link expired/);
  await expect(item.getByRole('button', { name: `Retry uploading ${name}` })).toBeVisible();

  const list = await (await request.get('/assets?include_deleted=true&limit=1000')).json();
  const records = list.items.filter((asset: { filename?: string }) => asset.filename === name);
  expect(records.length).toBe(1);
  expect(records[0].state).toBe('CREATED');
});
