import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { signInAtTestIdp } from '../support/idp-login.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

/**
 * A local server guarded by an identity provider, signed in to from its page in the app so that
 * clients which cannot do OAuth can use it: the card, the IdP's pages in the "system browser" (a second
 * page of the same Chromium behind the core's openUrl hook), the token view after. Screenshot for the README.
 */
const SHOTS = path.resolve('docs/screenshots');

describe('signing in for the clients of a local server from the app', () => {
  let docker: Docker;
  let idp: TestIdp;
  let browser: Browser;
  let page: Page;
  let t: TestCore;

  beforeAll(async () => {
    docker = await requireDocker();
    idp = await startTestIdp({ registration: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    t = await startTestCore({ openUrl: (url) => void signInAtTestIdp(browser, url, { login: 'carol' }).catch(() => {}) as unknown as Promise<void> });
    await t.api.run({ image: TEST_IMAGE, name: 'crm', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
  });
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await idp?.stop();
  });

  it('shows the card on the server page, signs in from it, and shows who is signed in (never the token)', async () => {
    await page.goto(t.core.loginUrl());
    await page.goto(`${new URL(t.core.loginUrl()).origin}/#/servers/crm`);
    const card = page.locator('.card', { has: page.getByRole('heading', { name: 'Sign-in for your clients' }) });
    await expect.poll(() => card.count(), { timeout: 20_000 }).toBe(1);
    expect(await card.textContent()).toMatch(/Claude Desktop/);
    await expectAccessible(page, 'Local server before the sign-in');
    await card.getByRole('button', { name: 'Sign in to crm' }).click();
    await expect.poll(() => card.locator('.status.sign-in-signed-in').count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => card.textContent()).toContain('carol');
    expect(await card.textContent()).toContain(idp.issuer);
    expect(await card.textContent()).not.toMatch(/eyJ/);
    await expectAccessible(page, 'Local server signed in for its clients');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'local-sign-in.png') });
  });
});
