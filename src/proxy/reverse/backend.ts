import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { sendJson, sendJsonRpcError } from '../http-util.js';
import { ErrorCodes, isJsonRpcId, wireHeaderMismatch, wireHeadersFor, type JsonRpcId } from '../../mcp/index.js';
import type { CallerIdentity, ProxyContext } from '../pipeline/index.js';
import type { McpBackend, ProxyLog } from '../types.js';
import { relayJson, relaySse, type RelayExchange } from './response-relay.js';
import { ReverseSessions, type LegacySession } from './sessions.js';

/**
 * The caller's request headers the upstream gets (an allow-list, so no credential header is ever
 * forgotten: Authorization, Cookie, Proxy-Authorization, X-Api-Key, ... never pass). Mcp-Param-* pass
 * too: the 2026-07-28 wire says intermediaries must forward them (the server checks them against the body).
 */
const FORWARDED_REQUEST_HEADERS = new Set(['accept', 'user-agent', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'x-request-id', 'traceparent', 'tracestate']);
const PARAM_HEADER = /^mcp-param-/;
/** Upstream response headers that never reach the caller (hop-by-hop, recomputed, or cookies). */
/**
 * The server's WWW-Authenticate never reaches a caller either: the caller signs in to Gatehouse, not to
 * the server, and a challenge would send it into an OAuth dance of its own that cannot succeed.
 */
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'www-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'content-type', 'content-encoding', 'set-cookie', 'set-cookie2', 'location']);
/** Same-origin 307/308 redirects are followed (the body resent) this many times; others are refused. */
const MAX_REDIRECTS = 3;

/** 2026-07-28 protocol versions: requests on that wire must carry Mcp-Method (and Mcp-Name). */
const MODERN_VERSIONS = new Set(['2026-07-28']);

export interface ReverseTarget {
  host: string;
  port: number;
  /** The Host header the server sees (default host:port): its own view of where it listens. */
  hostHeader?: string;
  /** A remote server: https (http only on loopback), its MCP endpoint's path, the address rule. */
  remote?: RemoteTarget;
  /** The server's credentials (a remote's sign-in or bearer token) and configured headers. */
  credentials?: UpstreamCredentials;
}

export interface RemoteTarget {
  tls: boolean;
  /** The remote MCP endpoint's path and query: the proxy's own endpoint path maps to it. */
  path: string;
  /** The proxy's endpoint path (/mcp or /sse): other paths are not the server's. */
  localPath: string;
  /** Refuses addresses the remote may not resolve to (private and link-local, unless allowed). */
  lookup?: net.LookupFunction;
}

/** Where the headers that carry the server's credentials come from, and where a refusal goes. */
export interface UpstreamCredentials {
  /**
   * Headers for the next request, for this caller (whose upstream token it may be); throws
   * CredentialsUnavailableError when there are none to give now.
   */
  headers(caller: CallerIdentity | undefined): Promise<Record<string, string>>;
  /**
   * The server answered 401 to what headers() gave. `first`: drop the token, a fresh one is tried once.
   * `again`: a fresh one was refused too: the sign-in is no good.
   */
  refused(attempt: 'first' | 'again', caller: CallerIdentity | undefined): Promise<void>;
  /** What the caller is told when a fresh credential was refused too. */
  refusedMessage(server: string): string;
  /**
   * The server answered 403 insufficient_scope naming these scopes. `stepUp`: a new sign-in can grant
   * them (the caller is told to retry after it); otherwise the refusal stands.
   */
  insufficientScope?(challenged: string[]): Promise<{ stepUp: boolean; message: string }>;
}

/**
 * This caller's request cannot be sent on (a token service refused the caller's token, or Gatehouse's
 * settings for it): a JSON-RPC error with this status and headers (a 401 carries a Bearer challenge).
 */
