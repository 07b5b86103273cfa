import type { Db } from './database.js';

export interface ClientRegistration {
  client: string;
  group: string;
  registeredAt: string;
}

/** An entry Gatehouse wrote into a client's configuration file. */
export interface OwnedClientEntry {
  client: string;
  file: string;
  entry: string;
  server: string;
  content: unknown;
  writtenAt: string;
}

/** Which clients are registered for which server groups. */
export class ClientRegistrationsRepository {
  constructor(private readonly db: Db) {}

  list(client?: string): ClientRegistration[] {
    const rows = (
      client === undefined
        ? this.db.prepare('SELECT client, grp, registered_at FROM client_registrations ORDER BY client, grp').all()
        : this.db.prepare('SELECT client, grp, registered_at FROM client_registrations WHERE client = ? ORDER BY grp').all(client)
    ) as { client: string; grp: string; registered_at: string }[];
    return rows.map((r) => ({ client: r.client, group: r.grp, registeredAt: r.registered_at }));
  }

  /** True when the registration is new. */
  add(client: string, group: string, now = new Date().toISOString()): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO client_registrations (client, grp, registered_at) VALUES (?, ?, ?)').run(client, group, now).changes > 0;
  }

  /** Removes one group's registration, or all of the client's; returns how many were removed. */
  remove(client: string, group?: string): number {
    const stmt = group === undefined ? this.db.prepare('DELETE FROM client_registrations WHERE client = ?') : this.db.prepare('DELETE FROM client_registrations WHERE client = ? AND grp = ?');
    return (group === undefined ? stmt.run(client) : stmt.run(client, group)).changes;
  }
}

/** The entries Gatehouse wrote, per client and file, so it only ever edits its own. */
export class ClientEntriesRepository {
  constructor(private readonly db: Db) {}

  forFile(client: string, file: string): OwnedClientEntry[] {
    const rows = this.db.prepare('SELECT client, file, entry, server, content_json, written_at FROM client_entries WHERE client = ? AND file = ? ORDER BY entry').all(client, file) as {
      client: string;
      file: string;
      entry: string;
      server: string;
      content_json: string;
      written_at: string;
    }[];
    return rows.map((r) => ({ client: r.client, file: r.file, entry: r.entry, server: r.server, content: JSON.parse(r.content_json) as unknown, writtenAt: r.written_at }));
  }

  /** The clients whose files hold an entry Gatehouse wrote for this server. */
  clientsOf(server: string): string[] {
    return (this.db.prepare('SELECT DISTINCT client FROM client_entries WHERE server = ? ORDER BY client').all(server) as { client: string }[]).map((r) => r.client);
  }

  /** Replaces what is recorded for one file with `entries`, in one transaction (after the file was written). */
  replaceForFile(client: string, file: string, entries: readonly { entry: string; server: string; content: unknown }[], now = new Date().toISOString()): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM client_entries WHERE client = ? AND file = ?').run(client, file);
      const insert = this.db.prepare('INSERT INTO client_entries (client, file, entry, server, content_json, written_at) VALUES (?, ?, ?, ?, ?, ?)');
      for (const e of entries) insert.run(client, file, e.entry, e.server, JSON.stringify(e.content), now);
    })();
  }
}
