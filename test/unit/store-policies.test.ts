import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';

describe('policy sets in SQLite (real file)', () => {
  let store: Store | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-policies-'));
  afterEach(() => store?.close());

  it('appends versions, keeps the history, and deletes a set with its history', () => {
    store = openStore(path.join(dir, 'a.db'));
    const v1 = { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action, resource);'] } };
    const v2 = { ...v1, cedar: { policies: ['forbid(principal, action, resource);'] } };
    expect(store.policies.save('team', v1, 'first')).toBe(1);
    expect(store.policies.save('team', v2)).toBe(2);
    expect(store.policies.get('team')).toMatchObject({ name: 'team', currentVersion: 2, config: v2 });
    expect(store.policies.history('team').map((v) => [v.version, v.note])).toEqual([
      [2, null],
      [1, 'first'],
    ]);
    expect(store.policies.version('team', 1)?.config).toEqual(v1);
    expect(store.policies.delete('team')).toBe(true);
    expect(store.policies.history('team')).toEqual([]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM policy_versions').get()).toEqual({ n: 0 });
  });

  it('keeps the file a version was saved from, and gives it to a later version with the same config (a revert), never to another', () => {
    store = openStore(path.join(dir, 'c.db'));
    const v1 = { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action, resource);'] } };
    const v2 = { ...v1, cedar: { policies: ['forbid(principal, action, resource);'] } };
    const file = { text: '# ours\ncedar:\n  policies: ["permit(principal, action, resource);"]\ntype: cedarv1\nversion: "1.0"\n', format: 'yaml' as const };
    store.policies.save('team', v1, null, { source: file });
    store.policies.save('team', v2);
    store.policies.save('team', v1, 'reverted to version 1');
    expect(store.policies.history('team').map((v) => [v.version, v.file])).toEqual([
      [3, 'yaml'],
      [2, null],
      [1, 'yaml'],
    ]);
    expect(store.policies.source('team', 3)).toEqual(file);
    expect(store.policies.source('team', 2)).toBeUndefined();
    // The same config under another set does not borrow this set's file.
    store.policies.save('other', v1);
    expect(store.policies.source('other', 1)).toBeUndefined();
  });

  it('audit lines are stored and found by full-text search like any log line', () => {
    store = openStore(path.join(dir, 'b.db'));
    store.logs.insertMany([{ ts: Date.now(), server: 's', source: 'audit', level: 'warn', message: 'tools/call admin_tool by carol: denied', fields: { outcome: 'denied' } }]);
    const found = store.logs.query({ server: 's', sources: ['audit'], search: 'admin_tool' });
    expect(found.map((l) => l.message)).toEqual(['tools/call admin_tool by carol: denied']);
    expect(() => store!.logs.insertMany([{ ts: 1, server: 's', source: 'bogus' as 'audit', level: 'info', message: 'x', fields: null }])).toThrow(/CHECK/);
  });
});
