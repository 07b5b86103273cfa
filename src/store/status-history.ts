import type { Db } from './database.js';
import type { ServerStatus } from './servers.js';

export interface StatusEvent {
  id: number;
  server: string;
  status: ServerStatus;
  detail: string | null;
  exitCode: number | null;
  at: string;
}

/** Every status a server went through, so "why did it stop?" has an answer after the fact. */
export class StatusHistoryRepository {
  constructor(private readonly db: Db) {}

  record(server: string, status: ServerStatus, detail: string | null, exitCode: number | null = null, at = new Date().toISOString()): void {
    this.db
      .prepare('INSERT INTO server_status_history (server, status, detail, exit_code, at) VALUES (?, ?, ?, ?, ?)')
      .run(server, status, detail, exitCode, at);
  }

  forServer(server: string, limit = 50): StatusEvent[] {
    const rows = this.db
      .prepare(
        `SELECT id, server, status, detail, exit_code AS exitCode, at FROM server_status_history
         WHERE server = ? ORDER BY id DESC LIMIT ?`,
      )
      .all(server, limit) as StatusEvent[];
    return rows.reverse();
  }

  deleteForServer(server: string): void {
    this.db.prepare('DELETE FROM server_status_history WHERE server = ?').run(server);
  }
}
