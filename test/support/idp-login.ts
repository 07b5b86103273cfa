import type { Browser, Page } from 'playwright-core';

/**
 * The user at the test identity provider's pages (oidc-provider's devInteractions) in a real browser:
 * signs in as `login` (any password), then consents, or declines with its Cancel link. Ends on
 * Gatehouse's callback page ("Signed in" or "Sign-in declined"); a page that says anything else fails
 * with what it said.
 */
export async function signInAtTestIdp(browser: Browser, url: string, opts: { login: string; consent?: 'accept' | 'decline' }): Promise<void> {
  const page = await browser.newPage();
  try {
    await page.goto(url);
    await page.locator('input[name="login"]').fill(opts.login);
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    await page.locator('form').first().waitFor();
    const declining = opts.consent === 'decline';
    if (declining) await page.locator('a[href$="/abort"]').click();
    else await page.locator('button[type="submit"]').first().click();
    await page
      .getByRole('heading', { level: 1, name: declining ? 'Sign-in declined' : 'Signed in' })
      .waitFor({ timeout: 15_000 })
      .catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}; the page at ${page.url()} says: ${(await page.locator('body').innerText()).slice(0, 300)}`);
      });
  } finally {
    await page.close();
  }
}

/**
 * The user in `page` signing in through Gatehouse's authorization server: its consent page when it asks
 * (allowed; `onConsent` hears of it), then the test identity provider's login as `login` and its consent,
 * whichever of them come.
 */
export async function allowAndSignInUpstream(page: Page, url: URL, opts: { login: string; onConsent?: (url: URL) => void }): Promise<void> {
  await page.goto(url.href);
  if (((await page.getByRole('heading', { level: 1 }).textContent()) ?? '').startsWith('Allow')) {
    opts.onConsent?.(url);
    await page.getByRole('button', { name: 'Allow' }).click();
  }
  await page.waitForLoadState();
  if (await page.locator('input[name="login"]').count()) {
    await page.locator('input[name="login"]').fill(opts.login);
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    await page.locator('form').first().waitFor();
  }
  if (!page.url().startsWith('http://127.0.0.1') || (await page.locator('form').count())) await page.locator('button[type="submit"]').first().click().catch(() => {});
}
