import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecisionLog } from '../../src/app/decision-log.js';
import type { AuditEvent } from '../../src/audit/index.js';
import type { AuthzMark } from '../../src/proxy/pipeline/index.js';
import { MemoryKeychain, SealedStore } from '../../src/secrets/index.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * The decisions kept for the policy studio, on a real SQLite file (the keychain is the in-memory
 * double; the real one holds the data key in the integration and e2e runs): sealed, found by audit
 * id and by time, only the newest kept, gone with the server.
 */
describe('DecisionLog', () => {
  let dir: string;
  let store: Store;
  let sealed: SealedStore;
  const warnings: string[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-decisions-'));
    store = openStore(path.join(dir, 'gatehouse.db'));
    sealed = new SealedStore(new MemoryKeychain(), store.encrypted);
    warnings.length = 0;
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const event = (id: string, at: string) => ({ audit_id: id, logged_at: at }) as AuditEvent;
  const authz = (allowed: boolean): AuthzMark => ({
    decision: allowed ? 'allow' : 'deny',
    policies: allowed ? ['policy2'] : [],
    decided: [{ feature: 'tool', name: 'echo', arguments: { message: 'the secret word is swordfish' }, allowed, reasons: allowed ? ['policy2'] : [], errors: [] }],
    source: { set: 'calc', version: 3 },
  });
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('seals each decision with its claims and arguments, and finds it by audit id and by time', async () => {
    const log = new DecisionLog(sealed, (_s, m) => warnings.push(m));
    log.record('calc', event('a1', '2026-12-04T10:00:00.000Z'), { authz: authz(true), claims: { sub: 'bob', email: 'bob@example.com' } });
    log.record('calc', event('a2', '2026-12-04T10:05:00.000Z'), { authz: authz(false), claims: { sub: 'carol' } });
    // A request nothing decided (initialize, a list) keeps nothing.
    log.record('calc', event('a3', '2026-12-04T10:06:00.000Z'), { authz: { decision: 'allow', policies: [] }, claims: { sub: 'x' } });
    await settle();
    expect(await log.find('calc', 'a2')).toMatchObject({ auditId: 'a2', claims: { sub: 'carol' }, outcome: 'deny', source: { set: 'calc', version: 3 }, ops: [{ name: 'echo', allowed: false }] });
    expect((await log.since('calc', '2026-12-04T10:01:00.000Z')).map((r) => r.auditId)).toEqual(['a2']);
    expect((await log.since('calc', '2026-12-04T00:00:00.000Z')).map((r) => r.auditId)).toEqual(['a1', 'a2']);
    expect(await log.find('calc', 'a3')).toBeUndefined();
    // Sealed: neither the argument nor the email is in the database file in clear.
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = fs.readFileSync(path.join(dir, 'gatehouse.db'));
    expect(bytes.includes(Buffer.from('swordfish'))).toBe(false);
    expect(bytes.includes(Buffer.from('bob@example.com'))).toBe(false);
    log.forget('calc');
    expect(await log.since('calc', '2000-01-01')).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('keeps only the newest decisions of each server', async () => {
    const log = new DecisionLog(sealed, () => {}, 60);
    for (let i = 0; i < 150; i++) log.record('calc', event(`e${i}`, new Date(Date.UTC(2026, 11, 4, 10, 0, i)).toISOString()), { authz: authz(true), claims: { sub: 'bob' } });
    log.record('other', event('o1', '2026-12-04T09:00:00.000Z'), { authz: authz(true), claims: { sub: 'bob' } });
    await settle();
    const kept = await log.since('calc', '2000-01-01');
    // Pruned every 50 writes down to 60: the oldest go first.
    expect(kept.length).toBeLessThanOrEqual(110);
    expect(kept.at(-1)!.auditId).toBe('e149');
    expect(kept.some((r) => r.auditId === 'e0')).toBe(false);
    expect((await log.since('other', '2000-01-01')).map((r) => r.auditId)).toEqual(['o1']);
  });

  it('says once, not at every request, when decisions cannot be sealed', async () => {
    const kc = new MemoryKeychain();
    kc.failWith = new Error('the keychain is locked');
    const log = new DecisionLog(new SealedStore(kc, store.encrypted), (s, m) => warnings.push(`${s}: ${m}`));
    for (let i = 0; i < 5; i++) {
      log.record('calc', event(`f${i}`, '2026-12-04T10:00:00.000Z'), { authz: authz(true), claims: { sub: 'bob' } });
      await settle();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^calc: Decisions are not kept for the policy studio/);
  });

  it('writes the decisions of one turn of the event loop together, and a read right after sees them', async () => {
    const batches: number[] = [];
    const putMany = store.encrypted.putMany.bind(store.encrypted);
    store.encrypted.putMany = (rows, now) => {
      batches.push(rows.length);
      putMany(rows, now);
    };
    const log = new DecisionLog(sealed, (_s, m) => warnings.push(m), 40);
    for (let i = 0; i < 30; i++) log.record('calc', event(`b${i}`, new Date(Date.UTC(2026, 11, 4, 11, 0, i)).toISOString()), { authz: authz(true), claims: { sub: 'bob' } });
    log.record('other', event('o2', '2026-12-04T11:00:00.000Z'), { authz: authz(false), claims: { sub: 'carol' } });
    // No waiting: a read waits for the writes already asked for.
    expect((await log.since('calc', '2000-01-01')).map((r) => r.auditId)).toEqual(Array.from({ length: 30 }, (_, i) => `b${i}`));
    expect(await log.find('other', 'o2')).toMatchObject({ outcome: 'deny' });
    expect(batches).toEqual([31]);
    // The next turn's decisions are the next batch; crossing 50 writes prunes to the newest 40.
    for (let i = 30; i < 60; i++) log.record('calc', event(`b${i}`, new Date(Date.UTC(2026, 11, 4, 11, 0, i)).toISOString()), { authz: authz(true), claims: { sub: 'bob' } });
    const kept = await log.since('calc', '2000-01-01');
    expect(batches).toEqual([31, 30]);
    expect(kept.map((r) => r.auditId)).toEqual(Array.from({ length: 40 }, (_, i) => `b${i + 20}`));
    expect(warnings).toEqual([]);
  });

  it('a removed server loses the decisions still on their way to the file too', async () => {
    const log = new DecisionLog(sealed, (_s, m) => warnings.push(m));
    log.record('calc', event('r1', '2026-12-04T12:00:00.000Z'), { authz: authz(true), claims: { sub: 'bob' } });
    log.forget('calc');
    await log.settled();
    expect(await log.since('calc', '2000-01-01')).toEqual([]);
    expect(sealed.keys('authz-decisions:calc')).toEqual([]);
  });
});
