import { randomUUID } from 'node:crypto';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { sendJsonRpcError } from '../http-util.js';
import { ErrorCodes, isResponse, type JsonRpcId, type JsonRpcMessage } from '../../mcp/index.js';
import { sendMessages, writeMessageEvent, type ProxyContext } from '../pipeline/index.js';
import type { BackendSession, SessionBackend } from './session-transport.js';

/**
 * Streamable HTTP, session era (2025-03-26 .. 2025-11-25), written for the proxy's hot path.
 *
 * Why not the SDK's server transport here: measured (BENCHMARKS.md), it converts every request to a Web
 * Request through @hono/node-server, re-validates the body with zod, and always answers with an SSE stream,
 * which the client then parses; together that was most of the proxy's CPU per call. This front answers a
 * request with plain JSON when the server's reply comes first, and switches that POST to an SSE stream
 * only when the server sends something related before the reply (progress, logs, sampling), so nothing is
 * lost and simple calls stay cheap. Sessions, GET streams (with Last-Event-ID replay), DELETE and protocol
 * version checks follow the spec; the SDK's constants and the conformance suite keep it honest.
 *
 * Every message goes out through the tap of the HTTP request it is written on (a POST's own, or the GET
 * stream's, at the time it is written), so authorization filters it with the policies in force then.
 */

interface PendingPost {
  ctx: ProxyContext;
  waiting: Set<JsonRpcId>;
  replies: { message: JsonRpcMessage; answers: string | undefined }[];
  batch: boolean;
  sse: boolean;
  done: boolean;
}

interface Session {
  id: string;
  subject: string | undefined;
  backend: BackendSession | undefined;
  lastSeen: number;
  protocolVersion: string | undefined;
  /** Which open POST each in-flight client request belongs to. */
  posts: Map<JsonRpcId, PendingPost>;
  standalone: ProxyContext | undefined;
  /** Messages sent on the standalone stream, for Last-Event-ID replay; bounded. */
  log: { id: number; message: JsonRpcMessage }[];
  nextEventId: number;
}

const MAX_REPLAY = 256;

function accepts(header: string | undefined, type: string): boolean {
  return (header ?? '').split(',').some((part) => {
    const t = part.split(';')[0]?.trim().toLowerCase();
    return t === type || t === '*/*';
  });
}

