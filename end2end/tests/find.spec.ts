// Finding and acting on the dashboard: search by name prefix, filter by type, sort, all kept in
// the URL (reload and a page without JavaScript show the same); several rows deleted with one
// confirmation; files pasted and folders dropped upload.
//
// Other specs add assets for alice too (hundreds of them), so each test works under a name
// prefix of its own.
import type { APIRequestContext, Page } from '@playwright/test';
import { expect, test, waitHydrated } from './fixtures';

function uniquePrefix(word: string): string {
  return `${word}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

async function create(request: APIRequestContext, filename: string, content_type: string, size: number) {
  const response = await request.post('/assets', { data: { filename, content_type, size } });
  expect(response.status()).toBe(201);
  return (await response.json()).id as string;
}

function fileNames(page: Page): Promise<string[]> {
  return page.locator('table.assets tbody tr[data-asset-id] td.file').allTextContents();
}

/** The REST API's view of alice's assets whose names start with `prefix`. */
async function listed(request: APIRequestContext, prefix: string, extra = '') {
  const response = await request.get(`/assets?q=${encodeURIComponent(prefix)}&include_deleted=true${extra}`);
  expect(response.status()).toBe(200);
  return (await response.json()).items as { asset_id: string; filename: string; state: string }[];
}

test('search by prefix, filter by type and sort live in the URL, survive a reload and work without JavaScript', async ({
  page,
  request,
  newContext,
}) => {
  const p = uniquePrefix('find');
  // Created one after another: oldest first is this order.
  const files: [string, string, number][] = [
    [`${p}-Alpha.png`, 'image/png', 3000],
    [`${p}-beta.txt`, 'text/plain', 100],
    [`${p}-Gamma.pdf`, 'application/pdf', 2000],
    [`${p}-delta.jpg`, 'image/jpeg', 500],
  ];
  for (const [name, type, size] of files) await create(request, name, type, size);
  await create(request, `other-${p}.png`, 'image/png', 9000);

  await page.goto('/');
  await waitHydrated(page);
  const rows = page.locator('table.assets tbody tr[data-asset-id]');
  let navigations = 0;
  page.on('framenavigated', () => navigations++);

  // Typing (in capitals: the match ignores case) narrows the list once typing pauses.
  await page.getByLabel('Search by file name').fill(p.toUpperCase());
  await expect(page).toHaveURL(new RegExp(`[?&]q=${p.toUpperCase()}`));
  await expect(rows).toHaveCount(4);
  await expect.poll(() => fileNames(page)).toEqual(files.map(([name]) => name).reverse());

  await page.getByLabel('Filter by type').selectOption('image/*');
  await expect(page).toHaveURL(/type=image%2F\*/);
  await expect.poll(() => fileNames(page)).toEqual([`${p}-delta.jpg`, `${p}-Alpha.png`]);

  await page.getByLabel('Sort by').selectOption('largest');
  await expect(page).toHaveURL(/sort=largest/);
  await expect.poll(() => fileNames(page)).toEqual([`${p}-Alpha.png`, `${p}-delta.jpg`]);
  expect(navigations, 'the list changed in place, no page load').toBeLessThanOrEqual(3);

  // A reload keeps the search: the server renders the same list and the same controls.
  const searched = page.url();
  await page.reload();
  await waitHydrated(page);
  await expect.poll(() => fileNames(page)).toEqual([`${p}-Alpha.png`, `${p}-delta.jpg`]);
  await expect(page.getByLabel('Search by file name')).toHaveValue(p.toUpperCase());
  await expect(page.getByLabel('Filter by type')).toHaveValue('image/*');
  await expect(page.getByLabel('Sort by')).toHaveValue('largest');

  await page.getByLabel('Filter by type').selectOption('');
  await page.getByLabel('Sort by').selectOption('oldest');
  await expect.poll(() => fileNames(page)).toEqual(files.map(([name]) => name));
  await page.getByLabel('Search by file name').fill(`${p}-zzz`);
  await expect(page.getByText('No assets match this search.')).toBeVisible();
  await page.screenshot({ path: 'artifacts/find-search.png', fullPage: true });

  // Without JavaScript: the bookmarked URL renders the same, and the form submits as a GET.
  const context = await newContext({ javaScriptEnabled: false });
  const plain = await context.newPage();
  await plain.goto(searched);
  await expect(plain.locator('section.dashboard')).toHaveAttribute('data-hydrated', 'false');
  await expect.poll(() => fileNames(plain)).toEqual([`${p}-Alpha.png`, `${p}-delta.jpg`]);
  await plain.getByLabel('Filter by type').selectOption('');
  await plain.getByLabel('Search by file name').fill(`${p}-g`);
  await plain.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(plain).toHaveURL(new RegExp(`q=${p}-g`));
  await expect.poll(() => fileNames(plain)).toEqual([`${p}-Gamma.pdf`]);
});

test('two rows selected are deleted with one confirmation', async ({ page, request }) => {
  const p = uniquePrefix('sel');
  const ids = [];
  for (const name of ['a.txt', 'b.txt', 'c.txt']) ids.push(await create(request, `${p}-${name}`, 'text/plain', 1));
  await page.goto(`/?q=${p}`);
  await waitHydrated(page);
  await expect(page.locator('table.assets tbody tr[data-asset-id]')).toHaveCount(3);

  await page.getByLabel(`Select ${p}-a.txt`).check();
  await page.getByLabel(`Select ${p}-b.txt`).check();
  const bar = page.getByRole('region', { name: 'Selected assets' });
  await expect(bar).toContainText('2 selected');
  await page.screenshot({ path: 'artifacts/find-selection.png', fullPage: true });
  await bar.getByRole('button', { name: 'Delete 2 selected assets' }).click();
  await bar.getByRole('button', { name: 'Confirm deleting 2 selected assets' }).click();
  await expect(page.getByText('2 assets deleted.')).toBeVisible();
  await expect.poll(() => fileNames(page)).toEqual([`${p}-c.txt`]);
  await expect(bar).toHaveCount(0);
  const states = Object.fromEntries((await listed(request, p)).map((a) => [a.filename, a.state]));
  expect(states).toEqual({ [`${p}-a.txt`]: 'DELETED', [`${p}-b.txt`]: 'DELETED', [`${p}-c.txt`]: 'CREATED' });

  // "Select all shown" picks every row shown; "Keep" backs out without deleting.
  await page.getByLabel('Select all shown').check();
  await expect(bar).toContainText('1 selected');
  await bar.getByRole('button', { name: 'Delete 1 selected asset' }).click();
  await bar.getByRole('button', { name: 'Keep 1 selected asset' }).click();
  await page.getByLabel('Select all shown').uncheck();
  await expect(bar).toHaveCount(0);
  expect((await listed(request, p)).find((a) => a.filename === `${p}-c.txt`)?.state).toBe('CREATED');
});

test('a pasted file uploads; a pasted screenshot without a name is named for the time', async ({ page, request }) => {
  const p = uniquePrefix('paste');
  await page.goto('/');
  await waitHydrated(page);
  // What the browser hands a page on Ctrl+V of a copied file, and of a screenshot ("image.png").
  await page.evaluate((name) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['pasted text'], name, { type: 'text/plain' }));
    transfer.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'image.png', { type: 'image/png' }));
    document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true }));
  }, `${p}-notes.txt`);
  await expect(page.locator('li.upload-item', { hasText: `${p}-notes.txt` })).toContainText('Uploaded');
  await expect
    .poll(async () => (await listed(request, p)).map((a) => [a.filename, a.state]))
    .toEqual([[`${p}-notes.txt`, 'UPLOADED']]);
  const screenshot = page.locator('li.upload-item', { hasText: /pasted-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-2\.png/ });
  await expect(screenshot).toContainText('Uploaded');
  const name = (await screenshot.locator('.upload-name').textContent()) ?? '';
  expect((await listed(request, name)).map((a) => a.state)).toEqual(['UPLOADED']);
});

test('a dropped folder uploads every file inside, named by its path', async ({ page, request }) => {
  const p = uniquePrefix('drop');
  await page.goto('/');
  await waitHydrated(page);
  // Playwright cannot drop a real folder, so this builds, in the page only and only for this
  // event, the FileSystemDirectoryEntry tree Chromium hands a drop handler
  // (`webkitGetAsEntry`, `createReader().readEntries` in batches until an empty one, `file`).
  await page.evaluate((root) => {
    type Entry = Record<string, unknown>;
    const file = (name: string, text: string): Entry => ({
      isFile: true,
      isDirectory: false,
      name,
      file: (ok: (f: File) => void) => setTimeout(() => ok(new File([text], name, { type: 'text/plain' }))),
    });
    const folder = (name: string, children: Entry[]): Entry => ({
      isFile: false,
      isDirectory: true,
      name,
      createReader: () => {
        // Two batches, then an empty one: readers must ask until nothing is left.
        const batches = [children.slice(0, 1), children.slice(1), []];
        return { readEntries: (ok: (e: Entry[]) => void) => setTimeout(() => ok(batches.shift() ?? [])) };
      },
    });
    const tree = folder(root, [
      file('a.txt', 'a'),
      folder('sub', [file('b.txt', 'bb'), folder('deeper', [file('c.txt', 'ccc')])]),
      file('d.txt', 'dddd'),
    ]);
    const items = { length: 1, 0: { kind: 'file', webkitGetAsEntry: () => tree, getAsFile: () => null } };
    const drop = new DragEvent('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(drop, 'dataTransfer', { value: { items, files: { length: 0 } } });
    document.querySelector('section.upload')!.dispatchEvent(drop);
  }, `${p}-folder`);
  const expected = ['a.txt', 'sub/b.txt', 'sub/deeper/c.txt', 'd.txt'].map((f) => `${p}-folder/${f}`);
  for (const name of expected) {
    await expect(page.locator('li.upload-item', { hasText: name })).toContainText('Uploaded');
  }
  await expect
    .poll(async () => (await listed(request, `${p}-folder/`)).map((a) => [a.filename, a.state]).sort())
    .toEqual(expected.map((name) => [name, 'UPLOADED']).sort());
  // The sizes are the files' own.
  const sizes = await request.get(`/assets?q=${encodeURIComponent(`${p}-folder/sub/`)}&sort=largest`);
  expect((await sizes.json()).items.map((a: { size: number }) => a.size)).toEqual([3, 2]);
});
