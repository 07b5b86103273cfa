import type { IncomingMessage } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { sendJson, sendJsonRpcError } from '../http-util.js';
import { errorResponse, ErrorCodes, isNotification, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest } from '../jsonrpc.js';
import type { ProxyContext } from '../middleware.js';
import type { StdioMultiplexer } from '../stdio/multiplexer.js';

/** Protocol revisions of the stateless ("modern") wire that this front speaks. */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

export const ModernErrorCodes = {
  HeaderMismatch: -32020,
  UnsupportedProtocolVersion: -32022,
} as const;

/** A POST is modern when it names a protocol version the legacy (session) wire does not know. */
export function isModernRequest(req: IncomingMessage): boolean {
  const v = req.headers['mcp-protocol-version'];
  return typeof v === 'string' && req.headers['mcp-session-id'] === undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(v);
}

/** Decodes the `=?base64?...?=` sentinel used for header values that are not plain ASCII. */
export function decodeHeaderValue(v: string): string {
  const m = /^=\?base64\?(.*)\?=$/.exec(v);
  return m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : v;
}

const NAME_SOURCE: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/**
 * Streamable HTTP, stateless era (2026-07-28) in front of a stdio server that speaks the session era:
 * every POST is self-contained (version, capabilities in `_meta`), answered as JSON, or as an SSE stream
 * when the server sends progress or log notifications first. Closing the stream cancels the request.
 * Server-to-client requests (sampling, elicitation, roots) would need MRTR translation, which this front
 * does not do: such requests are refused to the server, which then fails the call with its own error.
 */
export class StatelessStreamableFront {
  constructor(
    private readonly mux: StdioMultiplexer,
    private readonly opts: { onError?: (err: Error) => void } = {},
  ) {}

  async handle(ctx: ProxyContext): Promise<void> {
    const version = String(ctx.req.headers['mcp-protocol-version']);
    if (!(MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
      sendJson(ctx.res, 400, errorResponse(null, ModernErrorCodes.UnsupportedProtocolVersion, 'Unsupported protocol version', {
        supported: [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS],
        requested: version,
      }));
      return;
    }
    const messages = ctx.messages ?? [];
    const msg = messages[0];
    if (messages.length !== 1 || !msg || isResponse(msg)) {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, 'The body must be a single JSON-RPC request or notification.');
      return;
    }
    if (isNotification(msg)) {
      // The stateless wire defines no client notifications over HTTP (closing a stream cancels).
      ctx.res.writeHead(202).end();
      return;
    }
    const req = msg as JsonRpcRequest;
    const mismatch = this.headerMismatch(ctx, req, version);
    if (mismatch) {
      sendJson(ctx.res, 400, errorResponse(req.id, ModernErrorCodes.HeaderMismatch, mismatch));
      return;
    }
    if (req.method === 'server/discover') {
      sendJson(ctx.res, 200, { jsonrpc: '2.0', id: req.id, result: this.discover() });
      return;
    }
    if (req.method === 'initialize' || req.method === 'ping' || req.method === 'logging/setLevel') {
      sendJson(ctx.res, 404, errorResponse(req.id, ErrorCodes.MethodNotFound, `${req.method} is not part of protocol ${version}.`));
      return;
    }
    await this.forward(ctx, req);
  }

  private headerMismatch(ctx: ProxyContext, req: JsonRpcRequest, version: string): string | undefined {
    const meta = req.params?.['_meta'] as Record<string, unknown> | undefined;
    if (meta?.[META_VERSION] !== version) return `MCP-Protocol-Version header (${version}) does not match _meta["${META_VERSION}"].`;
    const method = ctx.req.headers['mcp-method'];
    if (typeof method !== 'string' || decodeHeaderValue(method) !== req.method) return 'Mcp-Method header is missing or does not match the body.';
    const source = NAME_SOURCE[req.method];
    if (source) {
      const name = ctx.req.headers['mcp-name'];
      if (typeof name !== 'string' || decodeHeaderValue(name) !== req.params?.[source]) return 'Mcp-Name header is missing or does not match the body.';
    }
    return undefined;
  }

  private discover(): Record<string, unknown> {
    const init = this.mux.initializeResult;
    return {
      resultType: 'complete',
      supportedVersions: [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS],
      capabilities: init?.capabilities ?? {},
      serverInfo: init?.serverInfo,
      ...(init?.instructions ? { instructions: init.instructions } : {}),
      _meta: { [META_SERVER_INFO]: init?.serverInfo },
    };
  }

  /** One request through an ephemeral session of the shared server; JSON unless notifications come first. */
  private forward(ctx: ProxyContext, req: JsonRpcRequest): Promise<void> {
    return new Promise<void>((resolve) => {
      const { res } = ctx;
      let streaming = false;
      let done = false;
      const wantsLogs = (req.params?.['_meta'] as Record<string, unknown> | undefined)?.[META_LOG_LEVEL] !== undefined;
      const finish = () => {
        if (done) return;
        done = true;
        session.close();
        resolve();
      };
      const write = (m: JsonRpcMessage) => {
        if (!streaming) {
          streaming = true;
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
          res.flushHeaders();
        }
        res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
      };
      const session = this.mux.openSession({
        deliver: (m: JsonRpcMessage, _related?: JsonRpcId) => {
          if (done) return;
          if (isResponse(m)) {
            const out = 'result' in m ? { ...m, result: { resultType: 'complete', ...m.result } } : m;
            if (streaming) {
              write(out);
              res.end();
            } else {
              const notFound = 'error' in m && m.error.code === ErrorCodes.MethodNotFound;
              sendJson(res, notFound ? 404 : 200, out);
            }
            finish();
          } else if (isNotification(m) && (m.method === 'notifications/progress' || (m.method === 'notifications/message' && wantsLogs))) {
            // Only request-scoped notifications belong on a request's stream; log lines only when asked for.
            write(m);
          }
          // Requests from the server cannot be sent on this wire (MRTR); the session declares no capabilities, so none arrive.
        },
        terminate: (reason) => {
          if (done) return;
          if (streaming) {
            write(errorResponse(req.id, ErrorCodes.ConnectionClosed, reason));
            res.end();
          } else sendJsonRpcError(res, 503, ErrorCodes.ConnectionClosed, reason, req.id);
          finish();
        },
      });
      res.on('close', () => {
        // The client closed the stream: that is the cancellation signal of this wire.
        if (!done) finish();
      });
      try {
        session.handle(req);
      } catch (err) {
        this.opts.onError?.(err as Error);
        if (!res.headersSent) sendJsonRpcError(res, 500, ErrorCodes.InternalError, 'Internal proxy error.', req.id);
        finish();
      }
    });
  }
}
