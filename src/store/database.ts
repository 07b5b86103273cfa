import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrations as allMigrations, type Migration } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the SQLite file, in WAL mode so the UI and log ingestion can read
 * while proxies write, and brings the schema up to date.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = allMigrations): Db {
  if (file !== ':memory:') ownerOnly(file);
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  reusePreparedStatements(db);
  return db;
}

const STATEMENTS_KEPT = 500;

/**
 * Each SQL text is compiled once: the repositories call `prepare` where they use a statement, and
 * compiling took a tenth of the CPU of a request whose decision is recorded. Safe because no caller
 * changes a statement's mode (pluck, raw, expand) or leaves one iterating.
 */
function reusePreparedStatements(db: Db): void {
  const compile = db.prepare.bind(db);
  const kept = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let statement = kept.get(sql);
    if (!statement) {
      statement = compile(sql);
      // Queries built from filters have many texts: the oldest make room.
      if (kept.size >= STATEMENTS_KEPT) kept.delete(kept.keys().next().value!);
      kept.set(sql, statement);
    }
    return statement;
  }) as Db['prepare'];
}

/**
 * The folder 0700 and the database 0600 before SQLite opens it: SQLite gives the -wal and -shm files
 * (recent pages of the database) the database file's mode, so they are created owner-only too. A
 * folder that already existed with a looser mode (GATEHOUSE_HOME pointing at it) is tightened, and so
 * are companions left by older versions.
 */
function ownerOnly(file: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  if ((fs.statSync(dir).mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  fs.closeSync(fs.openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      if ((fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db, migrations: readonly Migration[]): void {
  const current = schemaVersion(db);
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) {
    throw new Error(
      `The database was written by a newer Gatehouse (schema ${current}, this build knows ${newest}). ` +
        'Upgrade Gatehouse, or point GATEHOUSE_HOME at another folder.',
    );
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    // Each migration and its version bump commit together, so a crash never leaves half a schema.
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
