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
  /** FTS5 query over messages; plain words are matched as a phrase prefix so user input cannot break the syntax. */
  search?: string;
  afterId?: number;
  sinceTs?: number;
  limit?: number;
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
    const fts = q.search !== undefined ? toFtsQuery(q.search) : undefined;
    if (fts !== undefined) {
      where.push('l.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH @fts)');
      params['fts'] = fts;
    }
    const limit = Math.max(1, Math.min(q.limit ?? 1000, 10_000));
    // Newest `limit` rows, returned oldest first (the order a terminal shows them).
    const sql = `SELECT * FROM (SELECT l.* FROM logs l ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
                 ORDER BY l.id DESC LIMIT ${limit}) ORDER BY id ASC`;
    return (this.db.prepare(sql).all(params) as Row[]).map((r) => ({
      ...r,
      fields: r.fields ? (JSON.parse(r.fields) as Record<string, unknown>) : null,
    }));
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