export class CredentialsRefusedError extends Error {
  constructor(
    message: string,
    readonly status: 401 | 403 | 502,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** No credentials can be had now: the caller gets a JSON-RPC error with 503 and Retry-After, never a 401. */
export class CredentialsUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The error and scope of a `WWW-Authenticate: Bearer` challenge, read by the MCP SDK's parser. */
function bearerChallenge(header: string | undefined): { error?: string; scope?: string } {
  if (!header) return {};
  const params = extractWWWAuthenticateParams(new Response(null, { headers: { 'www-authenticate': header } }));
  return { ...(params.error ? { error: params.error } : {}), ...(params.scope ? { scope: params.scope } : {}) };
}

function singleHeader(ctx: ProxyContext, name: string): string | undefined | null {
  const v = ctx.req.headers[name];
  if (Array.isArray(v)) return null;
  return v;
}

/**
 * Forwards MCP traffic to a server that speaks HTTP itself (SSE or Streamable HTTP) on a loopback
 * port. What reaches it is what was authorized: the canonical serialization of the parsed body as
 * application/json, the headers of an allow-list, Mcp-Method and Mcp-Name derived from the body, no
 * query string and no cookie. Sessions belong to the caller who started them. Answers are parsed
 * (JSON, or SSE event by event) and every message passes the request's tap before it is re-written.
 */
export class ReverseProxyBackend implements McpBackend {
  private readonly agent: http.Agent;
  private readonly sessions = new ReverseSessions();
  private readonly hostHeader: string;
  private inFlight = 0;

  constructor(
    private readonly target: ReverseTarget,
    private readonly opts: { log: ProxyLog; responseTimeoutMs?: number },
  ) {
    this.hostHeader = target.hostHeader ?? `${target.host}:${target.port}`;
    this.agent = target.remote?.tls ? new https.Agent({ keepAlive: true, maxSockets: 256 }) : new http.Agent({ keepAlive: true, maxSockets: 256 });
  }

  /** Where the upstream lives, as the server sees it (its endpoint events are read against it). */
  private get base(): string {
    return `${this.target.remote?.tls ? 'https' : 'http'}://${this.hostHeader}`;
  }

  handle(ctx: ProxyContext): Promise<void> {
    const owner = ctx.identity?.subject ?? '';
    const method = ctx.req.method ?? 'GET';
    const frame = ctx.request;
    const single = frame && !frame.batch ? frame.messages[0] : undefined;

    // Sessions are the caller's: an unknown one, or another caller's, is never forwarded.
    const sessionId = singleHeader(ctx, 'mcp-session-id');
    if (sessionId === null || (sessionId !== undefined && !this.sessions.owns(sessionId, owner))) {
      sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: initialize a new session.', single?.id ?? null);
      return Promise.resolve();
    }
    let legacy: { id: string; session: LegacySession } | undefined;
    const legacyId = ctx.url.searchParams.get('sessionId');
    if (method === 'POST' && legacyId !== null) {
      const session = this.sessions.legacySession(legacyId, owner);
      if (!session) {
        sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: open a new /sse stream.', single?.id ?? null);
        return Promise.resolve();
      }
      legacy = { id: legacyId, session };
    }

    // The 2026-07-28 wire repeats the method and name in headers: they must say what the body says.
    const version = singleHeader(ctx, 'mcp-protocol-version');
    const modern = typeof version === 'string' && MODERN_VERSIONS.has(version) && sessionId === undefined;
    const wire = modern || ctx.req.headers['mcp-method'] !== undefined || ctx.req.headers['mcp-name'] !== undefined;
    if (wire && frame) {
      const mismatch = single ? wireHeaderMismatch(ctx.req.headers, single, modern) : 'a batch cannot carry Mcp-Method or Mcp-Name.';
      if (mismatch) {
        sendJsonRpcError(ctx.res, 400, ErrorCodes.HeaderMismatch, mismatch, single?.id ?? null);
        return Promise.resolve();
      }
    }

    if (legacy && frame) {
      for (const m of frame.messages) {
        if (m.kind !== 'request') continue;
        if (!ReverseSessions.expect(legacy.session, m.id as JsonRpcId, m.method ?? '')) {
          sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, `Invalid Request: the id ${JSON.stringify(m.id)} is already waiting for an answer in this session.`, m.id ?? null);
          return Promise.resolve();
        }
      }
    }

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(ctx.req.headers)) {
      if (v !== undefined && (FORWARDED_REQUEST_HEADERS.has(k) || PARAM_HEADER.test(k))) headers[k] = v;
    }
    if (wire && single) Object.assign(headers, wireHeadersFor(single));
    headers['host'] = this.hostHeader;
    const body = frame ? Buffer.from(frame.canonical, 'utf8') : undefined;
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = body.length;
    }
    const remote = this.target.remote;
    if (remote && !legacy && ctx.url.pathname !== remote.localPath) {
      sendJsonRpcError(ctx.res, 404, ErrorCodes.InvalidRequest, `Not found: this server's MCP endpoint is ${remote.localPath}.`, single?.id ?? null);
      return Promise.resolve();
    }
    const firstPath = legacy ? legacy.session.upstreamEndpoint : remote ? remote.path : ctx.url.pathname;
    const requests = frame?.messages.filter((m) => m.kind === 'request') ?? [];
    const initializing = requests.some((m) => m.method === 'initialize');

