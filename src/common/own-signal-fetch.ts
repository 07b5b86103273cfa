import { setMaxListeners } from 'node:events';

/**
 * fetch with an abort signal of each request's own, linked to the caller's. The MCP SDK's client
 * transports hand one session signal to every fetch, and undici only unhooks its listener from it
 * when the response is garbage-collected: between collections thousands pile up on the one signal,
 * each add and remove gets slower, and Node prints a MaxListenersExceededWarning per call (into a
 * desktop client's MCP log, for the bridge). Here each request's link is removed the moment it ends:
 * a JSON answer is read whole first; an event stream ends, breaks or is cancelled.
 */

export type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export function isEventStream(res: Response): boolean {
  return (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() === 'text/event-stream';
}

/** The same response, with `onEnd` called once when its body ends, breaks or is cancelled. */
export function withEndHook(res: Response, onEnd: (error?: unknown) => void): Response {
  const body = res.body;
  if (!body) return res;
  const reader = body.getReader();
  let ended = false;
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    onEnd(error);
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end();
        } else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
        end(err);
      }
    },
    async cancel(reason) {
      end(reason);
      await reader.cancel(reason).catch(() => {});
    },
  });
  return new Response(stream, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** Above any real number of concurrent requests and streams, so a warning would still mean a leak. */
const IN_FLIGHT_LIMIT = 10_000;
const raisedLimit = new WeakSet<AbortSignal>();

function requestSignal(shared: AbortSignal | null | undefined): { signal: AbortSignal | undefined; release: () => void } {
  if (!shared) return { signal: undefined, release: () => {} };
  const own = new AbortController();
  if (shared.aborted) {
    own.abort(shared.reason);
    return { signal: own.signal, release: () => {} };
  }
  const onAbort = () => own.abort(shared.reason);
  // One listener per request in flight, each removed when it ends: concurrency, not a leak, sets the count.
  if (!raisedLimit.has(shared)) {
    setMaxListeners(IN_FLIGHT_LIMIT, shared);
    raisedLimit.add(shared);
  }
  shared.addEventListener('abort', onAbort, { once: true });
  return { signal: own.signal, release: () => shared.removeEventListener('abort', onAbort) };
}

/** Statuses whose Response may not carry a body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** The response read whole (a JSON answer or an empty 202), so the request is over when this resolves. */
async function buffered(res: Response): Promise<Response> {
  const body = NULL_BODY_STATUS.has(res.status) ? null : await res.arrayBuffer();
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

export function withOwnSignals(base: Fetch = fetch): Fetch {
  return async (url, init) => {
    const { signal, release } = requestSignal(init?.signal);
    let res: Response;
    try {
      res = await base(url, signal ? { ...init, signal } : init);
    } catch (err) {
      release();
      throw err;
    }
    if (isEventStream(res) && res.body) return withEndHook(res, release);
    try {
      return await buffered(res);
    } finally {
      release();
    }
  };
}
