import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appDataDir, openDatabase, openStore, schemaVersion, toFtsQuery, type NewServer, type Store } from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations.js';

function server(name: string, port: number): NewServer {
  return {
    name, image: 'img:1', url: null, transport: 'stdio', args: ['--x'], env: { A: '1' }, secrets: [], volumes: [], permissionProfile: 'none',
    profile: { network: { outbound: { insecure_allow_all: false } } }, proxyPort: port, targetPort: null, group: 'default',
    memoryBytes: null, nanoCpus: null, networkSetting: 'host', desiredState: 'running',
  };
}

describe('store (a real SQLite file)', () => {
  let dir: string;
  let store: Store | undefined;
  const open = () => {
    dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'gh-store-'));
    store = openStore(path.join(dir, 'gatehouse.db'));
    return store;
  };
  afterEach(() => {
    store?.close();
    store = undefined;
  });

  it('creates the file 0600 in WAL mode at the newest schema, and reopening runs no migration twice', () => {
    const s = open();
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(schemaVersion(s.db)).toBe(migrations.at(-1)!.version);
    expect(fs.statSync(path.join(dir, 'gatehouse.db')).mode & 0o777).toBe(0o600);
    s.servers.insert(server('a', 10001));
    s.close();
    store = undefined;
    const again = open();
    expect(again.servers.list().map((x) => x.name)).toEqual(['a']);
  });

  it('keeps the folder 0700 and the database with its -wal and -shm 0600, even in a folder that existed loosely', () => {
    const loose = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-store-loose-'));
    fs.chmodSync(loose, 0o755);
    const s = openStore(path.join(loose, 'gatehouse.db'));
    try {
      s.servers.insert(server('wal', 10009));
      const mode = (f: string) => fs.statSync(path.join(loose, f)).mode & 0o777;
      expect(mode('.')).toBe(0o700);
      for (const f of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']) expect(mode(f), f).toBe(0o600);
    } finally {
      s.close();
      fs.rmSync(loose, { recursive: true, force: true });
    }
  });

  it('round-trips server definitions and keeps proxy ports unique', () => {
    const s = open();
    const a = s.servers.insert(server('alpha', 10002));
    expect(a.args).toEqual(['--x']);
    expect(a.env).toEqual({ A: '1' });
    expect(a.status).toBe('stopped');
    expect(() => s.servers.insert(server('beta', 10002))).toThrow(/UNIQUE/);
    expect(() => s.servers.insert(server('alpha', 10003))).toThrow(/UNIQUE/);
    s.servers.setStatus('alpha', 'error', 'boom');
    s.servers.setContainer('alpha', 'abc');
    s.servers.setDesiredState('alpha', 'stopped');
    const b = s.servers.getOrThrow('alpha');
    expect([b.status, b.statusDetail, b.containerId, b.desiredState]).toEqual(['error', 'boom', 'abc', 'stopped']);
    expect(s.servers.byProxyPort(10002)?.name).toBe('alpha');
    expect([...s.servers.usedProxyPorts()]).toContain(10002);
    expect(s.servers.delete('alpha')).toBe(true);
    expect(() => s.servers.getOrThrow('alpha')).toThrow(/No server named "alpha"/);
  });

  it('records status history in order', () => {
    const s = open();
    s.statusHistory.record('x', 'starting', null);
    s.statusHistory.record('x', 'error', 'exited', 3);
    expect(s.statusHistory.forServer('x').map((h) => [h.status, h.exitCode])).toEqual([
      ['starting', null],
      ['error', 3],
    ]);
  });

  it('indexes log messages for full-text search, filters by server and source, and prunes by age and count', () => {
    const s = open();
    const now = Date.now();
    s.logs.insertMany([
      { ts: now - 10 * 86_400_000, server: 'a', source: 'container', level: 'info', message: 'ancient line', fields: null },
      { ts: now, server: 'a', source: 'container', level: 'info', message: 'connected to database', fields: null },
      { ts: now, server: 'a', source: 'proxy', level: 'info', message: 'tools/call echo → 200', fields: { status: 200 } },
      { ts: now, server: 'b', source: 'container', level: 'warn', message: 'rate limit reached "quoted"', fields: null },
    ]);
    expect(s.logs.query({ search: 'databa' }).map((l) => l.message)).toEqual(['connected to database']);
    expect(s.logs.query({ search: 'rate "quoted' }).map((l) => l.server)).toEqual(['b']);
    expect(s.logs.query({ server: 'a', sources: ['proxy'] })[0]?.fields).toEqual({ status: 200 });
    expect(s.logs.query({ limit: 2 }).map((l) => l.server)).toEqual(['a', 'b']);
    expect(s.logs.prune({ maxRows: 2, maxAgeMs: 7 * 86_400_000 }, now)).toBe(2);
    expect(s.logs.query({}).map((l) => l.message)).toEqual(['tools/call echo → 200', 'rate limit reached "quoted"']);
    // Deleted rows leave the full-text index too.
    expect(s.logs.query({ search: 'ancient' })).toEqual([]);
  });

  it('compiles each SQL text once, and keeps only the newest sealed rows of a namespace when asked', () => {
    const s = open();
    expect(s.db.prepare('SELECT 1 AS one')).toBe(s.db.prepare('SELECT 1 AS one'));
    expect(s.db.prepare('SELECT 2 AS two')).not.toBe(s.db.prepare('SELECT 1 AS one'));
    const row = (key: string) => ({ namespace: 'log', key, keyId: 'k', nonce: Buffer.alloc(12), ciphertext: Buffer.from('x'), tag: Buffer.alloc(16) });
    s.encrypted.putMany(['c', 'a', 'e', 'b', 'd'].map(row));
    s.encrypted.put({ ...row('a'), namespace: 'other' });
    expect(s.encrypted.keepNewest('log', 10)).toBe(0);
    expect(s.encrypted.keepNewest('log', 2)).toBe(3);
    expect(s.encrypted.keys('log')).toEqual(['d', 'e']);
    expect(s.encrypted.keys('other')).toEqual(['a']);
  });

  it('refuses a database from a newer Gatehouse instead of guessing', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-store-')), 'db');
    const db = openDatabase(file, [...migrations, { version: 99, name: 'future', sql: 'CREATE TABLE future (x)' }]);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer Gatehouse \(schema 99/);
  });

  it('rolls back a failing migration whole', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-store-')), 'db');
    const newest = migrations.at(-1)!.version;
    expect(() => openDatabase(file, [...migrations, { version: newest + 1, name: 'broken', sql: 'CREATE TABLE half (x); THIS IS NOT SQL' }])).toThrow();
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(newest);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    db.close();
  });

  it('quotes user search text so it cannot break the FTS syntax', () => {
    expect(toFtsQuery('  ')).toBeUndefined();
    expect(toFtsQuery('a "b" OR c')).toBe('"a" """b""" "OR" "c"*');
  });

  it('puts data in the per-OS folder unless GATEHOUSE_HOME says otherwise', () => {
    expect(appDataDir({ GATEHOUSE_HOME: '/tmp/x' }, 'linux')).toBe('/tmp/x');
    expect(appDataDir({ XDG_DATA_HOME: '/d' }, 'linux')).toBe('/d/gatehouse');
    expect(appDataDir({}, 'darwin')).toMatch(/Library\/Application Support\/Gatehouse$/);
    expect(appDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32')).toMatch(/Gatehouse$/);
  });
});
