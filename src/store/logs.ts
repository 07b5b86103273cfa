import type { Db } from './database.js';

export type LogSource = 'container' | 'proxy' | 'core' | 'audit';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  id: number;
  ts: number;
  server: string;
  source: LogSource;
  level: LogLevel;
  message: string;
  fields: Record<string, unknown> | null;
}

export type NewLogEntry = Omit<LogEntry, 'id'>;

export interface LogQuery {
  server?: string;
  sources?: LogSource[];
  levels?: LogLevel[];
  /** FTS5 query over messages; plain words are matched as a phrase prefix so user input cannot break the syntax. */
  search?: string;
  /** Audit events only: the event's outcome, MCP method and target name (tool, prompt, resource). */
  outcome?: string;
  method?: string;
  target?: string;
  afterId?: number;
  beforeId?: number;
  sinceTs?: number;
  untilTs?: number;
  limit?: number;
  /** Which end of the matching rows a limited query keeps: the newest (default, a tail) or the oldest (paging forward). */
  from?: 'newest' | 'oldest';
}

export interface LogHistogram {
  bucketMs: number;
  /** One bucket per step that has lines, oldest first: its start and the line count per level. */
  buckets: { ts: number; debug: number; info: number; warn: number; error: number }[];
}

export interface RetentionPolicy {
  maxRows: number;
  maxAgeMs: number;
}

interface Row {
  id: number;
  ts: number;
  server: string;
  source: LogSource;
  level: LogLevel;
  message: string;
  fields: string | null;
}

/** Turns free text into a safe FTS5 query: each word quoted, the last one as a prefix. */
export function toFtsQuery(text: string): string | undefined {
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return undefined;
  return words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}

