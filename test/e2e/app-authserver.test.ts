import fs from 'node:fs';
import path from 'node:path';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import type Docker from 'dockerode';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { loopbackListener, TestClientProvider } from '../support/mcp-oauth-client.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { freePort } from '../support/ports.js';

const SHOTS = path.resolve('docs/screenshots');

/**
 * The embedded authorization server managed from the app's Identity page, in headless Chromium against a
 * real core (keychain, SQLite, Docker) and a real upstream OpenID provider: set up from pasted settings
 * (a bad paste shows why and changes nothing), what runs, a key rotation, "Test this provider" (the
 * "system browser" is a second page of the same Chromium, behind the core's openUrl hook), and a program
 * a user allowed, revoked. Driven by keyboard where a user would; axe on each state; a screenshot for the README.
 */
describe('the authorization server on the Identity page', () => {
  let docker: Docker;
  let upstream: TestIdp;
  let browser: Browser;
  let page: Page;
  let t: TestCore;
  let issuer: string;
  let clientId: string;
  let server: ServerView;
  let systemBrowser: Promise<void> = Promise.resolve();
  const section = () => page.locator('section.authserver');

  /** The user at the upstream's pages in a browser page of its own: login (any password), then consent. */
  const atUpstream = async (url: string, login: string, until: RegExp) => {
    const p = await browser.newPage();
    try {
      await p.goto(url);
      await p.locator('input[name="login"]').fill(login);
      await p.locator('input[name="password"]').fill('any');
      await p.locator('button[type="submit"]').click();
      await p.locator('form').first().waitFor();
      await p.locator('button[type="submit"]').first().click();
      await p.getByRole('heading', { level: 1, name: until }).waitFor({ timeout: 15_000 });
    } finally {
      await p.close();
    }
  };

  /** Tab (forward) until the focused element is the one named, then press the key: the page works without a mouse. */
  const byKeyboard = async (name: string, key: 'Enter' | 'Space' = 'Enter') => {
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        // Runs in the page (no DOM types in the tests' compilation).
        const el = (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null; textContent: string | null } | null } }).document.activeElement;
        return el ? (el.getAttribute('aria-label') ?? el.textContent ?? '').trim() : '';
      });
      if (focused === name) {
        await page.keyboard.press(key);
        return;
      }
    }
    throw new Error(`Tab never reached "${name}"`);
  };

  const settingsYaml = (extra = '') => `apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPExternalAuthConfig
metadata:
  name: embedded-auth-server
spec:
  type: embeddedAuthServer
  embeddedAuthServer:
    issuer: '${issuer}'
${extra}    upstreamProviders:
      - name: corp
        type: oidc
        oidcConfig:
          issuerUrl: '${upstream.issuer}'
          clientId: '${clientId}'
          clientSecretRef:
            name: upstream-idp-secret
            key: client-secret
          scopes: [openid, offline_access]
`;

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    page.on('dialog', (d) => void d.accept());
    t = await startTestCore({
      openUrl: async (url) => {
        // The "system browser": bob signs in there, in a page of its own.
        systemBrowser = atUpstream(url, 'bob', /Provider test finished/);
        systemBrowser.catch(() => {});
      },
    });
    issuer = `http://127.0.0.1:${await freePort()}`;
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${issuer}/oauth/callback` });
    clientId = reg.client_id;
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('upstream client secret', reg.client_secret) });
    server = await t.api.run({ image: TEST_IMAGE, name: 'notes', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer } } });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await upstream?.stop();
  });

  it('is set up from pasted settings; a bad paste says why and starts nothing', async () => {
    await page.goto(t.core.loginUrl());
    await page.goto(`${new URL(t.core.loginUrl()).origin}/#/identity`);
    await expect.poll(() => section().getByRole('heading', { level: 2 }).textContent()).toBe('Authorization server Not set up');
    await expectAccessible(page, 'Identity, no authorization server');
    await section().getByRole('button', { name: 'Set up from ToolHive settings' }).click();
    const box = section().getByLabel(/embeddedAuthServer settings/);
    await box.fill(`issuer: '${issuer}'\nupstreamProviders: []\n`);
    await section().getByRole('button', { name: 'Check and start' }).click();
    await expect.poll(() => section().getByRole('alert').textContent()).toMatch(/upstreamProviders/);
    await expectAccessible(page, 'Identity, a bad paste');
    expect(await t.api.authServer()).toMatchObject({ configured: false, running: false });

    await box.fill(settingsYaml());
    await section().getByRole('button', { name: 'Check and start' }).click();
    await expect.poll(() => section().getByRole('heading', { level: 2 }).textContent(), { timeout: 20_000 }).toBe('Authorization server Running');
    const facts = section().locator('.card', { has: page.getByRole('heading', { name: 'What runs' }) });
    expect(await facts.textContent()).toContain(issuer);
    expect(await facts.textContent()).toContain(`corp OpenID Connect at ${upstream.issuer}`);
    expect(await facts.textContent()).toContain(server.url);
    expect(await facts.textContent()).toMatch(/Access tokens live1 hourRefresh tokens live7 daysAuthorization codes live10 minutes/);
    const view = await t.api.authServer();
    expect(view).toMatchObject({ running: true, issuer, servers: [{ name: 'notes', urls: expect.arrayContaining([server.url]) }] });
    expect(view.servers[0]!.urls[0]).toBe(server.url);
    expect(view.audiences).toContain(server.url);
  });

  it('never lets a bad paste replace the running settings', async () => {
    await section().getByRole('button', { name: 'Replace settings' }).click();
    await section().getByLabel(/embeddedAuthServer settings/).fill(settingsYaml("    tokenLifespans: { accessTokenLifespan: '1y' }\n"));
    await section().getByRole('button', { name: 'Check and replace' }).click();
    await expect.poll(() => section().getByRole('alert').textContent()).toMatch(/accessTokenLifespan/);
    await section().getByLabel(/embeddedAuthServer settings/).fill('issuer: [unclosed');
    await section().getByRole('button', { name: 'Check and replace' }).click();
    await expect.poll(() => section().getByRole('alert').textContent()).toMatch(/neither YAML nor JSON/);
    // The guide's issuer is not on this machine: the page says to give the port its front forwards to.
    await section().getByLabel(/embeddedAuthServer settings/).fill(settingsYaml().replace(issuer, 'https://mcp.example.com'));
    await expect.poll(() => section().getByLabel(/^Local port/).inputValue()).toBe('');
    await section().getByRole('button', { name: 'Check and replace' }).click();
    await expect.poll(() => section().getByRole('alert').textContent()).toMatch(/https:\/\/mcp\.example\.com is not on this machine.*"Local port" in the app/);
    await expectAccessible(page, 'Identity, an issuer elsewhere without its local port');
    expect(await t.api.authServer()).toMatchObject({ running: true, issuer, lifespans: { accessTokenMs: 3_600_000 } });
    await section().getByRole('button', { name: 'Close the settings' }).click();
    expect(await section().getByRole('heading', { level: 2 }).textContent()).toBe('Authorization server Running');
  });

  it('rotates the signing key from the keyboard: the new one signs, the old one is shown retired', async () => {
    const before = (await t.api.authServer()).signingKeys;
    const keys = section().getByRole('table', { name: /Signing keys/ });
    expect(await keys.getByRole('row').count()).toBe(2); // header + one key
    await section().getByRole('button', { name: 'Replace settings' }).focus();
    await byKeyboard('Rotate signing key');
    await expect.poll(() => keys.getByRole('row').count(), { timeout: 20_000 }).toBe(3);
    const after = (await t.api.authServer()).signingKeys;
    expect(after.map((k) => k.kid)).toEqual([expect.not.stringMatching(before[0]!.kid), before[0]!.kid]);
    expect(await keys.getByRole('row').nth(1).textContent()).toContain(after[0]!.kid);
    expect(await keys.getByRole('row').nth(1).textContent()).toMatch(/Signs/);
    expect(await keys.getByRole('row').nth(2).textContent()).toMatch(/Retired.*still published until/);
    expect(await section().getByRole('status').first().textContent()).toMatch(/A new key signs from now on/);
  });

  it('tests the provider: the sign-in in the system browser, then the identity and what Cedar sees, no token issued', async () => {
    const card = section().locator('.card', { has: page.getByRole('heading', { name: 'Test the provider' }) });
    await card.getByRole('button', { name: 'Test this provider' }).focus();
    await page.keyboard.press('Enter');
    // The result arrives pushed; the test's own sign-in happens in the other page meanwhile.
    await expect.poll(() => card.getByRole('heading', { level: 4 }).textContent(), { timeout: 30_000 }).toMatch(/corp identified bob/);
    await systemBrowser;
    const cedar = card.getByRole('table', { name: 'What Cedar sees for bob' });
    expect(await card.textContent()).toContain('principal == Client::"bob"');
    expect(await cedar.getByRole('row', { name: /claim_sub/ }).textContent()).toContain('"bob"');
    expect(await cedar.getByRole('row', { name: /claim_iss/ }).textContent()).toContain(`"${issuer}"`);
    expect(await cedar.getByRole('row', { name: /claim_aud/ }).textContent()).toContain(server.url);
    expect(await cedar.getByRole('row', { name: /claim_jti/ }).textContent()).toMatch(/for example; each token has its own/);
    await expectAccessible(page, 'Identity, a provider test');
    expect(await t.api.authServerUsers()).toEqual([]); // bob was not signed in anywhere
    expect(t.core.sealed.keys('authserver:Grant')).toEqual([]);
  });

  it('lists a program the user allowed, live, and revokes it', async () => {
    const clients = section().locator('.card', { has: page.getByRole('heading', { name: 'Programs you allowed' }) });
    expect(await clients.textContent()).toContain('No program was allowed');
    // VS Code signs in through Gatehouse in the user's browser: the consent page, then alice at the upstream.
    const cb = await loopbackListener();
    const vscode = new TestClientProvider(cb.url, 'VS Code', async (url) => {
      const p = await browser.newPage();
      try {
        await p.goto(url.href);
        await p.getByRole('button', { name: 'Allow' }).click();
        await p.locator('input[name="login"]').fill('alice');
        await p.locator('input[name="password"]').fill('any');
        await p.locator('button[type="submit"]').click();
        await p.locator('form').first().waitFor();
        await p.locator('button[type="submit"]').first().click();
        await p.getByRole('heading', { name: 'Back in the client' }).waitFor();
      } finally {
        await p.close();
      }
    });
    try {
      const code = cb.next();
      expect(await auth(vscode, { serverUrl: server.url })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(vscode, { serverUrl: server.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      registerTestSecret('gatehouse access token', vscode.saved!.access_token);
      registerTestSecret('gatehouse refresh token', vscode.saved!.refresh_token!);
    } finally {
      await cb.close();
    }
    const row = clients.locator(`tr[data-client="${vscode.info!.client_id}"]`);
    await expect.poll(() => row.textContent(), { timeout: 20_000 }).toContain('VS Code');
    expect(await row.textContent()).toContain(server.url);
    expect(await row.textContent()).toMatch(/127\.0\.0\.1:\d+/);
    const users = section().locator('.card', { has: page.getByRole('heading', { name: 'Signed-in users' }) });
    await expect.poll(() => users.locator('tr[data-user="alice"]').textContent()).toMatch(/corp.*Kept, sealed/);
    expect(await section().textContent()).not.toMatch(/eyJ/);
    await expectAccessible(page, 'Identity, the authorization server with a program and a user');
    await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { blur(): void } | null } }).document.activeElement?.blur());
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.mouse.move(0, 0); // no hover on the last button clicked
    // The section with a margin of the page around it (the window's sidebar is not the point here).
    const box = (await section().boundingBox())!;
    await page.setViewportSize({ width: 1280, height: Math.ceil(box.y + box.height + 40) });
    const at = (await section().boundingBox())!;
    await page.screenshot({ path: path.join(SHOTS, 'authserver-identity.png'), clip: { x: at.x - 24, y: at.y - 16, width: at.width + 48, height: at.height + 32 } });
    await page.setViewportSize({ width: 1280, height: 900 });

    await row.getByRole('button', { name: 'Revoke VS Code' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => clients.textContent(), { timeout: 20_000 }).toContain('No program was allowed');
    expect(await section().getByRole('status').first().textContent()).toMatch(/Revoked VS Code/);
    expect(await t.api.authServerClients()).toEqual([]);
    expect(t.core.sealed.keys('authserver:RefreshToken')).toEqual([]);
  });

  it('shows every step of the sign-in in the log viewer, and only them with "Sign-in steps"', async () => {
    await page.getByRole('link', { name: 'Logs' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Logs');
    await page.getByLabel('Event').selectOption('oauth_*');
    const log = page.getByRole('listbox', { name: 'Log lines' });
    const lines = () => log.getByRole('option').allTextContents();
    // Filtered: every line left is an audit event (a decision badge each), the revocation among them.
    await expect
      .poll(async () => ((await log.locator('.decision').count()) === (await lines()).length ? (await lines()).join('\n') : ''), { timeout: 20_000 })
      .toMatch(/done ?revocation of VS Code by the Gatehouse app/);
    const text = (await lines()).join('\n');
    expect(text).not.toMatch(/Created server|tools\/call|initialize/);
    for (const step of ['registration of VS Code', 'consent for VS Code', 'sign-in at the identity provider as alice for VS Code', 'authorization code for VS Code by alice', 'token (authorization_code) for VS Code by alice']) expect(text).toContain(step);
    expect(await log.locator('.decision.success').count()).toBe(6);
    expect(text).not.toMatch(/eyJ/);
    await expectAccessible(page, 'Logs, the sign-in steps');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(SHOTS, 'logs-sign-ins.png') });
    await page.getByLabel('Event').selectOption('');
  });
});
