import { BASE_URL, SIGNED_OUT, expect, test } from './fixtures';

// `/docs` renders the API reference from `/openapi.json` with Swagger UI, every file served by
// the binary itself (no CDN), under the same strict CSP as every page: the fixture fails the
// test on any CSP violation.

test('the API reference renders every operation, offline and within the CSP', async ({ newContext, csp }) => {
  const page = await (await newContext({ storageState: SIGNED_OUT })).newPage();
  const elsewhere: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== new URL(BASE_URL).origin) elsewhere.push(request.url());
  });
  const response = await page.goto('/docs/');
  expect(response?.status()).toBe(200);
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).not.toMatch(/script-src [^;]*'unsafe-inline'/);

  await expect(page.locator('.swagger-ui .info .title')).toContainText('Asset service');
  for (const [method, path] of [
    ['POST', '/assets'],
    ['GET', '/assets'],
    ['GET', '/assets/{id}'],
    ['PUT', '/assets/{id}'],
    ['DELETE', '/assets/{id}'],
    ['POST', '/events/s3'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
  ]) {
    const operation = page.locator(`.opblock-${method.toLowerCase()}`).filter({
      has: page.locator('.opblock-summary-path', { hasText: new RegExp(`^${path.replace(/[{}]/g, '\\$&')}$`) }),
    });
    await expect(operation.first(), `${method} ${path}`).toBeVisible();
  }

  // An operation opens to its responses, the error schema among them.
  const create = page.locator('#operations-assets-create_asset');
  await create.locator('.opblock-summary').click();
  await expect(create.locator('.responses-table')).toContainText('201');
  await expect(create.locator('.responses-table')).toContainText('401');
  await expect(page.locator('.models, section.models')).toContainText('ErrorBody');

  expect(elsewhere, 'requests to other origins').toEqual([]);
  expect(csp.violations).toEqual([]);
});
