// The official MCP conformance suite's client authorization scenarios (@modelcontextprotocol/conformance
// 0.2.0-alpha.12, `conformance client`) with Gatehouse as the client: every `auth/` scenario each
// requirement set (2025-11-25, 2026-07-28) requires, at that revision's wire, and the two back-compat
// scenarios of the 2025-03-26 spec (servers without resource metadata). The harness's mock
// servers and authorization servers are the other side; a real core (keychain, SQLite, its proxy and
// its sign-in) is this side, driven as a user drives it (test/conformance/login-client.ts).
//
// Every check of every scenario must pass, or be listed in test/conformance/client-auth-baseline.yml
// with the reason; a listed check that passes fails the test too (the list stays true). Results are left
// in results/conformance-client/<rev>/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONFORMANCE_DIR,
  readBaseline,
  readClientScenario,
  REPO_ROOT,
  requiredClientScenarios,
  requireNode22,
  runConformanceClient,
  type CheckResult,
  type RequirementSet,
  type Results,
} from '../conformance/harness.js';
import { driveScenario, followRedirects, startRelay, type Relay } from '../conformance/login-client.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';

const RESULTS_ROOT = path.join(REPO_ROOT, 'results', 'conformance-client');
const BASELINE = path.join(CONFORMANCE_DIR, 'client-auth-baseline.yml');
/**
 * Scenarios run this many at a time (each is a harness process with its own mock servers, and all of
 * them share one core): at most one per core and never over 4, so a loaded CI machine does not push a
 * scenario past the harness's timeout and report a flow that never got its turn as a failed check.
 */
const PARALLEL = Math.max(1, Math.min(4, os.availableParallelism()));

describe('the conformance suite\'s client authorization scenarios, with Gatehouse as the client', () => {
  let node22: string;
  let t: TestCore;
  let relay: Relay;
  /** What the driver did in each scenario ("<version> <scenario>" → lines). */
  const driverReports = new Map<string, string[]>();

  beforeAll(async () => {
    node22 = requireNode22();
    // The "system browser" the core opens for each sign-in follows the mock authorization server's redirect.
    t = await startTestCore({ openUrl: (url) => void followRedirects(url).catch(() => {}) as unknown as Promise<void> });
    relay = await startRelay(async (input, report) => {
      // Kept for the scenario's log: the harness does not print what its client command said.
      const key = `${input.version} ${input.scenario}`;
      const record = (line: string) => driverReports.set(key, [...(driverReports.get(key) ?? []), `${new Date().toISOString()} ${line}`]);
      try {
        await driveScenario(t.api, input, (line) => {
          report(line);
          record(line);
        });
      } catch (err) {
        record(`refused: ${(err as Error).message}`);
        throw err;
      }
    });
  });
  afterAll(async () => {
    await relay?.close();
    await t?.stop();
  });

  async function runSet(rev: string, scenarios: string[]): Promise<Results> {
    const outDir = path.join(RESULTS_ROOT, rev);
    fs.rmSync(outDir, { recursive: true, force: true });
    const results: Results = new Map();
    const queue = [...scenarios];
    const worker = async () => {
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        const run = await runConformanceClient({ node: node22, command: relay.command, scenario: s, specVersion: rev, outDir, scenarioTimeoutMs: 60_000 });
        fs.mkdirSync(path.join(outDir, path.dirname(s)), { recursive: true });
        const driver = (driverReports.get(`${rev} ${s}`) ?? ['(the scenario never reached the driver)']).join('\n');
        fs.writeFileSync(path.join(outDir, `${s}.log`), `${run.command}\nexit ${run.exitCode}\n--- driver\n${driver}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
        const checks = readClientScenario(outDir, s);
        // A scenario that left no checks failed to run at all: one FAILURE with the harness's words.
        results.set(s, checks ?? new Map<string, CheckResult>([[s, { status: 'FAILURE', message: `no checks (exit ${run.exitCode}): ${run.stderr.slice(-400)}` }]]));
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    return results;
  }

  /** Failing checks not in the baseline, and baseline entries (for this revision) that pass. */
  function verdict(rev: string, results: Results): { unexpected: string[]; stale: string[] } {
    const listed = new Set(readBaseline(BASELINE, rev));
    const unexpected: string[] = [];
    const failing = new Set<string>();
    for (const [scenario, checks] of results) {
      for (const [id, c] of checks) {
        if (c.status !== 'FAILURE' && c.status !== 'WARNING') continue;
        failing.add(`${scenario}:${id}`);
        if (!listed.has(`${scenario}:${id}`)) unexpected.push(`${scenario}:${id}: ${c.status}${c.message ? ` (${c.message})` : ''}`);
      }
    }
    return { unexpected, stale: [...listed].filter((e) => !failing.has(e)).map((e) => `${e}: passes now (remove it from the baseline)`) };
  }

  const sets: { rev: string; title: string; scenarios: () => string[] }[] = [
    ...(['2025-11-25', '2026-07-28'] as const satisfies readonly RequirementSet[]).map((rev) => ({ rev, title: `the auth scenarios required for ${rev}`, scenarios: () => requiredClientScenarios(rev, 'auth/') })),
    { rev: '2025-03-26', title: 'the 2025-03-26 back-compat scenarios (no resource metadata)', scenarios: () => ['auth/2025-03-26-oauth-metadata-backcompat', 'auth/2025-03-26-oauth-endpoint-fallback'] },
  ];
  for (const set of sets) {
    it(`passes ${set.title}`, async () => {
      const scenarios = set.scenarios();
      const results = await runSet(set.rev, scenarios);
      expect(results.size).toBe(scenarios.length);
      const summary = [...results].map(([s, checks]) => `${[...checks.values()].every((c) => c.status === 'SUCCESS' || c.status === 'SKIPPED') ? '✓' : '✗'} ${s}  ${[...checks].map(([id, c]) => `${id}=${c.status}`).join(' ')}`).join('\n');
      fs.writeFileSync(path.join(RESULTS_ROOT, set.rev, 'summary.txt'), `${summary}\n`);
      const { unexpected, stale } = verdict(set.rev, results);
      // The driver's own report and the harness's tail for each scenario that failed: CI keeps only this output.
      const failedLogs = [...new Set(unexpected.map((u) => u.split(':')[0]!))]
        .map((s) => `--- ${s}.log (tail)\n${fs.readFileSync(path.join(RESULTS_ROOT, set.rev, `${s}.log`), 'utf8').split('\n').slice(-60).join('\n')}`)
        .join('\n');
      expect({ unexpected, stale }, `${summary}\n${failedLogs}\n(logs: results/conformance-client/${set.rev}/)`).toEqual({ unexpected: [], stale: [] });
    }, 600_000);
  }
});
