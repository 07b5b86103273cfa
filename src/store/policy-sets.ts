import type { Db } from './database.js';

export interface PolicySetRecord {
  name: string;
  currentVersion: number;
  /** The current version's authz-config (ToolHive's shape; validated by src/authz). */
  config: unknown;
  createdAt: string;
  updatedAt: string;
}

/** The file a version was saved from: its authz-config text as the user had it (comments, key order, layout). */
export interface PolicySourceFile {
  text: string;
  format: 'json' | 'yaml';
}

export interface PolicyVersionRecord {
  name: string;
  version: number;
  config: unknown;
  note: string | null;
  createdAt: string;
  /** The syntax of the file this version was saved from, when it was kept (see `source`); its export gives that file back. */
  file: 'json' | 'yaml' | null;
}

/**
 * Named Cedar policy sets with their whole history. A save appends a version and moves the set to it;
 * nothing is overwritten, so any earlier version can be looked at or restored.
 */
export class PolicySetsRepository {
  private readonly listeners = new Set<(name: string) => void>();

  constructor(private readonly db: Db) {}

  /** Called with a set's name after a version is saved or the set is deleted (read it later, not in the callback). */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(name: string): void {
    for (const l of this.listeners) l(name);
  }

  /**
   * Appends a version (creating the set on first save) and makes it current. Returns the new version number.
   * `source` is the file it came from; without one, a version with the same config keeps the file of the
   * newest earlier version with that config (a revert, or a save that changed nothing, exports as before).
   */
  save(name: string, config: unknown, note: string | null = null, opts: { source?: PolicySourceFile; now?: string } = {}): number {
    const now = opts.now ?? new Date().toISOString();
    const configJson = JSON.stringify(config);
    const saved = this.db.transaction(() => {
      const row = this.db.prepare('SELECT current_version FROM policy_sets WHERE name = ?').get(name) as { current_version: number } | undefined;
      const latest = (this.db.prepare('SELECT MAX(version) AS v FROM policy_versions WHERE set_name = ?').get(name) as { v: number | null }).v ?? 0;
      const version = latest + 1;
      const source =
        opts.source ??
        (this.db
          .prepare('SELECT source_text AS text, source_format AS format FROM policy_versions WHERE set_name = ? AND config_json = ? AND source_text IS NOT NULL ORDER BY version DESC LIMIT 1')
          .get(name, configJson) as PolicySourceFile | undefined);
      if (row) this.db.prepare('UPDATE policy_sets SET current_version = ?, updated_at = ? WHERE name = ?').run(version, now, name);
      else this.db.prepare('INSERT INTO policy_sets (name, current_version, created_at, updated_at) VALUES (?, ?, ?, ?)').run(name, version, now, now);
      this.db
        .prepare('INSERT INTO policy_versions (set_name, version, config_json, note, created_at, source_text, source_format) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(name, version, configJson, note, now, source?.text ?? null, source?.format ?? null);
      return version;
    })();
    this.changed(name);
    return saved;
  }

  get(name: string): PolicySetRecord | undefined {
    const r = this.db
      .prepare(
        `SELECT s.name, s.current_version, s.created_at, s.updated_at, v.config_json
           FROM policy_sets s JOIN policy_versions v ON v.set_name = s.name AND v.version = s.current_version
          WHERE s.name = ?`,
      )
      .get(name) as { name: string; current_version: number; created_at: string; updated_at: string; config_json: string } | undefined;
    return r
      ? { name: r.name, currentVersion: r.current_version, config: JSON.parse(r.config_json) as unknown, createdAt: r.created_at, updatedAt: r.updated_at }
      : undefined;
  }

  version(name: string, version: number): PolicyVersionRecord | undefined {
    const r = this.db.prepare('SELECT set_name, version, config_json, note, created_at, source_format FROM policy_versions WHERE set_name = ? AND version = ?').get(name, version) as
      | { set_name: string; version: number; config_json: string; note: string | null; created_at: string; source_format: 'json' | 'yaml' | null }
      | undefined;
    return r ? { name: r.set_name, version: r.version, config: JSON.parse(r.config_json) as unknown, note: r.note, createdAt: r.created_at, file: r.source_format } : undefined;
  }

  /** The file a version was saved from, when one was kept. */
  source(name: string, version: number): PolicySourceFile | undefined {
    const r = this.db.prepare('SELECT source_text AS text, source_format AS format FROM policy_versions WHERE set_name = ? AND version = ? AND source_text IS NOT NULL').get(name, version) as PolicySourceFile | undefined;
    return r ? { text: r.text, format: r.format } : undefined;
  }

  history(name: string): PolicyVersionRecord[] {
    const rows = this.db.prepare('SELECT version FROM policy_versions WHERE set_name = ? ORDER BY version DESC').all(name) as { version: number }[];
    return rows.map((r) => this.version(name, r.version)!);
  }

  list(): PolicySetRecord[] {
    return (this.db.prepare('SELECT name FROM policy_sets ORDER BY name').all() as { name: string }[]).map((r) => this.get(r.name)!);
  }

  delete(name: string): boolean {
    const gone = this.db.prepare('DELETE FROM policy_sets WHERE name = ?').run(name).changes > 0;
    if (gone) this.changed(name);
    return gone;
  }
}
