import fs from 'node:fs';
import path from 'node:path';
import { auth, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KeyRing,
  OidcUpstreamClient,
  parseAuthServerSettings,
  sealedAdapter,
  startAuthServerEngine,
  UpstreamInteractions,
  type AuthServerEngine,
  type AuthServerSettings,
} from '../../src/authserver/index.js';
import { KeychainSecrets, OsKeychain, SealedStore } from '../../src/secrets/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { tempHome } from '../support/core-harness.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/keyring.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { startProtectedMcpServer, type ProtectedMcpServer } from '../support/protected-mcp-server.js';
import { freePort } from '../support/ports.js';
import { loopbackListener, TestClientProvider } from '../support/mcp-oauth-client.js';

const SHOTS = path.resolve('docs/screenshots');

/**
 * The embedded authorization server end to end: an MCP client (the SDK's own auth() with a real loopback
 * redirect) → Gatehouse's consent page → a real upstream OpenID provider (oidc-provider, its login and
 * consent pages) → back, in a real browser; a real MCP resource server that takes Gatehouse's tokens for
 * its own URL. Keys and state in a real keychain and SQLite file.
 */
describe('signing in through the embedded authorization server to an upstream identity provider', () => {
  let keyring: PrivateKeyring;
  let upstream: TestIdp;
  let rs: ProtectedMcpServer;
  let browser: Browser;
  let page: Page;
  let store: Store;
  let settings: AuthServerSettings;
  let engine: AuthServerEngine;
  let interactions: UpstreamInteractions;
  let issuer: string;
  const consentShown: string[] = [];

  const start = async () => {
    const kc = new OsKeychain('Gatehouse', 10_000, keyring.env);
    const ring = new KeyRing('flow-test', { keychain: kc, secrets: () => new KeychainSecrets(kc) });
    const keys = await ring.load(settings, settings.lifespans.accessTokenMs);
    const sealed = new SealedStore(kc, store.encrypted);
    const u = settings.upstream;
    if (u.type !== 'oidc') throw new Error('an oidc upstream');
    interactions = new UpstreamInteractions({ settings, sealed, upstream: new OidcUpstreamClient(u, async () => (u.clientSecret ? ring.read(u.clientSecret, 'The upstream client secret') : undefined)) });
    engine = await startAuthServerEngine({
      settings,
      keys,
      adapter: sealedAdapter({ sealed, index: store.authServerIndex }),
      audiences: () => [rs.url],
      findAccount: async (sub) => {
        const a = await interactions.account(sub);
        return a ? { ...a.claims, ...(a.name ? { name: a.name } : {}), ...(a.email ? { email: a.email } : {}) } : undefined;
      },
      interactions,
      port: Number(new URL(issuer).port),
    });
  };

  /** The user in the browser: Gatehouse's consent page (allow or deny), then the upstream's login and consent. */
  const userAt = (decision: 'allow' | 'deny') => async (url: URL) => {
    await page.goto(url.href);
    const heading = page.getByRole('heading', { level: 1 });
    if (((await heading.textContent()) ?? '').startsWith('Allow')) {
      consentShown.push(url.searchParams.get('client_id') ?? '');
      await page.getByRole('button', { name: decision === 'allow' ? 'Allow' : 'Deny' }).click();
      if (decision === 'deny') return;
    }
    if (await page.locator('input[name="login"]').count()) {
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any');
      await page.locator('button[type="submit"]').click();
      await page.locator('form').first().waitFor();
      await page.locator('button[type="submit"]').first().click();
    }
  };

  beforeAll(async () => {
    keyring = await startPrivateKeyring();
    upstream = await startTestIdp({ registration: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 900, height: 760 }, colorScheme: 'light' });
    issuer = `http://127.0.0.1:${await freePort()}`;
    rs = await startProtectedMcpServer({ issuer, jwksUri: `${issuer}/.well-known/jwks.json` });
    store = openStore(path.join(tempHome('gatehouse-authserver-flow-'), 'gatehouse.db'));
    // Gatehouse registered at the upstream once, with its one callback (an administrator's step).
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${issuer}/oauth/callback` });
    const kc = new OsKeychain('Gatehouse', 10_000, keyring.env);
    await new KeychainSecrets(kc).set('upstream-idp-secret.client-secret', registerTestSecret('upstream client secret', reg.client_secret));
    // The guide's settings, with this machine's URLs.
    settings = parseAuthServerSettings({
      issuer,
      upstreamProviders: [{ name: 'corp', type: 'oidc', oidcConfig: { issuerUrl: upstream.issuer, clientId: reg.client_id, clientSecretRef: { name: 'upstream-idp-secret', key: 'client-secret' }, scopes: ['openid', 'offline_access'] } }],
    });
    await start();
  }, 60_000);
  afterAll(async () => {
    await engine?.close();
    store?.close();
    await browser?.close();
    await rs?.close();
    await upstream?.stop();
    await keyring?.stop();
  });

  let first: TestClientProvider;

  it("signs an MCP client in with the SDK's auth(): consent at Gatehouse, login at the upstream, a token for the server", async () => {
    const cb = await loopbackListener();
    try {
      first = new TestClientProvider(cb.url, 'Claude Code', async (url) => {
        await userAt('allow')(url);
      });
      const code = cb.next();
      expect(await auth(first, { serverUrl: rs.url })).toBe('REDIRECT');
      const back = await code;
      expect(back.searchParams.get('iss')).toBe(issuer);
      expect(await auth(first, { serverUrl: rs.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
    } finally {
      await cb.close();
    }
    expect(consentShown).toEqual([first.info!.client_id]);
    const token = first.saved!.access_token;
    registerTestSecret('gatehouse access token', token);
    registerTestSecret('gatehouse refresh token', first.saved!.refresh_token!);
    expect(decodeJwt(token)).toMatchObject({ iss: issuer, aud: rs.url, sub: 'alice', client_id: first.info!.client_id });
    // The MCP server sees Gatehouse's token (for its URL) and answers.
    const client = new Client({ name: 'claude-code-stand-in', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(rs.url), { authProvider: first }));
    try {
      expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    } finally {
      await client.close();
    }
  });

  it('shows its consent page to a client nobody allowed, even with the upstream session open (the confused deputy), and a denial gives no code', async () => {
    const cb = await loopbackListener();
    try {
      const stranger = new TestClientProvider(cb.url, 'Totally Legit Helper', async (url) => {
        const shown = await page.goto(url.href);
        await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toMatch(/Allow Totally Legit Helper/);
        const headers = shown!.headers();
        expect(headers['x-frame-options']).toBe('DENY');
        expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
        expect(headers['cache-control']).toBe('no-store');
        await expectAccessible(page, 'The consent page');
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, 'authserver-consent.png') });
        await page.getByRole('button', { name: 'Deny' }).click();
      });
      const answer = cb.next();
      expect(await auth(stranger, { serverUrl: rs.url })).toBe('REDIRECT');
      const back = await answer;
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('code')).toBeNull();
    } finally {
      await cb.close();
    }
  });

  it('remembers the client the user allowed: its next sign-in asks nothing (on another loopback port)', async () => {
    const cb = await loopbackListener();
    try {
      const before = consentShown.length;
      // The same client, listening on another port this time (RFC 8252: the port is its own choice).
      const again = new TestClientProvider(cb.url, 'Claude Code', userAt('allow'));
      again.info = first.info;
      const code = cb.next();
      expect(await auth(again, { serverUrl: rs.url })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(again, { serverUrl: rs.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      expect(consentShown.length).toBe(before);
      registerTestSecret('gatehouse refresh token 2', again.saved!.refresh_token!);
    } finally {
      await cb.close();
    }
  });

  it('keeps working across a restart: the refresh token from before still refreshes', async () => {
    await engine.close();
    await start();
    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Parameters<typeof refreshAuthorization>[1]['metadata'];
    const renewed = await refreshAuthorization(issuer, { metadata: metadata!, clientInformation: first.info!, refreshToken: first.saved!.refresh_token!, resource: new URL(rs.url) });
    registerTestSecret('gatehouse rotated refresh token', renewed.refresh_token!);
    expect(decodeJwt(renewed.access_token)).toMatchObject({ iss: issuer, aud: rs.url, sub: 'alice' });
  });
});
