import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDocker, TEST_IMAGE } from '../support/docker.js';
import { tempHome } from '../support/core-harness.js';
import { printedUrl, runCli } from '../support/cli.js';

/**
 * The "done means", from the gatehouse command: after running two servers,
 * `client setup claude-desktop` and `client setup cursor`; both files hold working entries and nothing
 * else changed; stop a server and the entries follow. The user's files live in a throwaway HOME.
 */
describe('gatehouse client', () => {
  let docker: Docker;
  const home = tempHome();
  const userHome = tempHome('gatehouse-user-');
  const cli = (args: string[]) => runCli(home, args, { env: { ...process.env, HOME: userHome, XDG_CONFIG_HOME: '' } });
  const claudeFile = path.join(userHome, '.config', 'Claude', 'claude_desktop_config.json');
  const cursorFile = path.join(userHome, '.cursor', 'mcp.json');
  const servers = (file: string) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { mcpServers: Record<string, Record<string, unknown>> }).mcpServers;

  beforeAll(async () => {
    docker = await requireDocker();
    fs.mkdirSync(path.dirname(claudeFile), { recursive: true });
    fs.mkdirSync(path.dirname(cursorFile), { recursive: true });
  });

  afterAll(async () => {
    for (const n of ['one', 'two']) await cli(['rm', '-f', n]);
    await cli(['shutdown']);
    void docker;
  });

  it('setup writes entries for the running servers; ls and status tell the state; stop is followed', async () => {
    const cursorOriginal = '{\n  // my own\n  "mcpServers": {\n    "mine": { "url": "https://example.com/mcp" },\n  },\n}\n';
    fs.writeFileSync(cursorFile, cursorOriginal);
    const one = printedUrl((await cli(['run', TEST_IMAGE, '--name', 'one', '--permission-profile', 'none'])).stdout);
    const two = printedUrl((await cli(['run', TEST_IMAGE, '--name', 'two', '--permission-profile', 'none'])).stdout);

    const claude = await cli(['client', 'setup', 'claude-desktop']);
    expect(claude.stderr).toBe('');
    expect(claude.code).toBe(0);
    expect(claude.stdout).toContain(`Claude Desktop: created ${claudeFile}`);
    expect(claude.stdout).toContain('Quit and reopen Claude Desktop');
    const cursor = await cli(['client', 'setup', 'cursor']);
    expect(cursor.code).toBe(0);
    expect(cursor.stdout).toMatch(/wrote: +one, two/);

    expect(Object.keys(servers(claudeFile))).toEqual(['one', 'two']);
    expect(servers(claudeFile)['one']).toMatchObject({ command: process.execPath, args: [path.resolve('bin/gatehouse.js'), 'bridge', 'one'], env: { GATEHOUSE_HOME: home } });
    const text = fs.readFileSync(cursorFile, 'utf8');
    expect(text.startsWith('{\n  // my own\n  "mcpServers": {\n    "mine": { "url": "https://example.com/mcp" },\n')).toBe(true);
    expect(text).toContain(one);
    expect(text).toContain(two);

    const ls = await cli(['client', 'ls']);
    expect(ls.stdout).toMatch(/claude-desktop +Claude Desktop +in sync +default +2 /);
    expect(ls.stdout).toMatch(/cursor +Cursor +in sync +default +2 /);
    expect(ls.stdout).toMatch(/vscode +VS Code +not installed/);
    const json = JSON.parse((await cli(['--format', 'json', 'client', 'status', 'cursor'])).stdout) as { state: string; entries: string[] };
    expect(json).toMatchObject({ state: 'in-sync', entries: ['one', 'two'] });

    expect((await cli(['stop', 'two'])).code).toBe(0);
    expect(Object.keys(servers(claudeFile))).toEqual(['one']);
    expect(fs.readFileSync(cursorFile, 'utf8')).not.toContain(two);

    // The user breaks the file: status says where; Gatehouse leaves it alone.
    fs.writeFileSync(cursorFile, '{ "mcpServers": { "mine": } }');
    const broken = await cli(['client', 'status', 'cursor']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/ERROR[\s\S]*mcp\.json is not valid JSON at line 1, column \d+/);
    const refused = await cli(['client', 'setup', 'cursor']);
    expect(refused.code).toBe(8);
    expect(refused.stderr).toMatch(/mcp\.json is not valid JSON/);
    expect(fs.readFileSync(cursorFile, 'utf8')).toBe('{ "mcpServers": { "mine": } }');

    fs.writeFileSync(cursorFile, cursorOriginal);
    const removed = await cli(['client', 'remove', 'claude-desktop']);
    expect(removed.code).toBe(0);
    expect(servers(claudeFile)).toEqual({});
  });

  it('not installed, unknown client, and an entry the user wrote under a server name', async () => {
    const zed = await cli(['client', 'setup', 'zed']);
    expect(zed.code).toBe(8);
    expect(zed.stderr).toMatch(/Zed is not installed here/);
    const unknown = await cli(['client', 'setup', 'notepad']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('Known clients: claude-desktop, cursor');

    const lmDir = path.join(userHome, '.lmstudio');
    fs.mkdirSync(lmDir);
    const mine = '{ "mcpServers": { "one": { "url": "https://elsewhere.example/mcp" } } }\n';
    fs.writeFileSync(path.join(lmDir, 'mcp.json'), mine);
    const conflict = await cli(['client', 'setup', 'lm-studio']);
    expect(conflict.code).toBe(4);
    expect(conflict.stdout).toContain('skipped one: ');
    expect(conflict.stdout).toContain('that Gatehouse did not write');
    expect(fs.readFileSync(path.join(lmDir, 'mcp.json'), 'utf8')).toBe(mine);
  });
});
