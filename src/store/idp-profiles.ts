import type { Db } from './database.js';

export interface IdpProfileRecord {
  name: string;
  config: unknown;
  createdAt: string;
  updatedAt: string;
}

/** Shared identity-provider settings, referenced by name from many servers (the ConfigMap of the operator). */
export class IdpProfilesRepository {
  constructor(private readonly db: Db) {}

  upsert(name: string, config: unknown, now = new Date().toISOString()): void {
    this.db
      .prepare(
        `INSERT INTO idp_profiles (name, config_json, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET config_json = excluded.config_json, updated_at = excluded.updated_at`,
      )
      .run(name, JSON.stringify(config), now, now);
  }

  get(name: string): IdpProfileRecord | undefined {
    const r = this.db.prepare('SELECT name, config_json, created_at, updated_at FROM idp_profiles WHERE name = ?').get(name) as
      | { name: string; config_json: string; created_at: string; updated_at: string }
      | undefined;
    return r ? { name: r.name, config: JSON.parse(r.config_json) as unknown, createdAt: r.created_at, updatedAt: r.updated_at } : undefined;
  }

  list(): IdpProfileRecord[] {
    return (this.db.prepare('SELECT name FROM idp_profiles ORDER BY name').all() as { name: string }[]).map((r) => this.get(r.name)!);
  }

  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM idp_profiles WHERE name = ?').run(name).changes > 0;
  }
}
