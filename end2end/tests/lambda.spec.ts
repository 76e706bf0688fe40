// The dashboard as AWS Lambda serves it: the `http` handler (`Lambda::handle`, what `bootstrap`
// hands the Lambda runtime) behind a local HTTPS stand-in for API Gateway's HTTP API
// (server/examples/lambda_gateway.rs), on DynamoDB and S3 in moto. scripts/test.sh starts it and
// runs only this file (`npx playwright test tests/lambda.spec.ts`) with LAMBDA_BASE_URL, the user
// it made with the CLI (LAMBDA_USER, LAMBDA_PASSWORD, LAMBDA_API_KEY) and the site it serves
// (LAMBDA_SITE_ROOT). The normal run has no LAMBDA_BASE_URL and skips it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';

const BASE = process.env.LAMBDA_BASE_URL ?? '';
test.skip(!BASE, 'runs only against the API Gateway stand-in (scripts/test.sh sets LAMBDA_BASE_URL)');
// The stand-in's certificate is self-signed (made by scripts/test.sh).
test.use({ baseURL: BASE, ignoreHTTPSErrors: true });

const user = process.env.LAMBDA_USER ?? '';
const password = process.env.LAMBDA_PASSWORD ?? '';
const apiKey = process.env.LAMBDA_API_KEY ?? '';
const siteRoot = process.env.LAMBDA_SITE_ROOT ?? '../target/site';

async function waitHydrated(page: Page, section = 'section.dashboard') {
  await expect(page.locator(section)).toHaveAttribute('data-hydrated', 'true');
}

function assetRow(page: Page, name: string) {
  return page.locator('table.assets tr', { hasText: name });
}

test('the dashboard works on the Lambda handler behind API Gateway', async ({ page, context, playwright }) => {
  // The pages' Content-Security-Policy holds behind API Gateway too (see fixtures.ts).
  const violations: string[] = [];
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`securitypolicyviolation: ${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'}`);
    });
  });
  context.on('console', (message) => {
    if (/Content[- ]Security[- ]Policy|securitypolicyviolation/i.test(message.text())) {
      violations.push(message.text());
    }
  });
  const api = await playwright.request.newContext({
    baseURL: BASE,
    ignoreHTTPSErrors: true,
    extraHTTPHeaders: { Authorization: `Bearer ${apiKey}` },
  });
  const stamp = Date.now();
  const listed = `lambda-listed-${stamp}.txt`;
  const doomed = `lambda-doomed-${stamp}.txt`;

  await test.step('the REST API with an API key creates assets', async () => {
    for (const filename of [listed, doomed]) {
      const created = await api.post('/assets', { data: { filename, content_type: 'text/plain' } });
      expect(created.status()).toBe(201);
    }
  });

  await test.step('the wasm comes through whole (binary replies are base64 in API Gateway events)', async () => {
    const wasm = await api.get('/pkg/assets.wasm');
    expect(wasm.status()).toBe(200);
    expect(wasm.headers()['content-type']).toBe('application/wasm');
    expect(Buffer.from(await wasm.body()).equals(readFileSync(join(siteRoot, 'pkg/assets.wasm')))).toBe(true);
  });

  await test.step('sign in: the session cookie arrives through the reply\'s `cookies`', async () => {
    await page.goto('/');
    await expect(page).toHaveURL(/\/sign-in/);
    await waitHydrated(page, 'section.sign-in');
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await waitHydrated(page);
    await expect(page.locator('.site-header .user-name')).toHaveText(user);
    // Behind API Gateway everything is https: the cookie is Secure with the __Host- prefix.
    const cookies = await context.cookies();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.secure).toBe(true);
      expect(cookie.name.startsWith('__Host-')).toBe(true);
    }
  });

  await test.step('the server-rendered list shows the assets', async () => {
    const html = await (await page.request.get('/')).text();
    expect(html).toContain(listed);
    await expect(assetRow(page, listed).locator('.badge')).toHaveText('CREATED');
    await expect(assetRow(page, doomed)).toHaveCount(1);
  });

  await test.step('live status: the stream cannot stay open behind API Gateway, so the page polls', async () => {
    // Every value the status takes from here on.
    await page.evaluate(() => {
      const status = document.querySelector('.live-status')!;
      const seen: string[] = [status.getAttribute('data-live') ?? ''];
      (window as unknown as { liveSeen: string[] }).liveSeen = seen;
      new MutationObserver(() => seen.push(status.getAttribute('data-live') ?? '')).observe(status, {
        attributes: true,
      });
    });
    await expect(page.locator('.live-status')).toHaveAttribute('data-live', 'polling');
    await expect(page.locator('.live-status')).toHaveText('Auto-refresh');
    await page.waitForTimeout(3_000);
    const seen = await page.evaluate(() => (window as unknown as { liveSeen: string[] }).liveSeen);
    expect(seen).not.toContain('retrying');
    await expect(page.locator('.live-status')).not.toHaveText('Reconnecting…');
  });

  await test.step('a server function from the UI: delete with its confirmation', async () => {
    await page.getByRole('button', { name: `Delete ${doomed}` }).click();
    await page.getByRole('button', { name: `Confirm deleting ${doomed}` }).click();
    await expect(assetRow(page, doomed)).toHaveCount(0);
    const after = await api.get('/assets?include_deleted=true&limit=1000');
    expect(after.status()).toBe(200);
    const record = (await after.json()).items.find((a: { filename?: string }) => a.filename === doomed);
    expect(record.state).toBe('DELETED');
  });

  await test.step('a server function on the keys page: create an API key that works', async () => {
    await page.goto('/keys');
    await waitHydrated(page, 'section.keys-page');
    const label = `lambda key ${stamp}`;
    await page.getByLabel('Label').fill(label);
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.getByLabel(`Secret of the new key “${label}”`).inputValue();
    expect(secret).toMatch(/^assets_/);
    const withNewKey = await playwright.request.newContext({
      baseURL: BASE,
      ignoreHTTPSErrors: true,
      extraHTTPHeaders: { Authorization: `Bearer ${secret}` },
    });
    expect((await withNewKey.get('/assets')).status()).toBe(200);
    await withNewKey.dispose();
    await page.getByRole('button', { name: 'Done' }).click();
    await page.goto('/');
    await waitHydrated(page);
  });

  await test.step('upload from the https page straight to S3 (moto)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'assets-lambda-e2e-'));
    const name = `lambda-upload-${stamp}.bin`;
    const content = randomBytes(64 * 1024);
    writeFileSync(join(dir, name), content);
    await page.getByLabel('Choose files to upload').setInputFiles(join(dir, name));
    await expect(page.locator(`li.upload-item[data-upload="${name}"] .upload-status`)).toHaveText(
      /^Uploaded .*\(100%\)$/,
    );
    await expect(assetRow(page, name).locator('.badge')).toHaveText('UPLOADED');
    await page.screenshot({ path: 'artifacts/lambda-dashboard.png', fullPage: true });
  });

  await test.step('sign out ends the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/sign-in');
    await waitHydrated(page, 'section.sign-in');
    await page.goto('/');
    await expect(page).toHaveURL(/\/sign-in$/);
  });

  expect(violations, 'Content-Security-Policy violations').toEqual([]);
  await api.dispose();
});
