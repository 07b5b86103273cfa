import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResultResponse,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import {
  describeError,
  observedFetch,
  withCallerToken,
  ServerUnavailableError,
  UpstreamFatalError,
  UpstreamSendError,
  UpstreamTransientError,
  type SendFailure,
  type UpstreamFactory,
  type UpstreamTarget,
  type UpstreamTransport,
  type WireObserver,
} from './upstream.js';

export interface RelayOptions {
  /** The server's name, for messages. */
  serverName: string;
  /** One line for the operator (stderr): never message contents, never secrets. */
  log?: (line: string) => void;
  /** Reconnection backoff: first delay, doubled up to the maximum. */
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long a client request may wait for the upstream before it is answered with an error. */
  queueTimeoutMs?: number;
  /** Connecting and re-initializing upstream. */
  handshakeTimeoutMs?: number;
  /** The ping that checks a session that looks broken. */
  probeTimeoutMs?: number;
  /** The bridge cannot serve at all (no such server). */
  onFatal?: (err: Error) => void;
}

type Response = JSONRPCResultResponse | JSONRPCErrorResponse;

interface Connection {
  gen: number;
  target: UpstreamTarget;
  transport: UpstreamTransport;
  /** This connection re-initialized the client's session itself (after a reconnect). */
  restored: boolean;
  /** The server has answered on it (a connection that never did is not counted as up, for backoff and logs). */
  proven: boolean;
}

interface Queued {
  message: JSONRPCMessage;
  timer?: NodeJS.Timeout;
  /** When a waiting request is given up on (kept across re-sends, so no request waits longer in total). */
  deadline?: number;
}

interface InFlight {
  request: JSONRPCRequest;
  gen: number;
  deadline?: number;
  /** The POST that carries it, settled once its HTTP answer (or failure) is in. */
  sent?: Promise<void>;
  /** Its POST came back: the server has it (or the proxy answered it), so it is never sent again. */
  settled: boolean;
  kind: UpstreamTarget['kind'];
}

interface Waiter {
  resolve(m: Response): void;
  reject(err: Error): void;
}

/** Error codes in the implementation-defined range, as the proxy uses them. */
const CONNECTION_CLOSED = -32000;
const REQUEST_TIMEOUT = -32001;
const SERVER_UNAVAILABLE = -32002;

const LIST_KINDS = ['tools', 'prompts', 'resources'] as const;
const MAX_QUEUE = 1000;
const BRIDGE_ID_PREFIX = 'gatehouse-bridge-';
/** Least time between a request's last progress notification and its response on stdout (see toClient). */
const PROGRESS_GAP_MS = 20;

function key(id: RequestId): string {
  return typeof id === 'string' ? `s:${id}` : `n:${id}`;
}

function isResponse(m: JSONRPCMessage): m is Response {
  return isJSONRPCResultResponse(m) || isJSONRPCErrorResponse(m);
}

function failureOf(err: unknown): SendFailure {
  if (err instanceof UpstreamSendError) return err.failure;
  return { kind: 'lost', reason: describeError(err) };
}

/** Declares listChanged for each list the server has, so the bridge may announce changes after a reconnect. */
function withListChanged(capabilities: unknown): Record<string, unknown> {
  const caps = typeof capabilities === 'object' && capabilities !== null ? { ...(capabilities as Record<string, unknown>) } : {};
  for (const kind of LIST_KINDS) {
    const c = caps[kind];
    if (typeof c === 'object' && c !== null) caps[kind] = { ...(c as Record<string, unknown>), listChanged: true };
  }
  return caps;
}

/**
 * A transparent MCP relay between a client transport (stdin/stdout) and a server's proxy (Streamable
 * HTTP or legacy SSE, through the SDK's client transports). Frames pass unchanged in both directions,
 * ids included, so every method (sampling, elicitation, roots, progress, cancellation, logging, future
 * ones) works without the relay knowing it. The relay only looks at:
 * - the client's `initialize`, to remember its parameters, set the negotiated protocol version on the
 *   HTTP transport, and declare `listChanged` for the server's lists;
 * - which client requests are in flight, so none waits forever: when the upstream goes away it
 *   reconnects with backoff, re-initializes with the client's parameters under an id of its own,
 *   restores the client's resource subscriptions and log level, re-sends requests the server never saw,
 *   answers those that may have run with an error, and tells the client its lists may have changed.
 * Its only change to timing: a response never follows its own progress notification within 20 ms on
 * stdout (see toClient).
 */
