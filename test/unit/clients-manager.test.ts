import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientManager } from '../../src/app/client-manager.js';
import { openStore, type Store } from '../../src/store/index.js';
import { newServer } from '../support/server-record.js';
import type { UserEnvironment } from '../../src/clients/index.js';

const launcher = { command: '/opt/node/bin/node', args: ['/opt/gatehouse/bin/gatehouse.js'], env: { GATEHOUSE_HOME: '/tmp/gh' } };

/** A real SQLite store and a throwaway home folder holding the clients' files. */
let root: string;
let home: string;
let store: Store;
let warnings: string[];
let clients: ClientManager;

function addServer(name: string, opts: { port: number; group?: string; running?: boolean; transport?: 'stdio' | 'sse' | 'streamable-http' }): void {
  store.servers.insert(
    newServer(name, {
      transport: opts.transport ?? 'stdio',
      proxyPort: opts.port,
      group: opts.group ?? 'default',
      desiredState: opts.running === false ? 'stopped' : 'running',
      status: opts.running === false ? 'stopped' : 'running',
    }),
  );
}

const cursorFile = () => path.join(home, '.cursor', 'mcp.json');
const readCursor = () => JSON.parse(fs.readFileSync(cursorFile(), 'utf8')) as { mcpServers: Record<string, unknown> };

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-clients-'));
  home = path.join(root, 'home');
  fs.mkdirSync(home);
  store = openStore(path.join(root, 'gatehouse.db'));
  warnings = [];
  const user: UserEnvironment = { home, platform: 'linux', env: {} };
  clients = new ClientManager(store, { user, launcher, onWarning: (m) => warnings.push(m) });
});

