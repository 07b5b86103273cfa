import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retentionSetting } from '../../src/app/core.js';
import { DEFAULT_RETENTION, matchesLogFilter } from '../../src/logs/index.js';
import { openStore, type LogQuery, type NewLogEntry, type Store } from '../../src/store/index.js';

/** The log viewer's windows, filters and volume chart over a real SQLite file. */
describe('log queries', () => {
  let store: Store;
  const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
  const audit = (i: number, outcome: string, tool: string): NewLogEntry => ({
    ts: T0 + i * 1000,
    server: 'a',
    source: 'audit',
    level: outcome === 'denied' ? 'warn' : 'info',
    message: `tools/call ${tool} by me: ${outcome}`,
    fields: { type: i % 9 === 0 ? 'oauth_token' : 'mcp_tool_call', outcome, target: { method: 'tools/call', name: tool, endpoint: '/mcp', type: 'tool' } },
  });
  beforeAll(() => {
    store = openStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-logs-')), 'gatehouse.db'));
    const rows: NewLogEntry[] = [];
    for (let i = 0; i < 300; i++) {
      if (i % 3 === 0) rows.push(audit(i, i % 2 === 0 ? 'success' : 'denied', i % 5 === 0 ? 'delete_repo' : 'echo'));
      else rows.push({ ts: T0 + i * 1000, server: i % 2 ? 'a' : 'b', source: 'container', level: i % 7 === 0 ? 'error' : 'info', message: `line ${i} {"k":${i}}`, fields: null });
    }
    store.logs.insertMany(rows);
  });
  afterAll(() => store.close());

  const all = (q: LogQuery) => store.logs.query({ ...q, limit: 10_000 });

  it('pages backward from beforeId and forward from afterId, always oldest first', () => {
    const tail = store.logs.query({ limit: 50 });
    expect(tail.map((l) => l.id)).toEqual(Array.from({ length: 50 }, (_, i) => 251 + i));
    const before = store.logs.query({ beforeId: tail[0]!.id, limit: 50 });
    expect(before.map((l) => l.id)).toEqual(Array.from({ length: 50 }, (_, i) => 201 + i));
    const forward = store.logs.query({ afterId: 100, limit: 10, from: 'oldest' });
    expect(forward.map((l) => l.id)).toEqual(Array.from({ length: 10 }, (_, i) => 101 + i));
    expect(store.logs.query({ afterId: 100, limit: 10 }).map((l) => l.id)[0]).toBe(291);
  });

  it('filters by level, time range and the audit event: outcome, method, target', () => {
    expect(all({ levels: ['error'] }).every((l) => l.level === 'error')).toBe(true);
    expect(all({ levels: ['error'] }).length).toBeGreaterThan(0);
    const range = all({ sinceTs: T0 + 10_000, untilTs: T0 + 19_000 });
    expect(range.map((l) => l.ts)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (10 + i) * 1000));
    const denied = all({ outcome: 'denied' });
    expect(denied.length).toBe(50);
    expect(denied.every((l) => l.source === 'audit' && (l.fields as { outcome: string }).outcome === 'denied')).toBe(true);
    expect(all({ target: 'delete_repo', outcome: 'success' }).length).toBe(10);
    expect(all({ method: 'tools/call' }).length).toBe(100);
    expect(all({ method: 'prompts/get' })).toEqual([]);
    // The event type, exactly or by a prefix ending in * (every sign-in step: oauth_*).
    expect(all({ type: 'oauth_*' }).map((l) => l.ts)).toEqual(Array.from({ length: 34 }, (_, i) => T0 + i * 9000));
    expect(all({ type: 'mcp_tool_call' }).length).toBe(100 - 34);
    expect(all({ type: 'oauth' })).toEqual([]);
    expect(all({ type: 'oauth_?oken' })).toEqual([]);
  });

  it('counts lines per level in readable time buckets over the matching range', () => {
    const h = store.logs.histogram({}, 10);
    expect(h.bucketMs).toBe(30_000);
    const total = h.buckets.reduce((n, b) => n + b.debug + b.info + b.warn + b.error, 0);
    expect(total).toBe(300);
    expect(h.buckets[0]!.ts).toBe(T0);
    const warn = store.logs.histogram({ outcome: 'denied' }, 10).buckets.reduce((n, b) => n + b.warn, 0);
    expect(warn).toBe(50);
    expect(store.logs.histogram({ server: 'nobody' })).toEqual({ bucketMs: 60_000, buckets: [] });
  });

  it('a live line matches a query as the store would have selected it', () => {
    const queries: LogQuery[] = [{}, { server: 'a' }, { sources: ['audit'] }, { levels: ['warn', 'error'] }, { outcome: 'denied' }, { target: 'echo' }, { method: 'tools/call', outcome: 'success' }, { type: 'oauth_*' }, { type: 'mcp_tool_call', server: 'a' }, { type: 'oauth' }, { sinceTs: T0 + 100_000, untilTs: T0 + 200_000 }];
    for (const q of queries) {
      const selected = new Set(all(q).map((l) => l.id));
      for (const l of all({})) expect(matchesLogFilter(l, q), `${JSON.stringify(q)} line ${l.id}`).toBe(selected.has(l.id));
    }
  });

  it('keeps the retention setting; a missing or malformed one is the default of a million lines', () => {
    expect(retentionSetting(store)).toEqual(DEFAULT_RETENTION);
    expect(DEFAULT_RETENTION.maxRows).toBeGreaterThanOrEqual(1_000_000);
    store.settings.set('logRetention', { maxLines: 2_000_000, maxDays: 7 });
    expect(retentionSetting(store)).toEqual({ maxRows: 2_000_000, maxAgeMs: 7 * 86_400_000 });
    store.settings.set('logRetention', { maxLines: 5 });
    expect(retentionSetting(store)).toEqual(DEFAULT_RETENTION);
  });

  it('the chart from per-minute counts equals the chart from the lines, through inserts, renames and pruning', () => {
    const s2 = openStore(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gh-counts-')), 'gatehouse.db'));
    const rows: NewLogEntry[] = [];
    for (let i = 0; i < 5000; i++) rows.push({ ts: T0 + i * 7_919, server: ['a', 'b', 'c'][i % 3]!, source: (['container', 'proxy', 'audit'] as const)[i % 3]!, level: (['info', 'warn', 'error', 'debug'] as const)[i % 4]!, message: `m ${i}`, fields: null });
    for (let i = 0; i < rows.length; i += 700) s2.logs.insertMany(rows.slice(i, i + 700));
    const queries: LogQuery[] = [{}, { server: 'b' }, { sources: ['proxy', 'audit'] }, { levels: ['error'] }, { sinceTs: T0 + 3_600_000, untilTs: T0 + 7_200_000 - 1 }];
    const same = () => {
      for (const q of queries) expect(s2.logs.histogram(q, 60), JSON.stringify(q)).toEqual(s2.logs.histogramFromLines(q, 60));
    };
    same();
    expect(s2.logs.histogram({}, 60).bucketMs).toBeGreaterThanOrEqual(60_000);
    s2.db.prepare("UPDATE logs SET server = 'z' WHERE server = 'a'").run();
    queries.push({ server: 'z' });
    same();
    s2.logs.prune({ maxRows: 3_000, maxAgeMs: 10 * 365 * 86_400_000 }, T0 + 1e9);
    same();
    s2.logs.deleteForServer('b');
    same();
    s2.close();
  });
});
