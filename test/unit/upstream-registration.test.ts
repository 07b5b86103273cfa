import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issuerOfMetadataUrl, UpstreamRegistrar, UpstreamRegistrationError, type OAuth2Upstream } from '../../src/authserver/index.js';
import { MemoryKeychain } from '../../src/secrets/index.js';

/**
 * Gatehouse's registration at an OAuth 2.0 upstream (dcrConfig) against a small registration endpoint
 * double: which client authentication it asks for, what it keeps and when it registers again. The
 * real thing (oidc-provider's registration, Chromium, a server in a container):
 * test/integration/authserver-dcr.test.ts.
 */
let server: http.Server;
let base: string;
/** What the double's metadata offers, and how it answers a registration. */
let offered: Record<string, unknown>;
let answer: (body: Record<string, unknown>) => Record<string, unknown>;
const registrations: { body: Record<string, unknown>; authorization: string | undefined }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/.well-known/oauth-authorization-server') return json(200, { issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, response_types_supported: ['code'], registration_endpoint: `${base}/register`, ...offered });
      if (req.url === '/register' && req.method === 'POST') {
        const body = JSON.parse(text) as Record<string, unknown>;
        registrations.push({ body, authorization: req.headers.authorization });
        // A moment's delay, so concurrent callers overlap.
        setTimeout(() => json(201, { ...body, client_id: `client-${registrations.length}`, ...answer(body) }), 20);
        return;
      }
      json(404, { error: 'not_found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  registrations.length = 0;
  offered = {};
  answer = (body) => (body['token_endpoint_auth_method'] === 'none' ? {} : { client_secret: `secret-${registrations.length}`, client_secret_expires_at: 0 });
});

const upstream = (dcr: OAuth2Upstream['dcr'], scopes = ['openid']): OAuth2Upstream => ({
  type: 'oauth2',
  name: 'corp',
  authorizationEndpoint: `${base}/authorize`,
  tokenEndpoint: `${base}/token`,
  scopes,
  additionalAuthorizationParams: {},
  insecureAllowHttp: false,
  allowPrivateIps: false,
  ...(dcr ? { dcr } : {}),
});
const discovery = () => ({ discoveryUrl: `${base}/.well-known/oauth-authorization-server` });
const registrar = (u: OAuth2Upstream, keychain = new MemoryKeychain(), opts: { token?: string; now?: () => number } = {}) =>
  new UpstreamRegistrar(u, 'https://mcp.example.com/oauth/callback', { keychain, instanceId: 'test', fetchFn: fetch, initialAccessToken: async () => opts.token, ...(opts.now ? { now: opts.now } : {}) });

describe('the issuer a metadata URL names (RFC 8414 §3.3)', () => {
  it('reads both shapes, and none from a URL of neither', () => {
    expect(issuerOfMetadataUrl('https://idp.example.com/.well-known/oauth-authorization-server')).toBe('https://idp.example.com');
    expect(issuerOfMetadataUrl('https://idp.example.com/.well-known/oauth-authorization-server/tenant1')).toBe('https://idp.example.com/tenant1');
    expect(issuerOfMetadataUrl('https://idp.example.com/tenants/acme/.well-known/openid-configuration')).toBe('https://idp.example.com/tenants/acme');
    expect(issuerOfMetadataUrl('https://idp.example.com/metadata.json')).toBeUndefined();
  });
});

