import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type Docker from 'dockerode';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_NODE_IMAGE } from '../support/docker.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { signInThroughGatehouse } from '../support/mcp-oauth-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { freePort } from '../support/ports.js';

/**
 * ToolHive's dcrConfig: Gatehouse registers itself (RFC 7591) at an OAuth 2.0 upstream instead of being
 * given a client id. The upstream is oidc-provider (a certified implementation, not ours) taken as a
 * plain OAuth 2.0 provider, its registration behind an initial access token. One registration, with
 * Gatehouse's one callback, is made when the settings are set and kept in the keychain: a restart
 * reuses it (ToolHive registers again at every start). An MCP client signs in through it in Chromium
 * and the server in a container receives the upstream token issued to that registration.
 */
describe('the embedded authorization server registering itself at its upstream (dcrConfig)', () => {
  const IAT = registerTestSecret('upstream initial access token', `iat-${Math.random().toString(36).slice(2)}`);
  let docker: Docker;
  let upstream: TestIdp;
  let browser: Browser;
  let t: TestCore;
  let issuer: string;
  let echo: ServerView;

  const settings = () => ({
    issuer,
    upstreamProviders: [
      {
        name: 'corp',
        type: 'oauth2',
        oauth2Config: {
          authorizationEndpoint: `${upstream.issuer}/auth`,
          tokenEndpoint: `${upstream.issuer}/token`,
          userInfo: { endpointUrl: `${upstream.issuer}/me` },
          scopes: ['openid'],
          dcrConfig: { discoveryUrl: `${upstream.issuer}/.well-known/openid-configuration`, initialAccessTokenRef: { name: 'upstream-iat' } },
        },
      },
    ],
  });
  /** The same with other scopes: another registration. */
  const wider = () => {
    const s = settings();
    s.upstreamProviders[0]!.oauth2Config.scopes = ['openid', 'offline_access'];
    return s;
  };
  const registrations = () => upstream.events().filter((e) => e.name === 'registration_create.success');

  /** An MCP client signs in through Gatehouse as `login` and calls the server's headers tool: what reached the server. */
  const signInAndCall = async (login: string) => {
    const client = await signInThroughGatehouse(browser, echo.url, { login, clientName: 'VS Code' });
    const mcp = new Client({ name: 'vscode-stand-in', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(echo.url), { authProvider: client }));
    try {
      return JSON.parse(textOf(await mcp.callTool({ name: 'headers', arguments: {} }))) as { authorization: string | null };
    } finally {
      await mcp.close();
    }
  };

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: { initialAccessToken: IAT, management: true } });
    browser = await launchBrowser();
    t = await startTestCore();
    issuer = `http://127.0.0.1:${await freePort()}`;
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await upstream?.stop();
  });

  it('refuses the settings, saying why, when the upstream refuses the registration; nothing is set up', async () => {
    await t.api.setSecret({ name: 'upstream-iat', value: registerTestSecret('a wrong initial access token', 'not-the-initial-access-token') });
    await expect(t.api.setAuthServer({ settings: settings() })).rejects.toThrow(/Registering Gatehouse at .*\/reg failed \(HTTP 401, invalid_token.*\)\. The initial access token may be wrong or expired/);
    expect((await t.api.authServer()).configured).toBe(false);
    expect(registrations()).toEqual([]);
    // A discovery document that is not the upstream's (another issuer in it) is refused before anything is sent.
    const s = settings();
    s.upstreamProviders[0]!.oauth2Config.dcrConfig.discoveryUrl = `${upstream.issuer}/.well-known/openid-configuration/elsewhere`;
    await expect(t.api.setAuthServer({ settings: s })).rejects.toThrow(/metadata at .* (answered HTTP 404|names the issuer)/);
  });

  it('registers once with its one callback, keeps the registration in the keychain, and a signed-in client reaches the server with the upstream token of that registration', async () => {
    await t.api.setSecret({ name: 'upstream-iat', value: IAT });
    const view = await t.api.setAuthServer({ settings: settings() });
    const reg = view.upstream!.registration!;
    expect(reg).toMatchObject({ endpoint: `${upstream.issuer}/reg`, expiresAt: null });
    expect(view.upstream!.clientId).toBe(reg.clientId);
    expect(registrations().map((e) => e.clientId)).toEqual([reg.clientId]);
    const registered = (await upstream.registeredClient(reg.clientId))!;
    registerTestSecret('gatehouse client secret at the upstream', registered['client_secret'] as string);
    expect(registered).toMatchObject({ client_name: 'Gatehouse', redirect_uris: [`${issuer}/oauth/callback`], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid' });
    // The secret is in the keychain, never in SQLite.
    expect(fs.readFileSync(path.join(t.home, 'gatehouse.db')).includes(Buffer.from(registered['client_secret'] as string))).toBe(false);

    echo = await t.api.run({ image: TEST_NODE_IMAGE, name: 'echo', transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], auth: { type: 'inline', inline: { issuer } } });
    const seen = await signInAndCall('alice');
    const upstreamToken = seen.authorization!.replace(/^Bearer /, '');
    registerTestSecret('upstream access token (alice)', upstreamToken);
    // The server got the upstream's token, issued to Gatehouse's registration, for the user who signed in.
    expect(await upstream.introspect(upstreamToken)).toMatchObject({ active: true, client_id: reg.clientId, sub: 'alice' });

    const shown = await runCli(t.home, ['authserver', 'show']);
    expect(shown.stdout).toContain(`client:    ${reg.clientId}, registered at ${upstream.issuer}/reg`);
    expect(shown.stdout).not.toContain(registered['client_secret'] as string);

    // The Identity page says which client Gatehouse is at the upstream, and that it registered it.
    const page = await browser.newPage();
    try {
      await page.goto(t.core.loginUrl());
      await page.goto(`${new URL(t.core.loginUrl()).origin}/#/identity`);
      const fact = page.locator('dt', { hasText: "Gatehouse's client there" }).locator('xpath=following-sibling::dd[1]');
      await expect.poll(() => fact.textContent(), { timeout: 20_000 }).toContain(reg.clientId);
      expect(await fact.textContent()).toMatch(new RegExp(`registered by Gatehouse at ${upstream.issuer}/reg on .*The secret is in the keychain`));
      expect(await page.content()).not.toContain(registered['client_secret'] as string);
      await expectAccessible(page, 'Identity, an upstream Gatehouse registered at');
    } finally {
      await page.close();
    }
  });

  it('reuses the registration after a restart and when the same settings are set again, and registers anew when they change', async () => {
    const before = (await t.api.authServer()).upstream!.registration!;
    await t.restart();
    expect((await t.api.authServer()).upstream!.registration).toEqual(before);
    const seen = await signInAndCall('bob');
    expect(await upstream.introspect(seen.authorization!.replace(/^Bearer /, ''))).toMatchObject({ active: true, client_id: before.clientId, sub: 'bob' });
    await t.api.setAuthServer({ settings: settings() });
    expect(registrations()).toHaveLength(1);

    // Other scopes: the registration was made for others, so a new one is made.
    const after = (await t.api.setAuthServer({ settings: wider() })).upstream!.registration!;
    expect(after.clientId).not.toBe(before.clientId);
    expect(registrations()).toHaveLength(2);
    registerTestSecret('gatehouse client secret at the upstream (2)', (await upstream.registeredClient(after.clientId))!['client_secret'] as string);
  });

  it('registers again at the next sign-in when the upstream has dropped the registration (RFC 7592 read)', async () => {
    const dropped = (await t.api.authServer()).upstream!.registration!;
    await upstream.forgetClient(dropped.clientId);
    // Sent with the dropped client, the user would end on the upstream's error page, where Gatehouse never learns of it.
    const seen = await signInAndCall('carol');
    const now = (await t.api.authServer()).upstream!.registration!;
    expect(now.clientId).not.toBe(dropped.clientId);
    registerTestSecret('gatehouse client secret at the upstream (3)', (await upstream.registeredClient(now.clientId))!['client_secret'] as string);
    expect(await upstream.introspect(seen.authorization!.replace(/^Bearer /, ''))).toMatchObject({ active: true, client_id: now.clientId, sub: 'carol' });
    expect(registrations()).toHaveLength(3);
    const logs = await runCli(t.home, ['logs']);
    expect(logs.stdout).toContain(`no longer had Gatehouse's registration ${dropped.clientId}: Gatehouse registered again, as ${now.clientId}`);
  });

  it('forgets its registration with the authorization server: set up again, it registers anew', async () => {
    // The settings in force (those it registered for last), removed and set again as they were.
    await t.api.removeAuthServer();
    const again = (await t.api.setAuthServer({ settings: wider() })).upstream!.registration!;
    expect(registrations()).toHaveLength(4);
    expect(again.clientId).toBe(registrations()[3]!.clientId);
    registerTestSecret('gatehouse client secret at the upstream (4)', (await upstream.registeredClient(again.clientId))!['client_secret'] as string);
  });
});