afterEach(() => {
  store.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('ClientManager', () => {
  it('a client whose folder is missing is not installed: setup says so and creates nothing', async () => {
    expect(clients.status('cursor')).toMatchObject({ installed: false, state: 'not-installed' });
    await expect(clients.setup('cursor')).rejects.toThrow(/Cursor is not installed here \(no folder .*\.cursor\)/);
    expect(fs.existsSync(path.join(home, '.cursor'))).toBe(false);
    expect(store.clientRegistrations.list()).toEqual([]);
  });

  it('an unknown client id lists the known ones', async () => {
    await expect(clients.setup('notepad')).rejects.toThrow(/Unknown client "notepad". Known clients: claude-desktop, cursor/);
  });

  it("setup writes an entry per running server of the group, and only the group's running servers", async () => {
    fs.mkdirSync(path.join(home, '.cursor'));
    addServer('time', { port: 43117 });
    addServer('stopped-one', { port: 43118, running: false });
    addServer('elsewhere', { port: 43119, group: 'work' });
    const ch = await clients.setup('cursor');
    expect(ch).toMatchObject({ written: ['time'], created: true, fileChanged: true });
    expect(readCursor()).toEqual({ mcpServers: { time: { url: 'http://127.0.0.1:43117/mcp', type: 'http' } } });
    expect(fs.statSync(cursorFile()).mode & 0o777).toBe(0o600);
    expect(clients.status('cursor')).toMatchObject({ state: 'in-sync', groups: ['default'], entries: ['time'] });
    // Set up again: nothing to do.
    expect(await clients.setup('cursor')).toMatchObject({ written: [], unchanged: ['time'], fileChanged: false });
  });

  it("servers coming and going are followed; the user's own entries are never touched", async () => {
    fs.mkdirSync(path.join(home, '.cursor'));
    const original = '{\n  "mcpServers": {\n    "mine": { "command": "npx", "args": ["my-server"] }\n  }\n}\n';
    fs.writeFileSync(cursorFile(), original);
    addServer('time', { port: 43117 });
    await clients.setup('cursor');
    expect(Object.keys(readCursor().mcpServers)).toEqual(['mine', 'time']);
    addServer('notion', { port: 43118, transport: 'streamable-http' });
    await clients.syncAll();
    expect(Object.keys(readCursor().mcpServers)).toEqual(['mine', 'time', 'notion']);
    store.servers.setDesiredState('time', 'stopped');
    store.servers.setDesiredState('notion', 'stopped');
    await clients.syncAll();
    expect(fs.readFileSync(cursorFile(), 'utf8')).toBe(original);
    // The one-time backup holds the user's file as it was before Gatehouse's first change.
    expect(fs.readFileSync(`${cursorFile()}.gatehouse-backup`, 'utf8')).toBe(original);
  });

  it("an entry of the same name that Gatehouse did not write is left alone and reported", async () => {
    fs.mkdirSync(path.join(home, '.cursor'));
    const original = '{ "mcpServers": { "time": { "url": "https://time.example.com/mcp" } } }';
    fs.writeFileSync(cursorFile(), original);
    addServer('time', { port: 43117 });
    const ch = await clients.setup('cursor');
    expect(ch.written).toEqual([]);
    expect(ch.conflicts).toEqual([{ server: 'time', reason: expect.stringContaining('already has an entry named "time" that Gatehouse did not write') }]);
    expect(fs.readFileSync(cursorFile(), 'utf8')).toBe(original);
    expect(clients.status('cursor').state).toBe('out-of-sync');
    // Removing the client never removes the user's entry.
    await clients.remove('cursor');
    expect(fs.readFileSync(cursorFile(), 'utf8')).toBe(original);
  });

  it('a malformed file is left untouched, the error says where, and nothing is registered', async () => {
    fs.mkdirSync(path.join(home, '.cursor'));
    const broken = '{\n  "mcpServers": {\n    "mine": { "command": "npx" }\n    "other": {}\n  }\n}\n';
    fs.writeFileSync(cursorFile(), broken);
    addServer('time', { port: 43117 });
    await expect(clients.setup('cursor')).rejects.toThrow(/mcp\.json.*line 4/);
    expect(fs.readFileSync(cursorFile(), 'utf8')).toBe(broken);
    expect(store.clientRegistrations.list()).toEqual([]);
    expect(clients.status('cursor')).toMatchObject({ state: 'error', problems: [expect.stringMatching(/line 4/)] });
    expect(fs.readdirSync(path.join(home, '.cursor'))).toEqual(['mcp.json']);
  });

  it('a sync problem of a registered client is a warning, not a failure', async () => {
    fs.mkdirSync(path.join(home, '.cursor'));
    addServer('time', { port: 43117 });
    await clients.setup('cursor');
    fs.writeFileSync(cursorFile(), '{ not json');
    addServer('notion', { port: 43118 });
    await clients.syncAll();
    expect(warnings).toEqual([expect.stringMatching(/Could not update Cursor's configuration: .*mcp\.json/)]);
    expect(fs.readFileSync(cursorFile(), 'utf8')).toBe('{ not json');
  });

  it('Claude Desktop gets bridge entries; remove takes them out and unregisters', async () => {
    const dir = path.join(home, '.config', 'Claude');
    fs.mkdirSync(dir, { recursive: true });
    addServer('time', { port: 43117 });
    await clients.setup('claude-desktop');
    const file = path.join(dir, 'claude_desktop_config.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      mcpServers: { time: { command: '/opt/node/bin/node', args: ['/opt/gatehouse/bin/gatehouse.js', 'bridge', 'time'], env: { GATEHOUSE_HOME: '/tmp/gh' } } },
    });
    const ch = await clients.remove('claude-desktop');
    expect(ch.removed).toEqual(['time']);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ mcpServers: {} });
    expect(clients.status('claude-desktop').state).toBe('not-registered');
    await expect(clients.remove('claude-desktop')).rejects.toThrow(/not set up/);
  });

  it('two setups at once (two groups) both land in the file', async () => {
    fs.mkdirSync(path.join(home, '.cursor'));
    addServer('time', { port: 43117 });
    addServer('notion', { port: 43118, group: 'work' });
    await Promise.all([clients.setup('cursor'), clients.setup('cursor', 'work')]);
    expect(Object.keys(readCursor().mcpServers).sort()).toEqual(['notion', 'time']);
    expect(clients.status('cursor').groups).toEqual(['default', 'work']);
    await clients.remove('cursor', 'work');
    expect(Object.keys(readCursor().mcpServers)).toEqual(['time']);
  });
});
