import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicies, staticPolicies, validateAgainstSchema, validateEach, type SchemaValidation } from '../../src/authz/cedar.js';

/**
 * The policy check validates each policy text once per schema and keeps the answer (validateEach),
 * which holds only if Cedar's validator judges every policy on its own. Checked on Cedar's own corpus,
 * each test's policies against its own schema: validating the whole set at once, and validating it
 * policy by policy through the cache (in order, reversed, and after the previous test's first policy, so
 * answers are reused under other policy ids), must say exactly the same.
 */

const REFERENCE = path.resolve(import.meta.dirname, '../../../shared/reference/cedar-corpus');

/**
 * Cedar's "did you mean `Action::"x"`?" picks one of the nearest names, and between names equally near
 * it picks differently from one call to the next (the same whole set validated twice can differ): that
 * suggestion is compared as a suggestion, everything else to the character.
 */
const suggestion = (help: string | null | undefined) => (help ?? null)?.replace(/^did you mean `.*`\?$/s, 'did you mean …?') ?? null;

const shape = (v: SchemaValidation) =>
  [...v.errors.map((e) => ({ ...e, kind: 'error' })), ...v.warnings.map((e) => ({ ...e, kind: 'warning' }))]
    .map((e) => JSON.stringify([e.kind, e.policy, e.error.message, e.error.sourceLocations ?? [], suggestion(e.error.help)]))
    .sort();

describe("validating policy by policy says what Cedar's validator says of the whole set", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-validate-each-'));
    execFileSync('tar', ['xzf', path.join(REFERENCE, 'corpus-tests.tgz'), '-C', dir]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("on Cedar's corpus, each test's policies against its own schema, in order and reversed", () => {
    const roots: [string, string[]][] = [
      [dir, fs.readdirSync(path.join(dir, 'corpus-tests')).filter((f) => f.endsWith('.json') && !f.endsWith('.entities.json')).map((f) => path.join('corpus-tests', f))],
      [path.join(REFERENCE, 'handwritten'), fs.readdirSync(path.join(REFERENCE, 'handwritten', 'tests'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).map((f) => path.join('tests', f))],
    ];
    let sets = 0;
    let withFindings = 0;
    /** Sets whose findings are on a policy other than the first: each was answered before under another id. */
    let renamedFindings = 0;
    const problems: string[] = [];
    let previous: string | undefined;
    for (const [root, files] of roots) {
      for (const file of files.sort()) {
        const test = JSON.parse(fs.readFileSync(path.join(root, file), 'utf8')) as { policies: string; schema: string };
        const parts = wasm.policySetTextToParts(fs.readFileSync(path.join(root, test.policies), 'utf8'));
        if (parts.type === 'failure' || parts.policy_templates.length > 0 || parts.policies.length === 0) continue;
        const schema = fs.readFileSync(path.join(root, test.schema), 'utf8');
        // Also after another test's policy: every answer then is reused one policy id further on.
        const shifted = previous === undefined ? [] : [[previous, ...parts.policies]];
        previous = parts.policies[0];
        for (const texts of [parts.policies, [...parts.policies].reverse(), ...shifted]) {
          const parsed = parsePolicies(texts);
          let whole: SchemaValidation;
          try {
            whole = validateAgainstSchema(staticPolicies(parsed), schema);
          } catch {
            continue; // a schema cedar-wasm refuses: nothing to compare
          }
          sets++;
          if (whole.errors.length + whole.warnings.length > 0) withFindings++;
          if (texts !== parts.policies && whole.errors.length + whole.warnings.length > 0 && [...whole.errors, ...whole.warnings].some((e) => e.policy !== 'policy0')) renamedFindings++;
          const each = validateEach(parsed, schema);
          const [a, b] = [shape(whole), shape(each)];
          if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`${a.filter((x) => !b.includes(x))[0]?.slice(0, 300)} ≠ ${b.filter((x) => !a.includes(x))[0]?.slice(0, 300)} in ` + `${file}${texts === parts.policies ? '' : texts.length === parts.policies.length ? ' (reversed)' : ' (after another)'}`);
        }
      }
    }
    console.log(`validateEach on Cedar's corpus: ${sets} sets, ${withFindings} with findings, ${renamedFindings} with findings answered before under another policy id`);
    expect(problems.slice(0, 10)).toEqual([]);
    expect(sets).toBeGreaterThan(11_000);
    // The comparison means something only if many sets have findings to get right.
    expect(withFindings).toBeGreaterThan(1_000);
    expect(renamedFindings).toBeGreaterThan(100);
  });
});
