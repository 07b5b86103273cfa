import type { ApiErrorBody } from './contract.js';

/**
 * The control API as the Electron window reaches it: the preload exposes exactly this object on
 * `window.gatehouse` (and nothing else), the main process answers it from the core. Browser-safe: types
 * and constants only, so the renderer, the preload's type check and the main process share one shape.
 */

/** Why a call or a stream failed: the error the HTTP binding would have answered, with its status. */
export interface IpcFailure {
  status: number;
  error: ApiErrorBody['error'];
}

/** What crosses Electron's IPC for one call: the route's output, or the error the HTTP binding would send. */
export type IpcResult = { ok: true; value: unknown } | ({ ok: false } & IpcFailure);

export interface GatehouseBridge {
  /** One call of a route of the route map, by name. Never rejects for an API error: the result says it. */
  invoke(route: string, input: unknown): Promise<IpcResult>;
  /**
   * Follows a stream of the route map by name. `onEnd` is called once when the core ends the stream,
   * with the failure when it was refused (bad input, unknown server) or broke; never after unsubscribing.
   */
  subscribe(stream: string, input: unknown, onEvent: (event: unknown) => void, onEnd?: (failure?: IpcFailure) => void): () => void;
}

/**
 * The only IPC channels the window uses. Renderer → main: `invoke` (ipcRenderer.invoke), `subscribe`
 * (id, stream, input) and `unsubscribe` (id). Main → renderer: `event` (id, event) and `end` (id, failure?).
 */
export const IPC_CHANNELS = {
  invoke: 'gatehouse:invoke',
  subscribe: 'gatehouse:subscribe',
  unsubscribe: 'gatehouse:unsubscribe',
  event: 'gatehouse:event',
  end: 'gatehouse:end',
} as const;
