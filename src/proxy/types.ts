import type { ProxyContext } from './pipeline/index.js';

export type ProxyLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type ProxyLog = (level: ProxyLogLevel, message: string, fields?: Record<string, unknown>) => void;

/** What serves MCP traffic behind a proxy's middleware chain: a stdio container or an HTTP upstream. */
export interface McpBackend {
  handle(ctx: ProxyContext): Promise<void>;
  health(): Record<string, unknown>;
  /** Whether the MCP server answers now (an MCP ping over stdio; a connection over HTTP), within timeoutMs. */
  probe(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}
