import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { signInAtTestIdp } from '../support/idp-login.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { connectClient, textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { startProtectedMcpServer, type ProtectedMcpServer } from '../support/protected-mcp-server.js';

/**
 * A remote server added and signed in to from the app: the add form, the server's page with its
 * Sign in button, the identity provider's pages in the "system browser" (a second page of the same
 * Chromium, behind the core's openUrl hook), and the token view after. Screenshots for the README.
 */
const SHOTS = path.resolve('docs/screenshots');

describe('signing in to a remote server from the app', () => {
  let idp: TestIdp;
  let rs: ProtectedMcpServer;
  let browser: Browser;
  let page: Page;
  let t: TestCore;

  const systemBrowser = (url: string) => signInAtTestIdp(browser, url, { login: 'alice' });

  beforeAll(async () => {
    idp = await startTestIdp({ registration: true });
    rs = await startProtectedMcpServer(idp);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    t = await startTestCore({ openUrl: (url) => void systemBrowser(url).catch(() => {}) as unknown as Promise<void> });
  });
  afterAll(async () => {
    await t?.stop();
    await browser?.close();
    await rs?.close();
    await idp?.stop();
  });

  it('adds the remote server from the form, signs in from its page, and shows what the token says', async () => {
    await page.goto(t.core.loginUrl());
    await page.getByRole('button', { name: 'Add server', exact: true }).click();
    await page.getByLabel('A remote server (URL)').check();
    await page.getByLabel(/Server URL/).fill(rs.url);
    await page.getByLabel(/^Name/).fill('remote');
    expect(await page.getByLabel('Credentials toward it').inputValue()).toBe('oauth');
    await expectAccessible(page, 'Add a remote server');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'add-remote.png') });
    await page.getByRole('button', { name: 'Add and start' }).click();
    // A server that needs a sign-in opens on its own page, with the button.
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), { timeout: 20_000 }).toBe('remote');
    await expect.poll(() => page.locator('.status.sign-in-needs-sign-in').count(), { timeout: 20_000 }).toBe(1);
    await expectAccessible(page, 'Remote server before the sign-in');
    await page.getByRole('button', { name: 'Sign in to remote' }).click();
    await expect.poll(() => page.locator('.status.sign-in-signed-in').count(), { timeout: 30_000 }).toBe(1);
    const card = page.locator('.card', { has: page.getByRole('heading', { name: 'Sign-in', exact: true }) });
    await expect.poll(() => card.textContent()).toContain('alice');
    expect(await card.textContent()).toContain(rs.url); // the audience
    expect(await card.textContent()).not.toMatch(/eyJ/); // never the token
    await expect.poll(() => page.locator('.facts .status').first().textContent(), { timeout: 20_000 }).toBe('running');
    await expectAccessible(page, 'Remote server signed in');
    await page.screenshot({ path: path.join(SHOTS, 'remote-signed-in.png') });
    // And a client calls it through the local proxy.
    const client = await connectClient(new URL((await t.api.getServer({ name: 'remote' })).url).origin);
    try {
      expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    } finally {
      await client.close();
    }
  });
});
