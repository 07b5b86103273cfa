import { BadRequestError } from '../app/errors.js';
import { errorResponse } from './error-mapping.js';
import type { HandlerContext } from './handlers.js';
import type { GatehouseBridge, IpcFailure, IpcResult } from './ipc-bridge.js';
import type { ApiService } from './service.js';

export type { IpcFailure, IpcResult } from './ipc-bridge.js';

/**
 * The control API for the Electron window, over the same service as the HTTP binding: the preload
 * forwards (route or stream name, input); the name is looked up in the route map and the input
 * validated with its schema here, in the main process, exactly as an HTTP request would be. Values
 * cross as JSON would (what the HTTP binding sends), never as live objects. Electron stays out of src/:
 * electron/main.ts wires ipcMain to this after checking the sender.
 *
 * It has the shape of the preload's bridge, so the main process's own client (the tray) uses it too.
 */
export interface IpcApi extends GatehouseBridge {
  invoke(name: unknown, input: unknown): Promise<IpcResult>;
  subscribe(name: unknown, input: unknown, onEvent: (event: unknown) => void, onEnd?: (failure?: IpcFailure) => void): () => void;
}

function failureOf(err: unknown): IpcFailure {
  const { status, body } = errorResponse(err);
  return { status, error: body.error };
}

/** What JSON.stringify/parse would make of a value: plain data only, like the HTTP binding's body. */
function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function createIpcApi(service: ApiService, ctx: HandlerContext): IpcApi {
  return {
    async invoke(name, input) {
      try {
        if (typeof name !== 'string') throw new BadRequestError('The route name must be a string.');
        return { ok: true, value: asJson(await service.call(name, input, ctx)) };
      } catch (err) {
        return { ok: false, ...failureOf(err) };
      }
    },
    subscribe(name, input, onEvent, onEnd) {
      let start;
      try {
        if (typeof name !== 'string') throw new BadRequestError('The stream name must be a string.');
        start = service.stream(name, input);
      } catch (err) {
        onEnd?.(failureOf(err));
        return () => {};
      }
      // A subscriber that throws (a window gone mid-send) ends its own stream, never the core's fan-out
      // (the log sink and the push channel call every follower in turn).
      let stop: (() => void) | undefined;
      let broken = false;
      stop = start(
        (e) => {
          if (broken) return;
          try {
            onEvent(asJson(e));
          } catch (err) {
            broken = true;
            stop?.();
            onEnd?.(failureOf(err));
          }
        },
        () => onEnd?.(),
      );
      if (broken) stop();
      return stop;
    },
  };
}
