import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import {
  ErrorCodes,
  errorResponse,
  isNotification,
  isRequest,
  resultResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../mcp/index.js';

/**
 * One stdio MCP server shared by many client sessions.
 *
 * Design (documented in the README): the proxy owns the single upstream MCP session. It initializes
 * the server once, answers each client's `initialize` from that result, and forwards every other
 * message with request ids (and progress tokens) rewritten to values unique across sessions, so a
 * reply can only ever reach the session that asked. Server-to-client traffic is routed by what the
 * wire says (response ids, progress tokens, subscriptions); what stdio cannot say (which session a
 * sampling or elicitation request belongs to) goes to the session with the most recent request in
 * flight whose client declared the capability.
 */

export interface UpstreamChannel {
  send(message: JsonRpcMessage): void;
}

export interface SessionSink {
  /**
   * Delivers a message to the client. relatedRequestId names the client's request it belongs to, if any;
   * `answers`, for a response, the method of the request it answers (what authorization filters by).
   */
  deliver(message: JsonRpcMessage, relatedRequestId?: JsonRpcId, answers?: string): void;
  /** The upstream went away: the session is over and the client must re-initialize. */
  terminate(reason: string): void;
}

export interface InitializeResult extends Record<string, unknown> {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string } & Record<string, unknown>;
  instructions?: string;
}

export interface MultiplexerOptions {
  upstream: UpstreamChannel;
  requestTimeoutMs?: number;
  clientInfo?: { name: string; version: string };
  onWarning?: (message: string) => void;
}

interface PendingClientRequest {
  kind: 'client';
  session: MuxSession;
  clientId: JsonRpcId;
  method: string;
  progressToken?: { upstream: string; original: string | number };
  timer: NodeJS.Timeout;
  startedSeq: number;
}
interface PendingInternalRequest {
  kind: 'internal';
  method: string;
  resolve: (r: JsonRpcResponse) => void;
  timer: NodeJS.Timeout;
}
type Pending = PendingClientRequest | PendingInternalRequest;

/** Capabilities the proxy declares upstream: the union of what clients may offer, checked per session at routing time. */
const PROXY_CLIENT_CAPABILITIES = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

