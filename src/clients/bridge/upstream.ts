import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { isEventStream, withEndHook, withOwnSignals } from '../../common/index.js';

/** Where a server's proxy is, and how to speak to it. */
export interface UpstreamTarget {
  url: URL;
  kind: 'streamable-http' | 'sse';
  /**
   * The proxy takes tokens from an identity provider and Gatehouse signed in there for its callers: a
   * token for each request (`refused`: the proxy refused the last one, get a fresh one).
   */
  callerToken?: (refused: boolean) => Promise<string>;
}

/** An SDK client transport to a proxy: what the relay needs of it beyond the Transport interface. */
export type UpstreamTransport = Transport & {
  setProtocolVersion?(version: string): void;
  terminateSession?(): Promise<void>;
};

export interface LocateContext {
  /** A client request is waiting for the upstream (worth starting things for). */
  waiting: boolean;
}

/**
 * Where the upstream is and how to open a connection to it. `locate` is asked before every connection
 * attempt; it throws one of the errors below when the server cannot be used now. `connect` returns a new,
 * unstarted transport that sends every HTTP request through `fetch` (the relay observes the wire there).
 */
export interface UpstreamFactory {
  locate(context: LocateContext): Promise<UpstreamTarget>;
  connect(target: UpstreamTarget, fetch: FetchLike): UpstreamTransport;
}

/** The server cannot be used until someone acts (stopped, failed, removed, no core): requests are answered with the message at once. */
export class ServerUnavailableError extends Error {}

/** The server should be back soon (the core restarts, the server is starting): requests wait, up to a bound. */
export class UpstreamTransientError extends Error {
  constructor(
    message: string,
    /** Nothing is known about the server's state (the core does not answer): try its last known address anyway. */
    readonly tryLastTarget = false,
  ) {
    super(message);
  }
}

/** The bridge cannot serve at all (no such server): it ends. */
export class UpstreamFatalError extends Error {}

/**
 * What became of a message the relay POSTed upstream, when it did not simply succeed:
 * - not-delivered: the server never saw it (connection refused, unknown session, server unavailable); a request may be sent again;
 * - lost: the connection broke after it left, so it may have run; a request gets an error and is never re-sent;
 * - answered: the proxy answered it with an error of its own (401, 403, 400...), which is final for that request.
 */
export type SendFailure =
  | { kind: 'not-delivered'; reason: string; status?: number }
  | { kind: 'lost'; reason: string }
  | { kind: 'answered'; code: number; message: string; data?: unknown; status: number };

export class UpstreamSendError extends Error {
  constructor(readonly failure: SendFailure) {
    super(failure.kind === 'answered' ? `HTTP ${failure.status}: ${failure.message}` : failure.reason);
  }
}

/** What the relay wants to know about the HTTP exchanges of one connection. */
export interface WireObserver {
  /** The event stream answering a POST ended (done or broken); ids are the requests that POST carried. */
  postStreamEnded(ids: RequestId[]): void;
  /** The long-lived GET event stream ended (done or broken). */
  getStreamEnded(error: unknown): void;
}

/**
 * Adds the caller token to every request to the proxy; a 401 gets one more try with a fresh token. A
 * token that cannot be had (the sign-in ended) answers the request with what to do, as the proxy would.
 */
