import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { sendJsonRpcError } from '../http-util.js';
import { ErrorCodes, type JsonRpcMessage } from '../../mcp/index.js';
import type { ProxyContext } from '../pipeline/index.js';
import type { BackendSession, SessionBackend } from './session-transport.js';

interface LegacySession {
  transport: SSEServerTransport;
  /** The GET /sse request: every message of the session is written on its response, through its tap. */
  stream: ProxyContext;
  session: BackendSession | undefined;
  subject: string | undefined;
  sending: Promise<void>;
}

/**
 * The deprecated HTTP+SSE transport (2024-11-05): GET /sse opens the stream and names the POST
 * endpoint; POST /messages?sessionId=... carries client messages. Still what some clients speak.
 * Answers travel on the stream, so they pass the stream's tap at the moment they are written: list
 * answers are filtered with the policies in force then, whichever endpoint the request came in on.
 */
export class LegacySseFront {
  private readonly sessions = new Map<string, LegacySession>();

  constructor(
    private readonly backend: SessionBackend,
    private readonly messagesPath = '/messages',
    private readonly opts: { onError?: (err: Error) => void } = {},
  ) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  async openStream(ctx: ProxyContext): Promise<void> {
    const transport = new SSEServerTransport(this.messagesPath, ctx.res);
    const entry: LegacySession = { transport, stream: ctx, session: undefined, subject: ctx.identity?.subject, sending: Promise.resolve() };
    const channel = {
      send: (original: JsonRpcMessage, _related?: unknown, answers?: string) => {
        const message = ctx.tap.outgoing(original, answers);
        if (message === undefined) return;
        entry.sending = entry.sending
          .then(() => transport.send(message as JSONRPCMessage))
          .catch((err: unknown) => this.opts.onError?.(err instanceof Error ? err : new Error(String(err))));
      },
      close: () => {
        void entry.sending.then(() => transport.close());
      },
    };
    transport.onmessage = (message) => {
      entry.session ??= this.backend.openSession(channel);
      entry.session.handle(message as JsonRpcMessage);
    };
    transport.onclose = () => {
      this.sessions.delete(transport.sessionId);
      entry.session?.close();
    };
    this.sessions.set(transport.sessionId, entry);
    // Keep idle streams alive through intermediaries and detect dead clients.
    const keepAlive = setInterval(() => ctx.res.write(': keep-alive\n\n'), 25_000);
    keepAlive.unref();
    ctx.res.on('close', () => clearInterval(keepAlive));
    await transport.start();
  }

  async postMessage(ctx: ProxyContext): Promise<void> {
    const id = ctx.url.searchParams.get('sessionId');
    const entry = id ? this.sessions.get(id) : undefined;
    // A session id is not a credential: another principal gets the same answer as for an unknown id.
    if (!entry || (entry.subject !== undefined && ctx.identity && entry.subject !== ctx.identity.subject)) {
      sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: open a new /sse stream.');
      return;
    }
    const frame = ctx.request;
    if (!frame) {
      sendJsonRpcError(ctx.res, 400, ErrorCodes.InvalidRequest, 'Invalid Request: the body must be a JSON-RPC message.');
      return;
    }
    // The parsed message itself, never the caller's bytes (the SDK would decode those by their charset).
    const body = frame.batch ? frame.messages.map((m) => m.message) : frame.messages[0]?.message;
    await entry.transport.handlePostMessage(ctx.req, ctx.res, body);
  }

  close(): void {
    for (const e of this.sessions.values()) void e.transport.close();
    this.sessions.clear();
  }
}
