import { createParser } from 'eventsource-parser';
import { ApiErrorBodySchema, type ApiErrorCode, type ErrorHint, type PolicyCheckView } from './contract.js';
import { encodeRequest, routes, streams, type RouteInput, type RouteName, type RouteOutput, type RouteSpec, type StreamEvent, type StreamInput, type StreamName, type StreamSpec } from './routes.js';

/**
 * The typed client of the control API, derived from the route map: one method per route. Browser-safe
 * (fetch, eventsource-parser and zod only), so the CLI, the bridge, the renderer and tests share it.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** What the user can do about it, for the caller to word. */
    readonly hint?: ErrorHint,
    /** A refused policy set's problems, when that is what went wrong. */
    readonly check?: PolicyCheckView,
  ) {
    super(message);
  }
}

/** How requests reach a core: HTTP (CLI, browser) or Electron IPC. */
export interface ApiTransport {
  request(spec: RouteSpec, input: Record<string, unknown>): Promise<unknown>;
  /** Delivers each event until the signal aborts or the core ends the stream. */
  stream(spec: StreamSpec, input: Record<string, unknown>, onEvent: (event: unknown) => void, signal?: AbortSignal): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- {} is exactly "every field optional"
type Args<I> = {} extends I ? [input?: I] : [input: I];

export type ApiMethods = { [K in RouteName]: (...args: Args<RouteInput<K>>) => Promise<RouteOutput<K>> };

export interface ApiClient extends ApiMethods {
  follow<K extends StreamName>(name: K, input: StreamInput<K>, onEvent: (event: StreamEvent<K>) => void, signal?: AbortSignal): Promise<void>;
}

export function createApiClient(transport: ApiTransport): ApiClient {
  const client: Record<string, unknown> = {
    follow: (name: StreamName, input: Record<string, unknown>, onEvent: (e: unknown) => void, signal?: AbortSignal) => transport.stream(streams[name], input, onEvent, signal),
  };
  for (const [name, spec] of Object.entries(routes) as [RouteName, RouteSpec][]) {
    client[name] = (input: Record<string, unknown> = {}) => transport.request(spec, input);
  }
  return client as unknown as ApiClient;
}

export interface HttpTransportOptions {
  baseUrl: string;
  /** The bearer token (CLI, bridge). The browser has none: its session cookie goes along instead. */
  token?: string;
  fetch?: typeof fetch;
}

/** Asked on every call: a page on another origin cannot send it without a preflight the core refuses. */
export const REQUEST_HEADER = 'x-gatehouse-request';

export function httpTransport(opts: HttpTransportOptions): ApiTransport {
  const doFetch = opts.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init));
  const headers = (json: boolean): Record<string, string> => ({
    [REQUEST_HEADER]: '1',
    ...(opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {}),
    ...(json ? { 'content-type': 'application/json' } : {}),
  });
  const url = (path: string, query: URLSearchParams) => `${opts.baseUrl}${path}${query.toString() !== '' ? `?${query.toString()}` : ''}`;
  return {
    async request(spec, input) {
      const { path, query, body } = encodeRequest(spec, input);
      const res = await doFetch(url(path, query), {
        method: spec.method,
        headers: headers(body !== undefined),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        credentials: 'same-origin',
      });
      if (!res.ok) throw await errorOf(res);
      return res.json();
    },
    async stream(spec, input, onEvent, signal) {
      const { path, query } = encodeRequest(spec, input);
      const res = await doFetch(url(path, query), { headers: { ...headers(false), accept: 'text/event-stream' }, credentials: 'same-origin', ...(signal ? { signal } : {}) });
      if (!res.ok || !res.body) throw await errorOf(res);
      const parser = createParser({ onEvent: (e) => e.data !== '' && onEvent(JSON.parse(e.data)) });
      const decoder = new TextDecoder();
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      } finally {
        reader.releaseLock();
      }
    },
  };
}

/** The client of a core at baseUrl with its token (the CLI's and the tests' way in). */
export function connectApi(baseUrl: string, token: string, fetchImpl?: typeof fetch): ApiClient {
  return createApiClient(httpTransport({ baseUrl, token, ...(fetchImpl ? { fetch: fetchImpl } : {}) }));
}

export function apiErrorFromBody(status: number, body: unknown): ApiError {
  const parsed = ApiErrorBodySchema.safeParse(body);
  if (!parsed.success) return new ApiError(status, 'internal', `The Gatehouse core answered HTTP ${status}.`);
  const e = parsed.data.error;
  return new ApiError(status, e.code, e.message, e.hint, e.check);
}

/** An error answer's text (any transport) as the ApiError it describes, or a plain one when it is not JSON. */
export function apiErrorFromText(status: number, text: string): ApiError {
  try {
    return apiErrorFromBody(status, JSON.parse(text));
  } catch {
    return new ApiError(status, 'internal', `The Gatehouse core answered HTTP ${status}.`);
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  return apiErrorFromText(res.status, await res.text().catch(() => ''));
}
