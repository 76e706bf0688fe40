import type { APIRequestContext, Page } from '@playwright/test';
import { expect, test, waitHydrated } from './fixtures';

// More assets than the server's largest page (1000): "Load more" must follow cursors instead of
// asking for an ever larger page, and a refresh must keep what was loaded without duplicates.
const COUNT = 1100;
const CONCURRENCY = 50;

async function createAssets(request: APIRequestContext, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += CONCURRENCY) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, count - start) }, async () => {
        const response = await request.post('/assets');
        expect(response.status()).toBe(201);
        return (await response.json()).id as string;
      }),
    );
    ids.push(...batch);
  }
  return ids;
}

// Every live asset the REST API lists, following its cursors.
async function listAllIds(request: APIRequestContext): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
    const response = await request.get(`/assets?${query}`);
    expect(response.status()).toBe(200);
    const page = await response.json();
    ids.push(...page.items.map((asset: { asset_id: string }) => asset.asset_id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

function shownIds(page: Page): Promise<string[]> {
  return page
    .locator('table.assets tbody tr[data-asset-id]')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-asset-id') ?? ''));
}

function expectEachOnce(shown: string[], expected: string[]) {
  const counts = new Map<string, number>();
  for (const id of shown) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect(shown.filter((id) => counts.get(id)! > 1), 'rows shown twice').toEqual([]);
  expect(expected.filter((id) => !counts.has(id)), 'assets not shown').toEqual([]);
}

test('Load more pages through 1,100 assets, each shown once; Refresh keeps what was loaded', async ({ page, request }) => {
  test.setTimeout(10 * 60_000);
  const created = await createAssets(request, COUNT);
  expect(new Set(created).size).toBe(COUNT);

  await page.goto('/');
  await waitHydrated(page);
  const rows = page.locator('table.assets tbody tr[data-asset-id]');
  await expect(rows).toHaveCount(50);

  const loadMore = page.getByRole('button', { name: 'Load more' });
  // One click; resolves once the page is appended, or the last page took the button away.
  async function clickLoadMore() {
    const before = await rows.count();
    await loadMore.click();
    await expect
      .poll(async () => (await rows.count()) > before || (await loadMore.count()) === 0)
      .toBe(true);
  }

  // Part way down, new assets arrive at the top: a refresh shows them and keeps every row
  // already loaded (none pushed back behind "Load more", none twice).
  await clickLoadMore();
  await clickLoadMore();
  await expect(rows).toHaveCount(150);
  const loaded = await shownIds(page);
  const arrived = await createAssets(request, 3);
  await page.getByRole('button', { name: 'Refresh the asset list' }).click();
  for (const id of arrived) await expect(page.locator(`tr[data-asset-id="${id}"]`)).toHaveCount(1);
  expectEachOnce(await shownIds(page), [...loaded, ...arrived]);
  await expect(loadMore).toBeVisible();

  let clicks = 2;
  while ((await loadMore.count()) > 0) {
    await clickLoadMore();
    clicks += 1;
    expect(clicks).toBeLessThan(100);
  }
  expect(clicks).toBeGreaterThanOrEqual(Math.ceil(COUNT / 50) - 1);
  await expect(page.getByRole('alert')).toHaveCount(0);

  const shown = await shownIds(page);
  expectEachOnce(shown, [...created, ...arrived]);
  // The whole list, as the REST API has it: nothing else shown, nothing left out.
  const all = await listAllIds(request);
  expect(shown.length).toBe(all.length);
  expectEachOnce(shown, all);

  // A refresh reads the rows again from the top: a new asset joins, nothing loaded is lost or
  // doubled, and the list still ends (no "Load more").
  const late = await request.post('/assets');
  expect(late.status()).toBe(201);
  const lateId = (await late.json()).id as string;
  await page.getByRole('button', { name: 'Refresh the asset list' }).click();
  await expect(page.locator(`tr[data-asset-id="${lateId}"]`)).toHaveCount(1);
  const refreshed = await shownIds(page);
  expectEachOnce(refreshed, [...all, lateId]);
  await expect(loadMore).toHaveCount(0);
  await expect(page.getByRole('alert')).toHaveCount(0);
});
