import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuthorizationServer, LoginError, signIn, SignInError } from '../../src/oauth/index.js';
import { launchBrowser } from '../support/browser.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import type { Browser } from 'playwright-core';

/**
 * Gatehouse's own sign-in against a real identity provider (oidc-provider), completed by a real
 * browser (Chromium, the "system browser" seen through the openUrl hook): login and consent pages,
 * the redirect to the loopback listener, the code exchanged with PKCE and the RFC 8707 resource.
 */
describe('signing in at a real identity provider', () => {
  let idp: TestIdp;
  let browser: Browser;
  beforeAll(async () => {
    idp = await startTestIdp();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await idp?.stop();
  });

  /** The user in the browser: signs in as `sub` on the IdP's pages and consents (or declines). */
  const user = (sub: string, consent: 'accept' | 'decline' = 'accept') => async (url: string) => {
    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('input[name="login"]').fill(sub);
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    await page.locator('form').first().waitFor();
    if (consent === 'decline') {
      // devInteractions' "Cancel" on the consent page: the IdP answers access_denied to the redirect URI.
      await page.locator('a[href$="/abort"]').click();
      await page.getByRole('heading', { level: 1, name: 'Sign-in declined' }).waitFor({ timeout: 15_000 });
      await page.close();
      return;
    }
    await page.locator('button[type="submit"]').first().click();
    await page.getByRole('heading', { level: 1, name: 'Signed in' }).waitFor({ timeout: 15_000 });
    await page.close();
  };

  it('signs in with a registered native client: the token is for the resource and the user', async () => {
    let shown: string | undefined;
    const resource = 'http://127.0.0.1:18999/mcp';
    const r = await signIn({
      serverUrl: resource,
      issuer: idp.issuer,
      client: { clientId: idp.clients.native.clientId, redirectUri: idp.clients.native.redirectUri },
      scopes: ['openid', 'offline_access'],
      openUrl: async (url) => {
        shown = url;
        await user('alice')(url);
      },
    });
    const auth = new URL(shown!);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('resource')).toBe(resource);
    expect(auth.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(new URL(auth.searchParams.get('redirect_uri')!).hostname).toBe('127.0.0.1');
    const claims = decodeJwt(r.tokens.access_token);
    expect(claims).toMatchObject({ sub: 'alice', aud: resource, iss: idp.issuer, client_id: idp.clients.native.clientId });
    expect(r.tokens.refresh_token).toBeTruthy();
  });

  it('says so when the user declines at the identity provider', async () => {
    const err = await signIn({
      serverUrl: 'http://127.0.0.1:18999/mcp',
      issuer: idp.issuer,
      client: { clientId: idp.clients.native.clientId, redirectUri: idp.clients.native.redirectUri },
      openUrl: user('bob', 'decline'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect((err as LoginError).kind).toBe('denied');
  });

  it('refuses an issuer that is not https, before anything opens in a browser', async () => {
    let opened = false;
    await expect(signIn({ serverUrl: 'https://mcp.example.com/mcp', issuer: 'http://id.example.com', openUrl: () => void (opened = true) })).rejects.toThrow(SignInError);
    expect(opened).toBe(false);
  });

  it('gives up when nobody answers in time, and the listener is gone', async () => {
    let redirect: string | undefined;
    const err = await signIn({
      serverUrl: 'http://127.0.0.1:18999/mcp',
      issuer: idp.issuer,
      client: { clientId: idp.clients.native.clientId, redirectUri: idp.clients.native.redirectUri },
      timeoutMs: 200,
      openUrl: (url) => void (redirect = new URL(url).searchParams.get('redirect_uri') ?? undefined),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect((err as LoginError).kind).toBe('timeout');
    expect(redirect).toBeDefined();
  });
});

describe('what the SDK leaves to its caller (C4, C5, C7)', () => {
  const good = {
    issuer: 'https://id.example.com',
    authorization_endpoint: 'https://id.example.com/auth',
    token_endpoint: 'https://id.example.com/token',
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
  };
  it('accepts metadata that echoes the issuer, advertises S256 and uses https', () => {
    expect(checkAuthorizationServer('https://id.example.com', good)).toBe(good);
  });
  it('refuses another issuer (a trailing slash too), no S256, plain http or javascript: endpoints, no metadata', () => {
    expect(() => checkAuthorizationServer('https://id.example.com', { ...good, issuer: 'https://id.example.com/' })).toThrow(/another issuer/);
    expect(() => checkAuthorizationServer('https://id.example.com', { ...good, code_challenge_methods_supported: ['plain'] })).toThrow(/S256/);
    expect(() => checkAuthorizationServer('https://id.example.com', { ...good, code_challenge_methods_supported: undefined })).toThrow(/S256/);
    expect(() => checkAuthorizationServer('https://id.example.com', { ...good, authorization_endpoint: 'javascript:alert(1)' })).toThrow(/not an https URL/);
    expect(() => checkAuthorizationServer('https://id.example.com', { ...good, token_endpoint: 'http://id.example.com/token' })).toThrow(/not an https URL/);
    expect(() => checkAuthorizationServer('https://id.example.com', undefined)).toThrow(/no OAuth or OpenID metadata/);
  });
});
