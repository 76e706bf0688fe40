// Live updates: two dashboards of alice and one of bob, open side by side. What happens in one
// of alice's (an upload) or by script (a REST DELETE with her API key) shows in her other one
// without a reload and without it asking for the list again; bob's sees nothing of it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { createAsset, expect, test, waitHydrated } from './fixtures';

function assetRow(page: Page, name: string) {
  return page.locator('table.assets tr', { hasText: name });
}

/** Opens the dashboard, waits until it is live, and counts its list requests from then on. */
async function openLive(page: Page) {
  await page.goto('/');
  await waitHydrated(page);
  await expect(page.locator('.live-status')).toHaveAttribute('data-live', 'open');
  const watch = { listRequests: 0 };
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/list_assets') watch.listRequests++;
  });
  // Set once: a reload or navigation would lose it.
  await page.evaluate(() => ((window as unknown as { liveMarker: string }).liveMarker = 'still here'));
  return watch;
}

async function notReloaded(page: Page) {
  expect(await page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).toBe('still here');
}

test('an upload in one tab and a REST delete show in the other tab, and not in another user’s', async ({
  page,
  newContext,
  bobState,
  request,
}) => {
  const other = await (await newContext()).newPage();
  const bobs = await (await newContext({ storageState: bobState })).newPage();
  const watchers = [await openLive(page), await openLive(other), await openLive(bobs)];
  const [, otherWatch, bobWatch] = watchers;

  const name = `live-${Date.now()}.bin`;
  const dir = mkdtempSync(join(tmpdir(), 'assets-e2e-live-'));
  writeFileSync(join(dir, name), randomBytes(64 * 1024));
  await page.getByLabel('Choose files to upload').setInputFiles(join(dir, name));

  // The other tab: the row appears and moves on to UPLOADED by itself.
  await expect(assetRow(other, name).locator('.badge')).toHaveText('UPLOADED');
  await expect(assetRow(page, name).locator('.badge')).toHaveText('UPLOADED');
  await notReloaded(other);
  expect(otherWatch.listRequests, 'rows were updated in place, not refetched').toBe(0);

  // A script deletes it with alice's API key: it leaves both tabs (deleted rows are hidden).
  const listed = await (await request.get('/assets?limit=100')).json();
  const id = listed.items.find((a: { filename?: string }) => a.filename === name).asset_id;
  expect((await request.delete(`/assets/${id}`)).status()).toBe(204);
  await expect(assetRow(page, name)).toHaveCount(0);
  await expect(assetRow(other, name)).toHaveCount(0);
  await notReloaded(other);
  expect(otherWatch.listRequests).toBe(0);

  // Bob's tab saw nothing: no row, no refetch, and it is still live.
  await expect(assetRow(bobs, name)).toHaveCount(0);
  expect(bobWatch.listRequests).toBe(0);
  await expect(bobs.locator('.live-status')).toHaveAttribute('data-live', 'open');
  await notReloaded(bobs);
});

test('a row deleted in one tab shows as DELETED in another that shows deleted rows', async ({
  page,
  newContext,
  request,
}) => {
  const name = `live-del-${Date.now()}.txt`;
  const created = await request.post('/assets', { data: { filename: name } });
  expect(created.status()).toBe(201);
  const other = await (await newContext()).newPage();
  await openLive(page);
  await openLive(other);
  await expect(assetRow(other, name).locator('.badge')).toHaveText('CREATED');
  await other.getByLabel('Show deleted assets').check();

  await page.getByRole('button', { name: `Delete ${name}` }).click();
  await page.getByRole('button', { name: `Confirm deleting ${name}` }).click();
  await expect(assetRow(page, name)).toHaveCount(0);
  await expect(assetRow(other, name).locator('.badge')).toHaveText('DELETED');
  await notReloaded(other);
});

test('a pushed change to other rows leaves the focus and an open confirmation where they are', async ({
  page,
  request,
}) => {
  const stamp = Date.now();
  const mine = await createAsset(request, `focus-mine-${stamp}.txt`);
  const other = await createAsset(request, `focus-other-${stamp}.txt`);
  await openLive(page);
  const row = page.locator(`tr[data-asset-id="${mine}"]`);
  // From the keyboard: Delete, which asks for confirmation and moves the focus to "Confirm".
  await row.getByRole('button', { name: /^Delete/ }).focus();
  await page.keyboard.press('Enter');
  const confirm = row.getByRole('button', { name: /^Confirm deleting/ });
  await expect(confirm).toBeFocused();

  // A script changes another row and adds a new one: both show, pushed.
  expect((await request.delete(`/assets/${other}`)).status()).toBe(204);
  const added = `focus-new-${stamp}.txt`;
  await createAsset(request, added);
  await expect(page.locator(`tr[data-asset-id="${other}"]`)).toHaveCount(0);
  await expect(assetRow(page, added)).toHaveCount(1);

  // The person's place is kept: the same confirmation, still open and focused.
  await expect(confirm).toBeVisible();
  await expect(confirm).toBeFocused();
});
