import type { Db } from './database.js';

/** Per server, what its tools/list and prompts/list answers said (see ToolKnowledge): a JSON snapshot. */
export class ServerFeaturesRepository {
  constructor(private readonly db: Db) {}

  get(server: string): unknown {
    const r = this.db.prepare('SELECT snapshot_json FROM server_features WHERE server = ?').get(server) as { snapshot_json: string } | undefined;
    if (!r) return undefined;
    try {
      return JSON.parse(r.snapshot_json) as unknown;
    } catch {
      return undefined; // the caller validates anyway; a damaged row is as good as none
    }
  }

  put(server: string, snapshot: unknown, now = new Date().toISOString()): void {
    this.db
      .prepare(
        `INSERT INTO server_features (server, snapshot_json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (server) DO UPDATE SET snapshot_json = excluded.snapshot_json, updated_at = excluded.updated_at`,
      )
      .run(server, JSON.stringify(snapshot), now);
  }
}
