import type { IncomingMessage } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { sendJson, sendJsonRpcError } from '../http-util.js';
import {
  errorResponse,
  ErrorCodes,
  isNotification,
  isResponse,
  wireHeaderMismatch,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type ParsedMessage,
} from '../../mcp/index.js';
import { sendMessages, writeMessageEvent, type ProxyContext } from '../pipeline/index.js';
import { isLogLevel, type StdioMultiplexer } from '../stdio/multiplexer.js';

/** Protocol revisions of the stateless ("modern") wire that this front speaks. */
export const MODERN_PROTOCOL_VERSIONS = ['2026-07-28'] as const;

const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
const META_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** Session-era methods the stateless wire removed; answering them would mislead the client. */
const REMOVED_METHODS = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);

/** List-like results the 2026-07-28 wire marks with caching hints. The proxy promises nothing: ttl 0, per-caller scope. */
const CACHEABLE_METHODS = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

interface SubscriptionFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  resourceSubscriptions?: string[];
}

/** Request-level checks of the stateless wire that come before comparing headers with the body. */
function invalidParams(req: JsonRpcRequest): string | undefined {
  const meta = req.params?.['_meta'];
  if (typeof meta !== 'object' || meta === null) return 'params._meta is required on every request of this protocol version.';
  const m = meta as Record<string, unknown>;
  if (typeof m[META_VERSION] !== 'string') return `params._meta["${META_VERSION}"] is required.`;
  if (typeof m[META_CAPABILITIES] !== 'object' || m[META_CAPABILITIES] === null) return `params._meta["${META_CAPABILITIES}"] is required.`;
  const inputResponses = req.params?.['inputResponses'];
  if (inputResponses !== undefined) {
    const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(inputResponses) || !Object.values(inputResponses as object).every(isObject)) {
      return 'params.inputResponses must be an object whose entries are input responses (objects).';
    }
  }
  if (req.method === 'subscriptions/listen' && (typeof req.params?.['notifications'] !== 'object' || req.params['notifications'] === null)) {
    return 'params.notifications (the subscription filter) is required.';
  }
  return undefined;
}

export const ModernErrorCodes = {
  HeaderMismatch: -32020,
  UnsupportedProtocolVersion: -32022,
} as const;