export function withCallerToken(token: (refused: boolean) => Promise<string>, base: FetchLike = fetch): FetchLike {
  return async (url, init) => {
    const send = async (refused: boolean) => {
      let value: string;
      try {
        value = await token(refused);
      } catch (err) {
        throw new UpstreamSendError({ kind: 'answered', status: 401, code: -32001, message: describeError(err) });
      }
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${value}`);
      return base(url, { ...init, headers });
    };
    const res = await send(false);
    if (res.status !== 401) return res;
    await res.body?.cancel().catch(() => {});
    return send(true);
  };
}

/** True when the error means the TCP connection was refused: nothing was sent. */
export function isConnectionRefused(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (e.code === 'ECONNREFUSED') return true;
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => isConnectionRefused(x, depth + 1))) return true;
  return isConnectionRefused(e.cause, depth + 1);
}

/** One line about an error, with the network cause that fetch hides behind "fetch failed". */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (err.message === 'fetch failed' && cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} (${cause.message})` : cause.message;
  }
  return err.message;
}

function requestIdsOf(body: unknown): RequestId[] {
  if (typeof body !== 'string') return [];
  try {
    const parsed = JSON.parse(body) as unknown;
    const items = Array.isArray(parsed) ? parsed : [parsed];
    const ids: RequestId[] = [];
    for (const m of items as { id?: unknown; method?: unknown }[]) {
      if (typeof m?.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number')) ids.push(m.id);
    }
    return ids;
  } catch {
    return [];
  }
}

function rpcErrorOf(text: string): { code: number; message: string; data?: unknown } | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; data?: unknown } };
    const e = body?.error;
    if (e && typeof e.code === 'number' && typeof e.message === 'string') return { code: e.code, message: e.message, data: e.data };
  } catch {
    // not JSON-RPC: described by status below
  }
  return undefined;
}

/**
 * A fetch for one upstream connection that classifies failed POSTs (UpstreamSendError, so the relay
 * knows whether a request may be sent again) and reports when event streams end (so a response that
 * can no longer come is noticed instead of awaited forever).
 */
export function observedFetch(observer: WireObserver, opts: { reopenGet?: boolean; base?: FetchLike } = {}): FetchLike {
  // Each request on a signal of its own, unhooked when it ends (see withOwnSignals).
  const base = withOwnSignals(opts.base ?? fetch);
  let gets = 0;
  return async (url, init) => {
    const method = (init?.method ?? 'GET').toUpperCase();
    // A legacy SSE session is its GET stream: EventSource reconnects on its own, which would open a new session
    // the server never saw initialize on. The relay reconnects itself instead.
    if (method === 'GET' && opts.reopenGet === false && gets++ > 0) throw new Error('the event stream closed; the bridge reconnects itself');
    let res: Response;
    try {
      res = await base(url, init);
    } catch (err) {
      if (method !== 'POST' || err instanceof UpstreamSendError) throw err;
      if (isConnectionRefused(err)) throw new UpstreamSendError({ kind: 'not-delivered', reason: 'the proxy refused the connection' });
      throw new UpstreamSendError({ kind: 'lost', reason: describeError(err) });
    }
    if (method === 'POST') {
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        const rpc = rpcErrorOf(text);
        const what = rpc?.message ?? `HTTP ${res.status} ${res.statusText}`.trim();
        // 404 is an unknown session: the message was refused before it reached the server. The proxy also
        // answers 404 to requests that were pending when their session ended: those may have run.
        if (res.status === 404) {
          if (/\bended\b|\bclosed\b/i.test(what)) throw new UpstreamSendError({ kind: 'lost', reason: what });
          throw new UpstreamSendError({ kind: 'not-delivered', reason: what, status: 404 });
        }
        // 503: the proxy has no server behind it (stopped, starting, restarting); nothing was forwarded.
        if (res.status === 503) throw new UpstreamSendError({ kind: 'not-delivered', reason: what, status: 503 });
        throw new UpstreamSendError({ kind: 'answered', status: res.status, code: rpc?.code ?? -32000, message: what, data: rpc?.data });
      }
      if (isEventStream(res)) {
        const ids = requestIdsOf(init?.body);
        if (ids.length > 0) return withEndHook(res, () => observer.postStreamEnded(ids));
      }
      return res;
    }
    if (method === 'GET' && res.ok && isEventStream(res)) return withEndHook(res, (error) => observer.getStreamEnded(error));
    return res;
  };
}

/** The SDK's client transport for the target: Streamable HTTP, or legacy SSE for servers that speak only that. */
export function httpTransport(target: UpstreamTarget, fetch: FetchLike): UpstreamTransport {
  if (target.kind === 'sse') return new SSEClientTransport(target.url, { fetch });
  return new StreamableHTTPClientTransport(target.url, { fetch });
}
