import fs from 'node:fs';
import path from 'node:path';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type Docker from 'dockerode';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { launchBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { startTestCore, tempHome, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { allowAndSignInUpstream } from '../support/idp-login.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { rawSend } from '../support/raw-http.js';
import { textOf } from '../support/mcp-client.js';
import { loopbackListener, TestClientProvider } from '../support/mcp-oauth-client.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { guideEmbeddedAuthConfig } from '../support/guide-settings.js';
import { freePort } from '../support/ports.js';
import { FRONT_HOST, frontFetch, startTlsFront, type TlsFront } from '../support/tls-front.js';
import { waitFor } from '../support/wait.js';

const ISSUER = `https://${FRONT_HOST}`;

/**
 * The guide's embedded authorization server exactly as written: issuer https://mcp.example.com and an
 * MCPServer whose oidcConfig has resourceUrl and issuer https://mcp.example.com. On a laptop that name
 * is a front (here a TLS proxy on 127.0.0.1 with the test's certificate, as Caddy or a tunnel would
 * be) forwarding the authorization server's paths to Gatehouse's listener and /mcp to the server's
 * proxy. The MCP SDK client and Chromium reach mcp.example.com only through that front; the proxy
 * reads the authorization server's keys on 127.0.0.1. Real core, keychain, SQLite, Docker, oidc-provider.
 */
describe('the guide\'s https issuer, served through a TLS front', () => {
  let docker: Docker;
  let upstream: TestIdp;
  let browser: Browser;
  let page: Page;
  let t: TestCore;
  let front: TlsFront;
  let server: ServerView;
  let dir: string;
  let listenPort: number;
  let proxyPort = 0;

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: true });
    listenPort = await freePort();
    // Caddy-like routing: the MCP endpoint and its resource metadata to the server's proxy, the rest to the authorization server.
    front = await startTlsFront((p) => (p === '/mcp' || p.startsWith('/.well-known/oauth-protected-resource') ? proxyPort : listenPort));
    browser = await launchBrowser([`--host-resolver-rules=MAP ${FRONT_HOST} 127.0.0.1:${front.port}`, '--ignore-certificate-errors']);
    page = await browser.newPage();
    t = await startTestCore();
    dir = tempHome('gatehouse-authserver-front-');
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${ISSUER}/oauth/callback` });
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('upstream client secret (front)', reg.client_secret) });
    // The guide's MCPExternalAuthConfig as written, its Okta swapped for this machine's identity provider.
    fs.writeFileSync(
      path.join(dir, 'embedded-auth-config.yaml'),
      guideEmbeddedAuthConfig({ issuer: ISSUER, upstreamName: 'okta', upstreamIssuer: upstream.issuer, clientId: reg.client_id, scopes: ['openid', 'offline_access', 'profile', 'email'] }),
    );
    // The guide's MCPServer: its oidcConfig names the embedded authorization server and the public resource URL.
    server = await t.api.run({ image: TEST_IMAGE, name: 'weather-server-embedded', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: ISSUER, resourceUrl: ISSUER } } });
    proxyPort = Number(new URL(server.url).port);
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await front?.close();
    await upstream?.stop();
  });

  it('asks where the front forwards to, and then runs with the issuer as written', async () => {
    const file = path.join(dir, 'embedded-auth-config.yaml');
    const without = await runCli(t.home, ['authserver', 'set', file]);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/https:\/\/mcp\.example\.com is not on this machine.*--port/s);
    expect(await t.api.authServer()).toMatchObject({ configured: false, running: false });
    const set = await runCli(t.home, ['authserver', 'set', file, '--port', String(listenPort)]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`running at ${ISSUER}`);
    expect(set.stdout).toContain(`listens:   http://127.0.0.1:${listenPort} (the front for ${FRONT_HOST} forwards here)`);
    expect(await t.api.authServer()).toMatchObject({ running: true, issuer: ISSUER, listensAt: `http://127.0.0.1:${listenPort}`, servers: [{ name: 'weather-server-embedded', urls: [ISSUER] }] });
  });

  it('publishes metadata under the issuer, whatever Host the request came with', async () => {
    const direct = await rawSend(listenPort, 'GET', '/.well-known/oauth-authorization-server', { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' });
    const fronted = await (await frontFetch(front.port)(`${ISSUER}/.well-known/oauth-authorization-server`)).text();
    for (const text of [direct.text, fronted]) {
      const doc = JSON.parse(text) as Record<string, unknown>;
      expect(doc).toMatchObject({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/oauth/authorize`, token_endpoint: `${ISSUER}/oauth/token`, jwks_uri: `${ISSUER}/.well-known/jwks.json`, registration_endpoint: `${ISSUER}/oauth/register` });
    }
  });

  it('signs an MCP client in through the front and lets it call a tool at https://mcp.example.com/mcp', async () => {
    const fetchFn = frontFetch(front.port);
    const mcpUrl = `${ISSUER}/mcp`;
    const cb = await loopbackListener();
    try {
      const client = new TestClientProvider(cb.url, 'Claude Code', (url) => allowAndSignInUpstream(page, url, { login: 'alice' }));
      const code = cb.next();
      expect(await auth(client, { serverUrl: mcpUrl, fetchFn })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(client, { serverUrl: mcpUrl, authorizationCode: back.searchParams.get('code')!, fetchFn })).toBe('AUTHORIZED');
      registerTestSecret('gatehouse access token (front)', client.saved!.access_token);
      const claims = decodeJwt(client.saved!.access_token);
      expect(claims).toMatchObject({ iss: ISSUER, sub: 'alice' });
      expect([claims.aud].flat().map((a) => new URL(String(a)).href)).toEqual([`${ISSUER}/`]);
      // B20 at an https issuer: every cookie Secure, HttpOnly, Lax, host-only, with the prefix the browser enforces.
      const cookies = await page.context().cookies(ISSUER);
      expect(cookies.map((c) => c.name)).toEqual(expect.arrayContaining(['__Host-session', '__Host-session.sig']));
      for (const c of cookies) {
        expect(c, c.name).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', domain: FRONT_HOST });
        expect(c.name, c.name).toMatch(/^__(Host|Secure)-/);
        if (c.name.startsWith('__Host-')) expect(c.path, c.name).toBe('/');
      }
      const mcp = new Client({ name: 'claude-code-stand-in', version: '1.0.0' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: client, fetch: fetchFn }));
      try {
        expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'through the front' } }))).toMatch(/through the front/);
      } finally {
        await mcp.close();
      }
    } finally {
      await cb.close();
    }
    // Everything of mcp.example.com went through the front; the proxy read the keys on 127.0.0.1, never through it.
    expect(front.seen.some((s) => s.startsWith('/oauth/callback -> '))).toBe(true);
    expect(front.seen.some((s) => s.startsWith(`/mcp -> ${proxyPort}`))).toBe(true);
    expect(front.seen.filter((s) => s.startsWith('/.well-known/jwks.json'))).toEqual([]);
    const events = await waitFor(async () => {
      const out = JSON.parse((await runCli(t.home, ['logs', 'weather-server-embedded', '--audit', '--format', 'json'])).stdout) as { message: string; fields: Record<string, unknown> }[];
      return out.some((e) => e.message.includes('echo by alice: success')) ? out : undefined;
    }, 'the call in the audit log');
    expect(events.map((e) => e.fields['type']).filter((x) => String(x).startsWith('oauth_'))).toEqual(expect.arrayContaining(['oauth_consent', 'oauth_upstream_login', 'oauth_authorization', 'oauth_token']));
  });

  it('refuses the public name at a server that does not authenticate, and keeps the port across a restart', async () => {
    const open = await t.api.run({ image: TEST_IMAGE, name: 'open', permissionProfile: 'none' });
    const res = await rawSend(Number(new URL(open.url).port), 'POST', '/mcp', { host: FRONT_HOST, 'content-type': 'application/json' }, '{}');
    expect(res.status).toBe(403);
    await t.restart();
    expect(await t.api.authServer()).toMatchObject({ running: true, issuer: ISSUER, listensAt: `http://127.0.0.1:${listenPort}` });
  });
});