describe('UpstreamRegistrar', () => {
  it('registers once with the one callback and the scopes, presents the initial access token, and keeps the registration', async () => {
    const keychain = new MemoryKeychain();
    const r = registrar(upstream({ ...discovery(), softwareId: 'gatehouse-desktop' }, ['openid', 'profile']), keychain, { token: 'iat-1' });
    // Concurrent sign-ins share one registration: none is left orphaned at the provider.
    const [a, b] = await Promise.all([r.credentials(), r.credentials()]);
    expect(a).toEqual({ clientId: 'client-1', clientSecret: 'secret-1', authMethod: 'client_secret_basic' });
    expect(b).toEqual(a);
    expect(registrations).toHaveLength(1);
    expect(registrations[0]!.authorization).toBe('Bearer iat-1');
    expect(registrations[0]!.body).toMatchObject({ client_name: 'Gatehouse', redirect_uris: ['https://mcp.example.com/oauth/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid profile', software_id: 'gatehouse-desktop', token_endpoint_auth_method: 'client_secret_basic' });
    // Another process (a restart) reads it from the keychain.
    expect(await registrar(upstream({ ...discovery(), softwareId: 'gatehouse-desktop' }, ['profile', 'openid']), keychain).credentials()).toEqual(a);
    expect(registrations).toHaveLength(1);
    // Other scopes: registered anew.
    expect((await registrar(upstream(discovery(), ['openid', 'email']), keychain).credentials()).clientId).toBe('client-2');
  });

  it('asks for the client authentication the upstream offers: basic first, then post, a public client only with PKCE S256', async () => {
    offered = { token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_post'] };
    expect((await registrar(upstream(discovery())).credentials()).authMethod).toBe('client_secret_post');
    offered = { token_endpoint_auth_methods_supported: ['none'], code_challenge_methods_supported: ['S256'] };
    expect(await registrar(upstream(discovery())).credentials()).toEqual({ clientId: 'client-2', authMethod: 'none' });
    offered = { token_endpoint_auth_methods_supported: ['none'], code_challenge_methods_supported: ['plain'] };
    await expect(registrar(upstream(discovery())).credentials()).rejects.toThrow(/no client authentication Gatehouse uses/);
    offered = { token_endpoint_auth_methods_supported: ['private_key_jwt', 'tls_client_auth'] };
    await expect(registrar(upstream(discovery())).credentials()).rejects.toThrow(/offers private_key_jwt, tls_client_auth/);
    expect(registrations).toHaveLength(2);
  });

  it('registers again before the secret expires (client_secret_expires_at), not after', async () => {
    let now = 1_000_000_000_000;
    answer = () => ({ client_secret: `secret-${registrations.length}`, client_secret_expires_at: Math.floor(now / 1000) + 3600 });
    const keychain = new MemoryKeychain();
    const first = await registrar(upstream(discovery()), keychain, { now: () => now }).credentials();
    now += 30 * 60_000;
    expect(await registrar(upstream(discovery()), keychain, { now: () => now }).credentials()).toEqual(first);
    now += 27 * 60_000; // three minutes before it expires: inside the margin
    expect((await registrar(upstream(discovery()), keychain, { now: () => now }).credentials()).clientId).toBe('client-2');
  });

  it('uses registrationEndpoint as given (client_secret_basic, as RFC 8414 defaults), and refuses answers it cannot use', async () => {
    const direct = upstream({ registrationEndpoint: `${base}/register` });
    expect((await registrar(direct).credentials()).authMethod).toBe('client_secret_basic');
    answer = () => ({});
    await expect(registrar(direct).credentials()).rejects.toThrow(/confidential client \(client_secret_basic\) but gave no client_secret/);
    answer = () => ({ client_secret: 's', token_endpoint_auth_method: 'private_key_jwt' });
    await expect(registrar(direct).credentials()).rejects.toThrow(UpstreamRegistrationError);
    await expect(registrar(upstream({ registrationEndpoint: `${base}/nowhere` })).credentials()).rejects.toThrow(/Registering Gatehouse at .*\/nowhere failed \(HTTP 404/);
  });

  it('refuses metadata that names another issuer, or has no registration endpoint', async () => {
    offered = { issuer: 'https://someone-else.example.com' };
    await expect(registrar(upstream(discovery())).credentials()).rejects.toThrow(/names the issuer https:\/\/someone-else\.example\.com.*RFC 8414/);
    offered = { registration_endpoint: undefined };
    await expect(registrar(upstream(discovery())).credentials()).rejects.toThrow(/has no registration_endpoint.*give its clientId/);
    expect(registrations).toHaveLength(0);
  });
});
