import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAllowedHost, isAllowedOrigin, sendJson, sendJsonRpcError } from './http-util.js';
import { ErrorCodes } from '../mcp/index.js';
import { authenticationLayer, handleWellKnown, type AuthState } from '../auth/index.js';
import { localIdentityLayer, requestLogLayer } from './layers.js';
import { compose, PublicRoutes, requestGuard, ResponseTap, type Middleware, type ProxyContext } from './pipeline/index.js';
import type { McpBackend, ProxyLog } from './types.js';

export class PortInUseError extends Error {
  constructor(readonly port: number, readonly host: string) {
    super(`Port ${port} on ${host} is already in use by another program. Choose another with --proxy-port, or stop what uses it.`);
  }
}

export interface ProxyServerOptions {
  serverName: string;
  port: number;
  host?: string;
  transport: string;
  log: ProxyLog;
  allowedOrigins?: readonly string[];
  /** The server's current authentication settings (read on every request, so changes apply at once). */
  auth?: () => AuthState | { failure: string } | undefined;
  /** Extra layers (authorization) inserted between authentication and the transport. */
  layers?: readonly Middleware[];
  /** Layers that must see every request, including those authentication refuses (audit). */
  outerLayers?: readonly Middleware[];
}

/**
 * The per-server front door on 127.0.0.1:<stable port>. It outlives the server's container: while the
 * server is stopped it stays bound (so the port stays ours) and answers 503 with the reason.
 */
export class ProxyServer {
  private readonly http: http.Server;
  private backend: McpBackend | undefined;
  private state = 'stopped';
  private detail: string | undefined;
  private readonly chain: (ctx: ProxyContext) => Promise<void>;
  private readonly publicRoutes: PublicRoutes;
  readonly host: string;

  constructor(private readonly opts: ProxyServerOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.publicRoutes = new PublicRoutes()
      // Public metadata (RFC 9728): no authentication, but the same Host/Origin check as everything else.
      .add('/.well-known/', (req, res, url) => handleWellKnown(this.opts.auth?.(), req, res, url.pathname), { prefix: true })
      .add('/health', (req, res) => this.answerHealth(req, res));
    this.chain = compose([
      requestGuard(),
      ...(opts.outerLayers ?? []),
      requestLogLayer(opts.log),
      authenticationLayer(opts.auth ?? (() => undefined), localIdentityLayer()),
      ...(opts.layers ?? []),
      (ctx) => this.dispatch(ctx),
    ]);
    this.http = http.createServer((req, res) => this.onRequest(req, res));
    // Long-lived SSE streams must not be cut by Node's default timeouts.
    this.http.requestTimeout = 0;
    this.http.headersTimeout = 60_000;
    this.http.keepAliveTimeout = 65_000;
  }

  get port(): number {
    return (this.http.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.http.off('listening', onListening);
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(this.opts.port, this.host) : err);
      };
      const onListening = () => {
        this.http.off('error', onError);
        resolve();
      };
      this.http.once('error', onError);
      this.http.once('listening', onListening);
      this.http.listen(this.opts.port, this.host);
    });
  }

  /** Puts a backend in service (server running) or takes it out (undefined: stopped or failed). */
  async setBackend(backend: McpBackend | undefined, state: string, detail?: string): Promise<void> {
    const old = this.backend;
    this.backend = backend;
    this.state = state;
    this.detail = detail;
    if (old && old !== backend) await old.close();
  }

  setState(state: string, detail?: string): void {
    this.state = state;
    this.detail = detail;
  }

  /**
   * What /health tells any local caller: the state, never its detail (a failed start's detail holds the
   * container's last output lines, which may hold a token).
   */
  health(): Record<string, unknown> {
    return { server: this.opts.serverName, status: this.state, transport: this.opts.transport, ...(this.backend?.health() ?? {}) };
  }

  private answerHealth(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      sendJsonRpcError(res, 405, ErrorCodes.InvalidRequest, 'Method Not Allowed: /health answers GET.');
      return;
    }
    sendJson(res, this.state === 'running' ? 200 : 503, this.health());
  }

  async close(): Promise<void> {
    await this.setBackend(undefined, 'stopped');
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      sendJsonRpcError(res, 400, ErrorCodes.InvalidRequest, 'Bad request URL.');
      return;
    }
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends Host: evil.example. Checked
    // before anything answers, public routes included.
    if (!this.hostAllowed(req.headers.host) || !isAllowedOrigin(req.headers.origin, this.opts.allowedOrigins)) {
      sendJsonRpcError(res, 403, ErrorCodes.InvalidRequest, 'Forbidden: this MCP proxy only accepts requests from this machine (Host and Origin must be loopback).');
      req.resume();
      return;
    }
    const publicRoute = this.publicRoutes.find(url.pathname);
    if (publicRoute) {
      Promise.resolve(publicRoute(req, res, url)).catch((err: unknown) => this.failed(res, err));
      return;
    }
    const ctx: ProxyContext = { req, res, url, serverName: this.opts.serverName, receivedAt: Date.now(), tap: new ResponseTap(res) };
    this.chain(ctx).catch((err: unknown) => this.failed(res, err));
  }

  /**
   * A loopback Host, or the host of a resource URL the server's authentication settings name (the
   * guide's resourceUrl https://mcp.example.com, reached through a front): only a server that
   * authenticates every caller answers to a name that is not this machine's.
   */
  private hostAllowed(host: string | undefined): boolean {
    if (isAllowedHost(host)) return true;
    const st = host ? this.opts.auth?.() : undefined;
    return st !== undefined && !('failure' in st) && st.resourceUrls.some((u) => new URL(u).host === host!.toLowerCase());
  }

  private failed(res: http.ServerResponse, err: unknown): void {
    this.opts.log('error', `Proxy error: ${err instanceof Error ? err.message : String(err)}`);
    if (!res.headersSent) sendJsonRpcError(res, 500, ErrorCodes.InternalError, 'Internal proxy error.');
    else res.end();
  }

  private async dispatch(ctx: ProxyContext): Promise<void> {
    if (!this.backend) {
      const why = this.detail ? `: ${this.detail}` : '';
      // Only a server that stays down needs the user: one that is starting or stopping comes back by itself.
      const advice = this.state === 'starting' || this.state === 'stopping' ? ' Try again in a moment.' : ` Start it with: gatehouse start ${this.opts.serverName}`;
      sendJsonRpcError(ctx.res, 503, ErrorCodes.ServerUnavailable, `MCP server "${this.opts.serverName}" is ${this.state}${why}.${advice}`);
      return;
    }
    await this.backend.handle(ctx);
  }
}
