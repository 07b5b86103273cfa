import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { sendJsonRpcError } from '../http-util.js';
import { ErrorCodes, type JsonRpcMessage } from '../jsonrpc.js';
import type { ProxyContext } from '../middleware.js';
import type { BackendSession, SessionBackend } from './session-transport.js';

/**
 * The deprecated HTTP+SSE transport (2024-11-05): GET /sse opens the stream and names the POST
 * endpoint; POST /messages?sessionId=... carries client messages. Still what some clients speak.
 */
export class LegacySseFront {
  private readonly sessions = new Map<
    string,
    { transport: SSEServerTransport; session: BackendSession | undefined; subject: string | undefined; transforms: Map<string, (m: JsonRpcMessage) => JsonRpcMessage> }
  >();

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
    const entry = {
      transport,
      session: undefined as BackendSession | undefined,
      subject: ctx.identity?.subject,
      sending: Promise.resolve(),
      transforms: new Map<string, (m: JsonRpcMessage) => JsonRpcMessage>(),
    };
    const channel = {
      send: (original: JsonRpcMessage) => {
        // Answers a layer asked to rewrite (authorization's list filter) are rewritten on their way out.
        const key = 'id' in original && !('method' in original) ? JSON.stringify(original.id) : undefined;
        const transform = key !== undefined ? entry.transforms.get(key) : undefined;
        if (transform) entry.transforms.delete(key!);
        const message = transform ? transform(original) : original;
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
    if (!entry || (entry.subject !== undefined && ctx.identity && entry.subject !== ctx.identity.subject)) {
      sendJsonRpcError(ctx.res, 404, ErrorCodes.ConnectionClosed, 'Session not found: open a new /sse stream.');
      return;
    }
    if (ctx.answerTransform) {
      // Bounded: a client that never waits for its answers cannot grow this without limit.
      if (entry.transforms.size >= 1_000) entry.transforms.delete(entry.transforms.keys().next().value as string);
      entry.transforms.set(JSON.stringify(ctx.answerTransform.id), ctx.answerTransform.apply);
    }
    await entry.transport.handlePostMessage(ctx.req, ctx.res, ctx.body);
  }

  close(): void {
    for (const e of this.sessions.values()) void e.transport.close();
    this.sessions.clear();
  }
}
