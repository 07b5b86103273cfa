import type { LogLine } from '../../src/api/browser.js';

/** The most lines the viewer keeps in memory; scrolling further fetches the next window from the core. */
export const MAX_WINDOW = 3_000;

/**
 * The lines the viewer holds: a contiguous run of the query's matches. `live` means the run reaches the
 * newest line, so pushed lines extend it; otherwise they are only counted.
 */
export interface LogWindow {
  rows: LogLine[];
  live: boolean;
  /** More lines exist before rows[0] (a fetch returned a full page). */
  older: boolean;
}

export const emptyWindow: LogWindow = { rows: [], live: true, older: false };

export function prepend(w: LogWindow, older: LogLine[], pageSize: number): { window: LogWindow; added: number } {
  const known = w.rows[0]?.id ?? Infinity;
  const fresh = older.filter((l) => l.id < known);
  let rows = [...fresh, ...w.rows];
  let live = w.live;
  if (rows.length > MAX_WINDOW) {
    rows = rows.slice(0, MAX_WINDOW);
    live = false;
  }
  return { window: { rows, live, older: older.length >= pageSize }, added: fresh.length };
}

export function append(w: LogWindow, newer: LogLine[], reachedEnd: boolean): { window: LogWindow; dropped: number } {
  const known = w.rows.at(-1)?.id ?? -Infinity;
  const fresh = newer.filter((l) => l.id > known);
  let rows = [...w.rows, ...fresh];
  let dropped = 0;
  let older = w.older;
  if (rows.length > MAX_WINDOW) {
    dropped = rows.length - MAX_WINDOW;
    rows = rows.slice(dropped);
    older = true;
  }
  return { window: { rows, live: w.live || reachedEnd, older }, dropped };
}
