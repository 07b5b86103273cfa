import { errorResponse } from './error-mapping.js';
import type { ApiErrorBody } from './contract.js';
import type { Handlers } from './handlers.js';
import { routes, type RouteName } from './routes.js';

/** What crosses Electron's IPC for one call: the route's output, or the error the HTTP binding would send. */
export type IpcResult = { ok: true; value: unknown } | { ok: false; status: number; error: ApiErrorBody['error'] };

/**
 * The control API for the Electron window, derived from the same route map as the HTTP binding: the
 * preload forwards (route name, input); the input is validated with the route's schema here, in the
 * main process, exactly as an HTTP body would be. Electron itself stays out of src/.
 */
export function createIpcDispatcher(handlers: Handlers, ctx: { uiLoginUrl: () => string }): (name: unknown, input: unknown) => Promise<IpcResult> {
  return async (name, input) => {
    try {
      if (typeof name !== 'string' || !Object.hasOwn(routes, name)) throw new TypeError(`No API route ${String(name)}.`);
      const spec = routes[name as RouteName];
      const parsed = spec.input.parse(input ?? {});
      const handler = handlers[name as RouteName] as (input: unknown, c: typeof ctx) => unknown;
      return { ok: true, value: await handler(parsed, ctx) };
    } catch (err) {
      const { status, body } = errorResponse(err instanceof TypeError ? Object.assign(new Error(err.message), { name: 'NotFound' }) : err);
      return { ok: false, status, error: body.error };
    }
  };
}
