// axe-core on every page state, in the light and the dark theme: signed out, empty, with
// assets, uploading, errors, the preview dialog open, the keys page. No serious or critical
// violation is allowed. Each state's screenshot goes to test-results/artifacts, or to
// artifacts/ (the committed set) with UPDATE_ARTIFACTS=1.
import AxeBuilder from '@axe-core/playwright';
import type { Page, Route } from '@playwright/test';
import { expect, test, SIGNED_OUT, waitHydrated } from './fixtures';
import { makeFile, openDashboard, pngBytes, uploadItem, uploadViaApi } from './look-helpers';

const SHOTS = process.env.UPDATE_ARTIFACTS ? 'artifacts' : 'test-results/artifacts';

/** Runs axe on the page as it is; fails on serious or critical violations. */
async function check(page: Page, state: string, scheme: string) {
  await page.screenshot({ path: `${SHOTS}/${state}-${scheme}.png`, fullPage: true });
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`);
  expect.soft(bad, `axe: ${state} (${scheme})`).toEqual([]);
}

const STORAGE_PUT = '**/assets/assets/**';
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'PUT, GET, HEAD',
  'access-control-allow-headers': '*',
};

for (const scheme of ['light', 'dark'] as const) {
  test(`every page state passes axe (${scheme})`, async ({ newContext, request, anon }) => {
    test.setTimeout(120_000);
    // Signed out: the sign-in page.
    const outside = await newContext({ colorScheme: scheme, storageState: SIGNED_OUT });
    const signIn = await outside.newPage();
    await signIn.goto('/sign-in');
    await waitHydrated(signIn, 'section.sign-in');
    await check(signIn, 'signed-out', scheme);

    const context = await newContext({ colorScheme: scheme });
    const page = await context.newPage();
    const png = await pngBytes(page);
    const image = `a11y-${scheme}-${Date.now()}.png`;
    await uploadViaApi(request, anon, image, 'image/png', png);
    await uploadViaApi(request, anon, `notes-${scheme}.txt`, 'text/plain', Buffer.from('notes'));

    // With assets (a previewable one, verified ones).
    await openDashboard(page);
    await expect(page.getByRole('button', { name: `Preview ${image}` })).toBeVisible();
    await check(page, 'with-assets', scheme);

    // The preview dialog open.
    await page.getByRole('button', { name: `Preview ${image}` }).click();
    const dialog = page.getByRole('dialog', { name: image });
    const img = dialog.getByRole('img');
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBeGreaterThan(0);
    await check(page, 'preview-open', scheme);
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();

    // Empty: the list answers with no assets.
    await page.route('**/api/list_assets', (route) =>
      route.fulfill({ contentType: 'application/json', body: '{"items":[],"next_cursor":null}' }),
    );
    await page.getByRole('button', { name: 'Refresh the asset list' }).click();
    await expect(page.getByText('No assets yet.')).toBeVisible();
    await check(page, 'empty', scheme);
    await page.unroute('**/api/list_assets');

    // Uploading: storage holds the PUT until the state has been checked.
    const held: Route[] = [];
    await page.route(STORAGE_PUT, async (route) => {
      if (route.request().method() === 'OPTIONS') return route.fulfill({ status: 204, headers: CORS });
      held.push(route);
    });
    const pending = makeFile(`uploading-${scheme}.bin`, 32 * 1024);
    await page.getByLabel('Choose files to upload').setInputFiles(pending.path);
    await expect.poll(() => held.length).toBe(1);
    await expect(uploadItem(page, `uploading-${scheme}.bin`).locator('progress')).toBeVisible();
    await check(page, 'uploading', scheme);
    await page.getByRole('button', { name: `Cancel uploading uploading-${scheme}.bin` }).click();
    await held[0].abort().catch(() => {});
    await page.unroute(STORAGE_PUT);

    // Errors: storage refuses an upload, and the list cannot be loaded.
    await page.route(STORAGE_PUT, async (route) => {
      if (route.request().method() === 'OPTIONS') return route.fulfill({ status: 204, headers: CORS });
      await route.fulfill({
        status: 403,
        headers: { ...CORS, 'content-type': 'application/xml' },
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
      });
    });
    const refused = makeFile(`refused-${scheme}.bin`, 1024);
    await page.getByLabel('Choose files to upload').setInputFiles(refused.path);
    await expect(uploadItem(page, `refused-${scheme}.bin`).locator('.upload-status')).toHaveText(/expired/);
    await page.route('**/api/list_assets', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: '{"error_message":"storage is unavailable; retry later","code":"unavailable"}',
      }),
    );
    await page.getByRole('button', { name: 'Refresh the asset list' }).click();
    await expect(page.getByText(/Could not load assets/)).toBeVisible();
    await check(page, 'error', scheme);
    await page.unroute('**/api/list_assets');
    await page.unroute(STORAGE_PUT);

    // The keys page.
    await page.goto('/keys');
    await waitHydrated(page, 'section.keys-page');
    await check(page, 'keys', scheme);
  });
}
