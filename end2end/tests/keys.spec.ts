import { expect, test, waitHydrated } from './fixtures';

test('create an API key, use its secret, revoke it', async ({ page, context, anon }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/keys');
  await waitHydrated(page, 'section.keys-page');
  await expect(page.getByRole('link', { name: 'API keys' })).toHaveAttribute('aria-current', 'page');

  const label = `e2e key ${Date.now()}`;
  await page.getByLabel('Label').fill(label);
  await page.getByLabel('Expires in days (optional)').fill('30');
  await page.getByRole('button', { name: 'Create key' }).click();

  // The secret is shown once, read-only, with a Copy button.
  const secretField = page.getByLabel(`Secret of the new key “${label}”`);
  await expect(secretField).toBeVisible();
  await expect(secretField).toHaveAttribute('readonly', '');
  const secret = await secretField.inputValue();
  expect(secret).toMatch(/^assets_/);
  await expect(page.locator('.new-secret')).toContainText('will not be shown again');
  await page.getByRole('button', { name: 'Copy the secret' }).click();
  await expect(page.locator('.new-secret')).toContainText('Copied.');
  await page.screenshot({ path: 'artifacts/keys-new-secret.png', fullPage: true });
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

  // The list shows the new key (never its secret).
  const row = page.locator('table.keys tbody tr', { hasText: label });
  await expect(row).toHaveCount(1);
  await expect(row).not.toContainText(secret);
  await expect(row.locator('td[data-label="Last used"]')).toHaveText('never');
  await expect(row.locator('td[data-label="Expires"] time')).toHaveCount(1);

  // The secret works from a script ...
  const bearer = { Authorization: `Bearer ${secret}` };
  const listed = await anon.get('/assets', { headers: bearer });
  expect(listed.status()).toBe(200);

  // ... and shows as used after a refresh of the list (any change reloads it).
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator('.new-secret')).toHaveCount(0);
  await page.reload();
  await waitHydrated(page, 'section.keys-page');
  await expect(row.locator('td[data-label="Last used"] time')).toHaveCount(1);

  // Revoke asks first; "Keep" changes nothing.
  await row.getByRole('button', { name: `Revoke ${label}` }).click();
  await row.getByRole('button', { name: `Keep ${label}` }).click();
  await expect(row).toHaveCount(1);
  await row.getByRole('button', { name: `Revoke ${label}` }).click();
  await row.getByRole('button', { name: `Confirm revoking ${label}` }).click();
  await expect(page.locator('table.keys tbody tr', { hasText: label })).toHaveCount(0);

  // Revocation reaches every server within 5 s.
  await expect
    .poll(async () => (await anon.get('/assets', { headers: bearer })).status(), { timeout: 10_000 })
    .toBe(401);
});

test('the key form refuses a bad expiry before asking the server', async ({ page }) => {
  await page.goto('/keys');
  await waitHydrated(page, 'section.keys-page');
  await page.getByLabel('Label').fill('too long');
  await page.getByLabel('Expires in days (optional)').fill('99999');
  // The browser's own check (max) stops the submit; the field says why.
  await page.getByRole('button', { name: 'Create key' }).click();
  expect(await page.getByLabel('Expires in days (optional)').evaluate((el: HTMLInputElement) => el.validity.valid)).toBe(false);
  await expect(page.locator('.new-secret')).toHaveCount(0);
});

test('the keys and sign-in pages read on a phone-width screen', async ({ newContext }) => {
  for (const [storageState, path, section, shot] of [
    [undefined, '/keys', 'section.keys-page', 'keys-phone'],
    [{ cookies: [], origins: [] }, '/sign-in', 'section.sign-in', 'sign-in-phone'],
  ] as const) {
    const context = await newContext({
      viewport: { width: 390, height: 844 },
      ...(storageState ? { storageState } : {}),
    });
    const page = await context.newPage();
    await page.goto(path);
    await waitHydrated(page, section);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `artifacts/${shot}.png`, fullPage: true });
  }
});