    return new Promise<void>((resolve) => {
      this.inFlight++;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.inFlight--;
        resolve();
      };
      let legacyStream: { id: string; session: LegacySession } | undefined;
      const exchange: RelayExchange = {
        ctx,
        log: this.opts.log,
        unanswered: new Set(requests.map((m) => m.id).filter(isJsonRpcId)),
        answersOf: (id) => frame?.requestWithId(id)?.method ?? (legacyStream ? ReverseSessions.answered(legacyStream.session, id) : undefined),
        endpoint: (data) => this.mapEndpoint(data, owner, (opened) => (legacyStream = opened)),
      };

      const timeoutMs = this.opts.responseTimeoutMs ?? 60_000;
      const credentials = this.target.credentials;
      let upstream: http.ClientRequest | undefined;
      const failClosed = (status: number, code: number, message: string, extra: Record<string, string> = {}) => {
        this.opts.log('warn', message, { path: ctx.url.pathname });
        if (!ctx.res.headersSent) sendJson(ctx.res, status, { jsonrpc: '2.0', id: requests[0]?.id ?? null, error: { code, message } }, extra);
        else if (!ctx.res.writableEnded) ctx.res.end();
        if (legacyStream) this.sessions.closeLegacy(legacyStream.id);
        finish();
      };

      /** One attempt: `refusedOnce` after a 401 that a fresh token gets to answer, `hops` redirects so far. */
      const send = async (path: string, refusedOnce: boolean, hops: number): Promise<void> => {
        const sent: http.OutgoingHttpHeaders = { ...headers };
        if (credentials) {
          try {
            Object.assign(sent, await credentials.headers(ctx.identity));
          } catch (err) {
            if (err instanceof CredentialsUnavailableError) {
              return failClosed(503, ErrorCodes.ServerUnavailable, err.message, { 'retry-after': String(err.retryAfterSeconds) });
            }
            if (err instanceof CredentialsRefusedError) return failClosed(err.status, ErrorCodes.ServerUnavailable, err.message, err.headers);
            throw err;
          }
        }
        if (done) return;
        const request = remote?.tls ? https.request : http.request;
        const req = request(
          { host: this.target.host, port: this.target.port, method, path, headers: sent, agent: this.agent, ...(remote?.lookup ? { lookup: remote.lookup } : {}), ...(remote?.tls ? { servername: this.target.host } : {}) },
          (upRes) => void onResponse(upRes, path, refusedOnce, hops),
        );
        upstream = req;
        const headerTimer = setTimeout(() => req.destroy(new Error('timeout')), timeoutMs);
        headerTimer.unref();
        req.on('response', () => clearTimeout(headerTimer));
        req.on('error', (err: NodeJS.ErrnoException) => {
          clearTimeout(headerTimer);
          if (upstream !== req) return;
          const timedOut = err.message === 'timeout';
          const message = timedOut
            ? `The MCP server did not answer within ${Math.round(timeoutMs / 1000)} s.`
            : err.code === 'ECONNREFUSED'
              ? remote
                ? 'The MCP server is not accepting connections.'
                : 'The MCP server is not accepting connections (is its container running?).'
              : `The MCP server closed the connection: ${err.message}`;
          failClosed(timedOut ? 504 : 502, timedOut ? ErrorCodes.RequestTimeout : ErrorCodes.ConnectionClosed, message);
        });
        req.end(body);
      };

      const onResponse = async (upRes: http.IncomingMessage, path: string, refusedOnce: boolean, hops: number): Promise<void> => {
        const status = upRes.statusCode ?? 502;
        if (status === 401 && credentials) {
          // The caller never sees the server's 401: a fresh token gets one more try, then "sign in".
          upRes.resume();
          await credentials.refused(refusedOnce ? 'again' : 'first', ctx.identity);
          if (!refusedOnce) return send(path, true, hops);
          return failClosed(503, ErrorCodes.ServerUnavailable, credentials.refusedMessage(ctx.serverName), { 'retry-after': '10' });
        }
        if (status === 403 && credentials?.insufficientScope) {
          const challenge = bearerChallenge(upRes.headers['www-authenticate']);
          if (challenge.error === 'insufficient_scope') {
            // Step-up is Gatehouse's to do (the caller could not sign in anyway): the caller is told, never challenged.
            upRes.resume();
            const verdict = await credentials.insufficientScope(challenge.scope?.split(' ').filter(Boolean) ?? []);
            return verdict.stepUp
              ? failClosed(503, ErrorCodes.ServerUnavailable, verdict.message, { 'retry-after': '10' })
              : failClosed(403, ErrorCodes.ServerUnavailable, verdict.message);
          }
        }
        if (status >= 300 && status < 400 && status !== 304) {
          upRes.resume();
          const location = upRes.headers.location;
          let next: URL | undefined;
          try {
            next = location ? new URL(location, this.base + path) : undefined;
          } catch {
            next = undefined;
          }
          if (!next || next.origin !== new URL(this.base).origin) {
            return failClosed(502, ErrorCodes.ConnectionClosed, `The MCP server redirected to ${next ? next.origin : 'an unreadable location'}: redirects to another host are refused. If the server moved, update its URL.`);
          }
          if ((status !== 307 && status !== 308) || hops >= MAX_REDIRECTS) {
            return failClosed(502, ErrorCodes.ConnectionClosed, `The MCP server answered ${status} (a redirect to ${next.pathname}) that the proxy does not follow. If the server moved, update its URL.`);
          }
          return send(next.pathname + next.search, refusedOnce, hops + 1);
        }
        const upSession = upRes.headers['mcp-session-id'];
        if (typeof upSession === 'string' && status >= 200 && status < 300 && initializing) {
          if (!this.sessions.claim(upSession, owner)) {
            upRes.destroy();
            sendJsonRpcError(ctx.res, 502, ErrorCodes.ConnectionClosed, 'The MCP server handed out a session id that belongs to another caller.', requests[0]?.id ?? null);
            finish();
            return;
          }
        }
        if (sessionId !== undefined && (status === 404 || (method === 'DELETE' && status >= 200 && status < 300))) this.sessions.forget(sessionId);
        const outHeaders: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && !DROPPED_RESPONSE_HEADERS.has(k)) outHeaders[k] = v;
        const type = String(upRes.headers['content-type'] ?? '').toLowerCase();
        const onEnd = () => {
          if (legacyStream) this.sessions.closeLegacy(legacyStream.id);
          finish();
        };
        if (type.startsWith('text/event-stream')) return relaySse(upRes, status, outHeaders, exchange, onEnd);
        if (type.startsWith('application/json') || (type.includes('+json') && type.startsWith('application/'))) return relayJson(upRes, status, outHeaders, exchange, onEnd);
        // Neither JSON nor an event stream: fine for an empty 202 or an error page, never for an answer.
        if (status >= 200 && status < 300 && exchange.unanswered.size > 0 && status !== 202) {
          upRes.resume();
          this.opts.log('error', `The MCP server answered a request with ${type || 'no content type'}; failed closed.`, { path: ctx.url.pathname });
          sendJsonRpcError(ctx.res, 502, ErrorCodes.InternalError, "The MCP server's answer is neither JSON nor an event stream.", requests[0]?.id ?? null);
          onEnd();
          return;
        }
        ctx.res.writeHead(status, { ...outHeaders, ...(type ? { 'content-type': type } : {}) });
        upRes.pipe(ctx.res);
        upRes.on('end', onEnd);
        upRes.on('error', () => {
          ctx.res.end();
          onEnd();
        });
      };

