import { ApiError, apiErrorFromBody, type ApiTransport } from './client.js';
import type { GatehouseBridge, IpcFailure } from './ipc-bridge.js';
import { routes, streams, type RouteSpec, type StreamSpec } from './routes.js';

export type { GatehouseBridge, IpcFailure, IpcResult } from './ipc-bridge.js';
export { IPC_CHANNELS } from './ipc-bridge.js';

// The transport gets a route's spec; IPC names routes, so look the name up from the one route map.
const routeNames = new Map<RouteSpec, string>(Object.entries(routes).map(([name, spec]) => [spec, name]));
const streamNames = new Map<StreamSpec, string>(Object.entries(streams).map(([name, spec]) => [spec, name]));

function failure(f: IpcFailure): ApiError {
  return apiErrorFromBody(f.status, { error: f.error });
}

function unreachable(err: unknown): ApiError {
  return new ApiError(500, 'internal', `The Gatehouse core did not answer: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * The typed client's transport in the Electron window (and in the main process itself, over the core's
 * in-process binding): calls and streams go by route name through the bridge, errors come back as the
 * same ApiError the HTTP transport throws.
 */
export function ipcTransport(bridge: GatehouseBridge): ApiTransport {
  return {
    async request(spec, input) {
      const name = routeNames.get(spec);
      if (name === undefined) throw new ApiError(404, 'not_found', `No API route ${spec.method} ${spec.path}.`);
      let result;
      try {
        result = await bridge.invoke(name, input);
      } catch (err) {
        throw unreachable(err);
      }
      if (!result.ok) throw failure(result);
      return result.value;
    },
    stream(spec, input, onEvent, signal) {
      const name = streamNames.get(spec);
      if (name === undefined) return Promise.reject(new ApiError(404, 'not_found', `No API stream ${spec.path}.`));
      if (signal?.aborted) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let unsubscribe: (() => void) | undefined;
        let done = false;
        const finish = (err?: unknown) => {
          if (done) return;
          done = true;
          signal?.removeEventListener('abort', abort);
          if (err) reject(err);
          else resolve();
        };
        const abort = () => {
          unsubscribe?.();
          finish();
        };
        signal?.addEventListener('abort', abort, { once: true });
        try {
          unsubscribe = bridge.subscribe(
            name,
            input,
            (e) => {
              if (done) return;
              try {
                onEvent(e);
              } catch (err) {
                // As over HTTP: a subscriber that throws ends its stream with that error.
                unsubscribe?.();
                finish(err);
              }
            },
            (f) => finish(f ? failure(f) : undefined),
          );
        } catch (err) {
          finish(unreachable(err));
          return;
        }
        // The stream may have ended (refused) before subscribe returned.
        if (done) unsubscribe();
      });
    },
  };
}
