import { EventEmitter } from 'node:events';
import type { LogEntry, LogsRepository, NewLogEntry, RetentionPolicy } from '../store/index.js';

/** At least a million lines (a busy day of several servers), and a month. */
export const DEFAULT_RETENTION: RetentionPolicy = { maxRows: 1_000_000, maxAgeMs: 30 * 24 * 60 * 60 * 1000 };

/**
 * Collects log lines from containers, proxies and the core, writes them to SQLite in small batches
 * (one transaction per flush instead of one per line) and publishes them to live followers.
 */
export class LogSink {
  private queue: NewLogEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly live = new EventEmitter();
  private writesSincePrune = 0;

  constructor(
    private readonly repo: LogsRepository,
    private readonly opts: { flushMs?: number; retention?: RetentionPolicy; minLevel?: 'debug' | 'info' } = {},
  ) {
    this.live.setMaxListeners(0);
  }

  write(entry: Omit<NewLogEntry, 'ts'> & { ts?: number }): void {
    if (entry.level === 'debug' && this.opts.minLevel !== 'debug') return;
    this.queue.push({ ...entry, ts: entry.ts ?? Date.now() });
    if (this.queue.length >= 500) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 50);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const ids = this.repo.insertMany(batch);
    batch.forEach((e, i) => this.live.emit('entry', { ...e, id: ids[i] ?? 0 } satisfies LogEntry));
    this.writesSincePrune += batch.length;
    if (this.writesSincePrune >= 10_000) {
      this.writesSincePrune = 0;
      this.repo.prune(this.opts.retention ?? DEFAULT_RETENTION);
    }
  }

  /** Live entries as they are stored. Returns an unsubscribe function. */
  follow(listener: (entry: LogEntry) => void): () => void {
    this.live.on('entry', listener);
    return () => this.live.off('entry', listener);
  }

  prune(): number {
    return this.repo.prune(this.opts.retention ?? DEFAULT_RETENTION);
  }

  get retention(): RetentionPolicy {
    return this.opts.retention ?? DEFAULT_RETENTION;
  }

  /** A new retention applies at once (a smaller one prunes now). */
  setRetention(retention: RetentionPolicy): void {
    this.opts.retention = retention;
    this.prune();
  }

  close(): void {
    this.flush();
    this.live.removeAllListeners();
  }
}