      // A client that hangs up (or closes an SSE stream) ends the upstream exchange too.
      ctx.res.on('close', () => {
        if (!done) upstream?.destroy();
        if (legacyStream) this.sessions.closeLegacy(legacyStream.id);
        finish();
      });
      send(firstPath, false, 0).catch((err: unknown) => failClosed(502, ErrorCodes.InternalError, `The proxy could not reach the MCP server: ${(err as Error).message}`));
    });
  }

  /**
   * A legacy stream's `endpoint` event: the upstream's own endpoint is kept here, and the caller is told
   * the same path with a session id of the proxy's. An endpoint on another origin is refused.
   */
  private mapEndpoint(data: string, owner: string, opened: (s: { id: string; session: LegacySession }) => void): string | undefined {
    // Relative to the Host the server was told: an absolute endpoint it builds from it is its own.
    let url: URL;
    try {
      url = new URL(data.trim(), this.base);
    } catch {
      return undefined;
    }
    if (url.origin !== new URL(this.base).origin) return undefined;
    const id = this.sessions.openLegacy(owner, url.pathname + url.search);
    const session = this.sessions.legacySession(id, owner);
    if (!session) return undefined;
    opened({ id, session });
    return `${url.pathname}?sessionId=${id}`;
  }

  health(): Record<string, unknown> {
    return { inFlight: this.inFlight };
  }

  /** The server's port accepts a connection: sessions belong to callers, so no MCP message is sent. */
  probe(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: this.target.host, port: this.target.port, ...(this.target.remote?.lookup ? { lookup: this.target.remote.lookup } : {}) });
      const done = (ok: boolean) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
