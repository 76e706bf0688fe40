// An admin's dashboard lists every user's assets and says whose each one is.
import { test, expect, createAsset, signIn, waitHydrated, SIGNED_OUT } from './fixtures';

test("an admin sees alice's and bob's assets, each with its owner", async ({ request, bobApi, newContext }) => {
  const stamp = Date.now();
  const made = [];
  for (const [api, owner] of [[request, 'alice'], [bobApi, 'bob']] as const) {
    made.push({ id: await createAsset(api, `${owner}-for-admin-${stamp}.txt`), owner });
  }
  const context = await newContext({ storageState: SIGNED_OUT });
  const page = await context.newPage();
  const password = process.env.ROOT_PASSWORD;
  expect(password, 'ROOT_PASSWORD comes from scripts/test.sh').toBeTruthy();
  await signIn(page, { name: 'root', password: password as string });
  await expect(page.locator('.site-header .badge-admin')).toHaveText('admin');
  await expect(page.getByRole('columnheader', { name: 'Owner' })).toBeVisible();
  for (const { id, owner } of made) {
    await expect(page.locator(`tr[data-asset-id="${id}"] td.owner`)).toHaveText(owner);
  }
  // Still alive after hydration: a refresh re-renders the same rows in the browser.
  await page.getByRole('button', { name: 'Refresh the asset list' }).click();
  await waitHydrated(page);
  await expect(page.locator(`tr[data-asset-id="${made[1].id}"] td.owner`)).toHaveText('bob');
});