export class Relay {
  private readonly opts: Required<Omit<RelayOptions, 'onFatal'>> & Pick<RelayOptions, 'onFatal'>;
  private gen = 0;
  private conn: Connection | undefined;
  private ready = false;
  private closed = false;
  private looping = false;
  private wake: (() => void) | undefined;
  private woken = false;
  private probing = false;
  private queue: Queued[] = [];
  private readonly inflight = new Map<string, InFlight>();
  private readonly serverRequests = new Map<string, { id: RequestId; gen: number }>();
  private readonly waiters = new Map<string, Waiter>();
  private seq = 0;
  /** The client's session: its initialize parameters and the capabilities it was told. */
  private session: { params: Record<string, unknown>; capabilities: Record<string, unknown> } | undefined;
  /** Session state the client set up, restored with the session: resource subscriptions and the log level. */
  private readonly subscriptions = new Set<string>();
  private logLevel: Record<string, unknown> | undefined;
  private lastTarget: UpstreamTarget | undefined;
  private down: { message: string; unavailable: boolean } | undefined;
  private everProven = false;
  private retryDelay: number;
  private out: Promise<void> = Promise.resolve();
  private lastProgress: { token: unknown; at: number } | undefined;
  private readonly recentLogs = new Map<string, number>();

  constructor(
    private readonly client: Transport,
    private readonly upstream: UpstreamFactory,
    options: RelayOptions,
  ) {
    this.opts = {
      log: (line) => process.stderr.write(`${line}\n`),
      initialRetryDelayMs: 250,
      maxRetryDelayMs: 5_000,
      queueTimeoutMs: 30_000,
      handshakeTimeoutMs: 15_000,
      probeTimeoutMs: 10_000,
      ...options,
    };
    this.retryDelay = this.opts.initialRetryDelayMs;
  }

  async start(): Promise<void> {
    this.client.onmessage = (m) => this.fromClient(m);
    this.client.onerror = (err) => this.log(`ignored input from the client: ${describeError(err)}`);
    await this.client.start();
    this.ensureConnecting();
  }

  /** Ends the upstream session (HTTP DELETE where the transport has sessions) and both transports. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    this.wakeUp();
    for (const q of this.queue) clearTimeout(q.timer);
    this.queue = [];
    for (const w of this.waiters.values()) w.reject(new Error('the bridge is closing'));
    this.waiters.clear();
    const conn = this.conn;
    this.conn = undefined;
    if (conn) await this.dispose(conn, true);
    await this.client.close().catch(() => {});
  }

  // ---- client → server ------------------------------------------------------------------------

  private fromClient(m: JSONRPCMessage): void {
    if (this.closed) return;
    if (isJSONRPCRequest(m)) this.clientRequest(m);
    else if (isJSONRPCNotification(m)) this.clientNotification(m);
    else if (isResponse(m)) this.clientResponse(m);
  }

  private clientRequest(req: JSONRPCRequest): void {
    if (req.method === 'initialize' && this.session) {
      // The client starts over: give it a fresh upstream session rather than replaying the old one.
      this.session = undefined;
      this.subscriptions.clear();
      this.logLevel = undefined;
      this.connectionLost('the client initialized again', { restart: true });
    }
    if (this.open) this.sendRequest(req);
    else this.enqueue(req);
  }

  /** Whether client messages go upstream now: a session is up and not under suspicion (a probe is out). */
  private get open(): boolean {
    return this.ready && !this.probing;
  }

  private clientNotification(n: JSONRPCNotification): void {
    if (n.method === 'notifications/cancelled') {
      const id = (n.params as { requestId?: unknown } | undefined)?.requestId;
      if (typeof id !== 'string' && typeof id !== 'number') return;
      const k = key(id);
      const queued = this.queue.findIndex((q) => isJSONRPCRequest(q.message) && key(q.message.id) === k);
      if (queued >= 0) {
        // Never sent: the server has nothing to cancel.
        clearTimeout(this.queue[queued]?.timer);
        this.queue.splice(queued, 1);
        return;
      }
      const entry = this.inflight.get(k);
      if (!entry) return; // answered already: nothing to cancel
      // The client expects no answer now: a late one is dropped, a lost connection owes it nothing.
      this.inflight.delete(k);
      if (!this.ready || entry.gen !== this.conn?.gen) return;
    }
    if (this.open) this.sendOther(n);
    else this.enqueue(n);
  }

