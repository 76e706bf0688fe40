// What every test shares:
// - users: alice and bob (created by scripts/test.sh with the CLI; passwords and API keys come in
//   environment variables), each signed in once per worker through the real sign-in page;
// - `page`/`context` are alice's, signed in; `newContext` opens more contexts (another user,
//   signed out, JavaScript off, a phone) that are watched the same way and closed afterwards;
// - `request` calls the REST API as alice with her API key (`Authorization: Bearer`), no cookie;
//   `anon` has neither (for presigned URLs and refusals);
// - a CSP watch: any Content-Security-Policy violation in any page of the test fails it.
import {
  test as base,
  expect,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test';

export { expect };

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:3000';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through scripts/test.sh, which creates the users`);
  }
  return value;
}

export interface User {
  name: string;
  password: string;
  apiKey: string;
}

export const alice: User = {
  name: 'alice',
  password: required('ALICE_PASSWORD'),
  apiKey: required('ALICE_API_KEY'),
};
export const bob: User = {
  name: 'bob',
  password: required('BOB_PASSWORD'),
  apiKey: required('BOB_API_KEY'),
};

type StorageState = Exclude<BrowserContextOptions['storageState'], string | undefined>;
/** A context with no cookies: signed out. */
export const SIGNED_OUT: StorageState = { cookies: [], origins: [] };

/** The page is rendered on the server; its marker flips to "true" once the wasm has hydrated. */
export async function waitHydrated(page: Page, section = 'section.dashboard') {
  await expect(page.locator(section)).toHaveAttribute('data-hydrated', 'true');
}

/** Records an asset through the REST API (as the key's user); its id. */
export async function createAsset(api: APIRequestContext, filename: string): Promise<string> {
  const created = await api.post('/assets', { data: { filename } });
  expect(created.status()).toBe(201);
  return (await created.json()).id as string;
}

/** Signs in through the sign-in page and waits for the dashboard. */
export async function signIn(page: Page, user: { name: string; password: string }) {
  await page.goto('/sign-in');
  await waitHydrated(page, 'section.sign-in');
  await page.getByLabel('User name').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  await waitHydrated(page);
}

async function signedInState(browser: Browser, user: User): Promise<StorageState> {
  const context = await browser.newContext({ baseURL: BASE_URL, storageState: SIGNED_OUT });
  try {
    const page = await context.newPage();
    await signIn(page, user);
    await expect(page.locator('.site-header .user-name')).toHaveText(user.name);
    return await context.storageState();
  } finally {
    await context.close();
  }
}

/** Lets one test expect violations (the test that checks the policy is enforced). */
export interface CspWatch {
  violations: string[];
  expectViolations: boolean;
}

const CSP_WORDS = /Content[- ]Security[- ]Policy|securitypolicyviolation/i;

async function watchCsp(context: BrowserContext, csp: CspWatch) {
  // Injected by the browser's debugging protocol, which the page's CSP does not govern.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(
        `securitypolicyviolation: ${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'} ` +
          `at ${event.sourceFile}:${event.lineNumber}`,
      );
    });
  });
  context.on('console', (message) => {
    const text = message.text();
    if (CSP_WORDS.test(text)) csp.violations.push(`${message.page()?.url() ?? '?'}: ${text}`);
  });
}

async function apiContext(
  playwright: { request: { newContext: (o: object) => Promise<APIRequestContext> } },
  token?: string,
) {
  return playwright.request.newContext({
    baseURL: BASE_URL,
    // Not alice's cookie, which the runner would otherwise copy in from `storageState`.
    storageState: SIGNED_OUT,
    extraHTTPHeaders: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

type TestFixtures = {
  csp: CspWatch;
  anon: APIRequestContext;
  bobApi: APIRequestContext;
  newContext: (options?: BrowserContextOptions) => Promise<BrowserContext>;
};
type WorkerFixtures = { aliceState: StorageState; bobState: StorageState };

export const test = base.extend<TestFixtures, WorkerFixtures>({
  aliceState: [async ({ browser }, use) => use(await signedInState(browser, alice)), { scope: 'worker' }],
  bobState: [async ({ browser }, use) => use(await signedInState(browser, bob)), { scope: 'worker' }],
  storageState: async ({ aliceState }, use) => use(aliceState),

  csp: [
    async ({}, use) => {
      const csp: CspWatch = { violations: [], expectViolations: false };
      await use(csp);
      if (csp.expectViolations) {
        expect(csp.violations, 'the page reported the expected CSP violation').not.toEqual([]);
      } else {
        expect(csp.violations, 'Content-Security-Policy violations').toEqual([]);
      }
    },
    { auto: true },
  ],
  context: async ({ context, csp }, use) => {
    await watchCsp(context, csp);
    await use(context);
  },
  newContext: async ({ browser, csp, aliceState }, use) => {
    const opened: BrowserContext[] = [];
    await use(async (options = {}) => {
      const context = await browser.newContext({ baseURL: BASE_URL, storageState: aliceState, ...options });
      opened.push(context);
      await watchCsp(context, csp);
      return context;
    });
    for (const context of opened) await context.close();
  },

  request: async ({ playwright }, use) => {
    const request = await apiContext(playwright, alice.apiKey);
    await use(request);
    await request.dispose();
  },
  anon: async ({ playwright }, use) => {
    const request = await apiContext(playwright);
    await use(request);
    await request.dispose();
  },
  bobApi: async ({ playwright }, use) => {
    const request = await apiContext(playwright, bob.apiKey);
    await use(request);
    await request.dispose();
  },
});
