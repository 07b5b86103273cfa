// The result reading and comparison that test/integration/conformance.test.ts relies on, on
// hand-made results folders shaped like the harness's (`-o DIR`: server-<scenario>-<timestamp>/checks.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compareWithBaseline, passingScenarios, readBaseline, readResults, regressions, type CheckStatus } from './harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function resultsDir(scenarios: Record<string, [string, CheckStatus, string?][] | 'threw'>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-conformance-'));
  dirs.push(dir);
  for (const [scenario, checks] of Object.entries(scenarios)) {
    const folder = path.join(dir, `server-${scenario}-2026-11-22T19-09-28-045Z`);
    fs.mkdirSync(folder);
    if (checks === 'threw') continue;
    const json = checks.map(([id, status, errorMessage]) => ({ id, name: id, status, timestamp: '', ...(errorMessage ? { errorMessage } : {}) }));
    fs.writeFileSync(path.join(folder, 'checks.json'), JSON.stringify(json));
  }
  fs.writeFileSync(path.join(dir, 'stdout.txt'), 'not a scenario');
  return dir;
}

describe('conformance results', () => {
  it('folds repeated check ids into the worst status, ignores INFO, and scores a scenario that threw as the harness does', () => {
    const dir = resultsDir({
      'server-stateless': [
        ['meta-400', 'SUCCESS'],
        ['meta-400', 'FAILURE', 'got 200'],
        ['meta-400', 'SUCCESS'],
        ['trace', 'INFO'],
        ['retry', 'WARNING', 'no retry field'],
        ['skipped', 'SKIPPED'],
      ],
      'tools-list': [['tools-list', 'SUCCESS']],
      'tasks-capability-negotiation': 'threw',
    });
    const r = readResults(dir, 'Failed to run scenario tasks-capability-negotiation: Et [JsonRpcError]: Bad Request\n    at l (x.js:1:1)\n');
    expect(Object.fromEntries(r.get('server-stateless')!)).toEqual({
      'meta-400': { status: 'FAILURE', message: 'got 200' },
      retry: { status: 'WARNING', message: 'no retry field' },
      skipped: { status: 'SKIPPED' },
    });
    expect(r.get('tasks-capability-negotiation')?.get('tasks-capability-negotiation')?.status).toBe('FAILURE');
    expect([...passingScenarios(r)]).toEqual(['tools-list']);
  });

  it('lists every check and scenario that passes directly but not through the proxy, and nothing else', () => {
    const direct = readResults(
      resultsDir({
        ping: [['ping', 'SUCCESS'], ['wire-schema-valid', 'SUCCESS']],
        'tools-list': [['tools-list', 'SUCCESS']],
        'dns-rebinding-protection': [['rejected', 'FAILURE'], ['accepted', 'SUCCESS']],
        'tools-call-image': [['tools-call-image', 'FAILURE']],
        'resources-list': [['resources-list', 'SUCCESS']],
      }),
    );
    const proxied = readResults(
      resultsDir({
        ping: [['ping', 'SUCCESS'], ['wire-schema-valid', 'FAILURE', 'id must be a string'], ['extra', 'WARNING', 'new check']],
        'tools-list': [['tools-list', 'SUCCESS']],
        'dns-rebinding-protection': [['rejected', 'SUCCESS'], ['accepted', 'SUCCESS']],
        'tools-call-image': [['tools-call-image', 'FAILURE']],
      }),
    );
    expect(regressions(direct, proxied)).toEqual([
      { key: 'ping:wire-schema-valid', text: 'ping:wire-schema-valid: SUCCESS directly, FAILURE through the proxy (id must be a string)' },
      { key: 'ping:extra', text: 'ping:extra: not emitted directly (the scenario passes), WARNING through the proxy (new check)' },
      { key: 'resources-list', text: 'resources-list: passes directly, did not run through the proxy' },
    ]);
    expect(regressions(direct, direct)).toEqual([]);
  });

  it('compares a run with a baseline exactly: unlisted failures and stale entries, per check or per scenario', () => {
    const baselineFile = path.join(resultsDir({}), 'baseline.yml');
    fs.writeFileSync(
      baselineFile,
      ['# comment', 'server:', '  # why', '  - tools-call-image:tools-call-image', '  - server-sse-polling', '  - ping:ping', 'client:', '  - initialize', ''].join('\n'),
    );
    const baseline = readBaseline(baselineFile);
    expect(baseline).toEqual(['tools-call-image:tools-call-image', 'server-sse-polling', 'ping:ping']);
    const r = readResults(
      resultsDir({
        'tools-call-image': [['tools-call-image', 'FAILURE']],
        'server-sse-polling': [['a', 'FAILURE'], ['b', 'WARNING']],
        ping: [['ping', 'SUCCESS']],
        'tools-list': [['tools-list', 'FAILURE', 'boom']],
      }),
    );
    expect(compareWithBaseline(r, baseline)).toEqual({ unexpected: ['tools-list:tools-list: FAILURE (boom)'], stale: ['ping:ping: SUCCESS'] });
  });
});
