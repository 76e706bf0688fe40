// Helpers of the preview, integrity, keyboard and accessibility specs.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { expect, waitHydrated } from './fixtures';

export function sha256Base64(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64');
}

/** A file on disk for the file picker: `content` or random bytes. */
export function makeFile(name: string, content: Buffer | number): { path: string; content: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'assets-look-'));
  const bytes = typeof content === 'number' ? randomBytes(content) : content;
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, content: bytes };
}

/** A real PNG (160 x 90), drawn by Chromium itself. */
export async function pngBytes(page: Page): Promise<Buffer> {
  await page.setContent(
    '<div style="width:160px;height:90px;background:linear-gradient(90deg,#2f5bd3,#11612d)"></div>',
  );
  return page.locator('div').screenshot();
}

/** Uploads through the REST API as the key's user (create, PUT with the declared SHA-256,
 * mark uploaded); the asset's id. */
export async function uploadViaApi(
  api: APIRequestContext,
  anon: APIRequestContext,
  filename: string,
  contentType: string,
  bytes: Buffer,
): Promise<string> {
  const created = await api.post('/assets', {
    data: { filename, content_type: contentType, size: bytes.length, sha256: sha256Base64(bytes) },
  });
  expect(created.status()).toBe(201);
  const body = await created.json();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(body.upload_headers as Record<string, string>)) {
    if (name.toLowerCase() !== 'content-length') headers[name] = value;
  }
  const put = await anon.put(body.upload_url, { data: bytes, headers });
  expect(put.status()).toBe(200);
  expect((await api.put(`/assets/${body.id}`)).status()).toBe(202);
  return body.id as string;
}

/** The records named `filename`, as the REST API lists them (deleted included). */
export async function recordsNamed(api: APIRequestContext, filename: string) {
  const list = await (await api.get('/assets?include_deleted=true&limit=1000')).json();
  return list.items.filter((asset: { filename?: string }) => asset.filename === filename);
}

export async function openDashboard(page: Page) {
  await page.goto('/');
  await waitHydrated(page);
}

export function assetRow(page: Page, name: string): Locator {
  return page.locator('table.assets tr', { hasText: name });
}

export function uploadItem(page: Page, name: string): Locator {
  return page.locator(`li.upload-item[data-upload="${name}"]`);
}

/** Presses Tab until `target` has focus (keyboard only); fails after `max` presses. */
export async function tabTo(page: Page, target: Locator, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  await expect(target).toBeFocused();
}
