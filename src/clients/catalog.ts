import type { EntryLocation } from './config-file/index.js';

/**
 * Every MCP client Gatehouse can configure, as data: where its configuration file lives on each OS,
 * where the servers sit inside it, and the shape of one entry. The table follows ToolHive's client
 * table (pkg/client/config.go) so entries match what those clients accept, plus Claude Desktop, which
 * only starts stdio commands and so gets Gatehouse's stdio bridge.
 *
 * Paths use three tokens: `~` (the home folder), `$CONFIG` (the per-OS application folder:
 * `~/.config` or $XDG_CONFIG_HOME on Linux, `~/Library/Application Support` on macOS, %APPDATA% on
 * Windows) and `$APPDATA` (%APPDATA%, Windows only).
 */

export type Platform = 'darwin' | 'win32' | 'linux';

/** A path per OS; `all` is used where no OS-specific one is given. */
export type PathSpec = { all: string } & Partial<Record<Platform, string>>;

/** How the client's entry for one server looks when it takes a URL. */
export interface UrlEntryStyle {
  kind: 'url';
  /** Field holding the URL: url, serverUrl, uri, httpUrl, ... */
  urlField: string;
  /** A different field for SSE URLs (Gemini CLI: httpUrl for Streamable HTTP, url for SSE). */
  sseUrlField?: string;
  /** The `type` field's value per transport; absent: the client infers it and no type is written. */
  type?: { field: string; streamable: string; sse: string };
  /** False: the client speaks only Streamable HTTP, so SSE servers get a stdio bridge entry instead. */
  sse: boolean;
  /** Fields every entry carries (Goose: enabled, timeout, description). */
  defaults?: Readonly<Record<string, unknown>>;
  /** Field repeating the entry's name inside it (Goose). */
  nameField?: string;
  /** How the client writes a stdio command entry, for the bridge fallback; absent: no fallback. */
  stdio?: StdioEntryStyle;
}

/** How the client's entry looks when it starts a command (Gatehouse's stdio bridge). */
export interface StdioEntryStyle {
  kind: 'stdio';
  commandField: string;
  argsField: string;
  envField: string;
  type?: { field: string; value: string };
}

export interface ClientSpec {
  id: string;
  name: string;
  file: PathSpec;
  /** An environment variable naming the folder that holds the file instead (Claude Code: CLAUDE_CONFIG_DIR). */
  dirOverride?: { variable: string; file: string };
  /** A folder whose existence means the client is installed (default: the file's folder). */
  detect?: PathSpec;
  location: EntryLocation;
  entry: UrlEntryStyle | StdioEntryStyle;
  /** Shown by `client ls`: what the user must do after a change (restart the app, ...). */
  note?: string;
}

const json = (key: string): EntryLocation => ({ format: 'json', path: [key], shape: 'map' });
const commandStyle: StdioEntryStyle = { kind: 'stdio', commandField: 'command', argsField: 'args', envField: 'env' };
const typed = (streamable: string, sse: string) => ({ field: 'type', streamable, sse });

/** url + type (http / sse): the most common shape. */
const httpTyped: UrlEntryStyle = { kind: 'url', urlField: 'url', type: typed('http', 'sse'), sse: true, stdio: commandStyle };
/** url only: the client detects the transport. */
const urlOnly: UrlEntryStyle = { kind: 'url', urlField: 'url', sse: true, stdio: commandStyle };

