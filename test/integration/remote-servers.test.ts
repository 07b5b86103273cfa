import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/index.js';
import { launchBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { signInAtTestIdp } from '../support/idp-login.js';
import { startTestCore, tempHome, type TestCore } from '../support/core-harness.js';
import { connectClient, textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { startProtectedMcpServer, type ProtectedMcpServer } from '../support/protected-mcp-server.js';
import { waitFor } from '../support/wait.js';
import { registerTestSecret } from '../support/leak-registry.js';

/**
 * Remote MCP servers end to end: a real MCP SDK server that is an OAuth resource server, a real
 * identity provider (oidc-provider, 5-second access tokens), a real core with the OS keychain, and a
 * real browser (Chromium) as the "system browser" behind the core's openUrl hook. MCP clients use the
 * local proxy URL and never see the remote's 401.
 */
describe('remote servers behind the local proxy, with Gatehouse signing in', () => {
  let idp: TestIdp;
  let rs: ProtectedMcpServer;
  let browser: Browser;
  let t: TestCore;
  const opened: string[] = [];
  let userHome: string;
  let firstClientId: unknown;
  let consent: 'accept' | 'decline' = 'accept';
  /** The user at the browser: signs in as alice and consents (or declines). */
  const userAt = async (url: string) => {
    opened.push(url);
    await signInAtTestIdp(browser, url, { login: 'alice', consent });
  };

  beforeAll(async () => {
    idp = await startTestIdp({ registration: true, accessTokenTTL: 5 });
    rs = await startProtectedMcpServer(idp);
    browser = await launchBrowser();
    userHome = tempHome('gatehouse-remote-user-');
    t = await startTestCore({ openUrl: (url) => void userAt(url).catch(() => {}) as unknown as Promise<void>, clientUser: { home: userHome, platform: 'linux', env: {} } });
  });
  afterAll(async () => {
    // C12: every access token the remote received goes to the end-of-run leak scan (databases, logs, files).
    for (const a of rs?.seenAuthorization ?? []) if (a?.startsWith('Bearer ')) registerTestSecret('remote access token', a.slice(7));
    await t?.stop();
    await rs?.close();
    await browser?.close();
    await idp?.stop();
  });

  /** A raw POST of an initialize to the proxy: what a client that cannot do OAuth receives. */
  const rawInitialize = async (url: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as { error?: { code: number; message: string } } };
  };

  it('adds the server, asks for a sign-in, and answers callers 503 "sign-in required" instead of the remote 401', async () => {
    const s = await t.api.run({ url: rs.url, name: 'remote', remote: { oauth: true } });
    expect(s).toMatchObject({ kind: 'remote', remoteUrl: rs.url, image: null, transport: 'streamable-http' });
    await waitFor(async () => ((await t.api.getServer({ name: 'remote' })).status === 'needs-sign-in' ? true : undefined), 'needs-sign-in');
    const r = await rawInitialize(s.url);
    expect(r.status).toBe(503);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(r.body.error?.message).toMatch(/Sign-in required/);
    // Nothing was sent to the remote with a credential it could not have.
    expect(rs.seenAuthorization.every((a) => a === undefined)).toBe(true);
  });

  it('signs in through the browser (discovery from the 401, a registered native client, PKCE, resource) and calls a tool', async () => {
    const started = await t.api.signInStart({ name: 'remote' });
    const url = new URL(started.pending!.authorizationUrl);
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get('resource')).toBe(rs.url);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const done = await t.api.signInWait({ name: 'remote' });
    expect(done).toMatchObject({ state: 'signed-in', issuer: idp.issuer, pending: null });
    expect(done.claims).toMatchObject({ sub: 'alice', aud: rs.url });
    firstClientId = done.claims?.['client_id'];
    expect(firstClientId).not.toBe(idp.clients.native.clientId); // Gatehouse registered itself
    expect(JSON.stringify(done)).not.toMatch(/eyJ/); // no token in the view
    await waitFor(async () => ((await t.api.getServer({ name: 'remote' })).status === 'running' ? true : undefined), 'running');
    const client = await connectClient(new URL((await t.api.getServer({ name: 'remote' })).url).origin);
    try {
      expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
      // Access tokens last 5 s: calls over 8 s keep working, refreshed by Gatehouse.
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 2_000));
        expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
      }
    } finally {
      await client.close();
    }
    const tokensSeen = new Set(rs.accepted.map((c) => c.jti));
    expect(tokensSeen.size).toBeGreaterThan(1); // more than one access token reached the server
    const status = await t.api.signInStatus({ name: 'remote' });
    expect(status.lastRefresh?.ok).toBe(true);
    // The command line says the same, in words, and never prints a token.
    const cli = await runCli(t.home, ['auth', 'status', 'remote']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/remote: signed in/);
    expect(cli.stdout).toMatch(/subject\s+alice/);
    expect(cli.stdout).not.toMatch(/eyJ/);
    expect((await runCli(t.home, ['ls'])).stdout).toContain(rs.url);
  });

  it('keeps the sign-in across a core restart (the refresh token from the keychain)', async () => {
    await t.restart({ openUrl: (url) => void userAt(url).catch(() => {}) as unknown as Promise<void> });
    await waitFor(async () => ((await t.api.getServer({ name: 'remote' })).status === 'running' ? true : undefined), 'running after restart');
    const before = opened.length;
    const client = await connectClient(new URL((await t.api.getServer({ name: 'remote' })).url).origin);
    try {
      expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    } finally {
      await client.close();
    }
    expect(opened.length).toBe(before); // no new browser sign-in
  });

  it("is used from Claude Desktop's entry (the bridge) and Cursor's (the URL), whose files carry no token", async () => {
    fs.mkdirSync(path.join(userHome, '.config', 'Claude'), { recursive: true });
    fs.mkdirSync(path.join(userHome, '.cursor'), { recursive: true });
    await t.api.setupClient({ id: 'claude-desktop' });
    await t.api.setupClient({ id: 'cursor' });
    const claudeText = fs.readFileSync(path.join(userHome, '.config', 'Claude', 'claude_desktop_config.json'), 'utf8');
    const cursorText = fs.readFileSync(path.join(userHome, '.cursor', 'mcp.json'), 'utf8');
    for (const text of [claudeText, cursorText]) {
      expect(text).not.toMatch(/eyJ|Bearer|authorization/i);
      expect(text).not.toContain(rs.url); // clients know only the local proxy
    }
    const entry = (JSON.parse(claudeText) as { mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }> }).mcpServers['remote']!;
    const bridged = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' });
    await bridged.connect(new StdioClientTransport({ command: entry.command, args: entry.args, env: entry.env, stderr: 'pipe' }));
    try {
      expect(textOf(await bridged.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    } finally {
      await bridged.close();
    }
    const cursorEntry = (JSON.parse(cursorText) as { mcpServers: Record<string, { url: string }> }).mcpServers['remote']!;
    const cursor = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
    await cursor.connect(new StreamableHTTPClientTransport(new URL(cursorEntry.url)));
    try {
      expect(textOf(await cursor.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    } finally {
      await cursor.close();
    }
  });

  it('turns a remote that refuses even a fresh token into "needs sign-in", and signs in again without removing the server', async () => {
    rs.refuseAll(true);
    const r = await rawInitialize((await t.api.getServer({ name: 'remote' })).url);
    expect(r.status).toBe(503);
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(r.body.error?.message).toMatch(/sign in again/);
    await waitFor(async () => ((await t.api.getServer({ name: 'remote' })).status === 'needs-sign-in' ? true : undefined), 'needs-sign-in');
    rs.refuseAll(false);
    await t.api.signInStart({ name: 'remote' });
    const again = await t.api.signInWait({ name: 'remote' });
    expect(again.state).toBe('signed-in');
    // The client it registered the first time is reused (kept in the keychain across the restart).
    expect(again.claims?.['client_id']).toBe(firstClientId);
    await waitFor(async () => ((await t.api.getServer({ name: 'remote' })).status === 'running' ? true : undefined), 'running again');
  });

  it('signs out: the refresh token leaves the keychain and callers are asked to sign in', async () => {
    const logout = await runCli(t.home, ['logout', 'remote']);
    expect(logout.code).toBe(0);
    expect(logout.stdout).toMatch(/Signed out of remote/);
    const out = await t.api.signInStatus({ name: 'remote' });
    expect(out.state).toBe('signed-out');
    const cli = await runCli(t.home, ['auth', 'status', 'remote']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/Sign in with: gatehouse login remote/);
    await waitFor(async () => ((await t.api.getServer({ name: 'remote' })).status === 'needs-sign-in' ? true : undefined), 'needs-sign-in after sign-out');
    const r = await rawInitialize((await t.api.getServer({ name: 'remote' })).url);
    expect(r.status).toBe(503);
    await t.core.stop();
    await t.restart();
    expect((await t.api.signInStatus({ name: 'remote' })).state).not.toBe('signed-in');
  });

  it('sends a bearer token from the keychain, and configured headers', async () => {
    const token = await idp.clientCredentialsToken({ resource: rs.url });
    await t.api.setSecret({ name: 'REMOTE_TOKEN', value: token });
    const s = await t.api.run({ url: rs.url, name: 'remote-bearer', remote: { bearerToken: 'REMOTE_TOKEN', forwardHeaders: [{ name: 'X-Tenant', value: 'blue' }] } });
    await waitFor(async () => ((await t.api.getServer({ name: s.name })).status === 'running' ? true : undefined), 'running');
    const client = await connectClient(new URL(s.url).origin);
    try {
      expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe(idp.clients.m2m.clientId);
    } finally {
      await client.close();
    }
    expect(rs.seenAuthorization.at(-1)).toBe(`Bearer ${token}`);
    // The secret's value never shows in the server's view.
    expect(JSON.stringify(await t.api.getServer({ name: s.name }))).not.toContain(token);
  });

  it('says why a sign-in did not happen: the user declined, nobody came back in time, the callback port is taken', async () => {
    await t.api.run({ url: rs.url, name: 'declined', remote: { oauth: true } });
    consent = 'decline';
    try {
      await t.api.signInStart({ name: 'declined' });
      const err = await t.api.signInWait({ name: 'declined' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).message).toMatch(/declined|denied/i);
    } finally {
      consent = 'accept';
    }
    expect((await t.api.signInStatus({ name: 'declined' })).state).not.toBe('signed-in');

    // --remote-auth-skip-browser: the URL is only shown; nobody opens it, and the wait ends after the timeout.
    await t.api.run({ url: rs.url, name: 'unattended', remote: { oauth: true, skipBrowser: true, timeoutMs: 5_000 } });
    const before = opened.length;
    const started = await t.api.signInStart({ name: 'unattended' });
    expect(started.pending).toMatchObject({ browserOpened: false });
    expect(started.pending?.authorizationUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const timedOut = await t.api.signInWait({ name: 'unattended' }).catch((e: unknown) => e);
    expect((timedOut as ApiError).message).toMatch(/No sign-in answer within 5 s/);
    expect(opened.length).toBe(before);

    // A fixed callback port that another program holds: said at once, before any browser opens.
    const holder = http.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (holder.address() as AddressInfo).port;
      await t.api.run({ url: rs.url, name: 'busy-port', remote: { oauth: true, callbackPort: port } });
      const busy = await t.api.signInStart({ name: 'busy-port' }).catch((e: unknown) => e);
      expect(busy).toBeInstanceOf(ApiError);
      expect((busy as ApiError).message).toMatch(new RegExp(String(port)));
      expect(opened.length).toBe(before);
    } finally {
      holder.close();
    }
  });

  it('refuses URLs that are not https (except this machine), link-local and private addresses, and unknown secrets', async () => {
    for (const [url, why] of [
      ['http://mcp.example.com/mcp', /plain http/],
      ['https://169.254.169.254/mcp', /private or link-local/],
      ['https://10.0.0.1/mcp', /private or link-local/],
      ['https://user:pw@mcp.example.com/mcp', /credentials/],
    ] as const) {
      const err = await t.api.run({ url, name: 'bad' }).catch((e: unknown) => e);
      expect(err, url).toBeInstanceOf(ApiError);
      expect((err as ApiError).message, url).toMatch(why);
    }
    const err = await t.api.run({ url: rs.url, name: 'bad', remote: { bearerToken: 'NO_SUCH' } }).catch((e: unknown) => e);
    expect((err as ApiError).message).toMatch(/No secret named "NO_SUCH"/);
    expect((await t.api.listServers()).some((s) => s.name === 'bad')).toBe(false);
  });

  it('refuses a redirect to another host, and follows a same-origin 307', async () => {
    const other = await new Promise<http.Server>((resolve) => {
      const srv = http.createServer((req, res) => {
        if (req.url === '/moved') {
          res.writeHead(307, { location: '/mcp-here' });
        } else if (req.url === '/elsewhere') {
          res.writeHead(307, { location: `${rs.url}` });
        } else {
          res.writeHead(404);
        }
        res.end();
      });
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    });
    try {
      const base = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      const s = await t.api.run({ url: `${base}/elsewhere`, name: 'redirecting' });
      await waitFor(async () => ((await t.api.getServer({ name: s.name })).status === 'running' ? true : undefined), 'running');
      const r = await rawInitialize(s.url);
      expect(r.status).toBe(502);
      expect(r.body.error?.message).toMatch(/redirects to another host are refused/);
      const s2 = await t.api.run({ url: `${base}/moved`, name: 'moved' });
      await waitFor(async () => ((await t.api.getServer({ name: s2.name })).status === 'running' ? true : undefined), 'running');
      // Followed on the same origin: the answer is that server's own 404, never a redirect to the caller.
      const r2 = await fetch(s2.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
      expect(r2.status).toBe(404);
      expect(r2.headers.get('location')).toBeNull();
    } finally {
      other.close();
    }
  });
});
