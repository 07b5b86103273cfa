import { GenerationalCache } from '../common/index.js';
import type { AuthzMark, Middleware, ProxyContext } from '../proxy/pipeline/index.js';
import type { AuditConfig } from './config.js';
import { buildAuditEvent, classifyRequest, clientInfoOf, shouldAuditRequest, type ApplicationError, type AuditEvent } from './event.js';

const MAX_SESSIONS_REMEMBERED = 1024;

export interface AuditLayerOptions {
  config: AuditConfig;
  /** The proxy's client-facing transport (`sse` for the legacy SSE front, anything else is `http`). */
  transport: 'http' | 'sse' | string;
  /** `decision`: what authorization decided for the request and for whom (never part of the event itself). */
  emit: (event: AuditEvent, decision?: { authz: AuthzMark; claims: Readonly<Record<string, unknown>> | undefined }) => void;
  /** Called if building or emitting an event throws (the request itself is never affected). */
  onError?: (err: unknown) => void;
}

function isStreamOpen(ctx: ProxyContext): boolean {
  return ctx.req.method === 'GET' && /text\/event-stream/i.test(String(ctx.req.headers.accept ?? ''));
}

/**
 * The audit layer, a plug-in of the proxy pipeline: one event per HTTP request, emitted when the
 * response finishes (or when the client leaves), or, for a GET that opens an event stream, when the
 * response headers go out. It reads the request's parsed messages (what authorization decided on and
 * the backend forwarded) and observes the messages written back through the request's response tap:
 * the first JSON-RPC error of a 2xx answer is its application error. Placed after the request guard
 * and before authentication, so 401s and 403s are audited as `denied`.
 */
export function auditLayer(opts: AuditLayerOptions): Middleware {
  const { config } = opts;
  if (config.enabled === false) return (_ctx, next) => next();
  // clientInfo per MCP session, so later events of the session carry the client's name.
  const sessions = new GenerationalCache<string, { name?: string; version?: string }>(MAX_SESSIONS_REMEMBERED);

  return async (ctx, next) => {
    const started = performance.now();
    const streamOpen = isStreamOpen(ctx);
    const sessionHeader = ctx.req.headers['mcp-session-id'];
    const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;
    const tap = ctx.tap;
    let applicationError: ApplicationError | undefined;
    let done = false;

    const finish = (disconnected: boolean): void => {
      if (done) return;
      done = true;
      try {
        const status = ctx.res.headersSent ? ctx.res.statusCode : disconnected ? 499 : ctx.res.statusCode;
        const messages = ctx.request?.messages;
        const classified = classifyRequest({ httpMethod: ctx.req.method ?? 'GET', path: ctx.url.pathname, messages, transport: opts.transport, streamOpen });
        const ok = status >= 200 && status < 300;
        const client = sessionId ? sessions.get(sessionId) : undefined;
        // Remember the client of a new session, forget it when the session ends.
        if (ok && messages?.[0]?.method === 'initialize') {
          const info = clientInfoOf(messages);
          const sid = tap.sessionId ?? sessionId;
          if (info && sid) sessions.set(sid, info);
        } else if (ok && ctx.req.method === 'DELETE' && sessionId) {
          sessions.delete(sessionId);
        }
        if (!shouldAuditRequest(config, classified)) return;
        const event = buildAuditEvent({
          config,
          transport: opts.transport,
          httpMethod: ctx.req.method ?? 'GET',
          path: ctx.url.pathname,
          headers: ctx.req.headers,
          remoteAddress: ctx.req.socket?.remoteAddress,
          status,
          messages,
          identity: ctx.identity,
          authz: ctx.authz,
          client,
          durationMs: performance.now() - started,
          responseBytes: tap.bytes,
          streamOpen,
          applicationError: config.detectApplicationErrors && ok ? applicationError : undefined,
          requestBody: config.includeRequestData && ctx.request ? Buffer.from(ctx.request.canonical, 'utf8') : undefined,
          responseBody: config.includeResponseData ? tap.capturedBody() : undefined,
          clientDisconnected: disconnected && !streamOpen,
          serverName: ctx.serverName,
        });
        opts.emit(event, ctx.authz ? { authz: ctx.authz, claims: ctx.identity?.claims } : undefined);
      } catch (err) {
        opts.onError?.(err);
      }
    };

    if (!streamOpen) {
      if (config.detectApplicationErrors) {
        tap.addObserver((m) => {
          if (applicationError === undefined && 'error' in m) applicationError = { code: m.error.code, message: m.error.message };
        });
      }
      if (config.includeResponseData) tap.capture(config.maxDataSize + 1);
    } else {
      tap.onHeaders(() => finish(false));
    }
    ctx.res.once('finish', () => finish(false));
    ctx.res.once('close', () => finish(!ctx.res.writableFinished));
    return next();
  };
}