/** A POST is modern when it names a protocol version the legacy (session) wire does not know. */
export function isModernRequest(req: IncomingMessage): boolean {
  const v = req.headers['mcp-protocol-version'];
  return typeof v === 'string' && req.headers['mcp-session-id'] === undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(v);
}


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
    const messages = ctx.request?.messages ?? [];
    const parsed = messages[0];
    const msg = parsed?.message;
    const requestId = parsed?.kind === 'request' ? (parsed.id as JsonRpcId) : null;
    if (!(MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
      sendJson(ctx.res, 400, errorResponse(requestId, ModernErrorCodes.UnsupportedProtocolVersion, 'Unsupported protocol version', {
        supported: [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS],
        requested: version,
      }));
      return;
    }
    if (messages.length !== 1 || !parsed || !msg || isResponse(msg)) {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, 'The body must be a single JSON-RPC request or notification.');
      return;
    }
    if (isNotification(msg)) {
      // The stateless wire defines no client notifications over HTTP (closing a stream cancels).
      ctx.res.writeHead(202).end();
      return;
    }
    const req = msg as JsonRpcRequest;
    const invalid = invalidParams(req);
    if (invalid) {
      sendJson(ctx.res, 400, errorResponse(req.id, ErrorCodes.InvalidParams, invalid));
      return;
    }
    const mismatch = this.headerMismatch(ctx, req, parsed, version);
    if (mismatch) {
      sendJson(ctx.res, 400, errorResponse(req.id, ModernErrorCodes.HeaderMismatch, mismatch));
      return;
    }
    if (req.method === 'server/discover') {
      sendMessages(ctx.res, ctx.tap, 200, [{ jsonrpc: '2.0', id: req.id, result: this.discover() }], { batch: false, answers: () => req.method });
      return;
    }
    if (REMOVED_METHODS.has(req.method)) {
      sendJson(ctx.res, 404, errorResponse(req.id, ErrorCodes.MethodNotFound, `${req.method} is not part of protocol ${version}.`));
      return;
    }
    if (req.method === 'subscriptions/listen') return this.listen(ctx, req);
    await this.forward(ctx, req);
  }

  private headerMismatch(ctx: ProxyContext, req: JsonRpcRequest, parsed: ParsedMessage, version: string): string | undefined {
    const meta = req.params?.['_meta'] as Record<string, unknown>;
    if (meta[META_VERSION] !== version) return `MCP-Protocol-Version header (${version}) does not match _meta["${META_VERSION}"].`;
    return wireHeaderMismatch(ctx.req.headers, parsed, true);
  }

  /**
   * subscriptions/listen: a long-lived SSE stream of the change notifications the client opted in to,
   * acknowledged first with the subset the server can honour, each tagged with the subscription id.
   */
  private listen(ctx: ProxyContext, req: JsonRpcRequest): void {
    const filter = (req.params?.['notifications'] ?? {}) as SubscriptionFilter;
    const caps = (this.mux.initializeResult?.capabilities ?? {}) as Record<string, { listChanged?: boolean; subscribe?: boolean } | undefined>;
    const agreed: SubscriptionFilter = {};
    if (filter.toolsListChanged && caps['tools']?.listChanged) agreed.toolsListChanged = true;
    if (filter.promptsListChanged && caps['prompts']?.listChanged) agreed.promptsListChanged = true;
    if (filter.resourcesListChanged && caps['resources']?.listChanged) agreed.resourcesListChanged = true;
    const uris = caps['resources']?.subscribe && Array.isArray(filter.resourceSubscriptions) ? filter.resourceSubscriptions.filter((u) => typeof u === 'string') : [];
    if (uris.length > 0) agreed.resourceSubscriptions = uris;
    const wanted = (m: JsonRpcNotification): boolean => {
      if (m.method === 'notifications/tools/list_changed') return agreed.toolsListChanged === true;
      if (m.method === 'notifications/prompts/list_changed') return agreed.promptsListChanged === true;
      if (m.method === 'notifications/resources/list_changed') return agreed.resourcesListChanged === true;
      if (m.method === 'notifications/resources/updated') return uris.includes(String(m.params?.['uri']));
      return false;
    };
    const { res } = ctx;
    const tag = (params: Record<string, unknown> | undefined) => ({ ...params, _meta: { ...(params?.['_meta'] as object | undefined), [META_SUBSCRIPTION_ID]: req.id } });
    // Every event through the tap: an update of a resource the caller may no longer read is dropped then.
    const write = (m: JsonRpcMessage, answers?: string) => writeMessageEvent(res, ctx.tap, m, answers);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    write({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: tag({ notifications: agreed }) });
    let closed = false;
    const session = this.mux.openSession({
      deliver: (m) => {
        if (!closed && isNotification(m) && wanted(m)) write({ ...m, params: tag(m.params) });
      },
      terminate: () => {
        if (closed) return;
        // Graceful end of the subscription: its result carries the subscription id.
        write({ jsonrpc: '2.0', id: req.id, result: { resultType: 'complete', _meta: { [META_SUBSCRIPTION_ID]: req.id } } }, req.method);
        res.end();
        end();
      },
    });
    // Resource subscriptions ride on the shared upstream subscription of the multiplexer.
    uris.forEach((uri, i) => session.handle({ jsonrpc: '2.0', id: `listen-${String(req.id)}-${i}`, method: 'resources/subscribe', params: { uri } }));
    const keepAlive = setInterval(() => res.write(':\n\n'), 15_000);
    keepAlive.unref();
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      session.close();
    };
    res.on('close', end);
  }

  private discover(): Record<string, unknown> {
    const init = this.mux.initializeResult;
    return {
      resultType: 'complete',
      ttlMs: 0,
      cacheScope: 'private',
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
      const logLevel = (req.params?.['_meta'] as Record<string, unknown> | undefined)?.[META_LOG_LEVEL];
      const wantsLogs = logLevel !== undefined;
      const finish = () => {
        if (done) return;
        done = true;
        session.close();
        resolve();
      };
      const write = (m: JsonRpcMessage, answers?: string) => {
        if (!streaming) {
          streaming = true;
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
          res.flushHeaders();
        }
        writeMessageEvent(res, ctx.tap, m, answers);
      };
      const session = this.mux.openSession({
        deliver: (m: JsonRpcMessage, _related?: JsonRpcId) => {
          if (done) return;
          if (isResponse(m)) {
            const hints = CACHEABLE_METHODS.has(req.method) ? { ttlMs: 0, cacheScope: 'private' } : {};
            const out = 'result' in m ? { ...m, result: { resultType: 'complete', ...hints, ...m.result } } : m;
            if (streaming) {
              write(out, req.method);
              res.end();
            } else {
              const notFound = 'error' in m && m.error.code === ErrorCodes.MethodNotFound;
              sendMessages(res, ctx.tap, notFound ? 404 : 200, [out], { batch: false, answers: () => req.method });
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
            write(errorResponse(req.id, ErrorCodes.ConnectionClosed, reason), req.method);
            res.end();
          } else sendJsonRpcError(res, 503, ErrorCodes.ConnectionClosed, reason, req.id);
          finish();
        },
      });
      // A session without a level of its own takes no log lines (and does not make the server more verbose).
      if (isLogLevel(logLevel)) session.setLogLevel(logLevel);
      else session.logLevel = 'emergency';
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
