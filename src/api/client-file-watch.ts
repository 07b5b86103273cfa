import fs from 'node:fs';
import path from 'node:path';

const SETTLE_MS = 200;

/**
 * Tells when an MCP client's settings file changes on disk (the user edits it, the client rewrites it),
 * so its sync state can be pushed instead of found stale at the next reload. Watches the files'
 * folders (editors replace files, which a watch on the file itself would lose), coalescing bursts.
 */
export class ClientFileWatch {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onChange: () => void) {}

  /** Watches exactly these files from now on (folders that do not exist are skipped). */
  set(files: readonly string[]): void {
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const dir = path.dirname(f);
      if (!byDir.has(dir)) byDir.set(dir, new Set());
      byDir.get(dir)!.add(path.basename(f));
    }
    for (const [dir, w] of this.watchers) {
      if (!byDir.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const [dir, names] of byDir) {
      this.watchers.get(dir)?.close();
      try {
        const w = fs.watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name.toString())) this.changed();
        });
        w.on('error', () => w.close());
        this.watchers.set(dir, w);
      } catch {
        this.watchers.delete(dir); // gone or unreadable: nothing to watch
      }
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(), SETTLE_MS);
    this.timer.unref();
  }
}
