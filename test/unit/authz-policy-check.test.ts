// `policy check` on the guide's own example: the findings must be true and useful, never misleading.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAuthzConfigDocument } from '../../src/authz/config.js';
import { checkAuthzConfig } from '../../src/authz/policy-tools.js';

const guide = parseAuthzConfigDocument(fs.readFileSync('test/fixtures/toolhive/authz-config-guide.json', 'utf8'));

describe('checkAuthzConfig', () => {
  it("accepts ToolHive's guide example, warning once per policy about what can deny at run time", () => {
    const r = checkAuthzConfig(guide);
    expect(r.ok).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.policy)).toEqual([2, 3]);
    expect(r.warnings[0]!.message).toMatch(/optional attribute `claim_roles`.*principal has claim_roles && \.\.\./);
    // No schema can know a tool's arguments before a call: no "not found, did you mean `operation`?".
    const arg = r.warnings[1]!.message;
    expect(arg).toContain('`arg_operation` reads the tool argument "operation", which is only known when a request arrives');
    expect(arg).toContain('resource has arg_operation && ...');
    expect(arg).not.toMatch(/did you mean|not found/);
  });

  it('checks arguments against what the server declares when that is known', () => {
    const declared = checkAuthzConfig(guide, { toolArgs: new Set(['operation', 'a']) });
    expect(declared.warnings.map((w) => w.policy)).toEqual([2]);

    const other = checkAuthzConfig(guide, { toolArgs: new Set(['op']) });
    expect(other.warnings.map((w) => w.policy)).toEqual([2, 3]);
    expect(other.warnings[1]!.message).toMatch(/attribute `arg_operation` .*not found.*none of the server's tools declares an argument "operation"/);
  });

  it('reports a real mistake as an error, at its first place', () => {
    const typo = parseAuthzConfigDocument(
      JSON.stringify({
        version: '1.0',
        type: 'cedarv1',
        cedar: { policies: ['permit(principal, action == Action::"call_tol", resource);', 'permit(principal, action, resource) when { principal.claim_role == "a" || principal.claim_role == "b" };'], entities_json: '[]' },
      }),
    );
    const r = checkAuthzConfig(typo);
    expect(r.ok).toBe(false);
    expect(new Set(r.errors.map((e) => e.policy))).toEqual(new Set([0]));
    expect(r.errors.map((e) => e.message)).toContainEqual(expect.stringMatching(/unrecognized action `Action::"call_tol"`.*did you mean `Action::"call_tool"`/));
    const role = r.warnings.filter((w) => w.message.includes('claim_role`'));
    expect(role).toHaveLength(1);
    expect(role[0]!.column).toBe(r.warnings.filter((w) => w.policy === 1).reduce((min, w) => Math.min(min, w.column ?? Infinity), Infinity));
  });
});
