import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthzConfigError, PolicyEngine, type Decision } from '../../src/authz/index.js';
import type { CedarRequest } from '../../src/authz/index.js';

/**
 * Cedar's own integration corpus (cedar-policy/cedar-integration-tests, the tests Cedar gates its
 * releases on), run through the engine Gatehouse decides with on the hot path (PolicyEngine: index,
 * JS evaluator, cedar-wasm fallback, cache). For every request, the decision, the determining policies
 * and the errored policies must equal cedar-wasm's plain isAuthorized on the same inputs. Where both
 * differ from the corpus's expected answer, the difference must be one of the two explained kinds:
 * Cedar produced the answer reading entities and context by the test's schema (ToolHive's
 * entities_json has none), or the data holds an integer beyond ±2^53, which a JSON value in JavaScript
 * (and so cedar-wasm's JS interface) cannot carry exactly.
 */

const REFERENCE = path.resolve(import.meta.dirname, '../../../shared/reference/cedar-corpus');

interface CorpusRequest {
  description: string;
  principal: CedarRequest['principal'];
  action: CedarRequest['action'];
  resource: CedarRequest['resource'];
  context: CedarRequest['context'];
  validateRequest?: boolean;
  decision: 'allow' | 'deny';
  reason: string[];
  errors: string[];
}
interface CorpusTest {
  policies: string;
  entities: string;
  schema: string;
  requests: CorpusRequest[];
}

interface Tally {
  requests: number;
  agree: number;
  /** Requests whose config Gatehouse refuses and cedar-wasm refuses too (the same inputs, both fail). */
  refusedByBoth: number;
  differFromExpected: { schema: number; bigLong: number };
  problems: string[];
}

const shape = (d: Pick<Decision, 'decision' | 'reasons'> & { errors: { policy: string }[] }) =>
  JSON.stringify({ decision: d.decision, reasons: [...d.reasons].sort(), errors: [...new Set(d.errors.map((e) => e.policy))].sort() });

const BIG_INTEGER = /(?<![\w.])-?\d{16,}(?![\w.])/g;
const hasBigLong = (text: string) => (text.match(BIG_INTEGER) ?? []).some((n) => !Number.isSafeInteger(Number(n)));

function wasmDecision(call: Parameters<typeof wasm.isAuthorized>[0]): Decision {
  const a = wasm.isAuthorized(call);
  if (a.type === 'failure') return { decision: 'deny', reasons: [], errors: a.errors.map((e) => ({ policy: '', message: e.message })) };
  return { decision: a.response.decision, reasons: a.response.diagnostics.reason, errors: a.response.diagnostics.errors.map((e) => ({ policy: e.policyId, message: e.error.message })) };
}

function runTest(root: string, file: string, tally: Tally): void {
  const test = JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as CorpusTest;
  const text = fs.readFileSync(path.join(root, test.policies), 'utf8');
  const entitiesText = fs.readFileSync(path.join(root, test.entities), 'utf8');
  const entities = JSON.parse(entitiesText) as unknown[];
  const schema = fs.readFileSync(path.join(root, test.schema), 'utf8');
  const parts = wasm.policySetTextToParts(text);
  if (parts.type === 'failure' || parts.policy_templates.length > 0) {
    tally.problems.push(`${file}: the policy set does not split into static policies`);
    return;
  }
  const staticPolicies = Object.fromEntries(parts.policies.map((p, i) => [`policy${i}`, p]));
  // An authz-config needs a policy; an empty set decides like one that never matches.
  const policies = parts.policies.length > 0 ? parts.policies : ['forbid(principal, action, resource) when { false };'];
  let engine: PolicyEngine | undefined;
  try {
    engine = new PolicyEngine({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: entitiesText } });
  } catch (err) {
    if (!(err instanceof AuthzConfigError)) throw err;
  }
  for (const r of test.requests) {
    tally.requests++;
    const request: CedarRequest = { principal: r.principal, action: r.action, resource: r.resource, context: r.context };
    const plain = wasmDecision({ ...request, context: request.context as never, policies: { staticPolicies }, entities: entities as never });
    const where = `${file} / ${r.description}`;
    if (!engine) {
      // Gatehouse refuses the file (the server stays closed): cedar-wasm must refuse these entities too.
      if (plain.errors.some((e) => e.policy === '')) tally.refusedByBoth++;
      else tally.problems.push(`${where}: Gatehouse refuses the entities, cedar-wasm decides ${shape(plain)}`);
    } else {
      const fast = engine.decide(request, []);
      if (shape(fast) === shape(plain)) tally.agree++;
      else tally.problems.push(`${where}: fast path ${shape(fast)}, cedar-wasm ${shape(plain)}`);
    }
    const expected = { decision: r.decision, reasons: r.reason, errors: r.errors.map((policy) => ({ policy })) };
    if (shape(plain) === shape(expected)) continue;
    const withSchema = wasmDecision({ ...request, context: request.context as never, policies: { staticPolicies }, entities: entities as never, schema, validateRequest: r.validateRequest ?? false });
    if (shape(withSchema) === shape(expected)) tally.differFromExpected.schema++;
    else if (hasBigLong(entitiesText) || hasBigLong(JSON.stringify(r.context))) tally.differFromExpected.bigLong++;
    else tally.problems.push(`${where}: cedar-wasm ${shape(plain)} differs from the expected ${shape(expected)}, unexplained`);
  }
}

const emptyTally = (): Tally => ({ requests: 0, agree: 0, refusedByBoth: 0, differFromExpected: { schema: 0, bigLong: 0 }, problems: [] });

describe("Cedar's integration corpus through Gatehouse's policy engine", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cedar-corpus-'));
    execFileSync('tar', ['xzf', path.join(REFERENCE, 'corpus-tests.tgz'), '-C', dir]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the fuzzer corpus: every decision, reason and errored policy equals cedar-wasm; each difference from the expected answer is explained', () => {
    const tally = emptyTally();
    const files = fs.readdirSync(path.join(dir, 'corpus-tests')).filter((f) => f.endsWith('.json') && !f.endsWith('.entities.json'));
    expect(files.length).toBeGreaterThan(3_900);
    for (const f of files.sort()) runTest(dir, path.join('corpus-tests', f), tally);
    console.log(
      `Cedar corpus: ${tally.agree} of ${tally.requests - tally.refusedByBoth} requests agree with cedar-wasm (decision, reasons, errors); ` +
        `${tally.refusedByBoth} more in files whose entities both refuse; ` +
        `differing from the expected answer: ${tally.differFromExpected.schema} (schema-typed data), ${tally.differFromExpected.bigLong} (integers beyond 2^53)`,
    );
    expect(tally.problems.slice(0, 10)).toEqual([]);
    expect(tally.agree + tally.refusedByBoth).toBe(tally.requests);
    expect(tally.requests).toBeGreaterThan(31_000);
  });

  it("Cedar's hand-written tests (extension types, several policies, example use cases)", () => {
    const tally = emptyTally();
    const root = path.join(REFERENCE, 'handwritten');
    const files = fs.readdirSync(path.join(root, 'tests'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
    for (const f of files.sort()) runTest(root, path.join('tests', f), tally);
    console.log(`Cedar hand-written tests: ${tally.agree} of ${tally.requests} requests agree with cedar-wasm; differing from the expected answer: ${tally.differFromExpected.schema} (schema-typed data)`);
    expect(tally.problems).toEqual([]);
    expect(tally.agree).toBe(tally.requests);
    expect(tally.requests).toBeGreaterThan(50);
  });
});
