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
import { removeTestContainers, requireDocker, TEST_IMAGE, TEST_NODE_IMAGE } from '../support/docker.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { allowAndSignInUpstream } from '../support/idp-login.js';
import { loopbackListener, TestClientProvider } from '../support/mcp-oauth-client.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { guideEmbeddedAuthConfig } from '../support/guide-settings.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';


/**
 * The guide's embedded authorization server, set up with `gatehouse authserver set` from its YAML, and a
 * server in a container whose OIDC settings name its issuer (the guide's MCPServer): an MCP client that
 * speaks the MCP authorization spec (the SDK's auth()) finds the authorization server from the proxy's
 * 401, signs in through Gatehouse's consent page to the upstream (oidc-provider) in Chromium, and calls a
 * tool through the proxy. Real core, keychain, SQLite, Docker.
 */
describe('the embedded authorization server in the core, in front of a server in a container', () => {
  let docker: Docker;
  let upstream: TestIdp;
  let browser: Browser;
  let page: Page;
  let t: TestCore;
  let issuer: string;
  let server: ServerView;
  let dir: string;
  let upstreamClientId: string;

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: true });
    browser = await launchBrowser();
    page = await browser.newPage();
    t = await startTestCore();
    dir = tempHome('gatehouse-authserver-files-');
    issuer = `http://127.0.0.1:${await freePort()}`;
    // The upstream knows Gatehouse by one registration with its one callback (an administrator's step).
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${issuer}/oauth/callback` });
    upstreamClientId = reg.client_id;
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('upstream client secret', reg.client_secret) });
    // The guide's MCPExternalAuthConfig, with this machine's issuer and upstream (no signing or HMAC keys: Gatehouse's own, kept).
    fs.writeFileSync(
      path.join(dir, 'embedded-auth-config.yaml'),
      guideEmbeddedAuthConfig({ issuer, upstreamName: 'corp', upstreamIssuer: upstream.issuer, clientId: reg.client_id, scopes: ['openid', 'offline_access'] }),
    );
    server = await t.api.run({ image: TEST_IMAGE, name: 'weather', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer } } });
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await upstream?.stop();
  });

  it('is set up from the YAML of the guide, and names the server that takes its tokens', async () => {
    const set = await runCli(t.home, ['authserver', 'set', path.join(dir, 'embedded-auth-config.yaml')]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(new RegExp(`running at ${issuer.replace(/\./g, '\\.')}`));
    expect(set.stdout).toContain(server.url);
    const view = await t.api.authServer();
    expect(view).toMatchObject({ configured: true, running: true, issuer, upstream: { name: 'corp', type: 'oidc' } });
    expect(view.signingKeys).toHaveLength(1);
    expect(JSON.stringify(view)).not.toContain('BEGIN'); // never a key
  });

  it('refuses invalid settings and keeps the running ones', async () => {
    fs.writeFileSync(path.join(dir, 'bad.yaml'), `issuer: '${issuer}'\nupstreamProviders: []\n`);
    const bad = await runCli(t.home, ['authserver', 'set', path.join(dir, 'bad.yaml')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/upstreamProviders/);
    expect(await t.api.authServer()).toMatchObject({ running: true, issuer });
  });

  /** The user in the browser: Gatehouse's consent page when it asks, then the upstream's pages when they come. */
  const userAt = (url: URL) => allowAndSignInUpstream(page, url, { login: 'alice' });

  it("signs an MCP client in through Gatehouse to the upstream and lets it call the server's tools", async () => {
    const cb = await loopbackListener();
    try {
      const client = new TestClientProvider(cb.url, 'VS Code', async (url) => {
        await page.goto(url.href);
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.locator('input[name="login"]').fill('alice');
        await page.locator('input[name="password"]').fill('any');
        await page.locator('button[type="submit"]').click();
        await page.locator('form').first().waitFor();
        await page.locator('button[type="submit"]').first().click();
      });
      const code = cb.next();
      // Discovery starts at the proxy's 401 and its resource metadata, as the MCP authorization spec has it.
      expect(await auth(client, { serverUrl: server.url })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(client, { serverUrl: server.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      registerTestSecret('gatehouse access token', client.saved!.access_token);
      expect(decodeJwt(client.saved!.access_token)).toMatchObject({ iss: issuer, aud: server.url, sub: 'alice' });
      const mcp = new Client({ name: 'vscode-stand-in', version: '1.0.0' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(server.url), { authProvider: client }));
      try {
        expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'through Gatehouse' } }))).toMatch(/through Gatehouse/);
      } finally {
        await mcp.close();
      }
    } finally {
      await cb.close();
    }
  });

  it('sends the upstream token toward the MCP server, never the token Gatehouse issued', async () => {
    const echo = await t.api.run({ image: TEST_NODE_IMAGE, name: 'echo-auth', transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], auth: { type: 'inline', inline: { issuer } } });
    expect(echo.status).toBe('running');
    const cb = await loopbackListener();
    try {
      const client = new TestClientProvider(cb.url, 'Cursor', userAt);
      const code = cb.next();
      expect(await auth(client, { serverUrl: echo.url })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(client, { serverUrl: echo.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      const ours = client.saved!.access_token;
      registerTestSecret('gatehouse access token (echo)', ours);
      const mcp = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(echo.url), { authProvider: client }));
      try {
        const seen = textOf(await mcp.callTool({ name: 'authorization', arguments: {} }));
        expect(seen).toMatch(/^Bearer \S+$/);
        expect(seen).not.toContain(ours);
        registerTestSecret('upstream access token', seen.slice(7));
        // It is the upstream's own token for alice, issued to Gatehouse's registration there.
        const { url, clientId, clientSecret } = upstream.introspection;
        const info = (await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` }, body: new URLSearchParams({ token: seen.slice(7) }) })).json()) as Record<string, unknown>;
        expect(info).toMatchObject({ active: true, sub: 'alice', client_id: upstreamClientId });
      } finally {
        await mcp.close();
      }
    } finally {
      await cb.close();
    }
  });

  it("has Cedar decide on the claims of Gatehouse's token, and every decision in the audit log", async () => {
    const policies = ['permit(principal == Client::"alice", action == Action::"call_tool", resource == Tool::"echo");'];
    const guarded = await t.api.run({
      image: TEST_IMAGE,
      name: 'calc',
      permissionProfile: 'none',
      auth: { type: 'inline', inline: { issuer } },
      authzConfig: { version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: '[]' } },
    });
    const cb = await loopbackListener();
    const client = new TestClientProvider(cb.url, 'Claude Code', userAt);
    let back!: URL;
    try {
      const code = cb.next();
      expect(await auth(client, { serverUrl: guarded.url })).toBe('REDIRECT');
      back = await code;
      expect(await auth(client, { serverUrl: guarded.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      registerTestSecret('gatehouse access token (calc)', client.saved!.access_token);
      const mcp = new Client({ name: 'claude-code-stand-in', version: '1.0.0' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(guarded.url), { authProvider: client }));
      try {
        expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'allowed' } }))).toMatch(/allowed/);
        await expect(mcp.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })).rejects.toThrow(/403/);
        expect((await mcp.listTools()).tools.map((x) => x.name)).toEqual(['echo']);
      } finally {
        await mcp.close();
      }
    } finally {
      await cb.close();
    }
    const events = await waitFor(async () => {
      const out = JSON.parse((await runCli(t.home, ['logs', 'calc', '--audit', '--format', 'json'])).stdout) as { message: string; fields: Record<string, unknown> }[];
      return out.some((e) => e.message.includes('get-sum by alice: denied')) ? out : undefined;
    }, 'the denied call in the audit log');
    expect(events.some((e) => e.message.includes('echo by alice: success'))).toBe(true);
    expect(events.find((e) => e.message.includes('get-sum by alice: denied'))!.fields).toMatchObject({ outcome: 'denied', subjects: { user_id: 'alice' } });
    // The sign-in itself, step by step, in the same log: consent, the code, the token (alice's Gatehouse
    // session from the sign-ins before says who she is: no second trip to the upstream).
    const steps = events.filter((e) => String(e.fields['type']).startsWith('oauth_'));
    expect(steps.map((e) => [e.fields['type'], e.fields['outcome']])).toEqual([
      ['oauth_consent', 'success'],
      ['oauth_authorization', 'success'],
      ['oauth_token', 'success'],
    ]);
    for (const e of steps) expect(e.fields).toMatchObject({ subjects: { user_id: 'alice', client_name: 'Claude Code' }, metadata: { extra: { resource: guarded.url, server_name: 'calc' } } });
    // The first sign-in of all went to the upstream: that step is in the log of the server it was for.
    const first = JSON.parse((await runCli(t.home, ['logs', 'weather', '--audit', '--format', 'json'])).stdout) as { message: string; fields: Record<string, unknown> }[];
    expect(first.find((e) => e.fields['type'] === 'oauth_upstream_login')?.fields).toMatchObject({ outcome: 'success', subjects: { user_id: 'alice', client_name: 'VS Code' }, target: { endpoint: '/oauth/callback' } });
    expect(steps.map((e) => e.message)).toContain('token (authorization_code) for Claude Code by alice: success');
    // Every sign-in step of every server in one list; the registration, which names no server, is Gatehouse's own.
    const signIns = await runCli(t.home, ['logs', '--sign-ins', '--format', 'json']);
    expect(signIns.code, signIns.stderr).toBe(0);
    const core = JSON.parse(signIns.stdout) as { server: string; message: string; fields: Record<string, unknown> }[];
    expect(core.every((e) => String(e.fields['type']).startsWith('oauth_'))).toBe(true);
    expect(new Set(core.map((e) => e.server))).toEqual(new Set(['-', 'weather', 'echo-auth', 'calc']));
    expect(core.find((e) => e.fields['type'] === 'oauth_client_registration' && (e.fields['subjects'] as Record<string, unknown>)['client_name'] === 'Claude Code')).toMatchObject({ server: '-', fields: { outcome: 'success' } });
    const all = JSON.stringify([events, core]);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);
    expect(all).not.toContain(client.saved!.access_token);
    expect(all).not.toContain(back.searchParams.get('code')!);
  });

  it('comes back with the core: same issuer, same signing key', async () => {
    const before = await t.api.authServer();
    await t.restart();
    const after = await t.api.authServer();
    expect(after).toMatchObject({ running: true, issuer });
    expect(after.signingKeys.map((k) => k.kid)).toEqual(before.signingKeys.map((k) => k.kid));
    const show = await runCli(t.home, ['authserver', 'show']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(before.signingKeys[0]!.kid);
  });
});
