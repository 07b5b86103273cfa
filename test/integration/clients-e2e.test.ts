import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../support/docker.js';
import { tempHome, useDockerCore } from '../support/core-harness.js';
import { textOf } from '../support/mcp-client.js';
import { apiError } from '../support/wait.js';
import { testSecret } from '../support/leak-registry.js';

/**
 * One click, as a user would: two servers run, `client setup` for Claude Desktop and Cursor, then the
 * entries written into their files are used exactly as those apps use them: Claude Desktop's command is
 * spawned with the MCP SDK's stdio client (the bridge, the proxy, the container); Cursor's URL with the
 * Streamable HTTP client. Then servers stop, are renamed and removed, and the files follow.
 */
const userHome = tempHome('gatehouse-user-');
const claudeDir = path.join(userHome, '.config', 'Claude');
const cursorDir = path.join(userHome, '.cursor');
const claudeFile = path.join(claudeDir, 'claude_desktop_config.json');
const cursorFile = path.join(cursorDir, 'mcp.json');

type Json = Record<string, unknown>;
const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as { mcpServers: Record<string, Json> } & Json;

describe('client setup end to end: Claude Desktop through the bridge, Cursor over HTTP', () => {
  const env = useDockerCore({ clientUser: { home: userHome, platform: 'linux', env: {} } });

  it('setup writes working entries and nothing else changes; the entries follow stop, rename and rm', async () => {
    fs.mkdirSync(claudeDir, { recursive: true });
    fs.mkdirSync(cursorDir, { recursive: true });
    const claudeOriginal = '{\n  "mcpServers": {\n    "filesystem": {\n      "command": "npx",\n      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]\n    }\n  },\n  "globalShortcut": "Alt+Space"\n}\n';
    fs.writeFileSync(claudeFile, claudeOriginal);
    const api = env.t.api;
    // alpha holds a keychain secret: it must never reach a client file (the end-of-suite leak scan reads them too).
    const token = testSecret('client-entry');
    await api.setSecret({ name: 'ALPHA_TOKEN', value: token });
    const alpha = await api.run({ image: TEST_IMAGE, name: 'alpha', permissionProfile: 'none', secrets: [{ name: 'ALPHA_TOKEN', target: 'API_TOKEN' }] });
    const beta = await api.run({ image: TEST_IMAGE, name: 'beta', permissionProfile: 'none' });

    const claude = await api.setupClient({ id: 'claude-desktop' });
    expect(claude.written.sort()).toEqual(['alpha', 'beta']);
    const cursor = await api.setupClient({ id: 'cursor' });
    expect(cursor).toMatchObject({ created: true });

    // Claude Desktop: only our two entries were added; the user's entry and keys are as they were.
    const claudeConfig = read(claudeFile);
    expect(claudeConfig['globalShortcut']).toBe('Alt+Space');
    expect(claudeConfig.mcpServers['filesystem']).toEqual({ command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'] });
    const entry = claudeConfig.mcpServers['alpha'] as { command: string; args: string[]; env: Record<string, string> };
    expect(path.isAbsolute(entry.command)).toBe(true);
    expect(path.isAbsolute(entry.args[0]!)).toBe(true);
    expect(entry.args.slice(1)).toEqual(['bridge', 'alpha']);
    expect(entry.env).toEqual({ GATEHOUSE_HOME: env.t.home, HOME: process.env['HOME'] });

    for (const file of [claudeFile, cursorFile]) {
      expect(fs.readFileSync(file, 'utf8')).not.toContain(token);
      expect(fs.readFileSync(file, 'utf8')).not.toContain('ALPHA_TOKEN');
    }

    // Spawn exactly that command, with no more environment than Claude Desktop gives (no PATH lookups needed).
    const bridged = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' }, { capabilities: {} });
    await bridged.connect(new StdioClientTransport({ command: entry.command, args: entry.args, env: entry.env, stderr: 'pipe' }));
    expect(textOf(await bridged.callTool({ name: 'echo', arguments: { message: 'via Claude Desktop entry' } }))).toContain('via Claude Desktop entry');
    await bridged.close();

    // Cursor: a URL entry, used with the Streamable HTTP client.
    const cursorEntry = read(cursorFile).mcpServers['beta'] as { url: string; type: string };
    expect(cursorEntry).toEqual({ url: beta.url, type: 'http' });
    const http = new Client({ name: 'cursor-stand-in', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(cursorEntry.url)));
    expect(textOf(await http.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }))).toContain('42');
    await http.close();
    expect((await api.client({ id: 'cursor' })).state).toBe('in-sync');

    // Stop a server: its entries go; start it: they come back with the same URL.
    await api.stop({ name: 'beta' });
    expect(Object.keys(read(cursorFile).mcpServers)).toEqual(['alpha']);
    expect(Object.keys(read(claudeFile).mcpServers)).toEqual(['filesystem', 'alpha']);
    await api.start({ name: 'beta' });
    expect(read(cursorFile).mcpServers['beta']).toEqual({ url: beta.url, type: 'http' });

    // Rename: the entry follows under the new name, same URL.
    const gamma = await api.rename({ name: 'alpha', newName: 'gamma' });
    expect(gamma.url).toBe(alpha.url);
    expect(gamma.status).toBe('running');
    expect(Object.keys(read(cursorFile).mcpServers).sort()).toEqual(['beta', 'gamma']);
    expect((read(claudeFile).mcpServers['gamma'] as { args: string[] }).args.slice(1)).toEqual(['bridge', 'gamma']);

    // Remove every server: the files are back to what the user had (Cursor's was created: now empty).
    await api.remove({ name: 'gamma', force: true });
    await api.remove({ name: 'beta', force: true });
    expect(fs.readFileSync(claudeFile, 'utf8')).toBe(claudeOriginal);
    expect(read(cursorFile).mcpServers).toEqual({});
    expect(fs.readFileSync(`${claudeFile}.gatehouse-backup`, 'utf8')).toBe(claudeOriginal);

    const listed = await api.clients();
    expect(listed.find((c) => c.id === 'claude-desktop')).toMatchObject({ installed: true, state: 'in-sync', groups: ['default'] });
    expect(listed.find((c) => c.id === 'vscode')).toMatchObject({ installed: false, state: 'not-installed' });
  });

  it('setup of a client that is not installed is a clear error and creates nothing', async () => {
    const err = await apiError(env.t.api.setupClient({ id: 'zed' }));
    expect(err.code).toBe('client_config');
    expect(err.message).toMatch(/Zed is not installed here/);
    expect(fs.existsSync(path.join(userHome, '.config', 'zed'))).toBe(false);
  });

  it('rename refuses a taken or invalid name; a stopped server stays stopped under its new name, with its history', async () => {
    const api = env.t.api;
    await api.run({ image: TEST_IMAGE, name: 'delta', permissionProfile: 'none' });
    await api.run({ image: TEST_IMAGE, name: 'epsilon', permissionProfile: 'none' });
    expect((await apiError(api.rename({ name: 'delta', newName: 'epsilon' }))).code).toBe('conflict');
    expect((await apiError(api.rename({ name: 'delta', newName: 'Not A Name!' }))).code).toBe('bad_request');
    expect((await apiError(api.rename({ name: 'nobody', newName: 'x' }))).code).toBe('not_found');
    await api.stop({ name: 'delta' });
    const renamed = await api.rename({ name: 'delta', newName: 'zeta' });
    expect(renamed).toMatchObject({ name: 'zeta', status: 'stopped', desiredState: 'stopped', containerId: null });
    const detail = await api.getServer({ name: 'zeta' });
    expect(detail.history.map((h) => h.detail)).toContain('renamed from delta');
    expect((await apiError(api.getServer({ name: 'delta' }))).code).toBe('not_found');
    const started = await api.start({ name: 'zeta' });
    expect(started.status).toBe('running');
    expect((await env.docker.getContainer(started.containerId!).inspect()).Config.Labels['dev.gatehouse.server']).toBe('zeta');
    await api.remove({ name: 'zeta', force: true });
    await api.remove({ name: 'epsilon', force: true });
  });
});