const CAPABILITY_FOR_METHOD: Record<string, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/** RFC 5424 severities as MCP names them, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v);
}

const severity = (level: LogLevel): number => LOG_LEVELS.indexOf(level);

export class StdioMultiplexer {
  private nextUpstreamId = 1;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly progressRoutes = new Map<string, PendingClientRequest>();
  /** Server-to-client requests in flight: server's id (as string key) -> session holding it. */
  private readonly serverRequests = new Map<string, { session: MuxSession; id: JsonRpcId }>();
  private readonly subscriptions = new Map<string, Set<MuxSession>>();
  readonly sessions = new Set<MuxSession>();
  private initResult: InitializeResult | undefined;
  private closedReason: string | undefined;
  /** The level last set on the server by the proxy; undefined while no session ever asked for one. */
  private upstreamLogLevel: LogLevel | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly opts: MultiplexerOptions) {
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
  }

  get initializeResult(): InitializeResult | undefined {
    return this.initResult;
  }
  get closed(): boolean {
    return this.closedReason !== undefined;
  }
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Performs the proxy's own initialize handshake. When the server refuses a second initialize
   * (the core re-attached to a server that an earlier core initialized), the stored result is used.
   */
  async initializeUpstream(stored?: InitializeResult, timeoutMs = 30_000): Promise<InitializeResult> {
    const response = await this.internalRequest(
      'initialize',
      {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: PROXY_CLIENT_CAPABILITIES,
        clientInfo: this.opts.clientInfo ?? { name: 'gatehouse-proxy', version: '0' },
      },
      timeoutMs,
    );
    if ('error' in response) {
      if (stored) {
        this.initResult = stored;
        return stored;
      }
      throw new Error(`The MCP server refused initialize: ${response.error.message} (code ${response.error.code})`);
    }
    const result = response.result as InitializeResult;
    if (typeof result.protocolVersion !== 'string' || typeof result.capabilities !== 'object') {
      throw new Error('The MCP server answered initialize without a protocolVersion or capabilities.');
    }
    this.initResult = result;
    this.opts.upstream.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return result;
  }

  /** Whether logging/setLevel is the proxy's to answer: the server declared logging (else it answers, and refuses). */
  get handlesLogLevels(): boolean {
    return this.initResult?.capabilities['logging'] !== undefined;
  }

  /**
   * A session's level applies to that session only: the server is set to the most verbose level any
   * session needs (a session that never asked needs everything, as a server sends by default), and each
   * session's notifications/message are filtered to its own level on the way out.
   * @internal
   */
  refreshLogLevel(): void {
    let wanted: LogLevel | undefined;
    for (const s of this.sessions) {
      const l = s.logLevel ?? 'debug';
      if (wanted === undefined || severity(l) < severity(wanted)) wanted = l;
    }
    const anyAsked = this.upstreamLogLevel !== undefined || [...this.sessions].some((s) => s.logLevel !== undefined);
    if (!anyAsked || wanted === undefined || wanted === this.upstreamLogLevel || this.closedReason !== undefined) return;
    this.upstreamLogLevel = wanted;
    void this.internalRequest('logging/setLevel', { level: wanted }, this.timeoutMs);
  }

  openSession(sink: SessionSink): MuxSession {
    const s = new MuxSession(this, sink);
    this.sessions.add(s);
    return s;
  }

  /** A frame from the server. */
  onUpstreamMessage(msg: JsonRpcMessage): void {
    if (isRequest(msg)) return this.routeServerRequest(msg);
    if (isNotification(msg)) return this.routeServerNotification(msg);
    this.routeServerResponse(msg);
  }

  /** The server's stdout closed (container exited, engine gone): nobody waits forever. */
  onUpstreamClosed(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      if (p.kind === 'internal') p.resolve(errorResponse(id, ErrorCodes.ConnectionClosed, reason));
      else p.session.sink.deliver(errorResponse(p.clientId, ErrorCodes.ConnectionClosed, reason), p.clientId, p.method);
    }
    this.progressRoutes.clear();
    this.serverRequests.clear();
    for (const s of [...this.sessions]) {
      this.sessions.delete(s);
      s.sink.terminate(reason);
    }
  }

  // ---- client -> server -------------------------------------------------------------------

  /** @internal used by MuxSession */
  forwardClientRequest(session: MuxSession, req: JsonRpcRequest): void {
    if (this.closedReason !== undefined) {
      session.sink.deliver(errorResponse(req.id, ErrorCodes.ServerUnavailable, this.closedReason), req.id, req.method);
      return;
    }
    if (this.handleSubscriptionLocally(session, req)) return;
    const upstreamId = this.nextUpstreamId++;
    const entry: PendingClientRequest = {
      kind: 'client',
      session,
      clientId: req.id,
      method: req.method,
      timer: this.armTimeout(upstreamId),
      startedSeq: ++this.seq,
    };
    let params = req.params;
    const meta = params?.['_meta'] as Record<string, unknown> | undefined;
    const token = meta?.['progressToken'];
    if (typeof token === 'string' || typeof token === 'number') {
      const upstreamToken = `gh-${upstreamId}`;
      entry.progressToken = { upstream: upstreamToken, original: token };
      this.progressRoutes.set(upstreamToken, entry);
      params = { ...params, _meta: { ...meta, progressToken: upstreamToken } };
    }
    this.pending.set(upstreamId, entry);
    session.inFlight.add(entry);
    this.opts.upstream.send(params === undefined ? { jsonrpc: '2.0', id: upstreamId, method: req.method } : { jsonrpc: '2.0', id: upstreamId, method: req.method, params });
  }

  /** @internal */
  forwardClientNotification(session: MuxSession, n: JsonRpcNotification): void {
    if (this.closedReason !== undefined) return;
    if (n.method === 'notifications/initialized') return; // the proxy already initialized the server
    if (n.method === 'notifications/cancelled') {
      const requestId = n.params?.['requestId'];
      for (const [upstreamId, p] of this.pending) {
        if (p.kind === 'client' && p.session === session && p.clientId === requestId) {
          this.opts.upstream.send({ ...n, params: { ...n.params, requestId: upstreamId } });
          this.settle(upstreamId); // the client gave up; a late reply must not reach it
          return;
        }
      }
      return;
    }
    this.opts.upstream.send(n);
  }

  /** @internal a client's answer to a server-to-client request */
  forwardClientResponse(session: MuxSession, res: JsonRpcResponse): void {
    const key = String(res.id);
    const route = this.serverRequests.get(key);
    if (!route || route.session !== session) return; // not ours to answer: drop rather than let a session answer another's request
    this.serverRequests.delete(key);
    if (this.closedReason === undefined) this.opts.upstream.send({ ...res, id: route.id } as JsonRpcResponse);
  }

  /** @internal */
  closeSession(session: MuxSession): void {
    if (!this.sessions.delete(session)) return;
    for (const p of session.inFlight) {
      for (const [upstreamId, q] of this.pending) {
        if (q === p) {
          if (this.closedReason === undefined) {
            this.opts.upstream.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'client session closed' } });
          }
          this.settle(upstreamId);
        }
      }
    }
    for (const [key, route] of this.serverRequests) {
      if (route.session !== session) continue;
      this.serverRequests.delete(key);
      if (this.closedReason === undefined) {
        this.opts.upstream.send(errorResponse(route.id, ErrorCodes.ConnectionClosed, 'The client session that held this request closed.'));
      }
    }
    for (const [uri, subs] of this.subscriptions) {
      if (subs.delete(session) && subs.size === 0) {
        this.subscriptions.delete(uri);
        if (this.closedReason === undefined) void this.internalRequest('resources/unsubscribe', { uri }, this.timeoutMs);
      }
    }    if (session.logLevel !== undefined) this.refreshLogLevel();
  }

  // ---- server -> client -------------------------------------------------------------------

  private routeServerResponse(res: JsonRpcResponse): void {
    const upstreamId = typeof res.id === 'number' ? res.id : Number(res.id);
    const p = this.pending.get(upstreamId);
    if (!p) {
      this.opts.onWarning?.(`Dropped a response for unknown request id ${JSON.stringify(res.id)} from the server.`);
      return;
    }
    this.settle(upstreamId);
    if (p.kind === 'internal') {
      p.resolve(res);
      return;
    }
    p.session.sink.deliver({ ...res, id: p.clientId } as JsonRpcResponse, p.clientId, p.method);
  }

  private routeServerRequest(req: JsonRpcRequest): void {
    if (req.method === 'ping') {
      this.opts.upstream.send(resultResponse(req.id, {}));
      return;
    }
    const capability = CAPABILITY_FOR_METHOD[req.method];
    const target = this.pickSessionFor(capability);
    if (!target) {
      if (req.method === 'roots/list') {
        this.opts.upstream.send(resultResponse(req.id, { roots: [] }));
      } else {
        this.opts.upstream.send(
          errorResponse(req.id, ErrorCodes.MethodNotFound, `No connected client supports ${req.method}.`),
        );
      }
      return;
    }
    this.serverRequests.set(String(req.id), { session: target, id: req.id });
    target.sink.deliver(req, target.latestInFlight()?.clientId);
  }

  private routeServerNotification(n: JsonRpcNotification): void {
    switch (n.method) {
      case 'notifications/progress': {
        const token = n.params?.['progressToken'];
        const p = typeof token === 'string' ? this.progressRoutes.get(token) : undefined;
        if (!p?.progressToken) return;
        // Progress means the server is alive and working: give the request a fresh timeout.
        this.rearm(p);
        p.session.sink.deliver({ ...n, params: { ...n.params, progressToken: p.progressToken.original } }, p.clientId);
        return;
      }
      case 'notifications/cancelled': {
        const route = this.serverRequests.get(String(n.params?.['requestId']));
        if (!route) return;
        this.serverRequests.delete(String(n.params?.['requestId']));
        route.session.sink.deliver(n);
        return;
      }
      case 'notifications/resources/updated': {
        const uri = n.params?.['uri'];
        const subs = typeof uri === 'string' ? this.subscriptions.get(uri) : undefined;
        for (const s of subs ?? []) s.sink.deliver(n);
        return;
      }
      case 'notifications/message': {
        // Log lines go to every session that asked for their level (or for none: the server's default).
        const level = n.params?.['level'];
        for (const s of this.sessions) if (s.wantsLog(level)) s.sink.deliver(n, s.latestInFlight()?.clientId);
        return;
      }
      default:
        // List changes concern every client of this server. Each session gets the message on the stream
        // of its latest request when it has one (clients listen there), else on its GET stream.
        for (const s of this.sessions) s.sink.deliver(n, s.latestInFlight()?.clientId);
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  private pickSessionFor(capability: string | undefined): MuxSession | undefined {
    const supports = (s: MuxSession) => capability === undefined || s.clientCapabilities[capability] !== undefined;
    let best: MuxSession | undefined;
    let bestSeq = -1;
    for (const s of this.sessions) {
      if (!supports(s)) continue;
      const seq = s.latestInFlight()?.startedSeq ?? -1;
      if (seq > bestSeq) {
        best = s;
        bestSeq = seq;
      }
    }
    if (bestSeq >= 0) return best;
    // Nothing in flight: only an idle request the client can answer on its own (roots) is routed.
    if (capability === 'roots') return best;
    return undefined;
  }

  private handleSubscriptionLocally(session: MuxSession, req: JsonRpcRequest): boolean {
    const uri = req.params?.['uri'];
    if (typeof uri !== 'string') return false;
    if (req.method === 'resources/subscribe') {
      const subs = this.subscriptions.get(uri);
      if (subs && subs.size > 0) {
        subs.add(session);
        session.sink.deliver(resultResponse(req.id, {}), req.id, req.method);
        return true;
      }
      this.subscriptions.set(uri, new Set([session]));
      return false;
    }
    if (req.method === 'resources/unsubscribe') {
      const subs = this.subscriptions.get(uri);
      subs?.delete(session);
      if (subs && subs.size > 0) {
        session.sink.deliver(resultResponse(req.id, {}), req.id, req.method);
        return true;
      }
      this.subscriptions.delete(uri);
      return false;
    }
    return false;
  }

  /** An MCP ping of the server's own: true when it answers at all (a JSON-RPC error is an answer too). */
  async ping(timeoutMs: number): Promise<boolean> {
    const res = await this.internalRequest('ping', {}, timeoutMs);
    const code = 'error' in res ? res.error.code : undefined;
    return code !== ErrorCodes.RequestTimeout && code !== ErrorCodes.ConnectionClosed;
  }

  private internalRequest(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<JsonRpcResponse> {
    return new Promise((resolve) => {
      if (this.closedReason !== undefined) {
        resolve(errorResponse(null, ErrorCodes.ConnectionClosed, this.closedReason));
        return;
      }
      const id = this.nextUpstreamId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(errorResponse(id, ErrorCodes.RequestTimeout, `The MCP server did not answer ${method} within ${timeoutMs} ms.`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { kind: 'internal', method, resolve, timer });
      this.opts.upstream.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  private armTimeout(upstreamId: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(upstreamId), this.timeoutMs);
    timer.unref();
    return timer;
  }

  private rearm(p: PendingClientRequest): void {
    for (const [id, q] of this.pending) {
      if (q === p) {
        clearTimeout(p.timer);
        p.timer = this.armTimeout(id);
        return;
      }
    }
  }

  private expire(upstreamId: number): void {
    const p = this.pending.get(upstreamId);
    if (!p || p.kind !== 'client') return;
    this.settle(upstreamId);
    if (this.closedReason === undefined) {
      this.opts.upstream.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: upstreamId, reason: 'timed out at the proxy' } });
    }
    p.session.sink.deliver(
      errorResponse(p.clientId, ErrorCodes.RequestTimeout, `The MCP server did not answer ${p.method} within ${Math.round(this.timeoutMs / 1000)} s.`),
      p.clientId,
      p.method,
    );
  }

  private settle(upstreamId: number): void {
    const p = this.pending.get(upstreamId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(upstreamId);
    if (p.kind === 'client') {
      p.session.inFlight.delete(p);
      if (p.progressToken) this.progressRoutes.delete(p.progressToken.upstream);
    }
  }
}

/** One client's view of the shared server. */
export class MuxSession {
  /** The level this session asked for with logging/setLevel (or a stateless request's _meta). */
  logLevel: LogLevel | undefined;
  clientCapabilities: Record<string, unknown> = {};
  clientInfo: Record<string, unknown> | undefined;
  protocolVersion: string | undefined;
  /** @internal requests of this session waiting for the server, in start order */
  readonly inFlight = new Set<PendingClientRequest>();

  constructor(
    private readonly mux: StdioMultiplexer,
    readonly sink: SessionSink,
  ) {}

  /** Answers a client's initialize from the proxy's own upstream handshake. */
  initialize(req: JsonRpcRequest): JsonRpcResponse {
    const init = this.mux.initializeResult;
    if (!init) return errorResponse(req.id, ErrorCodes.ServerUnavailable, 'The MCP server is not ready yet; retry in a moment.');
    const params = req.params ?? {};
    this.clientCapabilities = (params['capabilities'] as Record<string, unknown> | undefined) ?? {};
    this.clientInfo = params['clientInfo'] as Record<string, unknown> | undefined;
    const requested = params['protocolVersion'];
    // Speak the client's version when the proxy knows it (framing is the same); otherwise offer the server's.
    this.protocolVersion =
      typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : init.protocolVersion;
    return resultResponse(req.id, { ...init, protocolVersion: this.protocolVersion });
  }

  /** Any message from the client after initialize. */
  handle(msg: JsonRpcMessage): void {
    if (isRequest(msg)) {
      if (msg.method === 'initialize') {
        this.sink.deliver(this.initialize(msg), msg.id, msg.method);
        return;
      }
      if (msg.method === 'ping') {
        this.sink.deliver(resultResponse(msg.id, {}), msg.id, msg.method);
        return;
      }
      if (msg.method === 'logging/setLevel' && this.mux.handlesLogLevels) {
        const level = msg.params?.['level'];
        if (!isLogLevel(level)) {
          this.sink.deliver(errorResponse(msg.id, ErrorCodes.InvalidParams, `Invalid params: level must be one of ${LOG_LEVELS.join(', ')}.`), msg.id, msg.method);
          return;
        }
        this.setLogLevel(level);
        this.sink.deliver(resultResponse(msg.id, {}), msg.id, msg.method);
        return;
      }
      this.mux.forwardClientRequest(this, msg);
    } else if (isNotification(msg)) {
      this.mux.forwardClientNotification(this, msg);
    } else {
      this.mux.forwardClientResponse(this, msg);
    }
  }

  setLogLevel(level: LogLevel): void {
    this.logLevel = level;
    this.mux.refreshLogLevel();
  }

  /** Whether a notifications/message of this level is for this session. */
  wantsLog(level: unknown): boolean {
    if (this.logLevel === undefined) return true;
    return !isLogLevel(level) || severity(level) >= severity(this.logLevel);
  }

  latestInFlight(): PendingClientRequest | undefined {
    let last: PendingClientRequest | undefined;
    for (const p of this.inFlight) last = p;
    return last;
  }

  close(): void {
    this.mux.closeSession(this);
  }
}
