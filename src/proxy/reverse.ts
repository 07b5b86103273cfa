import http from 'node:http';
import { sendJsonRpcError } from './http-util.js';
import { ErrorCodes, isRequest } from './jsonrpc.js';
import type { ProxyContext } from './middleware.js';
import type { McpBackend, ProxyLog } from './types.js';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  // Never pass the caller's credentials to the MCP server (the spec's token-passthrough ban).
  'authorization', 'content-length',
  // Loopback gains nothing from compression, and compressed answers could not be filtered by authorization.
  'accept-encoding',
]);

export interface ReverseTarget {
  host: string;
  port: number;
}

/**
 * Forwards MCP traffic to a server that speaks HTTP itself (SSE or Streamable HTTP) on a loopback port.
 * Bodies were already read and checked by the middleware; responses stream through chunk by chunk so
 * SSE events reach the client as the server writes them.
 */
export class ReverseProxyBackend implements McpBackend {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private inFlight = 0;

  constructor(
    private readonly target: ReverseTarget,
    private readonly opts: { log: ProxyLog; responseTimeoutMs?: number },
  ) {}

  handle(ctx: ProxyContext): Promise<void> {
    return new Promise<void>((resolve) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(ctx.req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      headers['host'] = `${this.target.host}:${this.target.port}`;
      if (ctx.rawBody) headers['content-length'] = ctx.rawBody.length;
      const pendingRequest = ctx.messages?.length === 1 && ctx.messages[0] && isRequest(ctx.messages[0]) ? ctx.messages[0] : undefined;

      this.inFlight++;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.inFlight--;
        resolve();
      };

      const upstream = http.request(
        {
          host: this.target.host,
          port: this.target.port,
          method: ctx.req.method,
          path: ctx.url.pathname + ctx.url.search,
          headers,
          agent: this.agent,
        },
        (upRes) => {
          clearTimeout(headerTimer);
          const outHeaders: http.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) outHeaders[k] = v;
          const isStream = String(upRes.headers['content-type'] ?? '').startsWith('text/event-stream');
          if (isStream) outHeaders['x-accel-buffering'] = 'no';
          else if (upRes.headers['content-length'] !== undefined) outHeaders['content-length'] = upRes.headers['content-length'];
          ctx.res.writeHead(upRes.statusCode ?? 502, outHeaders);
          // A GET stream may stay silent for minutes: the client must see its headers at once. A POST
          // stream answers right away, so its headers leave with the first event in one packet.
          if (isStream && ctx.req.method === 'GET') ctx.res.flushHeaders();
          // Chunks that arrive together (an event and the stream's end, typically) leave together:
          // one write and one wake-up of the client instead of one per chunk.
          let corked = false;
          const uncork = () => {
            corked = false;
            ctx.res.uncork();
          };
          upRes.on('data', (chunk: Buffer) => {
            if (!corked) {
              corked = true;
              ctx.res.cork();
              process.nextTick(uncork);
            }
            ctx.res.write(chunk);
          });
          upRes.on('end', () => {
            ctx.res.end();
            finish();
          });
          upRes.on('error', () => {
            // The server died mid-stream: tell a waiting request so instead of leaving it hanging.
            if (isStream && pendingRequest && !ctx.res.writableEnded) {
              const err = { jsonrpc: '2.0', id: pendingRequest.id, error: { code: ErrorCodes.ConnectionClosed, message: 'The MCP server closed the connection before answering.' } };
              ctx.res.write(`event: message\ndata: ${JSON.stringify(err)}\n\n`);
            }
            ctx.res.end();
            finish();
          });
        },
      );
      const timeoutMs = this.opts.responseTimeoutMs ?? 60_000;
      const headerTimer = setTimeout(() => {
        upstream.destroy(new Error('timeout'));
      }, timeoutMs);
      headerTimer.unref();

      upstream.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(headerTimer);
        if (!ctx.res.headersSent) {
          const timedOut = err.message === 'timeout';
          const status = timedOut ? 504 : 502;
          const message = timedOut
            ? `The MCP server did not answer within ${Math.round(timeoutMs / 1000)} s.`
            : err.code === 'ECONNREFUSED'
              ? 'The MCP server is not accepting connections (is its container running?).'
              : `The MCP server closed the connection: ${err.message}`;
          this.opts.log('warn', message, { path: ctx.url.pathname });
          sendJsonRpcError(ctx.res, status, timedOut ? ErrorCodes.RequestTimeout : ErrorCodes.ConnectionClosed, message, pendingRequest?.id ?? null);
        } else {
          ctx.res.end();
        }
        finish();
      });
      // A client that hangs up (or closes an SSE stream) ends the upstream exchange too.
      ctx.res.on('close', () => {
        if (!done) upstream.destroy();
        finish();
      });

      if (ctx.rawBody) upstream.end(ctx.rawBody);
      else if (ctx.req.method === 'GET' || ctx.req.method === 'HEAD' || ctx.req.method === 'DELETE') upstream.end();
      else ctx.req.pipe(upstream);
    });
  }

  health(): Record<string, unknown> {
    return { upstream: `http://${this.target.host}:${this.target.port}`, inFlight: this.inFlight };
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
