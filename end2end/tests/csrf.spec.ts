import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BASE_URL, expect, test, waitHydrated, createAsset } from './fixtures';

// Another site, on another loopback port (same site for cookies, since ports do not count, but
// another origin), tries to delete alice's asset while she is signed in in the same browser.
function attackPage(target: string, id: string): string {
  // A text/plain form body is `name=value`: this one reads as JSON, {"id":"…","pad":"="}.
  const name = `{"id":"${id}","pad":"`.replace(/"/g, '&quot;');
  return `<!DOCTYPE html>
<html><head><title>win a prize</title></head><body>
<form id="attack" method="post" enctype="text/plain" action="${target}">
  <input type="hidden" name="${name}" value="&quot;}">
</form>
<script>
  fetch(${JSON.stringify(target)}, {
    method: 'POST', mode: 'no-cors', credentials: 'include',
    body: JSON.stringify({ id: ${JSON.stringify(id)} }),
  }).catch(() => {}).finally(() => document.getElementById('attack').submit());
</script>
</body></html>`;
}

async function serve(html: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test("a page on another origin cannot delete alice's asset with her session", async ({ page, request }) => {
  const filename = `csrf-target-${Date.now()}.txt`;
  const id = await createAsset(request, filename);

  // Alice is signed in, in this browser context.
  await page.goto('/');
  await waitHydrated(page);
  await expect(page.locator(`tr[data-asset-id="${id}"]`)).toHaveCount(1);

  const target = `${new URL(BASE_URL).origin}/api/delete_asset`;
  const { server, origin } = await serve(attackPage(target, id));
  expect(origin).not.toBe(new URL(BASE_URL).origin);
  try {
    const attempts: { method: string; status: number; origin?: string; cookie: boolean }[] = [];
    page.on('response', async (response) => {
      if (response.url() !== target) return;
      const headers = await response.request().allHeaders();
      attempts.push({
        method: response.request().method(),
        status: response.status(),
        origin: headers['origin'],
        cookie: 'cookie' in headers,
      });
    });
    await page.goto(`${origin}/`);
    // The fetch, then the form's navigation.
    await expect.poll(() => attempts.length, { timeout: 15_000 }).toBe(2);
    await page.waitForURL(target);
    test.info().annotations.push({ type: 'attempts', description: JSON.stringify(attempts) });
    for (const attempt of attempts) {
      expect(attempt.method).toBe('POST');
      expect(attempt.status, JSON.stringify(attempt)).toBe(403);
    }
    // The form's navigation (whose raw headers the browser reports; for the no-cors fetch it
    // does not) carried alice's session cookie and the other page's origin: the server saw a
    // signed-in request and refused it for its origin.
    const form = attempts.find((attempt) => attempt.origin !== undefined);
    expect(form, JSON.stringify(attempts)).toBeDefined();
    expect(form?.cookie, 'the session cookie went along (same site)').toBe(true);
    expect(form?.origin).toBe(origin);
  } finally {
    server.close();
  }

  // Not deleted: alice still has it, in the API and on her dashboard.
  const list = await request.get('/assets?include_deleted=true&limit=1000');
  const asset = (await list.json()).items.find((item: { asset_id: string }) => item.asset_id === id);
  expect(asset?.state).toBe('CREATED');
  await page.goto('/');
  await waitHydrated(page);
  await expect(page.locator(`tr[data-asset-id="${id}"]`)).toHaveCount(1);
});