  private clientResponse(r: Response): void {
    if (r.id === undefined) return;
    const k = key(r.id);
    const origin = this.serverRequests.get(k);
    if (!origin) return; // its request was cancelled, or belonged to a session that is gone
    this.serverRequests.delete(k);
    if (this.ready && origin.gen === this.conn?.gen) this.sendOther(r);
  }

  private sendRequest(req: JSONRPCRequest, deadline?: number): void {
    const conn = this.conn!;
    const entry: InFlight = { request: req, gen: conn.gen, deadline, settled: false, kind: conn.target.kind };
    this.inflight.set(key(req.id), entry);
    entry.sent = conn.transport.send(req).then(
      () => this.sendDone(entry),
      (err: unknown) => this.sendFailed(entry, err),
    );
  }

  private sendDone(entry: InFlight): void {
    entry.settled = true;
    const k = key(entry.request.id);
    // Delivered to a session that was given up on while the POST was out. A Streamable HTTP answer still comes on
    // the POST's own stream (or is reported lost when that stream ends); a legacy SSE answer would come on the dead stream.
    if (this.closed || entry.gen === this.gen || this.inflight.get(k) !== entry || entry.kind !== 'sse') return;
    this.inflight.delete(k);
    this.replyLost(entry.request.id);
  }

  private sendFailed(entry: InFlight, err: unknown): void {
    entry.settled = true;
    if (this.closed) return;
    const k = key(entry.request.id);
    if (this.inflight.get(k) !== entry) return; // answered or cancelled meanwhile
    this.inflight.delete(k);
    const current = entry.gen === this.gen;
    const f = failureOf(err);
    if (f.kind === 'answered') {
      this.replyError(entry.request.id, f.code, f.message, f.data);
    } else if (f.kind === 'not-delivered') {
      // The server never saw it: it goes again once the session is back (or now, if a new one is up already).
      if (!current && this.open) this.sendRequest(entry.request, entry.deadline);
      else this.enqueue(entry.request, entry.deadline);
      if (current) this.connectionLost(f.reason);
    } else {
      this.replyLost(entry.request.id);
      if (current) this.probe(f.reason);
    }
  }

  /** Notifications and the client's answers to server requests: nothing waits for them. */
  private sendOther(m: JSONRPCMessage): void {
    const conn = this.conn!;
    conn.transport.send(m).catch((err: unknown) => {
      if (this.closed || conn.gen !== this.gen) return;
      const f = failureOf(err);
      // Dropped either way: a notification or answer meant for a session that is gone means nothing to a new one.
      if (f.kind === 'not-delivered') this.connectionLost(f.reason);
      else if (f.kind === 'lost') this.probe(f.reason);
      else this.logOnce(`the proxy refused a ${'method' in m ? m.method : 'response'} message: ${f.message}`);
    });
  }

  private enqueue(m: JSONRPCMessage, deadline?: number): void {
    if (this.queue.length >= MAX_QUEUE) {
      if (isJSONRPCRequest(m)) this.replyError(m.id, SERVER_UNAVAILABLE, `${this.downMessage()} Too many requests are waiting for it.`);
      return;
    }
    const q: Queued = { message: m };
    if (isJSONRPCRequest(m)) {
      q.deadline = deadline ?? Date.now() + this.opts.queueTimeoutMs;
      q.timer = setTimeout(() => this.expire(q), Math.max(0, q.deadline - Date.now()));
      q.timer.unref();
    }
    this.queue.push(q);
    this.ensureConnecting(true);
  }

  private expire(q: Queued): void {
    const i = this.queue.indexOf(q);
    if (i < 0 || !isJSONRPCRequest(q.message)) return;
    this.queue.splice(i, 1);
    const seconds = Math.round(this.opts.queueTimeoutMs / 1000);
    this.replyError(q.message.id, REQUEST_TIMEOUT, `${this.downMessage()} Gave up on this request after ${seconds} s; the bridge keeps reconnecting, try again in a moment.`);
  }

