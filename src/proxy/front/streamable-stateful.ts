import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { sendJsonRpcError } from '../http-util.js';
import { ErrorCodes, type JsonRpcMessage } from '../jsonrpc.js';
import type { ProxyContext } from '../middleware.js';
import { BoundedEventStore } from './event-store.js';
import type { BackendSession, SessionBackend } from './session-transport.js';

interface Entry {
  transport: StreamableHTTPServerTransport;
  session: BackendSession | undefined;
  subject: string | undefined;
  lastSeen: number;
  /** Sends are async (event store); chaining keeps their order and lets close wait for them. */
  sending: Promise<void>;
}

/**
 * Streamable HTTP, stateful era (2025-03-26 .. 2025-11-25): sessions, GET streams, DELETE, resumption.
 * The MCP SDK's server transport handles the wire (headers, SSE framing, priming events, replay);
 * no SDK Server object runs here: messages go straight to the backend session.
 */
export class StatefulStreamableFront {
  private readonly sessions = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly backend: SessionBackend,
    private readonly opts: { sessionTtlMs?: number; onError?: (err: Error) => void } = {},
  ) {
    const ttl = opts.sessionTtlMs ?? 2 * 60 * 60 * 1000;
    this.sweeper = setInterval(() => this.expireIdle(ttl), Math.min(ttl, 60_000));
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async handle(ctx: ProxyContext): Promise<void> {
    const sessionId = ctx.req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const entry = this.sessions.get(sessionId);
      if (!entry) {
        // The spec's signal to re-initialize.
        sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: initialize a new session.');
        return;
      }
      if (entry.subject !== undefined && ctx.identity && entry.subject !== ctx.identity.subject) {
        // A session id is not a credential: another principal cannot ride on it.
        sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: initialize a new session.');
        return;
      }
      entry.lastSeen = Date.now();
      await entry.transport.handleRequest(ctx.req, ctx.res, ctx.body);
      return;
    }
    if (ctx.req.method !== 'POST') {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.ConnectionClosed, 'Bad Request: Mcp-Session-Id header is required.');
      return;
    }
    const first = ctx.messages?.[0];
    const isInit = ctx.messages?.length === 1 && first !== undefined && 'method' in first && first.method === 'initialize' && 'id' in first;
    if (!isInit) {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.ConnectionClosed, 'Bad Request: Mcp-Session-Id header is required (or send initialize first).');
      return;
    }
    const entry = this.createEntry(ctx.identity?.subject);
    await entry.transport.handleRequest(ctx.req, ctx.res, ctx.body);
  }

  private createEntry(subject: string | undefined): Entry {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(),
      onsessioninitialized: (id) => {
        this.sessions.set(id, entry);
      },
      onsessionclosed: (id) => {
        this.drop(id);
      },
    });
    const entry: Entry = { transport, session: undefined, subject, lastSeen: Date.now(), sending: Promise.resolve() };
    const channel = {
      send: (message: JsonRpcMessage, relatedRequestId?: string | number) => {
        entry.sending = entry.sending
          .then(() => transport.send(message as JSONRPCMessage, relatedRequestId === undefined ? undefined : { relatedRequestId }))
          .catch((err: unknown) => this.opts.onError?.(err instanceof Error ? err : new Error(String(err))));
      },
      close: () => {
        // Let already-queued messages (such as the errors for pending requests) go out first.
        void entry.sending.then(() => {
          const id = transport.sessionId;
          if (id) this.drop(id);
        });
      },
    };
    transport.onmessage = (message) => {
      entry.session ??= this.backend.openSession(channel);
      entry.session.handle(message as JsonRpcMessage);
    };
    transport.onerror = (err) => this.opts.onError?.(err);
    void transport.start();
    return entry;
  }

  private drop(id: string): void {
    const entry = this.sessions.get(id);
    if (!entry) return;
    this.sessions.delete(id);
    entry.session?.close();
    void entry.transport.close();
  }

  private expireIdle(ttlMs: number): void {
    const cutoff = Date.now() - ttlMs;
    for (const [id, e] of this.sessions) if (e.lastSeen < cutoff) this.drop(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.drop(id);
  }
}
