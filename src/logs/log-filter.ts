import type { LogEntry, LogQuery } from '../store/index.js';

/**
 * Whether a new line belongs to a live query (the log follow), with the store's meaning for every filter
 * but search: FTS5 tokenizes, so live lines match when each searched word is in the message (a prefix of
 * a word for the last one, as toFtsQuery does), case-insensitively.
 */
export function matchesLogFilter(e: LogEntry, q: LogQuery): boolean {
  if (q.server !== undefined && e.server !== q.server) return false;
  if (q.sources?.length && !q.sources.includes(e.source)) return false;
  if (q.levels?.length && !q.levels.includes(e.level)) return false;
  if (q.sinceTs !== undefined && e.ts < q.sinceTs) return false;
  if (q.untilTs !== undefined && e.ts > q.untilTs) return false;
  if (q.outcome !== undefined || q.method !== undefined || q.target !== undefined || q.type !== undefined) {
    if (e.source !== 'audit') return false;
    const f = e.fields as { outcome?: unknown; type?: unknown; target?: { method?: unknown; name?: unknown } } | null;
    if (q.type !== undefined && !(q.type.endsWith('*') ? typeof f?.type === 'string' && f.type.startsWith(q.type.slice(0, -1)) : f?.type === q.type)) return false;
    if (q.outcome !== undefined && f?.outcome !== q.outcome) return false;
    if (q.method !== undefined && f?.target?.method !== q.method) return false;
    if (q.target !== undefined && f?.target?.name !== q.target) return false;
  }
  if (q.search !== undefined) {
    const words = q.search.toLowerCase().split(/\s+/).filter(Boolean);
    const text = e.message.toLowerCase();
    if (!words.every((w) => text.includes(w))) return false;
  }
  return true;
}