  /** Answers every waiting request with the message (the server cannot be used until someone acts). */
  private failQueued(message: string): void {
    const keep: Queued[] = [];
    for (const q of this.queue) {
      if (isJSONRPCRequest(q.message)) {
        clearTimeout(q.timer);
        this.replyError(q.message.id, SERVER_UNAVAILABLE, message);
      } else keep.push(q);
    }
    this.queue = keep;
  }

  private flush(conn: Connection): void {
    const items = this.queue;
    this.queue = [];
    for (const q of items) {
      clearTimeout(q.timer);
      // The relay sent its own notifications/initialized when it restored the session.
      if (conn.restored && isJSONRPCNotification(q.message) && q.message.method === 'notifications/initialized') continue;
      if (isJSONRPCRequest(q.message)) this.sendRequest(q.message, q.deadline);
      else this.sendOther(q.message);
    }
  }

  // ---- server → client ------------------------------------------------------------------------

  private fromUpstream(gen: number, m: JSONRPCMessage): void {
    if (this.closed) return;
    if (gen !== this.gen) {
      // A connection already given up on may still carry the answer to a request that was sent on it.
      if (isResponse(m) && m.id !== undefined) {
        const entry = this.inflight.get(key(m.id));
        if (entry?.gen === gen) {
          this.inflight.delete(key(m.id));
          this.toClient(m);
        }
      }
      return;
    }
    if (this.conn && !this.conn.proven && this.conn.gen === gen && this.ready) this.proven(this.conn);
    if (isResponse(m)) {
      if (m.id === undefined) {
        this.logOnce(`the server sent an error without an id: ${'error' in m ? m.error.message : ''}`);
        return;
      }
      const k = key(m.id);
      const waiter = this.waiters.get(k);
      if (waiter) {
        this.waiters.delete(k);
        waiter.resolve(m);
        return;
      }
      const entry = this.inflight.get(k);
      if (!entry) return; // cancelled by the client, or already answered with an error
      this.inflight.delete(k);
      if (isJSONRPCResultResponse(m)) this.remember(entry.request);
      this.toClient(entry.request.method === 'initialize' ? this.initializeAnswered(entry.request, m) : m);
      return;
    }
    if (isJSONRPCRequest(m)) {
      this.serverRequests.set(key(m.id), { id: m.id, gen });
    } else if (isJSONRPCNotification(m) && m.method === 'notifications/cancelled') {
      const id = (m.params as { requestId?: unknown } | undefined)?.requestId;
      if (typeof id === 'string' || typeof id === 'number') this.serverRequests.delete(key(id));
    }
    this.toClient(m);
  }

  /** Keeps what a new session must be told again for the client's session to go on as it was. */
  private remember(request: JSONRPCRequest): void {
    const params = (request.params ?? {}) as Record<string, unknown>;
    const uri = typeof params['uri'] === 'string' ? params['uri'] : undefined;
    if (request.method === 'resources/subscribe' && uri) this.subscriptions.add(uri);
    else if (request.method === 'resources/unsubscribe' && uri) this.subscriptions.delete(uri);
    else if (request.method === 'logging/setLevel') this.logLevel = params;
  }

  /** Replays subscriptions and the log level on a restored session (answers go to the bridge, not the client). */
  private replayState(conn: Connection): void {
    const replay: [string, Record<string, unknown>][] = [...this.subscriptions].map((uri) => ['resources/subscribe', { uri }]);
    if (this.logLevel) replay.push(['logging/setLevel', this.logLevel]);
    for (const [method, params] of replay) {
      this.bridgeRequest(conn, method, params, this.opts.handshakeTimeoutMs)
        .then((answer) => {
          if (isJSONRPCErrorResponse(answer)) this.logOnce(`could not restore ${method}: ${answer.error.message}`);
        })
        .catch((err: unknown) => this.logOnce(`could not restore ${method}: ${describeError(err)}`));
    }
  }

  private initializeAnswered(request: JSONRPCRequest, m: Response): Response {
    if (!isJSONRPCResultResponse(m)) return m;
    const result = m.result as { protocolVersion?: unknown; capabilities?: unknown };
    // The SDK's Client does this after initialize; the relay stands in for it on the HTTP side.
    if (typeof result.protocolVersion === 'string') this.conn?.transport.setProtocolVersion?.(result.protocolVersion);
    const capabilities = withListChanged(result.capabilities);
    this.session = { params: (request.params ?? {}) as Record<string, unknown>, capabilities };
    return { ...m, result: { ...m.result, capabilities } };
  }

