import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuthorizationServer, coversResource, LoginError, signIn, SignInError } from '../../src/oauth/index.js';
import { launchBrowser } from '../support/browser.js';
import { signInAtTestIdp } from '../support/idp-login.js';
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
    idp = await startTestIdp({ registration: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await idp?.stop();
  });

  /** The user in the browser: signs in as `sub` on the IdP's pages and consents (or declines). */
  const user = (sub: string, consent: 'accept' | 'decline' = 'accept') => (url: string) => signInAtTestIdp(browser, url, { login: sub, consent });

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

  it("finds the identity provider from the server's resource metadata and registers itself as a native client", async () => {
    // A resource server as the MCP spec has it: its metadata at the RFC 9728 well-known path names the IdP.
    const rs = http.createServer((req, res) => {
      const port = (rs.address() as AddressInfo).port;
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ resource: `http://127.0.0.1:${port}/mcp`, authorization_servers: [idp.issuer], scopes_supported: ['openid', 'offline_access'] }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => rs.listen(0, '127.0.0.1', () => r()));
    const serverUrl = `http://127.0.0.1:${(rs.address() as AddressInfo).port}/mcp`;
    try {
      const r = await signIn({ serverUrl, openUrl: user('carol') });
      expect(r.issuer).toBe(idp.issuer);
      expect(r.client.client_id).not.toBe(idp.clients.native.clientId);
      expect(decodeJwt(r.tokens.access_token)).toMatchObject({ sub: 'carol', aud: serverUrl, client_id: r.client.client_id });
    } finally {
      rs.close();
    }
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

  it('follows no discovery to private or link-local addresses (C8), unless allowed, and no redirects', async () => {
    const prmServer = (authorizationServers: string[], redirect?: string) =>
      http.createServer((req, res) => {
        const port = (prmServerRef.address() as AddressInfo).port;
        if (redirect) {
          res.writeHead(302, { location: redirect });
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ resource: `http://127.0.0.1:${port}/mcp`, authorization_servers: authorizationServers }));
      });
    let prmServerRef = prmServer(['https://169.254.169.254/']);
    for (const [servers, redirect] of [[['https://169.254.169.254/']], [['https://10.0.0.1/']], [['https://[::ffff:169.254.169.254]/']], [[idp.issuer], 'http://169.254.169.254/latest/meta-data']] as [string[], string?][]) {
      prmServerRef = prmServer(servers, redirect);
      await new Promise<void>((r) => prmServerRef.listen(0, '127.0.0.1', () => r()));
      let opened = false;
      try {
        const err = await signIn({ serverUrl: `http://127.0.0.1:${(prmServerRef.address() as AddressInfo).port}/mcp`, openUrl: () => void (opened = true) }).catch((e: unknown) => e);
        expect(err, JSON.stringify(servers)).toBeInstanceOf(Error);
        // A redirect is not followed: the SDK sees the 302 itself and stops.
        expect(String(err)).toMatch(redirect ? /HTTP 302 trying to load/ : /private or link-local/);
        expect(opened).toBe(false);
      } finally {
        prmServerRef.close();
      }
    }
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
  it("takes resource metadata only about this resource (C6): same origin, same path or one above it", () => {
    expect(coversResource('https://mcp.example.com/mcp', 'https://mcp.example.com/mcp')).toBe(true);
    expect(coversResource('https://mcp.example.com/', 'https://mcp.example.com/mcp')).toBe(true);
    expect(coversResource('https://mcp.example.com/other', 'https://mcp.example.com/mcp')).toBe(false);
    expect(coversResource('https://mcp.example.com/mc', 'https://mcp.example.com/mcp')).toBe(false);
    expect(coversResource('https://evil.example/mcp', 'https://mcp.example.com/mcp')).toBe(false);
    expect(coversResource('http://mcp.example.com/mcp', 'https://mcp.example.com/mcp')).toBe(false);
  });

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