/** Container, proxy and core log lines, full-text indexed, bounded in size and age. */
export class LogsRepository {
  private readonly insertStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      'INSERT INTO logs (ts, server, source, level, message, fields) VALUES (@ts, @server, @source, @level, @message, @fields)',
    );
  }

  /** Inserts a batch in one transaction: one fsync for many lines. Returns the ids in order. */
  insertMany(entries: readonly NewLogEntry[]): number[] {
    const ids: number[] = [];
    this.db.transaction(() => {
      for (const e of entries) {
        const info = this.insertStmt.run({ ...e, fields: e.fields ? JSON.stringify(e.fields) : null });
        ids.push(Number(info.lastInsertRowid));
      }
    })();
    return ids;
  }

  query(q: LogQuery = {}): LogEntry[] {
    const { where, params } = this.filter(q);
    const limit = Math.max(1, Math.min(q.limit ?? 1000, 10_000));
    // The newest `limit` rows (or the oldest, paging forward), returned oldest first as a terminal shows them.
    const inner = q.from === 'oldest' ? 'ASC' : 'DESC';
    const sql = `SELECT * FROM (SELECT l.* FROM logs l ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
                 ORDER BY l.id ${inner} LIMIT ${limit}) ORDER BY id ASC`;
    return (this.db.prepare(sql).all(params) as Row[]).map((r) => ({
      ...r,
      fields: r.fields ? (JSON.parse(r.fields) as Record<string, unknown>) : null,
    }));
  }

  /** Line counts per level in time buckets (about `buckets` of them over the matching range), for the viewer's volume chart. */
  histogram(q: LogQuery = {}, buckets = 120): LogHistogram {
    const { where, params } = this.filter(q);
    const clause = where.length ? 'WHERE ' + where.join(' AND ') : '';
    const range = this.db.prepare(`SELECT MIN(l.ts) AS lo, MAX(l.ts) AS hi FROM logs l ${clause}`).get(params) as { lo: number | null; hi: number | null };
    if (range.lo === null || range.hi === null) return { bucketMs: 60_000, buckets: [] };
    const lo = q.sinceTs ?? range.lo;
    const hi = q.untilTs ?? range.hi;
    const bucketMs = niceStep(Math.max(1, hi - lo) / Math.max(1, buckets));
    const rows = this.db
      .prepare(`SELECT (l.ts / ${bucketMs}) * ${bucketMs} AS t, l.level AS level, COUNT(*) AS n FROM logs l ${clause} GROUP BY t, level ORDER BY t`)
      .all(params) as { t: number; level: LogLevel; n: number }[];
    const out = new Map<number, LogHistogram['buckets'][number]>();
    for (const r of rows) {
      let b = out.get(r.t);
      if (!b) out.set(r.t, (b = { ts: r.t, debug: 0, info: 0, warn: 0, error: 0 }));
      if (r.level in b) b[r.level] += r.n;
    }
    return { bucketMs, buckets: [...out.values()] };
  }

  private filter(q: LogQuery): { where: string[]; params: Record<string, unknown> } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (q.server !== undefined) {
      where.push('l.server = @server');
      params['server'] = q.server;
    }
    if (q.sources && q.sources.length > 0) {
      where.push(`l.source IN (${q.sources.map((_, i) => `@src${i}`).join(', ')})`);
      q.sources.forEach((s, i) => (params[`src${i}`] = s));
    }
    if (q.afterId !== undefined) {
      where.push('l.id > @afterId');
      params['afterId'] = q.afterId;
    }
    if (q.sinceTs !== undefined) {
      where.push('l.ts >= @sinceTs');
      params['sinceTs'] = q.sinceTs;
    }
    if (q.beforeId !== undefined) {
      where.push('l.id < @beforeId');
      params['beforeId'] = q.beforeId;
    }
    if (q.untilTs !== undefined) {
      where.push('l.ts <= @untilTs');
      params['untilTs'] = q.untilTs;
    }
    if (q.levels && q.levels.length > 0) {
      where.push(`l.level IN (${q.levels.map((_, i) => `@lvl${i}`).join(', ')})`);
      q.levels.forEach((l, i) => (params[`lvl${i}`] = l));
    }
    // Audit filters read the event kept in `fields` (ToolHive's audit event JSON).
    for (const [key, path] of [
      ['outcome', '$.outcome'],
      ['method', '$.target.method'],
      ['target', '$.target.name'],
    ] as const) {
      if (q[key] === undefined) continue;
      where.push(`l.source = 'audit' AND json_extract(l.fields, '${path}') = @${key}`);
      params[key] = q[key];
    }
    const fts = q.search !== undefined ? toFtsQuery(q.search) : undefined;
    if (fts !== undefined) {
      where.push('l.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH @fts)');
      params['fts'] = fts;
    }
    return { where, params };
  }

  lastTimestamp(server: string, source: LogSource): number | undefined {
    const row = this.db.prepare('SELECT MAX(ts) AS ts FROM logs WHERE server = ? AND source = ?').get(server, source) as
      | { ts: number | null }
      | undefined;
    return row?.ts ?? undefined;
  }

  deleteForServer(server: string): void {
    this.db.prepare('DELETE FROM logs WHERE server = ?').run(server);
  }

  /** Drops rows older than maxAge and the oldest rows beyond maxRows. Returns how many went. */
  prune(policy: RetentionPolicy, now = Date.now()): number {
    let removed = this.db.prepare('DELETE FROM logs WHERE ts < ?').run(now - policy.maxAgeMs).changes;
    const count = (this.db.prepare('SELECT COUNT(*) AS n FROM logs').get() as { n: number }).n;
    if (count > policy.maxRows) {
      removed += this.db
        .prepare('DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY id ASC LIMIT ?)')
        .run(count - policy.maxRows).changes;
    }
    return removed;
  }
}

/** A bucket width a person reads easily: 1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15, 30 min; 1, 2, 3, 6, 12 h; days. */
function niceStep(ms: number): number {
  const steps = [1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];
  for (const s of steps) if (s >= ms) return s;
  return Math.ceil(ms / 86_400_000) * 86_400_000;
}
