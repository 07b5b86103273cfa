import diagnostics from 'node:diagnostics_channel';
import type http from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { signInAtTestIdp } from '../support/idp-login.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { connectClient, textOf } from '../support/mcp-client.js';
import { startTestIdp, type StartTestIdpOptions, type TestIdp } from '../support/oidc.js';
import { startProtectedMcpServer, type ProtectedMcpServer } from '../support/protected-mcp-server.js';
import { waitFor } from '../support/wait.js';

/**
 * The remote sign-in matrix, end to end and all real: a core with the OS keychain, oidc-provider as the
 * identity provider (5-second access tokens, refresh tokens rotated for Gatehouse's public client, the
 * whole grant revoked when a used refresh token comes back), the MCP SDK's server as the protected
 * remote, Chromium as the "system browser", and MCP SDK clients on the local proxy. Each row has its
 * own identity provider and server, so what the IdP reports is about that row only.
 */
describe('remote sign-in matrix', () => {
  let browser: Browser;
  let t: TestCore;
  /** Every visit of the "system browser", in order (a failed visit rejects its promise). */
  const visits: Promise<void>[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const whoami = { name: 'whoami', arguments: {} };

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await startTestCore({
      openUrl: async (url) => {
        const visit = signInAtTestIdp(browser, url, { login: 'alice' });
        visit.catch(() => {}); // awaited by signInViaBrowser, which reports its failure
        visits.push(visit);
      },
    });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  afterAll(async () => {
    await t?.stop();
    await browser?.close();
  });

  /** An IdP, a protected MCP server of its own, and a remote server in the core that signs in there. */
  async function remoteServer(name: string, idpOpts: StartTestIdpOptions): Promise<{ idp: TestIdp; rs: ProtectedMcpServer }> {
    const idp = await startTestIdp({ registration: true, accessTokenTTL: 5, ...idpOpts });
    cleanups.push(() => idp.stop());
    const rs = await startProtectedMcpServer(idp);
    cleanups.push(() => {
      // C12: every access token the remote received goes to the end-of-run leak scan (databases, logs, files).
      for (const a of new Set(rs.seenAuthorization)) if (a?.startsWith('Bearer ')) registerTestSecret(`${name} access token`, a.slice(7));
      return rs.close();
    });
    await t.api.run({ url: rs.url, name, remote: { oauth: true } });
    // Removed after the row: its sign-in stops refreshing at an IdP that is gone.
    cleanups.push(() => t.api.remove({ name, force: true }));
    await untilStatus(name, 'needs-sign-in');
    return { idp, rs };
  }

  /** Signs in the way the user does: the core opens the browser, alice signs in and consents. */
  async function signInViaBrowser(name: string) {
    const before = visits.length;
    const started = await t.api.signInStart({ name });
    // Wrapped: an async function's promise would take on the visit's own outcome.
    const { visit } = await waitFor(async () => (visits[before] ? { visit: visits[before] } : undefined), 'the browser to open the sign-in page');
    await visit;
    const done = await t.api.signInWait({ name });
    return { authorizationUrl: new URL(started.pending!.authorizationUrl), done };
  }

  const statusOf = async (name: string) => (await t.api.getServer({ name })).status;
  const untilStatus = (name: string, status: string, timeoutMs?: number) =>
    waitFor(async () => ((await statusOf(name)) === status ? true : undefined), `${name} to be ${status}`, timeoutMs);
  const proxyOrigin = async (name: string) => new URL((await t.api.getServer({ name })).url).origin;

  async function client(name: string, clientName: string): Promise<Client> {
    const c = await connectClient(await proxyOrigin(name), 'streamable-http', {}, clientName);
    cleanups.push(() => c.close());
    return c;
  }

  /** A raw initialize to the proxy: what any caller gets back, status and headers included. */
  async function rawInitialize(name: string) {
    const res = await fetch((await t.api.getServer({ name })).url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as { jsonrpc?: string; error?: { code: number; message: string } } };
  }

  /** The refreshes the IdP answered (oidc-provider's grant.success for the refresh_token grant). */
  const refreshes = (idp: TestIdp) => idp.events().filter((e) => e.name === 'grant.success' && e.grantType === 'refresh_token');
  const revoked = (idp: TestIdp) => idp.events().filter((e) => e.name === 'grant.revoked');
  const registrations = (idp: TestIdp) => idp.events().filter((e) => e.name === 'registration_create.success').map((e) => e.clientId);

  /** POSTs that reached one local port (the proxy runs in this process: node's own http diagnostics channel). */
  function countPosts(port: number): { readonly count: number; stop(): void } {
    let count = 0;
    const onStart = (message: unknown) => {
      const req = (message as { request: http.IncomingMessage }).request;
      if (req.method === 'POST' && req.socket.localPort === port) count += 1;
    };
    diagnostics.subscribe('http.server.request.start', onStart);
    return {
      get count() {
        return count;
      },
      stop: () => void diagnostics.unsubscribe('http.server.request.start', onStart),
    };
  }

  it('two MCP clients race the refresh of a rotating refresh token: one refresh for the expiry, no reuse, the grant lives on', async () => {
    const { idp, rs } = await remoteServer('race', {});
    await signInViaBrowser('race');
    await untilStatus('race', 'running');
    const a = await client('race', 'client-a');
    const b = await client('race', 'client-b');
    expect(textOf(await a.callTool(whoami))).toBe('alice');
    expect(textOf(await b.callTool(whoami))).toBe('alice');

    // The token endpoint holds what it gets: the refresh that comes due stays in flight until the access token has expired.
    idp.setTokenEndpoint('hold');
    cleanups.push(async () => idp.setTokenEndpoint('up'));
    await waitFor(async () => {
      const s = await t.api.signInStatus({ name: 'race' });
      return s.expiresAt !== null && s.expiresAt < Date.now() ? true : undefined;
    }, 'the access token to expire');
    const refreshesBefore = refreshes(idp).length;
    const tokensBefore = new Set(rs.accepted.map((c) => c.jti));
    const acceptedBefore = rs.accepted.length;

    const posts = countPosts(Number(new URL(await proxyOrigin('race')).port));
    let calls: Promise<unknown>[];
    try {
      calls = Array.from({ length: 10 }, () => [a.callTool(whoami), b.callTool(whoami)]).flat();
      void Promise.allSettled(calls); // a row that fails early leaves no unhandled rejection behind
      await waitFor(async () => (posts.count >= calls.length ? true : undefined), 'all the calls to reach the proxy');
    } finally {
      posts.stop();
    }
    await waitFor(async () => (idp.heldTokenRequests() > 0 ? true : undefined), 'the refresh to reach the IdP');
    // Every call is at the proxy, waiting for a token. A caller that refreshed on its own would show here as a second request.
    await new Promise((r) => setTimeout(r, 500));
    expect(idp.heldTokenRequests()).toBe(1);

    idp.setTokenEndpoint('up');
    expect((await Promise.all(calls)).map(textOf)).toEqual(calls.map(() => 'alice'));
    // The IdP saw one refresh for that expiry, rotating the refresh token; nothing was reused, so the grant stands.
    const oneRefresh = refreshes(idp).slice(refreshesBefore);
    expect(oneRefresh).toHaveLength(1);
    expect(oneRefresh[0]?.rotated).toBe(true);
    expect(revoked(idp)).toEqual([]);
    expect(idp.events().filter((e) => e.name === 'grant.error')).toEqual([]);
    // All twenty calls carried the one new access token.
    const burstTokens = new Set(rs.accepted.slice(acceptedBefore).map((c) => c.jti));
    expect(burstTokens.size).toBe(1);
    expect(tokensBefore.has([...burstTokens][0])).toBe(false);

    // Across a further refresh (of the rotated refresh token, when the new access token is due), both clients keep working.
    await waitFor(async () => (refreshes(idp).length >= refreshesBefore + 2 ? true : undefined), 'a further refresh');
    const again = await Promise.all(Array.from({ length: 5 }, () => [a.callTool(whoami), b.callTool(whoami)]).flat());
    expect(again.map(textOf)).toEqual(again.map(() => 'alice'));
    expect(refreshes(idp).every((e) => e.rotated === true)).toBe(true);
    expect(revoked(idp)).toEqual([]);
    expect((await t.api.signInStatus({ name: 'race' })).state).toBe('signed-in');
  });

  it('drops the stored registration on invalid_client at refresh: needs sign-in, and the next sign-in registers a new client', async () => {
    const { idp, rs } = await remoteServer('forgotten', {});
    const first = await signInViaBrowser('forgotten');
    const oldClient = first.done.claims?.['client_id'];
    expect(typeof oldClient).toBe('string');
    expect(registrations(idp)).toEqual([oldClient]);
    await untilStatus('forgotten', 'running');
    expect(textOf(await (await client('forgotten', 'before')).callTool(whoami))).toBe('alice');

    // The IdP forgets the registration: the next refresh, when the 5-second token is due, gets invalid_client.
    await idp.forgetClient(oldClient as string);
    await untilStatus('forgotten', 'needs-sign-in');
    const status = await t.api.signInStatus({ name: 'forgotten' });
    expect(status).toMatchObject({ state: 'needs-sign-in', lastRefresh: { ok: false, detail: 'invalid_client' } });
    expect(status.detail).toMatch(/invalid_client/);
    expect(idp.events().filter((e) => e.name === 'grant.error')).toContainEqual(expect.objectContaining({ error: 'invalid_client', grantType: 'refresh_token' }));
    const refused = await rawInitialize('forgotten');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('www-authenticate')).toBeNull();
    expect(refused.body.error?.message).toMatch(/Sign-in required/);

    // A new sign-in: no stored registration to reuse, so Gatehouse registers again and gets a new client id.
    const second = await signInViaBrowser('forgotten');
    const newClient = second.done.claims?.['client_id'];
    expect(second.authorizationUrl.searchParams.get('client_id')).toBe(newClient);
    expect(newClient).not.toBe(oldClient);
    expect(registrations(idp)).toEqual([oldClient, newClient]);
    await untilStatus('forgotten', 'running');
    expect(textOf(await (await client('forgotten', 'after')).callTool(whoami))).toBe('alice');
    expect(rs.accepted.at(-1)?.['client_id']).toBe(newClient);
  });

  it('signs in at an issuer with a path (oidc-provider mounted at /tenant1), found by discovery, and calls a tool', async () => {
    const { idp, rs } = await remoteServer('tenant', { issuerPath: '/tenant1' });
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tenant1$/);
    const { authorizationUrl, done } = await signInViaBrowser('tenant');
    expect(authorizationUrl.href.startsWith(`${idp.issuer}/auth?`)).toBe(true);
    expect(done).toMatchObject({ state: 'signed-in', issuer: idp.issuer });
    expect(done.claims).toMatchObject({ iss: idp.issuer, sub: 'alice', aud: rs.url });
    // The SDK's discovery: RFC 8414's and the path-inserted OIDC form miss (the front has nothing there), the
    // path-appended OIDC discovery of the mounted provider answers.
    const wellKnown = idp.requestLog().filter((r) => r.path.includes('/.well-known/'));
    expect(wellKnown.map((r) => `${r.path} ${r.status}`)).toEqual([
      '/.well-known/oauth-authorization-server/tenant1 404',
      '/.well-known/openid-configuration/tenant1 404',
      '/tenant1/.well-known/openid-configuration 200',
    ]);
    // Registration and tokens went to the provider's own endpoints under the path.
    expect(idp.requestLog()).toContainEqual({ method: 'POST', path: '/tenant1/reg', status: 201 });
    expect(idp.requestLog()).toContainEqual({ method: 'POST', path: '/tenant1/token', status: 200 });
    await untilStatus('tenant', 'running');
    const c = await client('tenant', 'tenant-client');
    expect(textOf(await c.callTool(whoami))).toBe('alice');
    expect(rs.accepted.at(-1)?.iss).toBe(idp.issuer);
    // A refresh at that token endpoint works too (5-second tokens), and so do calls after it.
    await waitFor(async () => (refreshes(idp).length >= 1 ? true : undefined), 'a refresh at the path issuer');
    expect(textOf(await c.callTool(whoami))).toBe('alice');
    expect(new Set(rs.accepted.map((claims) => claims.jti)).size).toBeGreaterThan(1);
  });

  it('rides out a token endpoint answering 503: auth-retrying, callers get 503 with Retry-After, then running again by itself', async () => {
    const { idp } = await remoteServer('flaky', {});
    await signInViaBrowser('flaky');
    await untilStatus('flaky', 'running');
    expect(textOf(await (await client('flaky', 'before')).callTool(whoami))).toBe('alice');
    const visitsBefore = visits.length;

    idp.setTokenEndpoint('503');
    cleanups.push(async () => idp.setTokenEndpoint('up'));
    // Nobody calls: the refresh that comes due fails, and the status says so.
    await untilStatus('flaky', 'auth-retrying');
    await waitFor(async () => {
      const s = await t.api.signInStatus({ name: 'flaky' });
      return s.expiresAt !== null && s.expiresAt < Date.now() ? true : undefined;
    }, 'the access token to expire');
    expect(await t.api.signInStatus({ name: 'flaky' })).toMatchObject({ state: 'retrying', lastRefresh: { ok: false } });
    const r = await rawInitialize('flaky');
    expect(r.status).toBe(503);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.body.jsonrpc).toBe('2.0');
    expect(typeof r.body.error?.code).toBe('number');
    expect(r.body.error?.message).toMatch(/cannot refresh its sign-in.*keeps retrying/);
    expect(idp.requestLog().filter((e) => e.path === '/token' && e.status === 503).length).toBeGreaterThan(0);
    // The grant was kept: nothing said the sign-in ended.
    expect(idp.events().filter((e) => e.name === 'grant.error')).toEqual([]);

    // The token endpoint is back. Nobody calls: the background retry (first after RETRY_FIRST_MS = 15 s) refreshes.
    idp.setTokenEndpoint('up');
    const refreshesBefore = refreshes(idp).length;
    await untilStatus('flaky', 'running', 40_000);
    expect(refreshes(idp).length).toBeGreaterThan(refreshesBefore);
    expect((await t.api.signInStatus({ name: 'flaky' })).lastRefresh?.ok).toBe(true);
    expect(textOf(await (await client('flaky', 'after')).callTool(whoami))).toBe('alice');
    expect(visits.length).toBe(visitsBefore); // no new browser sign-in
  });

  it('needs a new sign-in once the refresh token lapses while Gatehouse runs, and signs in again without removing the server', async () => {
    const { idp } = await remoteServer('lapsing', { refreshTokenTTL: 6 });
    await signInViaBrowser('lapsing');
    await untilStatus('lapsing', 'running');
    const proxyUrl = (await t.api.getServer({ name: 'lapsing' })).url;
    const c = await client('lapsing', 'lapsing-client');
    expect(textOf(await c.callTool(whoami))).toBe('alice');
    // It is refreshed while the refresh token lives (5-second access tokens, a 6-second grant).
    await waitFor(async () => (refreshes(idp).length >= 1 ? true : undefined), 'a refresh while the grant lives');

    // Then the grant lapses: the next refresh gets invalid_grant, and nobody had to call for the status to say so.
    await untilStatus('lapsing', 'needs-sign-in');
    const status = await t.api.signInStatus({ name: 'lapsing' });
    expect(status).toMatchObject({ state: 'needs-sign-in', lastRefresh: { ok: false, detail: 'invalid_grant' } });
    expect(idp.events().filter((e) => e.name === 'grant.error')).toContainEqual(expect.objectContaining({ error: 'invalid_grant', grantType: 'refresh_token' }));
    const r = await rawInitialize('lapsing');
    expect(r.status).toBe(503);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.body.error?.message).toMatch(/Sign-in required/);
    // The MCP SDK client sees the same: an HTTP 503 (its transport's error code), never a challenge to answer.
    const refusedCall = await c.callTool(whoami).then(
      () => undefined,
      (e: unknown) => e as { code?: unknown; message: string },
    );
    expect(refusedCall?.code).toBe(503);
    expect(refusedCall?.message).toMatch(/Sign-in required/);

    // Signing in again (the browser) brings the same server back, at the same local URL.
    const again = await signInViaBrowser('lapsing');
    expect(again.done.state).toBe('signed-in');
    await untilStatus('lapsing', 'running');
    expect((await t.api.getServer({ name: 'lapsing' })).url).toBe(proxyUrl);
    expect(textOf(await c.callTool(whoami))).toBe('alice');

    // A sign-out stops the refresher the sign-in started: past its next refresh (and this grant's lapse), still signed out.
    const { refreshAt } = await t.api.signInStatus({ name: 'lapsing' });
    expect((await t.api.signOut({ name: 'lapsing' })).state).toBe('signed-out');
    await new Promise((r) => setTimeout(r, Math.max(0, refreshAt! - Date.now()) + 1_000));
    expect((await t.api.signInStatus({ name: 'lapsing' })).state).toBe('signed-out');
  });

  it('keeps a sign-out that lands while a refresh is in flight: the late answer (a rotated refresh token) is not kept', async () => {
    const { idp } = await remoteServer('leaving', {});
    await signInViaBrowser('leaving');
    await untilStatus('leaving', 'running');
    idp.setTokenEndpoint('hold');
    cleanups.push(async () => idp.setTokenEndpoint('up'));
    await waitFor(async () => (idp.heldTokenRequests() > 0 ? true : undefined), 'the refresh that comes due to reach the IdP');
    const refreshesBefore = refreshes(idp).length;
    expect((await t.api.signOut({ name: 'leaving' })).state).toBe('signed-out');

    idp.setTokenEndpoint('up');
    await waitFor(async () => (refreshes(idp).length > refreshesBefore ? true : undefined), 'the IdP to answer the refresh');
    // Given the moment Gatehouse needs to take the answer in: had it kept it, the sign-in would be back.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await t.api.signInStatus({ name: 'leaving' })).state).toBe('signed-out');
    expect(await statusOf('leaving')).toBe('needs-sign-in');
    const r = await rawInitialize('leaving');
    expect(r.status).toBe(503);
    expect(r.body.error?.message).toMatch(/Sign-in required/);
  });
});
