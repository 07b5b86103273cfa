import { describe, expect, it } from 'vitest';
import { CLIENTS, configFileOf, detectDirOf, entryFor, findClient, nodeBridgeLauncher, proxyUrl, signsInForCallers, type ClientSpec, type UserEnvironment } from '../../src/clients/index.js';

const mac: UserEnvironment = { home: '/Users/ada', platform: 'darwin', env: {} };
const linux: UserEnvironment = { home: '/home/ada', platform: 'linux', env: {} };
const win: UserEnvironment = { home: 'C:\\Users\\ada', platform: 'win32', env: { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' } };
const launcher = { command: '/opt/node/bin/node', args: ['/opt/gatehouse/bin/gatehouse.js'], env: { GATEHOUSE_HOME: '/home/ada/.local/share/gatehouse' } };

function client(id: string): ClientSpec {
  const c = findClient(id);
  if (!c) throw new Error(`no client ${id}`);
  return c;
}

describe('client catalog', () => {
  it('has the clients the issue names, each with a unique id', () => {
    const ids = CLIENTS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['claude-desktop', 'cursor', 'vscode', 'claude-code', 'windsurf', 'cline', 'gemini-cli', 'goose', 'continue', 'zed', 'lm-studio', 'opencode', 'codex']) {
      expect(ids).toContain(id);
    }
  });

  it.each([
    ['claude-desktop', mac, '/Users/ada/Library/Application Support/Claude/claude_desktop_config.json'],
    ['claude-desktop', win, 'C:\\Users\\ada\\AppData\\Roaming\\Claude\\claude_desktop_config.json'],
    ['claude-desktop', linux, '/home/ada/.config/Claude/claude_desktop_config.json'],
    ['cursor', mac, '/Users/ada/.cursor/mcp.json'],
    ['cursor', win, 'C:\\Users\\ada\\.cursor\\mcp.json'],
    ['vscode', mac, '/Users/ada/Library/Application Support/Code/User/mcp.json'],
    ['vscode', linux, '/home/ada/.config/Code/User/mcp.json'],
    ['vscode', win, 'C:\\Users\\ada\\AppData\\Roaming\\Code\\User\\mcp.json'],
    ['cline', mac, '/Users/ada/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json'],
    ['goose', linux, '/home/ada/.config/goose/config.yaml'],
    ['goose', mac, '/Users/ada/.config/goose/config.yaml'],
    ['goose', win, 'C:\\Users\\ada\\AppData\\Roaming\\Block\\goose\\config\\config.yaml'],
    ['zed', mac, '/Users/ada/.config/zed/settings.json'],
    ['zed', win, 'C:\\Users\\ada\\AppData\\Roaming\\Zed\\settings.json'],
    ['codex', linux, '/home/ada/.codex/config.toml'],
    ['opencode', win, 'C:\\Users\\ada\\.config\\opencode\\opencode.json'],
    ['claude-code', linux, '/home/ada/.claude.json'],
    ['gemini-cli', mac, '/Users/ada/.gemini/settings.json'],
  ] as const)('%s on %s: %s', (id, user, file) => {
    expect(configFileOf(client(id), user)).toBe(file);
  });

  it('follows the variables that move a client folder', () => {
    expect(configFileOf(client('claude-code'), { ...linux, env: { CLAUDE_CONFIG_DIR: '/srv/claude' } })).toBe('/srv/claude/.claude.json');
    expect(configFileOf(client('codex'), { ...mac, env: { CODEX_HOME: '/Volumes/work/codex' } })).toBe('/Volumes/work/codex/config.toml');
    expect(configFileOf(client('vscode'), { ...linux, env: { XDG_CONFIG_HOME: '/home/ada/.xdg' } })).toBe('/home/ada/.xdg/Code/User/mcp.json');
    // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    expect(configFileOf(client('vscode'), { ...linux, env: { XDG_CONFIG_HOME: 'relative' } })).toBe('/home/ada/.config/Code/User/mcp.json');
    // Without APPDATA, Windows' default roaming folder.
    expect(configFileOf(client('claude-desktop'), { ...win, env: {} })).toBe('C:\\Users\\ada\\AppData\\Roaming\\Claude\\claude_desktop_config.json');
  });

  it('a client is installed when its folder exists: the file folder, or a marker folder', () => {
    expect(detectDirOf(client('cursor'), linux)).toBe('/home/ada/.cursor');
    expect(detectDirOf(client('claude-code'), linux)).toBe('/home/ada/.claude');
    expect(detectDirOf(client('claude-code'), { ...linux, env: { CLAUDE_CONFIG_DIR: '/srv/claude' } })).toBe('/srv/claude');
  });
});

describe('client entries', () => {
  const stdio = { name: 'time', transport: 'stdio' as const, proxyPort: 43117 };
  const http = { name: 'notion', transport: 'streamable-http' as const, proxyPort: 43118 };
  const sse = { name: 'legacy-sse', transport: 'sse' as const, proxyPort: 43119 };

  it('URLs: /mcp for stdio and Streamable HTTP servers, ToolHive /sse#name for SSE servers', () => {
    expect(proxyUrl(stdio)).toBe('http://127.0.0.1:43117/mcp');
    expect(proxyUrl(http)).toBe('http://127.0.0.1:43118/mcp');
    expect(proxyUrl(sse)).toBe('http://127.0.0.1:43119/sse#legacy-sse');
  });

  it.each([
    ['cursor', stdio, { url: 'http://127.0.0.1:43117/mcp', type: 'http' }],
    ['cursor', sse, { url: 'http://127.0.0.1:43119/sse#legacy-sse', type: 'sse' }],
    ['vscode', http, { url: 'http://127.0.0.1:43118/mcp', type: 'http' }],
    ['windsurf', stdio, { serverUrl: 'http://127.0.0.1:43117/mcp', type: 'http' }],
    ['cline', stdio, { url: 'http://127.0.0.1:43117/mcp', type: 'streamableHttp' }],
    ['gemini-cli', stdio, { httpUrl: 'http://127.0.0.1:43117/mcp' }],
    ['gemini-cli', sse, { url: 'http://127.0.0.1:43119/sse#legacy-sse' }],
    ['goose', stdio, { name: 'time', uri: 'http://127.0.0.1:43117/mcp', type: 'streamable_http', enabled: true, timeout: 60, description: '' }],
    ['continue', sse, { url: 'http://127.0.0.1:43119/sse#legacy-sse', type: 'sse' }],
    ['zed', stdio, { url: 'http://127.0.0.1:43117/mcp' }],
    ['opencode', stdio, { url: 'http://127.0.0.1:43117/mcp', type: 'remote' }],
    ['codex', http, { url: 'http://127.0.0.1:43118/mcp' }],
    ['mistral-vibe', stdio, { url: 'http://127.0.0.1:43117/mcp', transport: 'streamable-http' }],
  ] as const)('%s entry for %j', (id, server, expected) => {
    expect(entryFor(client(id), server, launcher)).toEqual({ entry: expected });
  });

  it('Claude Desktop gets the stdio bridge: absolute command and script, GATEHOUSE_HOME, the server name', () => {
    expect(entryFor(client('claude-desktop'), stdio, launcher)).toEqual({
      entry: { command: '/opt/node/bin/node', args: ['/opt/gatehouse/bin/gatehouse.js', 'bridge', 'time'], env: { GATEHOUSE_HOME: '/home/ada/.local/share/gatehouse' } },
    });
  });

  it('a client that cannot speak SSE gets the bridge for SSE servers (Codex), in its own stdio shape', () => {
    expect(entryFor(client('codex'), sse, launcher)).toEqual({
      entry: { command: '/opt/node/bin/node', args: ['/opt/gatehouse/bin/gatehouse.js', 'bridge', 'legacy-sse'], env: { GATEHOUSE_HOME: '/home/ada/.local/share/gatehouse' } },
    });
  });

  it('a server that needs Gatehouse\'s sign-in for its callers: clients that can start a command get the bridge; URL-only ones the URL', () => {
    const guarded = { ...http, callerSignIn: true };
    const withStdio = CLIENTS.filter((c) => c.entry.kind === 'url' && c.entry.stdio);
    expect(withStdio.length).toBeGreaterThan(0);
    for (const c of withStdio) {
      const got = entryFor(c, guarded, launcher);
      expect(JSON.stringify(got), c.id).toContain('"bridge","notion"');
      expect(JSON.stringify(got), c.id).not.toContain('43118');
    }
    for (const c of CLIENTS.filter((x) => x.entry.kind === 'url' && !x.entry.stdio)) expect(JSON.stringify(entryFor(c, guarded, launcher)), c.id).toContain('43118');
    expect(signsInForCallers({ remote: false, auth: { type: 'inline', inline: { issuer: 'https://id.example' } } })).toBe(true);
    expect(signsInForCallers({ remote: false, auth: { type: 'configMap', configMap: { name: 'corp' } } })).toBe(true);
    for (const auth of [{ type: 'none' }, { type: 'kubernetes', kubernetes: { serviceAccount: 'a', namespace: 'b' } }, null]) expect(signsInForCallers({ remote: false, auth })).toBe(false);
    expect(signsInForCallers({ remote: true, auth: { type: 'inline', inline: { issuer: 'https://id.example' } } })).toBe(false);
  });

  it('the default launcher: this Node by absolute path, bin/gatehouse.js, GATEHOUSE_HOME, and on Windows the paths Claude strips', () => {
    const l = nodeBridgeLauncher('/data/gh', 'linux', { HOME: '/home/ada', PATH: '/usr/bin', API_TOKEN: 'x' });
    expect(l.command).toBe(process.execPath);
    expect(l.args).toHaveLength(1);
    expect(l.args[0]).toMatch(/[/\\]bin[/\\]gatehouse\.js$/);
    expect(l.env).toEqual({ GATEHOUSE_HOME: '/data/gh', HOME: '/home/ada' });
    const w = nodeBridgeLauncher('C:\\gh', 'win32', { APPDATA: 'C:\\A', LOCALAPPDATA: 'C:\\L', SECRET_TOKEN: 'x', PATH: 'C:\\bin' });
    expect(w.env).toEqual({ GATEHOUSE_HOME: 'C:\\gh', APPDATA: 'C:\\A', LOCALAPPDATA: 'C:\\L' });
  });
});
