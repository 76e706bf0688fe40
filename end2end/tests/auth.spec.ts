import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNED_OUT, alice, bob, expect, signIn, test, waitHydrated, createAsset } from './fixtures';

function makeFile(name: string, bytes: number): string {
  const path = join(mkdtempSync(join(tmpdir(), 'assets-e2e-')), name);
  writeFileSync(path, randomBytes(bytes));
  return path;
}

test('sign in, upload, sign out: the dashboard then asks to sign in again', async ({ newContext }) => {
  const context = await newContext({ storageState: SIGNED_OUT });
  const page = await context.newPage();

  // Signed out, the dashboard sends the browser to the sign-in page.
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in$/);

  await signIn(page, alice);
  await expect(page.locator('.site-header .user-name')).toHaveText('alice');
  await expect(page.locator('.site-header .badge-admin')).toHaveCount(0);

  const name = `signed-in-${Date.now()}.bin`;
  await page.getByLabel('Choose files to upload').setInputFiles(makeFile(name, 4096));
  await expect(page.locator(`li.upload-item[data-upload="${name}"] .upload-status`)).toHaveText(
    /^Uploaded .*\(100%\)$/,
  );
  await expect(page.locator('table.assets tr', { hasText: name }).locator('.badge')).toHaveText('UPLOADED');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.pathname === '/sign-in');
  await waitHydrated(page, 'section.sign-in');

  // The session is over on the server, not only in this tab.
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.goto('/keys');
  await expect(page).toHaveURL(/\/sign-in$/);
});

test('a wrong password or an unknown user is refused with the same words', async ({ newContext }) => {
  const context = await newContext({ storageState: SIGNED_OUT });
  const page = await context.newPage();
  await page.goto('/sign-in');
  await waitHydrated(page, 'section.sign-in');
  for (const name of ['alice', `nobody-${Date.now()}`]) {
    await page.getByLabel('User name').fill(name);
    await page.getByLabel('Password').fill('not the right password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Wrong user name or password.');
    await expect(page).toHaveURL(/\/sign-in$/);
    // The password field is emptied for the next try.
    await expect(page.getByLabel('Password')).toHaveValue('');
  }
  // Still signed out.
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in$/);
});

test("when sign-ins are throttled the page shows the server's words", async ({ newContext }) => {
  // The real limit counts per client address too, and every test signs in from 127.0.0.1: the
  // reply is faked here so as not to lock the other tests out for a minute.
  const context = await newContext({ storageState: SIGNED_OUT });
  const page = await context.newPage();
  const message = 'too many failed sign-ins; try again in 42 s';
  await page.route('**/api/sign_in', (route) =>
    route.fulfill({
      status: 429,
      contentType: 'application/json',
      body: JSON.stringify({ error_message: message, code: 'rate_limited' }),
    }),
  );
  await page.goto('/sign-in');
  await waitHydrated(page, 'section.sign-in');
  await page.getByLabel('User name').fill('alice');
  await page.getByLabel('Password').fill(alice.password);
  // Enter in the password field submits, as it should for a keyboard user.
  await page.getByLabel('Password').press('Enter');
  await expect(page.getByRole('alert')).toHaveText(message);
  await expect(page).toHaveURL(/\/sign-in$/);
});

test("bob does not see alice's assets, in the dashboard or through the API", async ({
  page,
  request,
  bobApi,
  newContext,
  bobState,
}) => {
  const filename = `alice-only-${Date.now()}.txt`;
  const id = await createAsset(request, filename);

  // Alice sees it ...
  await page.goto('/');
  await waitHydrated(page);
  await expect(page.locator(`tr[data-asset-id="${id}"]`)).toHaveCount(1);

  // ... bob does not.
  const bobContext = await newContext({ storageState: bobState });
  const bobPage = await bobContext.newPage();
  await bobPage.goto('/');
  await waitHydrated(bobPage);
  await expect(bobPage.locator('.site-header .user-name')).toHaveText('bob');
  await expect(bobPage.locator(`tr[data-asset-id="${id}"]`)).toHaveCount(0);
  await expect(bobPage.locator('tr', { hasText: filename })).toHaveCount(0);
  await bobPage.getByRole('button', { name: 'Refresh the asset list' }).click();
  await expect(bobPage.locator('tr', { hasText: filename })).toHaveCount(0);

  // Through the REST API, alice's asset is unknown to bob's key.
  const list = await bobApi.get('/assets?include_deleted=true&limit=1000');
  expect(list.status()).toBe(200);
  const ids = (await list.json()).items.map((asset: { asset_id: string }) => asset.asset_id);
  expect(ids).not.toContain(id);
  expect((await bobApi.get(`/assets/${id}`)).status()).toBe(404);
  expect((await bobApi.delete(`/assets/${id}`)).status()).toBe(404);
  const mine = await request.get('/assets?limit=1000');
  const owners = (await mine.json()).items.map((asset: { owner?: string }) => asset.owner);
  expect(new Set(owners)).toEqual(new Set(['alice']));
  expect(bob.name).toBe('bob');
});

test('without a session the API refuses and pages send the browser to sign in', async ({ anon }) => {
  // As a browser asks for a page (curl's `Accept: */*` gets the page rendered signed out).
  const page = await anon.get('/', { maxRedirects: 0, headers: { Accept: 'text/html' } });
  expect(page.status()).toBe(303);
  expect(page.headers()['location']).toMatch(/\/sign-in$/);
  const listed = await anon.post('/api/list_assets', { data: { query: {} } });
  expect(listed.status()).toBe(401);
  expect((await listed.json()).code).toBe('unauthorized');
  const rest = await anon.get('/assets');
  expect(rest.status()).toBe(401);
  const wrongKey = await anon.get('/assets', { headers: { Authorization: 'Bearer assets_not-a-real-key' } });
  expect(wrongKey.status()).toBe(401);
});
