import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type Docker from 'dockerode';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type ServerView } from '../../src/api/index.js';
import { launchBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { startTestCore, tempHome, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { signInAtTestIdp } from '../support/idp-login.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

type CommandEntry = { command: string; args: string[]; env?: Record<string, string> };

/**
 * A local server whose proxy accepts only tokens from the user's identity provider, used from clients
 * that cannot sign in: `gatehouse login` signs in once (a real oidc-provider, 5-second access tokens,
 * Chromium as the system browser), and the clients' entries start the bridge, which brings the token
 * from the core. Their files hold no token; a process without it still gets the proxy's 401.
 */
describe('signing in for the clients of a local server guarded by an identity provider', () => {
  let docker: Docker;
  let idp: TestIdp;
  let browser: Browser;
  let t: TestCore;
  let userHome: string;
  let s: ServerView;
  const opened: string[] = [];

  beforeAll(async () => {
    docker = await requireDocker();
    idp = await startTestIdp({ registration: true, accessTokenTTL: 5 });
    browser = await launchBrowser();
    userHome = tempHome('gatehouse-caller-user-');
    fs.mkdirSync(path.join(userHome, '.config', 'Claude'), { recursive: true });
    fs.mkdirSync(path.join(userHome, '.cursor'), { recursive: true });
    t = await startTestCore({
      openUrl: (url) => {
        opened.push(url);
        void signInAtTestIdp(browser, url, { login: 'carol' }).catch(() => {});
        return Promise.resolve();
      },
      clientUser: { home: userHome, platform: 'linux', env: {} },
    });
    s = await t.api.run({ image: TEST_IMAGE, name: 'guarded', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    expect(s.status).toBe('running');
    await t.api.setupClient({ id: 'claude-desktop' });
    await t.api.setupClient({ id: 'cursor' });
  });
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await idp?.stop();
  });

  const entryOf = (file: string): CommandEntry => {
    const entry = (JSON.parse(fs.readFileSync(file, 'utf8')) as { mcpServers: Record<string, CommandEntry & { url?: string }> }).mcpServers['guarded'];
    expect(entry, `${file} has an entry for guarded`).toBeDefined();
    return entry!;
  };
  const claudeFile = () => path.join(userHome, '.config', 'Claude', 'claude_desktop_config.json');
  const cursorFile = () => path.join(userHome, '.cursor', 'mcp.json');

  /** An MCP client started the way the client's entry says (the bridge), with only the entry's environment. */
  const callThroughEntry = async (entry: CommandEntry) => {
    const client = new Client({ name: 'entry-stand-in', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: entry.command, args: entry.args, ...(entry.env ? { env: entry.env } : {}), stderr: 'pipe' }));
    try {
      return textOf(await client.callTool({ name: 'echo', arguments: { message: 'hi' } }));
    } finally {
      await client.close();
    }
  };

  it('gives command-capable clients the bridge instead of the URL, and their files hold no token', () => {
    const cursor = entryOf(cursorFile()) as CommandEntry & { url?: string };
    expect(cursor.url).toBeUndefined();
    expect(cursor.args).toContain('bridge');
    for (const file of [claudeFile(), cursorFile()]) expect(fs.readFileSync(file, 'utf8')).not.toMatch(/eyJ|Bearer|authorization/i);
  });

  it('answers a client before the sign-in with what to do, and the CLI says the server needs one', async () => {
    await expect(callThroughEntry(entryOf(claudeFile()))).rejects.toThrow(/gatehouse login guarded/);
    const status = await runCli(t.home, ['auth', 'status', 'guarded']);
    expect(status.stdout).toMatch(/guarded: (not signed in|sign-in required)/);
    expect(status.stdout).toMatch(/Sign in with: gatehouse login guarded/);
  });

  it('signs in once at the identity provider (the proxy URL as resource), and every client calls the tool', async () => {
    const started = await t.api.signInStart({ name: 'guarded' });
    const url = new URL(started.pending!.authorizationUrl);
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get('resource')).toBe(s.url);
    const done = await t.api.signInWait({ name: 'guarded' });
    expect(done).toMatchObject({ state: 'signed-in', credential: 'oauth', issuer: idp.issuer });
    expect(done.claims).toMatchObject({ sub: 'carol', aud: s.url });
    expect(await callThroughEntry(entryOf(claudeFile()))).toMatch(/hi/);
    expect(await callThroughEntry(entryOf(cursorFile()))).toMatch(/hi/);
    // Access tokens last 5 s: a call later still works (the core refreshed; the bridge asked it again).
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await callThroughEntry(entryOf(claudeFile()))).toMatch(/hi/);
    expect(opened).toHaveLength(1); // one browser sign-in for all of it
  });

  it('still refuses a process that does not bring the token: the proxy answers 401', async () => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    expect(res.status).toBe(401);
  });

  it('gives the token to holders of the core token only, never to the app window', async () => {
    const viaToken = await t.api.callerToken({ name: 'guarded' });
    expect(viaToken.accessToken).toMatch(/^eyJ/);
    // It never lands in a file Gatehouse writes (the end-of-run leak scan looks for it).
    registerTestSecret('caller access token', viaToken.accessToken);
    const viaApp = await t.core.ipc.invoke('callerToken', { name: 'guarded' });
    expect(viaApp).toMatchObject({ ok: false, status: 403 });
    // Servers Gatehouse does not sign in for have no caller token to give.
    const open = await t.api.run({ image: TEST_IMAGE, name: 'open', permissionProfile: 'none' });
    await expect(t.api.callerToken({ name: open.name })).rejects.toBeInstanceOf(ApiError);
  });

  it('signs out: clients are told to sign in again; removing the server forgets the sign-in', async () => {
    await t.api.signOut({ name: 'guarded' });
    await expect(callThroughEntry(entryOf(claudeFile()))).rejects.toThrow(/gatehouse login guarded/);
    await t.api.signInStart({ name: 'guarded' });
    await t.api.signInWait({ name: 'guarded' });
    expect(await callThroughEntry(entryOf(claudeFile()))).toMatch(/hi/);
    await t.api.remove({ name: 'guarded', force: true });
    const again = await t.api.run({ image: TEST_IMAGE, name: 'guarded', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer: idp.issuer } } });
    expect((await t.api.signInStatus({ name: again.name })).state).toBe('signed-out');
  });
});
