import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { useDockerCore } from '../support/core-harness.js';
import { TEST_NODE_IMAGE } from '../support/docker.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { startTestSts, type TestSts } from '../support/sts.js';

const SHOTS = path.resolve('docs/screenshots');

/**
 * A server's token exchange on its page in the app, in headless Chromium against a real core
 * (keychain, SQLite, Docker), a real identity provider and a real token service: set up from the
 * card's form (the client secret typed once, moved to the keychain, never shown), seen on the card and
 * through GET /v1/servers/:name/token-exchange, a change made elsewhere pushed to the page, the
 * exchange working after a restart from the page, then removed (its keychain secret with it). Driven
 * by keyboard where a user would; axe on each state; a screenshot for the README.
 */
describe("token exchange on the server's page", () => {
  const env = useDockerCore();
  let idp: TestIdp;
  let sts: TestSts;
  let browser: Browser;
  let page: Page;
  let echo: ServerView;
  const card = () => page.locator('.card.token-exchange');
  const fact = async (term: string) => (await card().locator('dt', { hasText: term }).locator('xpath=following-sibling::dd[1]').textContent())?.trim();

  beforeAll(async () => {
    idp = await startTestIdp();
    sts = await startTestSts({ subjectIssuer: idp.issuer, subjectJwksUri: idp.jwksUri });
    registerTestSecret('sts client secret', sts.client.clientSecret);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
    page.on('dialog', (d) => void d.accept());
    echo = await env.t.api.run({ image: TEST_NODE_IMAGE, name: 'echo', transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    expect(echo.status).toBe('running');
  });
  afterAll(async () => {
    await browser?.close();
    await sts?.stop();
    await idp?.stop();
  });

  it('says it is not set up, and sets it up from the form: the secret goes to the keychain, the card shows the settings', async () => {
    await page.goto(env.t.core.loginUrl());
    await page.goto(`${new URL(env.t.core.loginUrl()).origin}/#/servers/echo`);
    await expect.poll(() => card().getByRole('heading', { level: 2 }).textContent(), { timeout: 20_000 }).toBe('Token exchange');
    expect(await card().textContent()).toMatch(/Not set up/);
    await expectAccessible(page, 'Server page, no token exchange');

    // From the keyboard: the button opens the form and focus lands in its first field.
    await card().getByRole('button', { name: 'Set up token exchange' }).focus();
    await page.keyboard.press('Enter');
    const form = card().getByRole('form', { name: 'Token exchange settings of echo' });
    await expect.poll(() => form.count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string | null } | null } }).document.activeElement?.getAttribute('name'))).toBe('tokenUrl');
    await page.keyboard.type(sts.tokenUrl);
    await form.getByLabel(/^Audience/).fill('backend-api');
    await form.getByLabel(/^Scopes/).fill('backend:read, backend:write');
    await form.getByLabel(/^Client ID/).fill(sts.client.clientId);
    await form.getByRole('combobox', { name: /^Client secret/ }).selectOption({ label: 'Type a new one…' });
    await form.getByLabel(/^New client secret/).fill(sts.client.clientSecret);
    await form.getByLabel('a header of its own').check();
    await form.getByLabel('Header name').fill('X-Upstream-Token');
    await expectAccessible(page, 'Server page, the token exchange form');
    await form.getByLabel('Header name').press('Enter');

    await expect.poll(() => card().getByRole('status').textContent(), { timeout: 20_000 }).toMatch(/Token exchange saved\. echo uses it from its next restart/);
    expect(await fact('Token URL')).toBe(sts.tokenUrl);
    expect(await fact('Audience')).toBe('backend-api');
    expect(await fact('Scopes')).toBe('backend:read backend:write');
    expect(await fact('Client ID')).toBe(sts.client.clientId);
    expect(await fact('Client secret')).toMatch(/^Stored in the keychain/);
    expect(await fact('Exchanged token')).toBe("the caller's access token");
    expect(await fact('Sent to the server in')).toBe('X-Upstream-Token: Bearer …');
    expect(await page.content()).not.toContain(sts.client.clientSecret);
    // Focus is back on the card's button, not lost to the page.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string | null } | null } }).document.activeElement?.textContent)).toBe('Change token exchange');
    await expectAccessible(page, 'Server page, token exchange set');

    // The same through the route, and the typed secret is in the keychain under the server's name.
    expect(await env.t.api.tokenExchange({ name: 'echo' })).toEqual({
      tokenUrl: sts.tokenUrl,
      clientId: sts.client.clientId,
      clientSecretName: 'echo-token-exchange',
      audience: 'backend-api',
      scopes: ['backend:read', 'backend:write'],
      subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
      headerName: 'x-upstream-token',
      subjectProviderName: null,
    });
    expect(await env.t.core.secrets.get('echo-token-exchange')).toBe(sts.client.clientSecret);
  });

  it('works after a restart from the page: the server receives the exchanged token in the header chosen', async () => {
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    await expect.poll(async () => (await env.t.api.getServer({ name: 'echo' })).status, { timeout: 60_000 }).toBe('running');
    const caller = registerTestSecret('caller token', (await idp.userToken({ sub: 'alice', resource: echo.url })).accessToken);
    const client = new Client({ name: 'app-token-exchange', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(echo.url), { requestInit: { headers: { authorization: `Bearer ${caller}` } } }));
    try {
      const seen = JSON.parse(textOf(await client.callTool({ name: 'headers', arguments: {} }))) as { authorization: string | null; 'x-upstream-token': string | null };
      expect(seen.authorization).toBeNull();
      expect(decodeJwt(seen['x-upstream-token']!.slice(7))).toMatchObject({ iss: sts.issuer, sub: 'alice', aud: 'backend-api', scope: 'backend:read backend:write' });
    } finally {
      await client.close();
    }
  });

  it('follows a change made elsewhere (pushed, no reload), and a change from the form keeps the stored secret', async () => {
    const before = await env.t.api.tokenExchange({ name: 'echo' });
    await env.t.api.setTokenExchange({ name: 'echo', settings: { tokenUrl: sts.tokenUrl, clientId: sts.client.clientId, clientSecretRef: { name: 'echo-token-exchange' }, audience: 'reports-api', externalTokenHeaderName: 'X-Upstream-Token' } });
    await expect.poll(() => fact('Audience'), { timeout: 20_000 }).toBe('reports-api');
    expect(await fact('Scopes')).toBe('none asked for');

    await card().getByRole('button', { name: 'Change token exchange' }).click();
    const form = card().getByRole('form', { name: 'Token exchange settings of echo' });
    expect(await form.getByRole('combobox', { name: /^Client secret/ }).inputValue()).toBe('keep:');
    expect(await form.getByLabel('Header name').inputValue()).toBe('X-Upstream-Token');
    await form.getByLabel(/^Audience/).fill(before!.audience!);
    await form.getByLabel(/^Scopes/).fill('backend:read backend:write');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => fact('Audience'), { timeout: 20_000 }).toBe('backend-api');
    expect(await env.t.api.tokenExchange({ name: 'echo' })).toEqual(before);
    expect((await env.t.api.secrets()).secrets.map((s) => s.name)).toContain('echo-token-exchange');

    // A bad token URL is refused with the core's reason, in the form, and nothing changes.
    await card().getByRole('button', { name: 'Change token exchange' }).click();
    await form.getByLabel('Token URL').fill('http://sts.example.com/token');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => form.getByRole('alert').textContent(), { timeout: 20_000 }).toMatch(/must be https/);
    await expectAccessible(page, 'Server page, a refused token exchange');
    expect(await env.t.api.tokenExchange({ name: 'echo' })).toEqual(before);
    await form.getByRole('button', { name: 'Cancel' }).click();

    await page.reload();
    await expect.poll(() => fact('Audience'), { timeout: 20_000 }).toBe('backend-api');
    await page.mouse.move(0, 0);
    fs.mkdirSync(SHOTS, { recursive: true });
    const box = (await card().boundingBox())!;
    await page.setViewportSize({ width: 1280, height: Math.max(900, Math.ceil(box.y + box.height + 40)) });
    const at = (await card().boundingBox())!;
    await page.screenshot({ path: path.join(SHOTS, 'token-exchange.png'), clip: { x: at.x - 16, y: at.y - 16, width: at.width + 32, height: at.height + 32 } });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('removes it from the card: the route says none, and the secret Gatehouse stored is gone from the keychain', async () => {
    await card().getByRole('button', { name: 'Remove token exchange' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => card().textContent(), { timeout: 20_000 }).toMatch(/Not set up/);
    expect(await card().getByRole('status').textContent()).toMatch(/Token exchange removed/);
    expect(await env.t.api.tokenExchange({ name: 'echo' })).toBeNull();
    expect((await env.t.api.getServer({ name: 'echo' })).tokenExchange).toBeNull();
    expect((await env.t.api.secrets()).secrets.map((s) => s.name)).not.toContain('echo-token-exchange');
    await expectAccessible(page, 'Server page, token exchange removed');
  });
});
