import { auth, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type Docker from 'dockerode';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { launchBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_NODE_IMAGE } from '../support/docker.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { allowAndSignInUpstream } from '../support/idp-login.js';
import { loopbackListener, TestClientProvider } from '../support/mcp-oauth-client.js';
import { registerConfidentialClient, startTestIdp, type TestIdp } from '../support/oidc.js';
import { freePort } from '../support/ports.js';
import { apiError, waitFor } from '../support/wait.js';


/**
 * Managing the embedded authorization server, against real parts: a core with its keychain, SQLite and
 * Docker; a server in a container that takes the authorization server's tokens; a real upstream OpenID
 * provider (oidc-provider); the MCP SDK's OAuth client signing in through Gatehouse in Chromium. What the
 * app and the CLI show (approved clients, users) and what revoking, rotating and testing really do.
 */
describe('managing the embedded authorization server', () => {
  let docker: Docker;
  let upstream: TestIdp;
  let browser: Browser;
  let page: Page;
  let t: TestCore;
  let issuer: string;
  let server: ServerView;
  /** What the core's openUrl hook does (the "system browser"): set by the test that expects it. */
  let systemBrowser: (url: string) => Promise<void> = async () => {
    throw new Error('nobody expected the browser to open');
  };
  /** The last run of the system browser (a test waits for it to see where the browser ended). */
  let browsing: Promise<void> = Promise.resolve();
  const consentShown: string[] = [];

  beforeAll(async () => {
    docker = await requireDocker();
    upstream = await startTestIdp({ registration: true });
    browser = await launchBrowser();
    page = await browser.newPage();
    t = await startTestCore({
      openUrl: async (url) => {
        browsing = systemBrowser(url);
        browsing.catch(() => {});
      },
    });
    issuer = `http://127.0.0.1:${await freePort()}`;
    const reg = await registerConfidentialClient(upstream, { name: 'Gatehouse', redirectUri: `${issuer}/oauth/callback` });
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('upstream client secret', reg.client_secret) });
    // As pasted into the app: the guide's YAML, as text (the core parses and checks it).
    await t.api.setAuthServer({
      document: `issuer: '${issuer}'
upstreamProviders:
  - name: corp
    type: oidc
    oidcConfig:
      issuerUrl: '${upstream.issuer}'
      clientId: '${reg.client_id}'
      clientSecretRef: { name: upstream-idp-secret, key: client-secret }
      scopes: [openid, offline_access]
`,
    });
    server = await t.api.run({ image: TEST_NODE_IMAGE, name: 'echo-auth', transport: 'streamable-http', args: ['-e', ECHO_HEADERS_SERVER], auth: { type: 'inline', inline: { issuer } } });
    expect(server.status).toBe('running');
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await upstream?.stop();
  });

  /** The user in the browser: Gatehouse's consent page when it asks (allowed), then the upstream's login as alice. */
  const userAt = (url: URL) => allowAndSignInUpstream(page, url, { login: 'alice', onConsent: (u) => consentShown.push(u.searchParams.get('client_id') ?? '') });

  const signIn = async (client: TestClientProvider): Promise<OAuthTokens> => {
    const cb = await loopbackListener();
    try {
      const again = new TestClientProvider(cb.url, 'VS Code', userAt);
      again.info = client.info;
      const code = cb.next();
      expect(await auth(again, { serverUrl: server.url })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(again, { serverUrl: server.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      client.info = again.info;
      client.saved = again.saved;
      registerTestSecret('gatehouse access token', again.saved!.access_token);
      if (again.saved!.refresh_token) registerTestSecret('gatehouse refresh token', again.saved!.refresh_token);
      return again.saved!;
    } finally {
      await cb.close();
    }
  };

  /** A tool call through the server's proxy with this access token: what reached the MCP server. */
  const callWith = async (accessToken: string): Promise<string> => {
    const mcp = new Client({ name: 'vscode-stand-in', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }));
    try {
      return textOf(await mcp.callTool({ name: 'authorization', arguments: {} }));
    } finally {
      await mcp.close();
    }
  };

  const refresh = async (client: TestClientProvider, refreshToken: string): Promise<OAuthTokens> => {
    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Parameters<typeof refreshAuthorization>[1]['metadata'];
    return refreshAuthorization(issuer, { metadata: metadata!, clientInformation: client.info!, refreshToken, resource: new URL(server.url) });
  };

  const vscode = new TestClientProvider('http://127.0.0.1/unused', 'VS Code', userAt);
  let before: OAuthTokens;

  it('lists the client the user allowed on the consent page: its name, where its answers go, scopes, server, grants', async () => {
    before = await signIn(vscode);
    expect(consentShown).toEqual([vscode.info!.client_id]);
    expect(await callWith(before.access_token)).toMatch(/^Bearer \S+$/);
    const clients = await t.api.authServerClients();
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({ clientId: vscode.info!.client_id, clientName: 'VS Code', resource: server.url, grants: 1 });
    expect(clients[0]!.redirectHosts).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    const cli = await runCli(t.home, ['authserver', 'clients']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(vscode.info!.client_id);
    expect(cli.stdout).toContain('VS Code');
    const users = await t.api.authServerUsers();
    expect(users).toEqual([expect.objectContaining({ subject: 'alice', upstream: 'corp', upstreamTokens: true, grants: 1 })]);
    expect(JSON.stringify([clients, users])).not.toMatch(/eyJ/); // never a token
  });

  it('rotates the signing key: new tokens carry the new kid, a token from before still verifies at the proxy', async () => {
    const old = (await t.api.authServer()).signingKeys;
    expect(old).toHaveLength(1);
    expect(decodeProtectedHeader(before.access_token).kid).toBe(old[0]!.kid);
    const rotated = await runCli(t.home, ['authserver', 'rotate-key']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const keys = (await t.api.authServer()).signingKeys;
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatchObject({ retiredAt: null, origin: 'own', alg: 'ES256' });
    expect(keys[0]!.kid).not.toBe(old[0]!.kid);
    expect(keys[1]).toMatchObject({ kid: old[0]!.kid, retiredAt: expect.any(Number) });
    expect(rotated.stdout).toContain(keys[0]!.kid);
    // Both are published; the engine restarted in place, on the issuer's port.
    const jwks = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([keys[0]!.kid, old[0]!.kid]);
    // The token signed before the rotation still opens the server.
    expect(await callWith(before.access_token)).toMatch(/^Bearer \S+$/);
    // A refresh (the state in SQLite outlived the restart) brings a token signed with the new key, which works too.
    const renewed = await refresh(vscode, before.refresh_token!);
    registerTestSecret('gatehouse access token (after rotation)', renewed.access_token);
    registerTestSecret('gatehouse refresh token (after rotation)', renewed.refresh_token!);
    expect(decodeProtectedHeader(renewed.access_token).kid).toBe(keys[0]!.kid);
    expect(decodeJwt(renewed.access_token)).toMatchObject({ iss: issuer, aud: server.url, sub: 'alice' });
    expect(await callWith(renewed.access_token)).toMatch(/^Bearer \S+$/);
    vscode.saved = renewed;
  });

  it('revokes a client: its refresh token no longer works, and its next sign-in shows the consent page again', async () => {
    const refreshToken = vscode.saved!.refresh_token!;
    const cli = await runCli(t.home, ['authserver', 'revoke-client', vscode.info!.client_id]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/1 grant/);
    expect(await t.api.authServerClients()).toEqual([]);
    // Its refresh tokens (the rotated one too) are gone from SQLite, not just unusable.
    expect(t.core.sealed.keys('authserver:RefreshToken')).toEqual([]);
    expect(t.core.sealed.keys('authserver:Grant')).toEqual([]);
    await expect(refresh(vscode, refreshToken)).rejects.toThrow(/grant/i);
    expect((await apiError(t.api.revokeAuthServerClient({ id: vscode.info!.client_id }))).status).toBe(404);
    // In the audit log of the server it was allowed for, as done from the app.
    const revoked = await waitFor(async () => (await t.api.logs({ type: 'oauth_revocation', sources: ['audit'] })).find((l) => (l.fields as { metadata?: { extra?: { initiated_by?: string } } }).metadata?.extra?.initiated_by === 'app'), 'the revocation in the audit log');
    expect(revoked).toMatchObject({ server: 'echo-auth', fields: { outcome: 'success', source: { type: 'local' }, subjects: { user: 'gatehouse-app', client_name: 'VS Code' }, metadata: { extra: { client_id: vscode.info!.client_id } } } });
    // The browser still has its session at Gatehouse and at the upstream: only the consent page stands in the way, and it is shown.
    const shown = consentShown.length;
    await signIn(vscode);
    expect(consentShown.length).toBe(shown + 1);
    expect(await t.api.authServerClients()).toEqual([expect.objectContaining({ clientId: vscode.info!.client_id, grants: 1 })]);
  });

  it('tests the provider: the upstream login in the system browser, the identity and the claims Cedar sees, and no token for anyone', async () => {
    const count = (model: string) => t.core.sealed.keys(`authserver:${model}`).length;
    const stateBefore = { codes: count('AuthorizationCode'), refresh: count('RefreshToken'), grants: count('Grant'), accounts: count('Account'), upstream: count('Upstream') };
    let landedAt = '';
    let opened = false;
    systemBrowser = async (url) => {
      opened = true;
      // The "system browser": a page of its own (no session at the upstream), where bob signs in.
      const p = await browser.newPage();
      try {
        await p.goto(url);
        await p.locator('input[name="login"]').fill('bob');
        await p.locator('input[name="password"]').fill('any');
        await p.locator('button[type="submit"]').click();
        await p.locator('form').first().waitFor();
        await p.locator('button[type="submit"]').first().click();
        await p.getByRole('heading', { level: 1, name: 'Provider test finished' }).waitFor({ timeout: 15_000 });
        landedAt = p.url();
      } finally {
        await p.close();
      }
    };
    const started = await t.api.startAuthServerTest();
    expect(started).toMatchObject({ state: 'waiting', upstream: 'corp', browserOpened: true });
    expect(started.authorizationUrl!.startsWith(`${upstream.issuer}/`)).toBe(true);
    const done = await t.api.waitAuthServerTest();
    await browsing;
    expect(opened).toBe(true);
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ state: 'done', identity: { subject: 'bob' } });
    // The claims of the access token Gatehouse would issue bob, and the principal Cedar makes of them.
    expect(done.claims).toMatchObject({ sub: 'bob', iss: issuer, aud: server.url });
    expect(done.cedar).toMatchObject({ principal: 'Client::"bob"', attributes: { claim_sub: 'bob', claim_iss: issuer, claim_aud: server.url } });
    expect(done.perToken).toEqual(expect.arrayContaining(['jti', 'exp', 'client_id']));
    expect(await t.api.authServerTest()).toEqual(done);
    // Nothing was issued or kept: no code, no refresh token, no grant, no account, no upstream token.
    expect({ codes: count('AuthorizationCode'), refresh: count('RefreshToken'), grants: count('Grant'), accounts: count('Account'), upstream: count('Upstream') }).toEqual(stateBefore);
    expect((await t.api.authServerUsers()).map((u) => u.subject)).toEqual(['alice']);
    // The browser ended on Gatehouse's callback (a page, never a redirect to a client), and its state was single-use.
    expect(landedAt.startsWith(`${issuer}/oauth/callback?`)).toBe(true);
    const replay = await fetch(landedAt, { redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
    expect(await replay.text()).toContain('Sign-in expired');
  });

  it('tests the provider from the command line too: the URL on stderr, the identity and the Cedar principal on stdout', async () => {
    systemBrowser = async (url) => {
      const p = await browser.newPage();
      try {
        await p.goto(url);
        await p.locator('input[name="login"]').fill('carol');
        await p.locator('input[name="password"]').fill('any');
        await p.locator('button[type="submit"]').click();
        await p.locator('form').first().waitFor();
        await p.locator('button[type="submit"]').first().click();
        await p.getByRole('heading', { level: 1, name: 'Provider test finished' }).waitFor({ timeout: 15_000 });
      } finally {
        await p.close();
      }
    };
    const cli = await runCli(t.home, ['authserver', 'test']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stderr).toContain(`${upstream.issuer}/`);
    expect(cli.stdout).toContain('corp identified: carol');
    expect(cli.stdout).toContain('Cedar sees principal Client::"carol"');
    expect(cli.stdout).toMatch(/claim_sub = "carol"\n/);
    expect(cli.stdout).toMatch(/claim_jti = .*\(differs per token\)/);
    expect((await t.api.authServerUsers()).map((u) => u.subject)).toEqual(['alice']);
  });

  it('a test nobody finishes can be cancelled; its state is then no way in either', async () => {
    let url = '';
    systemBrowser = async (u) => {
      url = u;
    };
    const started = await t.api.startAuthServerTest();
    expect(started.state).toBe('waiting');
    await t.api.cancelAuthServerTest();
    expect(await t.api.waitAuthServerTest()).toMatchObject({ state: 'failed', error: expect.stringMatching(/cancelled/) });
    const state = new URL(url).searchParams.get('state')!;
    const late = await fetch(`${issuer}/oauth/callback?code=anything&state=${encodeURIComponent(state)}`, { redirect: 'manual' });
    expect(late.status).toBe(400);
    expect(late.headers.get('location')).toBeNull();
  });

  it('revokes a user: their grants, sessions and upstream tokens go, and their token no longer reaches the server', async () => {
    const token = vscode.saved!.access_token;
    expect(await callWith(token)).toMatch(/^Bearer \S+$/);
    expect(t.core.sealed.keys('authserver:Upstream')).toContain('alice');
    const cli = await runCli(t.home, ['authserver', 'revoke-user', 'alice']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/Signed alice out: 1 grant\(s\) and 1 session\(s\)/);
    const audited = await waitFor(async () => (await t.api.logs({ type: 'oauth_revocation', search: 'alice' })).find((l) => (l.fields as { subjects?: { user_id?: string } }).subjects?.user_id === 'alice'), 'the sign-out in the audit log');
    expect(audited).toMatchObject({ server: '-', fields: { outcome: 'success', metadata: { extra: { initiated_by: 'app' } } } });
    expect(await t.api.authServerUsers()).toEqual([]);
    expect(t.core.sealed.keys('authserver:Upstream')).not.toContain('alice');
    expect(t.core.sealed.keys('authserver:Session')).toEqual([]);
    expect(t.core.sealed.keys('authserver:RefreshToken')).toEqual([]);
    await expect(refresh(vscode, vscode.saved!.refresh_token!)).rejects.toThrow(/grant/i);
    // The access token itself has not expired, but there is no upstream token to send on for it any more.
    await expect(callWith(token)).rejects.toThrow(/503|sign in again/i);
    // The client's approval stays (it was the user's consent for the program, not a sign-in).
    expect(await t.api.authServerClients()).toEqual([expect.objectContaining({ clientId: vscode.info!.client_id, grants: 0 })]);
  });
});