export const CLIENTS: readonly ClientSpec[] = [
  {
    id: 'claude-desktop',
    name: 'Claude Desktop',
    file: { all: '$CONFIG/Claude/claude_desktop_config.json' },
    location: json('mcpServers'),
    entry: commandStyle,
    note: 'Quit and reopen Claude Desktop to load changes.',
  },
  { id: 'cursor', name: 'Cursor', file: { all: '~/.cursor/mcp.json' }, location: json('mcpServers'), entry: httpTyped },
  { id: 'vscode', name: 'VS Code', file: { all: '$CONFIG/Code/User/mcp.json' }, location: json('servers'), entry: { ...httpTyped, stdio: { ...commandStyle, type: { field: 'type', value: 'stdio' } } } },
  {
    id: 'vscode-insiders',
    name: 'VS Code Insiders',
    file: { all: '$CONFIG/Code - Insiders/User/mcp.json' },
    location: json('servers'),
    entry: { ...httpTyped, stdio: { ...commandStyle, type: { field: 'type', value: 'stdio' } } },
  },
  {
    id: 'claude-code',
    name: 'Claude Code',
    file: { all: '~/.claude.json' },
    dirOverride: { variable: 'CLAUDE_CONFIG_DIR', file: '.claude.json' },
    detect: { all: '~/.claude' },
    location: json('mcpServers'),
    entry: { ...httpTyped, stdio: { ...commandStyle, type: { field: 'type', value: 'stdio' } } },
  },
  { id: 'windsurf', name: 'Windsurf', file: { all: '~/.codeium/windsurf/mcp_config.json' }, location: json('mcpServers'), entry: { ...httpTyped, urlField: 'serverUrl' } },
  { id: 'windsurf-jetbrains', name: 'Windsurf (JetBrains plugin)', file: { all: '~/.codeium/mcp_config.json' }, location: json('mcpServers'), entry: { ...httpTyped, urlField: 'serverUrl' } },
  {
    id: 'cline',
    name: 'Cline',
    file: { all: '$CONFIG/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json' },
    location: json('mcpServers'),
    entry: { ...httpTyped, type: typed('streamableHttp', 'sse') },
  },
  {
    id: 'roo-code',
    name: 'Roo Code',
    file: { all: '$CONFIG/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json' },
    location: json('mcpServers'),
    entry: { ...httpTyped, type: typed('streamable-http', 'sse') },
  },
  {
    id: 'gemini-cli',
    name: 'Gemini CLI',
    file: { all: '~/.gemini/settings.json' },
    location: json('mcpServers'),
    entry: { kind: 'url', urlField: 'httpUrl', sseUrlField: 'url', sse: true, stdio: commandStyle },
  },
  {
    id: 'goose',
    name: 'Goose',
    file: { all: '~/.config/goose/config.yaml', win32: '$APPDATA/Block/goose/config/config.yaml' },
    location: { format: 'yaml', path: ['extensions'], shape: 'map' },
    entry: {
      kind: 'url',
      urlField: 'uri',
      nameField: 'name',
      type: typed('streamable_http', 'sse'),
      sse: true,
      defaults: { enabled: true, timeout: 60, description: '' },
      stdio: { kind: 'stdio', commandField: 'cmd', argsField: 'args', envField: 'envs', type: { field: 'type', value: 'stdio' } },
    },
  },
  {
    id: 'continue',
    name: 'Continue',
    file: { all: '~/.continue/config.yaml' },
    location: { format: 'yaml', path: ['mcpServers'], shape: 'array', idField: 'name' },
    entry: { ...httpTyped, type: typed('streamable-http', 'sse') },
  },
  {
    id: 'zed',
    name: 'Zed',
    file: { all: '~/.config/zed/settings.json', win32: '$APPDATA/Zed/settings.json' },
    location: json('context_servers'),
    entry: urlOnly,
  },
  { id: 'lm-studio', name: 'LM Studio', file: { all: '~/.lmstudio/mcp.json' }, location: json('mcpServers'), entry: httpTyped },
  {
    id: 'opencode',
    name: 'OpenCode',
    file: { all: '~/.config/opencode/opencode.json' },
    location: json('mcp'),
    entry: { kind: 'url', urlField: 'url', type: typed('remote', 'remote'), sse: true, stdio: { ...commandStyle, type: { field: 'type', value: 'local' } } },
  },
  {
    id: 'codex',
    name: 'Codex',
    file: { all: '~/.codex/config.toml' },
    dirOverride: { variable: 'CODEX_HOME', file: 'config.toml' },
    location: { format: 'toml', path: ['mcp_servers'], shape: 'map' },
    // Codex speaks Streamable HTTP only: SSE servers go through the stdio bridge.
    entry: { kind: 'url', urlField: 'url', sse: false, stdio: commandStyle },
  },
  {
    id: 'mistral-vibe',
    name: 'Mistral Vibe',
    file: { all: '~/.vibe/config.toml' },
    location: { format: 'toml', path: ['mcp_servers'], shape: 'array', idField: 'name' },
    entry: { kind: 'url', urlField: 'url', type: { field: 'transport', streamable: 'streamable-http', sse: 'http' }, sse: true },
  },
  { id: 'amp', name: 'Amp', file: { all: '~/.config/amp/settings.json', win32: '$APPDATA/amp/settings.json' }, location: json('amp.mcpServers'), entry: httpTyped },
  { id: 'trae', name: 'Trae', file: { all: '$CONFIG/Trae/User/mcp.json' }, location: json('mcpServers'), entry: urlOnly },
  { id: 'kiro', name: 'Kiro', file: { all: '~/.kiro/settings/mcp.json' }, location: json('mcpServers'), entry: urlOnly },
  { id: 'antigravity', name: 'Antigravity', file: { all: '~/.gemini/antigravity/mcp_config.json' }, location: json('mcpServers'), entry: { ...urlOnly, urlField: 'serverUrl' } },
  { id: 'kimi-cli', name: 'Kimi CLI', file: { all: '~/.kimi/mcp.json' }, location: json('mcpServers'), entry: urlOnly },
  { id: 'factory', name: 'Factory (droid)', file: { all: '~/.factory/mcp.json' }, location: json('mcpServers'), entry: httpTyped },
  { id: 'copilot-cli', name: 'GitHub Copilot CLI', file: { all: '~/.copilot/mcp-config.json' }, location: json('mcpServers'), entry: httpTyped },
  { id: 'qoder', name: 'Qoder', file: { all: '~/.qoder/mcp.json', win32: '$APPDATA/Qoder/SharedClientCache/mcp.json' }, location: json('mcpServers'), entry: httpTyped },
];

export function findClient(id: string): ClientSpec | undefined {
  return CLIENTS.find((c) => c.id === id);
}
