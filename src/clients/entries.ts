export { signsInForCallers } from '../api/contract.js';
import type { ClientSpec, StdioEntryStyle, UrlEntryStyle } from './catalog.js';

/** What a client entry needs to know about one server. */
export interface ServerEndpoint {
  name: string;
  transport: 'stdio' | 'sse' | 'streamable-http';
  proxyPort: number;
  /**
   * Its proxy takes tokens from the user's identity provider, and Gatehouse signs in there for clients:
   * those that can start a command get the bridge, which brings the token (their file holds none).
   */
  callerSignIn?: boolean;
}

/**
 * How to start `gatehouse bridge <server>` without a shell or PATH (Claude Desktop starts commands with
 * a reduced environment): an absolute command, the arguments before `bridge`, and the environment the
 * bridge needs to find the core. Never holds a secret.
 */
export interface BridgeLauncher {
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
}

/** The proxy URL a client should use: Streamable HTTP at /mcp, or ToolHive's `/sse#<name>` for SSE servers. */
export function proxyUrl(server: ServerEndpoint): string {
  return server.transport === 'sse' ? `http://127.0.0.1:${server.proxyPort}/sse#${server.name}` : `http://127.0.0.1:${server.proxyPort}/mcp`;
}

function bridgeEntry(style: StdioEntryStyle, server: ServerEndpoint, launcher: BridgeLauncher): Record<string, unknown> {
  const entry: Record<string, unknown> = {};
  if (style.type) entry[style.type.field] = style.type.value;
  entry[style.commandField] = launcher.command;
  entry[style.argsField] = [...launcher.args, 'bridge', server.name];
  if (Object.keys(launcher.env).length > 0) entry[style.envField] = { ...launcher.env };
  return entry;
}

function urlEntry(style: UrlEntryStyle, server: ServerEndpoint): Record<string, unknown> {
  const sse = server.transport === 'sse';
  const entry: Record<string, unknown> = {};
  if (style.nameField) entry[style.nameField] = server.name;
  entry[sse ? (style.sseUrlField ?? style.urlField) : style.urlField] = proxyUrl(server);
  if (style.type) entry[style.type.field] = sse ? style.type.sse : style.type.streamable;
  return { ...entry, ...style.defaults };
}

/**
 * The entry Gatehouse writes into a client's file for one server, or why it cannot write one. URL
 * clients get the proxy URL; command-only clients (Claude Desktop), URL clients that cannot speak the
 * server's transport, and clients of a server that needs Gatehouse's sign-in, get the stdio bridge.
 */
export function entryFor(client: ClientSpec, server: ServerEndpoint, launcher: BridgeLauncher): { entry: Record<string, unknown> } | { unsupported: string } {
  const style = client.entry;
  if (style.kind === 'stdio') return { entry: bridgeEntry(style, server, launcher) };
  if (server.callerSignIn && style.stdio) return { entry: bridgeEntry(style.stdio, server, launcher) };
  if (server.transport !== 'sse' || style.sse) return { entry: urlEntry(style, server) };
  if (style.stdio) return { entry: bridgeEntry(style.stdio, server, launcher) };
  return { unsupported: `${client.name} cannot connect to SSE servers such as "${server.name}"` };
}
