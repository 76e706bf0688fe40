import { expect, test, waitHydrated } from './fixtures';

async function openHydrated(page: import('@playwright/test').Page) {
  await page.goto('/');
  await waitHydrated(page);
}

test('the server-rendered list shows assets without JavaScript', async ({ newContext, request }) => {
  const created = await request.post('/assets', { data: { filename: 'ssr-visible.txt' } });
  expect(created.status()).toBe(201);
  const context = await newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.locator('tr', { hasText: 'ssr-visible.txt' })).toBeVisible();
  await expect(page.locator('section.dashboard')).toHaveAttribute('data-hydrated', 'false');
  await context.close();
});

test('the page hydrates and Refresh loads new assets without a reload', async ({ page, request }) => {
  await openHydrated(page);
  const filename = `hydration-${Date.now()}.txt`;
  await expect(page.locator('tr', { hasText: filename })).toHaveCount(0);

  // Create an asset behind the page's back, through the REST API.
  const created = await request.post('/assets', { data: { filename, content_type: 'text/plain' } });
  expect(created.status()).toBe(201);

  // Only a hydrated page reacts to the click: it calls the server function and re-renders.
  let reloaded = false;
  page.on('framenavigated', () => (reloaded = true));
  await page.getByRole('button', { name: 'Refresh the asset list' }).click();
  const row = page.locator('tr', { hasText: filename });
  await expect(row).toBeVisible();
  await expect(row.locator('.badge')).toHaveText('CREATED');
  expect(reloaded).toBe(false);

  await page.screenshot({ path: 'artifacts/dashboard.png', fullPage: true });
});

test('the dashboard reads on a phone-width screen', async ({ newContext, request }) => {
  const created = await request.post('/assets', { data: { filename: 'phone-width-check.txt' } });
  expect(created.status()).toBe(201);
  const context = await newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await openHydrated(page);
  await expect(page.locator('tr', { hasText: 'phone-width-check.txt' })).toBeVisible();
  // Nothing is wider than the screen: no sideways scrolling.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.getByLabel('Choose files to upload')).toBeVisible();
  await page.screenshot({ path: 'artifacts/dashboard-phone.png', fullPage: true });
  await context.close();
});
