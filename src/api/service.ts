import { NotFoundError } from '../app/errors.js';
import { matchesLogFilter } from '../logs/index.js';
import type { LogQuery } from '../store/index.js';
import { CoreEvents } from './core-events.js';
import { createHandlers, type ApiDeps, type HandlerContext, type Handlers } from './handlers.js';
import { routes, streams, type RouteName, type StreamName } from './routes.js';

export interface ApiServiceOptions {
  /** Check every response against its route's schema (tests): a mismatch is an error. */
  checkResponses?: boolean;
}

/** A stream's events go to `send`; `onEnd` is called once if the core ends it (shutdown). */
export type StreamStart = (send: (event: unknown) => void, onEnd: () => void) => () => void;

/**
 * The control API once, whatever carries it: input validated with the route's schema, the handler,
 * the response check, the push channel's side effects, and the streams. The HTTP binding (server.ts)
 * and the Electron IPC binding (ipc-binding.ts) are both thin over this.
 */
export class ApiService {
  readonly events: CoreEvents;
  private readonly handlers: Handlers;
  private readonly open = new Set<() => void>();

  constructor(
    private readonly deps: ApiDeps,
    private readonly opts: ApiServiceOptions = {},
  ) {
    this.handlers = createHandlers(deps);
    this.events = new CoreEvents(deps.store, deps.manager, deps.clients, deps.signIns, deps.authServer);
  }

  /** A route by name; throws NotFoundError for a name that is no route, ZodError for bad input. */
  async call(name: string, rawInput: unknown, ctx: HandlerContext): Promise<unknown> {
    if (!Object.hasOwn(routes, name)) throw new NotFoundError(`No API route ${name}.`);
    const route = name as RouteName;
    const spec = routes[route];
    const input = spec.input.parse(rawInput ?? {});
    const handler = this.handlers[route] as (input: unknown, ctx: HandlerContext) => unknown;
    const output = await handler(input, ctx);
    if (this.opts.checkResponses) {
      const checked = spec.output.safeParse(output);
      if (!checked.success) throw new Error(`The response of ${route} does not match its schema: ${checked.error.message}`);
    }
    // Client files changed through the API: push their new state (the store does not see file edits).
    if (route === 'setupClient' || route === 'removeClient') this.events.clientsChanged();
    return output;
  }

  /**
   * Validates a stream's input (throws as a call would: unknown stream, bad input, unknown server)
   * and returns how to start it, so a binding can answer a refusal before it commits to streaming.
   */
  stream(name: string, rawInput: unknown): StreamStart {
    if (!Object.hasOwn(streams, name)) throw new NotFoundError(`No API stream ${name}.`);
    const stream = name as StreamName;
    const input = streams[stream].input.parse(rawInput ?? {}) as LogQuery;
    if (input.server !== undefined) this.deps.manager.get(input.server);
    const subscribe = (send: (event: unknown) => void): (() => void) => {
      switch (stream) {
        case 'events':
          return this.events.subscribe(send);
        case 'followLogs':
          return this.followLogs(input, send);
      }
    };
    return (send, onEnd) => {
      const unsubscribe = subscribe(send);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        this.open.delete(closeByCore);
        unsubscribe();
      };
      const closeByCore = () => {
        end();
        onEnd();
      };
      this.open.add(closeByCore);
      return end;
    };
  }

  /** Ends every open stream (their `onEnd` is called) and the push channel. */
  close(): void {
    for (const end of [...this.open]) end();
    this.events.close();
  }

  /** Backlog first (the query's newest lines after afterId), then every new line that matches. */
  private followLogs(q: LogQuery, send: (e: unknown) => void): () => void {
    this.deps.logs.flush();
    let lastId = q.afterId ?? 0;
    for (const e of this.deps.store.logs.query({ ...q, limit: q.limit ?? 100 })) {
      send(e);
      lastId = e.id;
    }
    return this.deps.logs.follow((e) => {
      if (e.id > lastId && matchesLogFilter(e, q)) send(e);
    });
  }
}
