/**
 * Numbered schema migrations. Append only: a migration that has shipped is never edited,
 * because users' databases already ran it.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'servers, status history, logs',
    sql: `
      CREATE TABLE servers (
        name               TEXT PRIMARY KEY,
        image              TEXT,
        url                TEXT,
        transport          TEXT NOT NULL CHECK (transport IN ('stdio', 'sse', 'streamable-http')),
        args_json          TEXT NOT NULL DEFAULT '[]',
        env_json           TEXT NOT NULL DEFAULT '{}',
        volumes_json       TEXT NOT NULL DEFAULT '[]',
        permission_profile TEXT NOT NULL,
        profile_json       TEXT NOT NULL,
        proxy_port         INTEGER NOT NULL UNIQUE,
        target_port        INTEGER,
        grp                TEXT NOT NULL DEFAULT 'default',
        memory_bytes       INTEGER,
        nano_cpus          INTEGER,
        network_setting    TEXT NOT NULL DEFAULT 'default',
        desired_state      TEXT NOT NULL CHECK (desired_state IN ('running', 'stopped')),
        status             TEXT NOT NULL,
        status_detail      TEXT,
        container_id       TEXT,
        created_at         TEXT NOT NULL,
        updated_at         TEXT NOT NULL
      );

      CREATE TABLE server_status_history (
        id        INTEGER PRIMARY KEY,
        server    TEXT NOT NULL,
        status    TEXT NOT NULL,
        detail    TEXT,
        exit_code INTEGER,
        at        TEXT NOT NULL
      );
      CREATE INDEX server_status_history_server ON server_status_history (server, id);

      CREATE TABLE logs (
        id      INTEGER PRIMARY KEY,
        ts      INTEGER NOT NULL,
        server  TEXT NOT NULL,
        source  TEXT NOT NULL CHECK (source IN ('container', 'proxy', 'core')),
        level   TEXT NOT NULL,
        message TEXT NOT NULL,
        fields  TEXT
      );
      CREATE INDEX logs_server_id ON logs (server, id);
      CREATE INDEX logs_ts ON logs (ts);

      -- External-content FTS5 index: the text lives once, in logs.
      CREATE VIRTUAL TABLE logs_fts USING fts5 (message, content = 'logs', content_rowid = 'id');
      CREATE TRIGGER logs_ai AFTER INSERT ON logs BEGIN
        INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
      END;
      CREATE TRIGGER logs_ad AFTER DELETE ON logs BEGIN
        INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
      END;

      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'secret references on servers, encrypted values',
    sql: `
      -- References only ({name, target}); the values live in the keychain.
      ALTER TABLE servers ADD COLUMN secrets_json TEXT NOT NULL DEFAULT '[]';

      -- Bulk secret data (OAuth tokens and the like), AES-256-GCM under a data key kept in the keychain.
      CREATE TABLE encrypted_values (
        namespace  TEXT NOT NULL,
        key        TEXT NOT NULL,
        key_id     TEXT NOT NULL,
        nonce      BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        tag        BLOB NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
      );
    `,
  },
  {
    version: 3,
    name: 'authentication settings and shared identity-provider profiles',
    sql: `
      -- ToolHive-shaped oidcConfig ({"type":"none"} = local mode).
      ALTER TABLE servers ADD COLUMN auth_json TEXT NOT NULL DEFAULT '{"type":"none"}';

      CREATE TABLE idp_profiles (
        name        TEXT PRIMARY KEY,
        config_json TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'Cedar policy sets with versions, attached to servers; audit events in the logs',
    sql: `
      CREATE TABLE policy_sets (
        name            TEXT PRIMARY KEY,
        current_version INTEGER NOT NULL,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
      );
      -- Every saved version of a set: the whole ToolHive authz-config, so any version can be restored.
      CREATE TABLE policy_versions (
        set_name    TEXT NOT NULL REFERENCES policy_sets (name) ON DELETE CASCADE,
        version     INTEGER NOT NULL,
        config_json TEXT NOT NULL,
        note        TEXT,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (set_name, version)
      );
      ALTER TABLE servers ADD COLUMN policy_set TEXT;

      -- Logs gain the 'audit' source. SQLite cannot alter a CHECK constraint: copy into a new table,
      -- keeping ids (the FTS index is keyed by them), then put the triggers back.
      CREATE TABLE logs_v4 (
        id      INTEGER PRIMARY KEY,
        ts      INTEGER NOT NULL,
        server  TEXT NOT NULL,
        source  TEXT NOT NULL CHECK (source IN ('container', 'proxy', 'core', 'audit')),
        level   TEXT NOT NULL,
        message TEXT NOT NULL,
        fields  TEXT
      );
      INSERT INTO logs_v4 (id, ts, server, source, level, message, fields) SELECT id, ts, server, source, level, message, fields FROM logs;
      DROP TABLE logs;
      ALTER TABLE logs_v4 RENAME TO logs;
      CREATE INDEX logs_server_id ON logs (server, id);
      CREATE INDEX logs_ts ON logs (ts);
      CREATE TRIGGER logs_ai AFTER INSERT ON logs BEGIN
        INSERT INTO logs_fts (rowid, message) VALUES (new.id, new.message);
      END;
      CREATE TRIGGER logs_ad AFTER DELETE ON logs BEGIN
        INSERT INTO logs_fts (logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
      END;
    `,
  },
  {
    version: 5,
    name: 'MCP clients Gatehouse configures, and the entries it wrote into their files',
    sql: `
      -- A client registered for a group gets an entry for each running server of that group.
      CREATE TABLE client_registrations (
        client        TEXT NOT NULL,
        grp           TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        PRIMARY KEY (client, grp)
      );
      -- Entries Gatehouse wrote into a client's file: only these are ever updated or removed, so a
      -- user's own entries are never touched. Entries hold URLs and commands, never secrets.
      CREATE TABLE client_entries (
        client       TEXT NOT NULL,
        file         TEXT NOT NULL,
        entry        TEXT NOT NULL,
        server       TEXT NOT NULL,
        content_json TEXT NOT NULL,
        written_at   TEXT NOT NULL,
        PRIMARY KEY (client, file, entry)
      );
    `,
  },
  {
    version: 6,
    name: "what each server's lists said (tool annotation hints, argument names), for authorization",
    sql: `
      -- Kept so that a core restart does not forget the annotations a forbid on destructiveHint needs.
      CREATE TABLE server_features (
        server        TEXT PRIMARY KEY,
        snapshot_json TEXT NOT NULL,
        updated_at    TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'log line counts per minute, for the log viewer\'s volume chart',
    sql: `
      -- The chart over a million lines reads these instead of every line. Inserts count in batches (the
      -- repository); deletes and renames keep the counts right through triggers.
      CREATE TABLE log_counts (
        minute INTEGER NOT NULL,
        server TEXT NOT NULL,
        source TEXT NOT NULL,
        level  TEXT NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (minute, server, source, level)
      ) WITHOUT ROWID;
      INSERT INTO log_counts (minute, server, source, level, n)
        SELECT ts / 60000, server, source, level, COUNT(*) FROM logs GROUP BY 1, 2, 3, 4;
      CREATE TRIGGER log_counts_ad AFTER DELETE ON logs BEGIN
        UPDATE log_counts SET n = n - 1 WHERE minute = old.ts / 60000 AND server = old.server AND source = old.source AND level = old.level;
      END;
      CREATE TRIGGER log_counts_au AFTER UPDATE OF server ON logs BEGIN
        UPDATE log_counts SET n = n - 1 WHERE minute = old.ts / 60000 AND server = old.server AND source = old.source AND level = old.level;
        INSERT INTO log_counts (minute, server, source, level, n) VALUES (new.ts / 60000, new.server, new.source, new.level, 1)
          ON CONFLICT (minute, server, source, level) DO UPDATE SET n = n + 1;
      END;
    `,
  },
  {
    version: 8,
    name: 'remote servers: how Gatehouse reaches and signs in to them',
    sql: `
      -- NULL for servers in containers. Holds references to secrets (names), never their values.
      ALTER TABLE servers ADD COLUMN remote_json TEXT;
    `,
  },
  {
    version: 9,
    name: "the embedded authorization server's state: what finds its sealed records",
    sql: `
      -- The records themselves (clients, grants, codes, refresh tokens, sessions) are sealed in
      -- encrypted_values under namespace 'authserver:<model>'. This table holds only what finds,
      -- expires and consumes them: SHA-256 hashes of their ids (which are often the token values),
      -- of interaction uids and user codes, and grant ids (not credentials).
      CREATE TABLE authserver_index (
        model TEXT NOT NULL,
        key TEXT NOT NULL,
        grant_id TEXT,
        uid TEXT,
        user_code TEXT,
        expires_at INTEGER,
        consumed_at INTEGER,
        PRIMARY KEY (model, key)
      );
      CREATE INDEX authserver_index_grant ON authserver_index (grant_id) WHERE grant_id IS NOT NULL;
      CREATE INDEX authserver_index_uid ON authserver_index (model, uid) WHERE uid IS NOT NULL;
      CREATE INDEX authserver_index_expiry ON authserver_index (expires_at) WHERE expires_at IS NOT NULL;
    `,
  },
  {
    version: 10,
    name: 'token exchange (RFC 8693) toward a server: ToolHive\'s tokenExchange settings',
    sql: `
      -- NULL: no exchange. The operator's spelling with a keychain reference for the client secret, never its value.
      ALTER TABLE servers ADD COLUMN token_exchange_json TEXT;
    `,
  },
  {
    version: 11,
    name: "a policy set's saved cases: requests with the decision each must get, run on every save",
    sql: `
      -- Test inputs the user wrote (claims, tool, arguments), not credentials. Outside the authz-config,
      -- so an exported set stays byte for byte what ToolHive takes.
      CREATE TABLE policy_cases (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        set_name   TEXT NOT NULL REFERENCES policy_sets (name) ON DELETE CASCADE,
        label      TEXT NOT NULL,
        input_json TEXT NOT NULL,
        expect     TEXT NOT NULL CHECK (expect IN ('allow', 'deny')),
        created_at TEXT NOT NULL
      );
      CREATE INDEX policy_cases_set ON policy_cases (set_name);
    `,
  },
  {
    version: 12,
    name: 'the file a policy version was saved from, kept as its bytes so an export gives it back unchanged',
    sql: `
      -- The authz-config text itself (never a whole MCPServer manifest, which may carry other settings),
      -- kept only when it reads as exactly this version's config_json.
      ALTER TABLE policy_versions ADD COLUMN source_text TEXT;
      ALTER TABLE policy_versions ADD COLUMN source_format TEXT CHECK (source_format IN ('json', 'yaml'));
    `,
  },
];