  private toClient(m: JSONRPCMessage): void {
    // One write at a time: the stdio transport waits for 'drain' per write, so queued writes would pile up listeners.
    this.out = this.out
      .then(async () => {
        // The SDK's Protocol handles a progress notification a microtask late but a response at once: when both
        // arrive in one read, the request is settled first and its last progress is dropped as unknown. A short
        // gap between a request's progress and its response lets them arrive apart.
        const progress = this.lastProgress;
        if (progress && isResponse(m) && m.id === progress.token) {
          const wait = progress.at + PROGRESS_GAP_MS - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        await this.client.send(m);
        if (isJSONRPCNotification(m) && m.method === 'notifications/progress') {
          this.lastProgress = { token: (m.params as { progressToken?: unknown } | undefined)?.progressToken, at: Date.now() };
        }
      })
      .catch((err: unknown) => this.logOnce(`could not write to the client: ${describeError(err)}`));
  }

  private replyError(id: RequestId, code: number, message: string, data?: unknown): void {
    this.toClient({ jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } });
  }

  private replyLost(id: RequestId): void {
    this.replyError(
      id,
      CONNECTION_CLOSED,
      `The connection to MCP server "${this.opts.serverName}" was lost while this request was in progress. It was not sent again because it may already have run; try again.`,
    );
  }

  private downMessage(): string {
    return this.down?.message ?? `MCP server "${this.opts.serverName}" is not reachable yet.`;
  }

  // ---- connection -----------------------------------------------------------------------------

  private ensureConnecting(demand = false, backoffFirst = false): void {
    if (this.closed || this.ready) return;
    if (this.looping) {
      // A client is waiting: try now rather than after the backoff (the server may just have been started).
      if (demand) this.wakeUp();
      return;
    }
    void this.loop(backoffFirst);
  }

