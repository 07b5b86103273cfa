// `policy check` and the check every load runs: findings are advice that says what will happen, never a
// refusal of what Cedar (and so ToolHive) loads, unless strict mode asks for it.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAuthzConfigDocument, type AuthzConfig } from '../../src/authz/config.js';
import { checkAuthzConfig } from '../../src/authz/policy-tools.js';

const guide = parseAuthzConfigDocument(fs.readFileSync('test/fixtures/toolhive/authz-config-guide.json', 'utf8'));
const config = (policies: string[], entities: unknown[] = [], extra: Partial<AuthzConfig['cedar']> = {}): AuthzConfig =>
  parseAuthzConfigDocument(JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: JSON.stringify(entities), ...extra } }));

describe('checkAuthzConfig', () => {
  it("loads ToolHive's guide example, warning once per policy about what can deny at run time", () => {
    const r = checkAuthzConfig(guide);
    expect(r.ok).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.policy)).toEqual([2, 3]);
    expect(r.warnings[0]!.message).toMatch(/`claim_roles` is read without `has`.*principal has claim_roles && \.\.\./);
    // No schema can know a tool's arguments before a call: no "not found, did you mean `operation`?".
    const arg = r.warnings[1]!.message;
    expect(arg).toContain('`arg_operation` reads the tool argument "operation", which is only known when a request arrives');
    expect(arg).toContain('resource has arg_operation && ...');
    expect(arg).not.toMatch(/did you mean|not found/);
  });

  it("does not ask for `has` before the caller's `sub`, which every caller Cedar is asked about has", () => {
    const r = checkAuthzConfig(config(['forbid(principal, action, resource) when { principal.claim_sub == "bob" || context.claim_sub == "carol" };']));
    expect(r.warnings).toEqual([]);
    expect(checkAuthzConfig(config(['forbid(principal, action, resource) when { principal.claim_email == "bob@example.com" };'])).warnings).toHaveLength(1);
  });

  it('points at the character Cedar means when the policy has non-ASCII text before it (Cedar counts UTF-8 bytes)', () => {
    // A parse error after a no-break space and an ü.
    const broken = 'permit(principal, action == Action::"call_tool",\u00a0resource) when { resource.arg_city == "Zürich" } oops;';
    const parse = checkAuthzConfig(config([broken])).errors[0]!;
    expect(parse).toMatchObject({ policy: 0, line: 1 });
    expect(broken.slice(parse.column! - 1)).toMatch(/^(oops|;)/);
    // A validator finding (an action that does not exist) after a string with é and an em dash in it.
    const typo = '@note("Zürich — é")\npermit(principal, action == Action::"cäll", resource);';
    const w = checkAuthzConfig(config([typo])).warnings.find((x) => /cäll/.test(x.message))!;
    expect(w).toMatchObject({ policy: 0, line: 2 });
    const line2 = typo.split('\n')[1]!;
    expect(line2.slice(w.column! - 1, w.column! - 1 + w.length!)).toBe('Action::"cäll"');
  });

  it('warns where a number argument or claim meets a Long: decimals, as ToolHive makes them, error or never match', () => {
    const r = checkAuthzConfig(
      config([
        'permit(principal, action == Action::"call_tool", resource == Tool::"get-sum") when { resource has arg_a && resource.arg_a < 10 };',
        'permit(principal, action, resource) when { resource has arg_n && resource.arg_n == 1 };',
        'permit(principal, action, resource) when { principal has claim_age && 18 <= principal.claim_age };',
        'permit(principal, action, resource) when { resource has arg_a && resource.arg_a.lessThan(decimal("10.0")) && resource has arg_s && resource.arg_s == "1" };',
      ]),
    );
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => [w.policy, w.column])).toEqual([
      [0, 117],
      [1, 75],
      [2, 87],
    ]);
    expect(r.warnings[0]!.message).toMatch(/`<` on `resource.arg_a` needs a Long.*decimals.*write `resource.arg_a.lessThan\(decimal\("10.0"\)\)`/);
    expect(r.warnings[1]!.message).toMatch(/never true; write `resource.arg_n == decimal\("1.0"\)`/);
    expect(r.warnings[2]!.message).toContain('`>=` on `principal.claim_age` needs a Long');
    expect(r.warnings[2]!.message).toContain('write `principal.claim_age.greaterThanOrEqual(decimal("18.0"))`');
    expect(checkAuthzConfig(config(['permit(principal, action, resource) when { resource has arg_a && resource.arg_a < 10 };']), {}, { strict: true }).ok).toBe(false);
  });

  it('checks arguments against what the server declares when that is known', () => {
    const declared = checkAuthzConfig(guide, { toolArgs: new Set(['operation', 'a']) });
    expect(declared.warnings.map((w) => w.policy)).toEqual([2]);
    const other = checkAuthzConfig(guide, { toolArgs: new Set(['op']) });
    expect(other.warnings.map((w) => w.policy)).toEqual([2, 3]);
    expect(other.warnings[1]!.message).toMatch(/`arg_operation` reads the tool argument "operation", but none of the server's tools declares it/);
  });

  it('names a tool or prompt none of the servers offers, at its place, with the nearest real name; judges a named tool by its own arguments', () => {
    const tools = new Map<string, readonly string[]>([
      ['get-sum', ['a', 'b']],
      ['echo', ['message']],
      ['get-env', []],
    ]);
    const known = { toolArgs: new Set(['a', 'b', 'message']), tools, servers: ['calc'] };
    const r = checkAuthzConfig(config(['permit(principal, action == Action::"call_tool", resource == Tool::"get-sun");', 'permit(principal, action == Action::"call_tool", resource) when { resource == Tool::"shutdown" };']), known);
    expect(r.warnings.map((w) => [w.policy, w.line, w.column])).toEqual([
      [0, 1, 62],
      [1, 1, 79],
    ]);
    expect(r.warnings[0]!.message).toBe('Tool::"get-sun" is not a tool of calc (as its tool list last said): this policy never matches it, so such tool calls are denied by default; did you mean Tool::"get-sum"?');
    expect(r.warnings[1]!.message).toMatch(/Tool::"shutdown" is not a tool of calc .*; calc offers: get-sum, echo, get-env$/);
    // Unknown lists: nothing to judge by.
    expect(checkAuthzConfig(config(['permit(principal, action == Action::"call_tool", resource == Tool::"get-sun");'])).warnings).toEqual([]);
    // `message` is an argument of echo, not of get-env: said of get-env.
    const arg = checkAuthzConfig(config(['permit(principal, action == Action::"call_tool", resource == Tool::"get-env") when { resource.arg_message == "x" };']), known);
    expect(arg.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/`arg_message` reads the argument "message", but Tool::"get-env" does not declare it \(it takes no arguments\)/)]);
    expect(checkAuthzConfig(config(['permit(principal, action == Action::"call_tool", resource == Tool::"echo") when { resource.arg_message == "x" };']), known).warnings).toEqual([]);
  });

  it('says a policy only about list_tools (list_prompts, list_resources) has no effect: lists show what call_tool permits', () => {
    const r = checkAuthzConfig(config(['forbid(principal, action == Action::"list_tools", resource);', 'permit(principal, action in [Action::"list_prompts", Action::"get_prompt"], resource);']));
    expect(r.warnings.map((w) => [w.policy, w.line, w.column])).toEqual([[0, 1, 29]]);
    expect(r.warnings[0]!.message).toMatch(/^Gatehouse \(like ToolHive's proxy\) never asks about Action::"list_tools".*no effect; write the policy for call_tool/);
  });

  it("says nothing about ToolHive's has-guarded reads: arguments, delegation claims, claim sets", () => {
    const r = checkAuthzConfig(
      config(
        [
          'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource has arg_operation && resource.arg_operation == "divide" };',
          'permit(principal, action == Action::"call_tool", resource) when { context has arg_operation && context.arg_operation == "add" };',
          'forbid(principal, action, resource) when { context has claim_act };',
          'permit(principal, action, resource) when { principal has claimset_scp && principal.claimset_scp.contains("mcp:read") };',
        ],
        [],
        { multi_valued_claims: ['scope'] },
      ),
    );
    expect(r).toEqual({ ok: true, errors: [], warnings: [] });
  });

  it("knows entities_json's own types: a group to role hierarchy validates", () => {
    const r = checkAuthzConfig(
      config(['permit(principal in THVRole::"developer", action == Action::"call_tool", resource);'], [
        { uid: { type: 'THVGroup', id: 'eng' }, attrs: {}, parents: [{ type: 'THVRole', id: 'developer' }] },
        { uid: { type: 'THVRole', id: 'developer' }, attrs: { level: 3 } },
      ]),
    );
    expect(r).toEqual({ ok: true, errors: [], warnings: [] });
  });

  it('reports a real mistake as a warning that says what will happen, at its first place; strict refuses it', () => {
    const typo = config(['permit(principal, action == Action::"call_tol", resource);', 'permit(principal, action, resource) when { principal.claim_role == "a" || principal.claim_role == "b" };']);
    const r = checkAuthzConfig(typo);
    expect(r.ok).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.message)).toContainEqual(expect.stringMatching(/Action::"call_tol" is not an action Gatehouse asks about.*never matches, so it denies by default.*did you mean `Action::"call_tool"`/));
    const role = r.warnings.filter((w) => w.message.includes('`claim_role`'));
    expect(role).toHaveLength(1);
    expect(role[0]!.column).toBe(44);
    expect(checkAuthzConfig(typo, {}, { strict: true }).ok).toBe(false);
    expect(checkAuthzConfig(guide, {}, { strict: true }).ok).toBe(false);
  });

  it('names a claim no standard token carries as such when it is used, not only compared, and keeps Cedar\'s suggestion when it is a slip', () => {
    const used = checkAuthzConfig(config(['permit(principal, action, resource) when { principal.claim_role.contains("premium") };']));
    expect(used.warnings.map((w) => [w.column, w.message.split(':')[0]])).toEqual([[44, '`claim_role` reads the claim "role", which no standard token carries (did you mean `claim_roles`?)']]);
    const compared = checkAuthzConfig(config(['permit(principal, action, resource) when { principal.claim_role == "x" };']));
    expect(compared.warnings[0]!.message).toContain('(did you mean `claim_roles`?)');
    // Another word altogether: no suggestion.
    const other = checkAuthzConfig(config(['permit(principal, action, resource) when { principal.claim_dept == "x" };']));
    expect(other.warnings[0]!.message).toMatch(/^`claim_dept` reads the claim "dept", which no standard token carries: fine if/);
  });

  it('still checks the policies that parse while another does not (a policy being typed hides nothing)', () => {
    const r = checkAuthzConfig(config(['permit(principal, action == Action::"call_tol", resource);', 'permit(principal, action, resource']));
    expect(r.ok).toBe(false);
    expect(r.errors.map((e) => e.policy)).toEqual([1]);
    expect(r.warnings.map((w) => [w.policy, w.message.slice(0, 33)])).toEqual([[0, 'Action::"call_tol" is not an acti']]);
    // Nothing parses: the errors alone.
    expect(checkAuthzConfig(config(['permit(principal, action, resource'])).warnings).toEqual([]);
  });

  it('refuses what Cedar cannot load: syntax, entities, templates', () => {
    expect(checkAuthzConfig(config(['permit(principal, action, resource']))).toMatchObject({ ok: false });
    expect(checkAuthzConfig(config(['permit(principal == ?principal, action, resource);']))).toMatchObject({ ok: false });
    expect(checkAuthzConfig(config(['permit(principal, action, resource);'], [{ uid: 'Tool::weather', attrs: {} }]))).toMatchObject({ ok: false });
  });

  it('explains attributes Gatehouse never sets, unknown types and type mismatches', () => {
    const r = checkAuthzConfig(
      config([
        'permit(principal, action == Action::"call_tool", resource) when { resource.tier == "gold" };',
        'permit(principal, action == Action::"call_tool", resource == Tol::"x");',
        'permit(principal, action == Action::"call_tool", resource) when { principal has claim_email && principal.claim_email == 3 };',
      ]),
    );
    expect(r.ok).toBe(true);
    const by = (i: number) => r.warnings.filter((w) => w.policy === i).map((w) => w.message).join(' | ');
    expect(by(0)).toMatch(/sets no attribute `tier`/);
    expect(by(1)).toMatch(/no request or entities_json entity has the type Tol: this policy never matches/);
    expect(by(2)).toMatch(/not compatible.*other types makes this policy fail to evaluate/);
  });
});
