import { SIGNED_OUT, expect, test, waitHydrated } from './fixtures';

// Every page is served with a strict policy; our own pages break none of it (the fixture fails
// any test that sees a violation). This test checks the policy is really enforced, and that the
// fixture really notices.

test('pages carry a strict CSP, which the browser enforces', async ({ page, csp }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("base-uri 'none'");
  expect(policy).toMatch(/script-src [^;]*'nonce-/);
  expect(policy).not.toMatch(/script-src [^;]*'unsafe-inline'/);
  expect(response?.headers()['referrer-policy']).toBe('no-referrer');
  await waitHydrated(page);

  // An injected inline script is refused, and the CSP watch sees it.
  csp.expectViolations = true;
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__injected = true';
    document.body.appendChild(script);
  });
  await expect.poll(() => csp.violations.length).toBeGreaterThan(0);
  expect(await page.evaluate(() => (window as { __injected?: boolean }).__injected)).toBeUndefined();
});

test('no page uses inline event handlers or inline scripts without a nonce', async ({ page, newContext }) => {
  const signedOut = await (await newContext({ storageState: SIGNED_OUT })).newPage();
  for (const [p, path, section] of [
    [page, '/', 'section.dashboard'],
    [page, '/keys', 'section.keys-page'],
    [signedOut, '/sign-in', 'section.sign-in'],
  ] as const) {
    await p.goto(path);
    await waitHydrated(p, section);
    const inline = await p.evaluate(() => {
      const found: string[] = [];
      for (const element of Array.from(document.querySelectorAll('*'))) {
        for (const attribute of Array.from(element.attributes)) {
          if (attribute.name.startsWith('on')) found.push(`<${element.tagName.toLowerCase()} ${attribute.name}>`);
        }
      }
      for (const script of Array.from(document.querySelectorAll('script'))) {
        if (!script.src && !script.nonce) found.push('<script> without src or nonce');
      }
      return found;
    });
    expect(inline, path).toEqual([]);
  }
});