  private wakeUp(): void {
    this.woken = true;
    this.wake?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private async loop(backoffFirst: boolean): Promise<void> {
    this.looping = true;
    try {
      if (backoffFirst) await this.backoff();
      while (!this.closed) {
        this.woken = false;
        try {
          await this.attempt(++this.gen);
          return;
        } catch (err) {
          if (this.closed) return;
          if (err instanceof UpstreamFatalError) {
            this.log(err.message);
            this.opts.onFatal?.(err);
            return;
          }
          this.setDown(err);
        }
        await this.backoff();
      }
    } finally {
      this.looping = false;
    }
  }

  /** Waits the current delay (less if a client request arrives), then doubles it up to the maximum. */
  private async backoff(): Promise<void> {
    if (!this.woken) await this.pause(this.retryDelay);
    this.retryDelay = this.woken ? this.opts.initialRetryDelayMs : Math.min(this.retryDelay * 2, this.opts.maxRetryDelayMs);
    this.woken = false;
  }

  private setDown(err: unknown): void {
    const unavailable = err instanceof ServerUnavailableError;
    const message = err instanceof ServerUnavailableError || err instanceof UpstreamTransientError ? err.message : `MCP server "${this.opts.serverName}" is not reachable: ${describeError(err)}.`;
    if (this.down?.message !== message) this.log(message);
    this.down = { message, unavailable };
    if (unavailable) this.failQueued(message);
  }

  private async attempt(gen: number): Promise<void> {
    let target: UpstreamTarget;
    let located: Error | undefined;
    try {
      target = await this.upstream.locate({ waiting: this.queue.some((q) => isJSONRPCRequest(q.message)) });
    } catch (err) {
      // The core does not answer (restarting?): the proxy may well be back on its port already.
      if (!(err instanceof UpstreamTransientError && err.tryLastTarget && this.lastTarget)) throw err;
      located = err;
      target = this.lastTarget;
    }
    if (this.closed) throw new Error('closed');
    this.lastTarget = target;
    const base = target.callerToken ? withCallerToken(target.callerToken) : undefined;
    const transport = this.upstream.connect(target, observedFetch(this.observer(gen, target), { reopenGet: target.kind !== 'sse', ...(base ? { base } : {}) }));
    const conn: Connection = { gen, target, transport, restored: false, proven: false };
    transport.onmessage = (m) => this.fromUpstream(gen, m);
    transport.onerror = (err) => this.upstreamError(gen, err);
    this.conn = conn;
    try {
      await this.within(transport.start(), this.opts.handshakeTimeoutMs, 'connecting');
      if (this.session) {
        // Restore the client's session under an id of the bridge's own; the client never sees this exchange.
        const answer = await this.bridgeRequest(conn, 'initialize', this.session.params, this.opts.handshakeTimeoutMs);
        if (isJSONRPCErrorResponse(answer)) {
          throw new ServerUnavailableError(`MCP server "${this.opts.serverName}" refused to initialize a new session: ${answer.error.message}`);
        }
        const version = (answer.result as { protocolVersion?: unknown }).protocolVersion;
        if (typeof version === 'string') transport.setProtocolVersion?.(version);
        await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        conn.restored = true;
      }
      // An SSE stream that delivered its endpoint, or a re-initialized session, is a server that answers.
      // (A Streamable HTTP connection without a session has not touched the network yet.)
      conn.proven = conn.restored || target.kind === 'sse';
    } catch (err) {
      if (this.conn === conn) this.conn = undefined;
      void this.dispose(conn, false);
      throw this.attemptError(err, target, located);
    }
    if (this.closed) throw new Error('closed');
    this.ready = true;
    if (conn.proven) this.proven(conn);
    if (conn.restored) {
      this.replayState(conn);
      for (const kind of LIST_KINDS) {
        if (this.session?.capabilities[kind]) this.toClient({ jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
      }
    }
    this.flush(conn);
  }

  private proven(conn: Connection): void {
    conn.proven = true;
    this.retryDelay = this.opts.initialRetryDelayMs;
    this.down = undefined;
    this.log(`${this.everProven ? 'reconnected' : 'connected'} to MCP server "${this.opts.serverName}" at ${conn.target.url.href}`);
    this.everProven = true;
  }

  private attemptError(err: unknown, target: UpstreamTarget, located: Error | undefined): Error {
    if (err instanceof ServerUnavailableError) return err;
    if (err instanceof UpstreamSendError && err.failure.kind === 'answered') {
      const hint = err.failure.status === 401 ? ` It requires an access token, which the bridge does not have; for local use, run: gatehouse auth set ${this.opts.serverName} --none` : '';
      return new ServerUnavailableError(`The proxy of MCP server "${this.opts.serverName}" refused the bridge: ${err.failure.message}.${hint}`);
    }
    if (located) return new UpstreamTransientError(located.message);
    return new UpstreamTransientError(`MCP server "${this.opts.serverName}" does not answer at ${target.url.href} (${describeError(err)}).`);
  }

  private observer(gen: number, target: UpstreamTarget): WireObserver {
    return {
      postStreamEnded: (ids) => {
        // Let the SDK parse what the stream delivered last before deciding an answer will not come.
        setTimeout(() => this.postStreamEnded(gen, ids), 50).unref();
      },
      getStreamEnded: (error) => {
        if (this.closed || gen !== this.gen) return;
        const why = `the event stream closed${error ? ` (${describeError(error)})` : ''}`;
        if (target.kind === 'sse') {
          // A legacy SSE session lives exactly as long as its stream (and EventSource would silently open a new, uninitialized one).
          if (this.ready) this.connectionLost(why);
          else this.rejectWaiters(why);
        } else this.probe(why);
      },
    };
  }

  private postStreamEnded(gen: number, ids: RequestId[]): void {
    if (this.closed) return;
    let lost = false;
    for (const id of ids) {
      const k = key(id);
      const waiter = this.waiters.get(k);
      if (waiter) {
        this.waiters.delete(k);
        waiter.reject(new Error('the response stream closed before the answer'));
        continue;
      }
      const entry = this.inflight.get(k);
      if (entry && entry.gen === gen) {
        this.inflight.delete(k);
        this.replyLost(id);
        lost = true;
      }
    }
    if (lost && gen === this.gen) this.probe('a response stream closed before its answer');
  }

  private upstreamError(gen: number, err: Error): void {
    if (this.closed || gen !== this.gen) return;
    if (err instanceof UpstreamSendError) return; // settled where the send was awaited
    this.logOnce(`upstream: ${describeError(err)}`);
  }

  /**
   * Something looked wrong: a ping tells whether the session still exists. Meanwhile new client messages
   * wait, rather than going into a session that may be closing under them.
   */
  private probe(reason: string): void {
    if (!this.ready || this.probing || this.closed) return;
    const conn = this.conn!;
    this.probing = true;
    this.bridgeRequest(conn, 'ping', undefined, this.opts.probeTimeoutMs)
      .then(
        () => true,
        (err: unknown) => {
          if (err instanceof UpstreamSendError && err.failure.kind === 'answered') return true; // the proxy answers: alive
          this.probing = false;
          if (conn.gen === this.gen) this.connectionLost(`${reason}; ping: ${describeError(err)}`);
          return false;
        },
      )
      .then((alive) => {
        this.probing = false;
        if (alive && this.open && this.conn && this.queue.length > 0) this.flush(this.conn);
      });
  }

  /**
   * The upstream session is gone: requests in flight get an error (they may have run), the client's pending
   * answers to server requests are cancelled, and the reconnection loop starts.
   */
  private connectionLost(reason: string, opts: { restart?: boolean } = {}): void {
    if (!this.ready || this.closed) return;
    this.ready = false;
    const old = this.conn;
    this.conn = undefined;
    this.gen++;
    if (opts.restart) {
      // nothing to report
    } else if (old?.proven) {
      this.log(`lost the connection to MCP server "${this.opts.serverName}" (${reason}); reconnecting`);
    } else {
      this.setDown(new UpstreamTransientError(`MCP server "${this.opts.serverName}" does not answer at ${old?.target.url.href ?? 'its address'} (${reason}).`));
    }
    // Requests the server has (their POST came back) may have run: they get an error. Those whose POST is still
    // out wait for its outcome: refused means never delivered, so they are sent again after the reconnect.
    const pending: Promise<void>[] = [];
    for (const [k, entry] of this.inflight) {
      if (!entry.settled && entry.sent) {
        pending.push(entry.sent);
        continue;
      }
      this.inflight.delete(k);
      this.replyLost(entry.request.id);
    }
    if (old) {
      // A session that ended on purpose is deleted upstream; a lost one is gone already. The old transport stays
      // open until the POSTs still out on it have come back (bounded), so their outcome is known.
      const settled = pending.length === 0 ? Promise.resolve() : Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 2_000).unref())]);
      void settled.then(() => this.dispose(old, opts.restart === true));
    }
    this.rejectWaiters('the connection was lost');
    for (const r of this.serverRequests.values()) {
      this.toClient({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: r.id, reason: 'The connection to the MCP server was lost.' } });
    }
    this.serverRequests.clear();
    // A connection that never got an answer is no progress: keep backing off rather than retrying at once.
    this.ensureConnecting(false, !old?.proven && !opts.restart);
  }

  private rejectWaiters(why: string): void {
    for (const w of this.waiters.values()) w.reject(new Error(why));
    this.waiters.clear();
  }

  private bridgeRequest(conn: Connection, method: string, params: Record<string, unknown> | undefined, timeoutMs: number): Promise<Response> {
    const id = `${BRIDGE_ID_PREFIX}${++this.seq}`;
    const k = key(id);
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiters.delete(k)) reject(new Error(`no answer to ${method} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      timer.unref();
      this.waiters.set(k, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      conn.transport.send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }).catch((err: unknown) => {
        const w = this.waiters.get(k);
        if (!w) return;
        this.waiters.delete(k);
        w.reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  private async dispose(conn: Connection, terminate: boolean): Promise<void> {
    const t = conn.transport;
    t.onmessage = undefined;
    t.onerror = undefined;
    if (terminate && t.terminateSession) await this.within(t.terminateSession(), 2_000, 'ending the session').catch(() => {});
    await t.close().catch(() => {});
  }

  private within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out ${what} after ${Math.round(ms / 1000)} s`)), ms);
      timer.unref();
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private log(line: string): void {
    this.opts.log(line);
  }

  /** Logs a line unless the same line was logged in the last 30 s (SDK reconnection errors repeat). */
  private logOnce(line: string): void {
    const now = Date.now();
    const last = this.recentLogs.get(line);
    if (last !== undefined && now - last < 30_000) return;
    if (this.recentLogs.size > 100) this.recentLogs.clear();
    this.recentLogs.set(line, now);
    this.log(line);
  }
}
