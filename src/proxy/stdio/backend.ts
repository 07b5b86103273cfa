import type { Readable, Writable } from 'node:stream';
import { sendJsonRpcError } from '../http-util.js';
import { ErrorCodes, McpFrameError, parseFrame, type JsonRpcMessage } from '../../mcp/index.js';
import type { ProxyContext } from '../pipeline/index.js';
import { LegacySseFront } from '../front/legacy-sse.js';
import type { BackendSession, ClientChannel, SessionBackend } from '../front/session-transport.js';
import { LeanStreamableFront } from '../front/streamable-lean.js';
import { StatelessStreamableFront, isModernRequest } from '../front/streamable-stateless.js';
import type { McpBackend, ProxyLog } from '../types.js';
import { LineFramer } from './line-framer.js';
import { StdioMultiplexer, type InitializeResult } from './multiplexer.js';

export interface StdioStreams {
  /** The server's stdout, already separated from stderr. */
  stdout: Readable;
  stdin: Writable;
}

export interface StdioBackendOptions {
  log: ProxyLog;
  requestTimeoutMs?: number;
  sessionTtlMs?: number;
  clientInfo?: { name: string; version: string };
}

/**
 * Serves one stdio MCP server (a container's stdin/stdout) over Streamable HTTP (/mcp, both eras)
 * and the legacy HTTP+SSE transport (/sse + /messages), all sessions sharing the one server.
 */
export class StdioBackend implements McpBackend, SessionBackend {
  readonly mux: StdioMultiplexer;
  private readonly stateful: LeanStreamableFront;
  private readonly stateless: StatelessStreamableFront;
  private readonly legacy: LegacySseFront;
  private readonly framer: LineFramer;

  constructor(
    private readonly streams: StdioStreams,
    private readonly opts: StdioBackendOptions,
  ) {
    this.mux = new StdioMultiplexer({
      upstream: { send: (m) => this.write(m) },
      requestTimeoutMs: opts.requestTimeoutMs,
      clientInfo: opts.clientInfo,
      onWarning: (w) => opts.log('warn', w),
    });
    const onError = (err: Error) => opts.log('debug', `transport: ${err.message}`);
    this.stateful = new LeanStreamableFront(this, { sessionTtlMs: opts.sessionTtlMs });
    this.stateless = new StatelessStreamableFront(this.mux, { onError });
    this.legacy = new LegacySseFront(this, '/messages', { onError });
    this.framer = new LineFramer(
      (line) => this.onLine(line),
      (bytes) => opts.log('warn', `Dropped a ${bytes}-byte line from the server's stdout: larger than the frame limit.`),
    );
    streams.stdout.on('data', (chunk: Buffer) => this.framer.push(chunk));
    streams.stdout.on('end', () => {
      this.framer.end();
      this.mux.onUpstreamClosed('The MCP server closed its output (the container stopped).');
    });
    streams.stdout.on('close', () => this.mux.onUpstreamClosed('The MCP server connection closed (the container stopped).'));
    streams.stdin.on('error', (err) => opts.log('warn', `Writing to the server failed: ${err.message}`));
  }

  start(stored?: InitializeResult): Promise<InitializeResult> {
    return this.mux.initializeUpstream(stored);
  }

  openSession(channel: ClientChannel): BackendSession {
    const s = this.mux.openSession({ deliver: (m, rel, answers) => channel.send(m, rel, answers), terminate: (r) => channel.close(r) });
    return { handle: (m) => s.handle(m), close: () => s.close() };
  }

  async handle(ctx: ProxyContext): Promise<void> {
    const path = ctx.url.pathname;
    if (path === '/mcp' || path === '/mcp/') {
      if (ctx.req.method === 'POST' && isModernRequest(ctx.req)) return this.stateless.handle(ctx);
      return this.stateful.handle(ctx);
    }
    if (path === '/sse' && ctx.req.method === 'GET') return this.legacy.openStream(ctx);
    if ((path === '/messages' || path === '/message') && ctx.req.method === 'POST') return this.legacy.postMessage(ctx);
    sendJsonRpcError(ctx.res, 404, ErrorCodes.MethodNotFound, `Nothing at ${path}: use /mcp (Streamable HTTP) or /sse (legacy SSE).`);
  }

  health(): Record<string, unknown> {
    return {
      upstream: this.mux.closed ? 'closed' : this.mux.initializeResult ? 'ready' : 'initializing',
      server: this.mux.initializeResult?.serverInfo,
      sessions: { streamableHttp: this.stateful.sessionCount, sse: this.legacy.sessionCount },
      pendingRequests: this.mux.pendingCount,
    };
  }

  probe(timeoutMs: number): Promise<boolean> {
    if (this.mux.closed || !this.mux.initializeResult) return Promise.resolve(false);
    return this.mux.ping(timeoutMs);
  }

  async close(): Promise<void> {
    this.stateful.close();
    this.legacy.close();
    this.mux.onUpstreamClosed('The proxy is shutting down.');
  }

  private write(m: JsonRpcMessage): void {
    if (this.streams.stdin.writable) this.streams.stdin.write(JSON.stringify(m) + '\n');
  }

  /** A line of the server's stdout, read as strictly as client messages (a list answer a client could read two ways is dropped). */
  private onLine(line: string): void {
    let frame;
    try {
      frame = parseFrame(line);
    } catch (err) {
      if (!(err instanceof McpFrameError)) throw err;
      // Servers sometimes print debug text on stdout; it is not protocol, keep it as a log line.
      const what = err.code === ErrorCodes.ParseError ? 'Non-JSON line' : `Invalid JSON-RPC (${err.message})`;
      this.opts.log('warn', `${what} on the server's stdout: ${line.slice(0, 500)}`);
      return;
    }
    for (const m of frame.messages) this.mux.onUpstreamMessage(m.message);
  }
}
