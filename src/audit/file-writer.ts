import fs from 'node:fs';
import type { AuditEvent } from './event.js';

/** ToolHive's slog line: `{"time":...,"level":"AUDIT","msg":"audit_event", ...event}` (no trailing newline). */
export function formatAuditLine(event: AuditEvent, time: Date = new Date()): string {
  return JSON.stringify({ time: time.toISOString(), level: 'AUDIT', msg: 'audit_event', ...event });
}

export interface AuditFileWriterOptions {
  /** Lines waiting to be written, in bytes, beyond which new events are dropped (counted in `dropped`). */
  maxQueueBytes?: number;
  onError?: (err: Error) => void;
}

/**
 * Appends audit lines to a file, created 0600 (an existing file with wider permissions is tightened to
 * 0600). `write` never blocks the request path: lines queue and are written in order by one writer.
 */
export class AuditFileWriter {
  private handle: fs.promises.FileHandle | undefined;
  private opening: Promise<fs.promises.FileHandle> | undefined;
  private queue: string[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | undefined;
  private closed = false;
  private overflowReported = false;
  /** Events dropped because the queue was full or a write failed. */
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly opts: AuditFileWriterOptions = {},
  ) {}

  /** Opens (creating) the file now, so a bad path is reported at start-up rather than on the first event. */
  async open(): Promise<void> {
    await this.fileHandle();
  }

  write(event: AuditEvent): void {
    this.writeLine(formatAuditLine(event));
  }

  writeLine(line: string): void {
    if (this.closed) {
      this.dropped++;
      return;
    }
    const bytes = Buffer.byteLength(line) + 1;
    if (this.queuedBytes + bytes > (this.opts.maxQueueBytes ?? 4 * 1024 * 1024)) {
      this.dropped++;
      if (!this.overflowReported) {
        this.overflowReported = true;
        this.opts.onError?.(new Error(`Audit log ${this.path} cannot keep up: dropping events.`));
      }
      return;
    }
    this.queue.push(line + '\n');
    this.queuedBytes += bytes;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Resolves when every line queued so far is written. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    const h = this.handle ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.handle = undefined;
    this.opening = undefined;
    await h?.close();
  }

  private fileHandle(): Promise<fs.promises.FileHandle> {
    if (this.handle) return Promise.resolve(this.handle);
    this.opening ??= (async () => {
      const h = await fs.promises.open(this.path, 'a', 0o600);
      try {
        const st = await h.stat();
        if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) await h.chmod(0o600);
      } catch (err) {
        await h.close();
        throw err;
      }
      this.handle = h;
      return h;
    })();
    this.opening.catch(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.queuedBytes = 0;
      this.overflowReported = false;
      try {
        const h = await this.fileHandle();
        await h.appendFile(batch.join(''));
      } catch (err) {
        this.dropped += batch.length;
        this.opts.onError?.(new Error(`Cannot write the audit log ${this.path}: ${(err as Error).message}`));
      }
    }
  }
}