function sseHeaders(sessionId: string): Record<string, string> {
  return { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no', 'mcp-session-id': sessionId };
}


export class LeanStreamableFront {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly backend: SessionBackend,
    private readonly opts: { sessionTtlMs?: number; keepAliveMs?: number } = {},
  ) {
    const ttl = opts.sessionTtlMs ?? 2 * 60 * 60 * 1000;
    this.sweeper = setInterval(() => {
      const cutoff = Date.now() - ttl;
      for (const s of this.sessions.values()) if (s.lastSeen < cutoff && !s.standalone) this.drop(s);
    }, Math.min(ttl, 60_000));
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async handle(ctx: ProxyContext): Promise<void> {
    const method = ctx.req.method;
    if (method === 'POST') return this.post(ctx);
    if (method === 'GET') return this.get(ctx);
    if (method === 'DELETE') return this.delete(ctx);
    ctx.res.writeHead(405, { allow: 'GET, POST, DELETE', 'content-type': 'application/json' });
    ctx.res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: ErrorCodes.ConnectionClosed, message: 'Method not allowed.' } }));
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) this.drop(s);
  }

  // ---- requests -------------------------------------------------------------------------------

  private post(ctx: ProxyContext): void {
    const { req, res } = ctx;
    const accept = req.headers.accept;
    if (!accepts(accept, 'application/json') || !accepts(accept, 'text/event-stream')) {
      sendJsonRpcError(res, 406, ErrorCodes.ConnectionClosed, 'Not Acceptable: the client must accept both application/json and text/event-stream.');
      return;
    }
    const parsed = ctx.request?.messages ?? [];
    const messages = parsed.map((m) => m.message);
    const initialize = parsed.find((m) => m.kind === 'request' && m.method === 'initialize');
    let session: Session | undefined;
    if (initialize) {
      if (messages.length > 1) {
        sendJsonRpcError(res, 400, ErrorCodes.InvalidRequest, 'Invalid Request: initialize must be sent on its own.');
        return;
      }
      if (req.headers['mcp-session-id'] !== undefined) {
        sendJsonRpcError(res, 400, ErrorCodes.InvalidRequest, 'Invalid Request: this session is already initialized.');
        return;
      }
      session = this.open(ctx.identity?.subject);
    } else {
      session = this.sessionFor(ctx);
      if (!session) return;
      const version = req.headers['mcp-protocol-version'];
      if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
        sendJsonRpcError(res, 400, ErrorCodes.ConnectionClosed, `Bad Request: unsupported protocol version ${version} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}).`);
        return;
      }
    }
    session.lastSeen = Date.now();
    const requests = parsed.filter((m) => m.kind === 'request');
    if (requests.length === 0) {
      for (const m of messages) this.backendOf(session).handle(m);
      res.writeHead(202, { 'mcp-session-id': session.id }).end();
      return;
    }
    const post: PendingPost = { ctx, waiting: new Set(requests.map((r) => r.id as JsonRpcId)), replies: [], batch: ctx.request?.batch === true, sse: false, done: false };
    for (const id of post.waiting) session.posts.set(id, post);
    res.on('close', () => {
      // The client went away: replies for this POST have nowhere to go (a disconnect is not a cancellation).
      for (const id of post.waiting) if (session!.posts.get(id) === post) session!.posts.delete(id);
      post.done = true;
    });
    if (initialize) session.protocolVersion = String(initialize.params?.['protocolVersion'] ?? '');
    for (const m of messages) this.backendOf(session).handle(m);
  }

  /** A message from the server side for this session's client. */
  private deliver(session: Session, message: JsonRpcMessage, relatedRequestId?: JsonRpcId, answers?: string): void {
    if (isResponse(message)) {
      const id = message.id ?? undefined;
      const post = id !== undefined ? session.posts.get(id) : undefined;
      if (!post) return; // its POST is gone: nobody can receive it
      session.posts.delete(id!);
      post.waiting.delete(id!);
      if (post.done) return;
      if (post.sse) {
        writeMessageEvent(post.ctx.res, post.ctx.tap, message, answers);
        if (post.waiting.size === 0) this.finish(post);
        return;
      }
      post.replies.push({ message, answers });
      if (post.waiting.size === 0) {
        post.done = true;
        const byMessage = new Map(post.replies.map((r) => [r.message, r.answers]));
        sendMessages(post.ctx.res, post.ctx.tap, 200, post.replies.map((r) => r.message), { batch: post.batch, answers: (m) => byMessage.get(m), headers: { 'mcp-session-id': session.id } });
      }
      return;
    }
    const post = relatedRequestId !== undefined ? session.posts.get(relatedRequestId) : undefined;
    if (post && !post.done) {
      // Something arrives before the reply: this POST becomes an SSE stream (earlier replies of a batch first).
      const { res, tap } = post.ctx;
      if (!post.sse) {
        post.sse = true;
        res.writeHead(200, sseHeaders(session.id));
        res.flushHeaders();
        res.socket?.setNoDelay(true);
        for (const r of post.replies) writeMessageEvent(res, tap, r.message, r.answers);
        post.replies = [];
      }
      writeMessageEvent(res, tap, message);
      return;
    }
    this.toStandalone(session, message);
  }

  private finish(post: PendingPost): void {
    post.done = true;
    post.ctx.res.end();
  }

  // ---- GET stream and DELETE -------------------------------------------------------------------

  private get(ctx: ProxyContext): void {
    const { req, res } = ctx;
    if (!accepts(req.headers.accept, 'text/event-stream')) {
      sendJsonRpcError(res, 406, ErrorCodes.ConnectionClosed, 'Not Acceptable: the client must accept text/event-stream.');
      return;
    }
    const session = this.sessionFor(ctx);
    if (!session) return;
    if (session.standalone) {
      sendJsonRpcError(res, 409, ErrorCodes.ConnectionClosed, 'Conflict: only one SSE stream is allowed per session.');
      return;
    }
    session.lastSeen = Date.now();
    res.writeHead(200, sseHeaders(session.id));
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    // Replayed messages are checked now, by the policies in force now, not when they were first sent.
    const last = Number(req.headers['last-event-id']);
    if (Number.isFinite(last)) for (const e of session.log) if (e.id > last) writeMessageEvent(res, ctx.tap, e.message, undefined, e.id);
    session.standalone = ctx;
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), this.opts.keepAliveMs ?? 25_000);
    keepAlive.unref();
    res.on('close', () => {
      clearInterval(keepAlive);
      if (session.standalone === ctx) session.standalone = undefined;
    });
  }

  private delete(ctx: ProxyContext): void {
    const session = this.sessionFor(ctx);
    if (!session) return;
    this.drop(session);
    ctx.res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }

  // ---- sessions -------------------------------------------------------------------------------

  private open(subject: string | undefined): Session {
    const session: Session = { id: randomUUID(), subject, backend: undefined, lastSeen: Date.now(), protocolVersion: undefined, posts: new Map(), standalone: undefined, log: [], nextEventId: 1 };
    this.sessions.set(session.id, session);
    return session;
  }

  private backendOf(session: Session): BackendSession {
    session.backend ??= this.backend.openSession({
      send: (m, rel, answers) => this.deliver(session, m, rel, answers),
      close: () => this.drop(session),
    });
    return session.backend;
  }

  /** The session named by the request, or an answer saying why there is none (already sent). */
  private sessionFor(ctx: ProxyContext): Session | undefined {
    const id = ctx.req.headers['mcp-session-id'];
    if (typeof id !== 'string') {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.ConnectionClosed, 'Bad Request: Mcp-Session-Id header is required (or send initialize first).');
      return undefined;
    }
    const session = this.sessions.get(id);
    // A session id is not a credential: another principal gets the same answer as for an unknown id.
    if (!session || (session.subject !== undefined && ctx.identity && session.subject !== ctx.identity.subject)) {
      sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: initialize a new session.');
      return undefined;
    }
    return session;
  }

  private toStandalone(session: Session, message: JsonRpcMessage): void {
    const id = session.nextEventId++;
    session.log.push({ id, message });
    if (session.log.length > MAX_REPLAY) session.log.shift();
    if (session.standalone) writeMessageEvent(session.standalone.res, session.standalone.tap, message, undefined, id);
  }

  private drop(session: Session): void {
    if (!this.sessions.delete(session.id)) return;
    session.backend?.close();
    for (const post of new Set(session.posts.values())) {
      if (post.done) continue;
      post.done = true;
      if (post.sse) post.ctx.res.end();
      else if (!post.ctx.res.headersSent) sendJsonRpcError(post.ctx.res, 404, ErrorCodes.ConnectionClosed, 'The session ended.');
    }
    session.posts.clear();
    session.standalone?.res.end();
  }
}
