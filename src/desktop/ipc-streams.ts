import { IPC_CHANNELS, type IpcApi, type IpcFailure } from '../api/index.js';

/** A window as the stream host sees it: Electron's webContents (id, send) in electron/main.ts. */
export interface IpcWindow {
  readonly id: number;
  send(channel: string, ...args: unknown[]): void;
}

/** A window holds a handful of streams (the push channel, a log tail); more is a bug or abuse. */
export const MAX_STREAMS_PER_WINDOW = 32;

const refused = (message: string): IpcFailure => ({ status: 400, error: { code: 'bad_request', message } });

/**
 * The main-process side of the window's streams: each `subscribe` (window, id, stream, input) from the
 * preload becomes one subscription on the core, whose events go back to that window on the `event`
 * channel and whose end on `end`. Ids are the preload's, scoped per window. A window that goes away
 * (closed, reloaded, crashed) drops every stream it held: nothing keeps sending to it.
 */
export class IpcStreamHost {
  private readonly windows = new Map<number, Map<number, () => void>>();

  constructor(
    private readonly api: Pick<IpcApi, 'subscribe'>,
    private readonly maxPerWindow = MAX_STREAMS_PER_WINDOW,
  ) {}

  subscribe(window: IpcWindow, id: unknown, name: unknown, input: unknown): void {
    // No valid id, no way to answer: the preload never sends one.
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return;
    const streams = this.windows.get(window.id) ?? new Map<number, () => void>();
    if (streams.has(id)) return this.send(window, IPC_CHANNELS.end, id, refused(`Stream ${id} is already open.`));
    if (streams.size >= this.maxPerWindow) return this.send(window, IPC_CHANNELS.end, id, refused(`Too many open streams (at most ${this.maxPerWindow} per window).`));
    this.windows.set(window.id, streams);
    let ended = false;
    const stop = this.api.subscribe(
      name,
      input,
      (event) => this.send(window, IPC_CHANNELS.event, id, event),
      (failure) => {
        ended = true;
        this.forget(window.id, id);
        this.send(window, IPC_CHANNELS.end, id, failure);
      },
    );
    // Refused at once (bad input, unknown server): the end was sent already, nothing to keep.
    if (!ended && this.windows.get(window.id) === streams) streams.set(id, stop);
    else stop();
    if (streams.size === 0 && this.windows.get(window.id) === streams) this.windows.delete(window.id);
  }

  unsubscribe(windowId: number, id: unknown): void {
    if (typeof id !== 'number') return;
    const stop = this.windows.get(windowId)?.get(id);
    this.forget(windowId, id);
    stop?.();
  }

  /** The window closed, reloaded or crashed. */
  closeWindow(windowId: number): void {
    const streams = this.windows.get(windowId);
    this.windows.delete(windowId);
    for (const stop of streams?.values() ?? []) stop();
  }

  /** Open streams of a window (tests, diagnostics). */
  count(windowId: number): number {
    return this.windows.get(windowId)?.size ?? 0;
  }

  private forget(windowId: number, id: number): void {
    const streams = this.windows.get(windowId);
    streams?.delete(id);
    if (streams?.size === 0) this.windows.delete(windowId);
  }

  /** A send to a window that is gone throws: the window's streams end there. */
  private send(window: IpcWindow, channel: string, ...args: unknown[]): void {
    try {
      window.send(channel, ...args);
    } catch {
      this.closeWindow(window.id);
    }
  }
}
