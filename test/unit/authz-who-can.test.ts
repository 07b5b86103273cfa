import { describe, expect, it } from 'vitest';
import { parseAuthzConfigDocument } from '../../src/authz/config.js';
import { whoCan } from '../../src/authz/who-can.js';

/** "Who can call this tool?" by Cedar's partial evaluation, with the caller unknown, in words. */
describe('whoCan', () => {
  const config = (policies: string[], entities: unknown[] = []) => parseAuthzConfigDocument(JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: JSON.stringify(entities) } }));
  const guide = [
    'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
    'permit(principal == Client::"alice123", action == Action::"call_tool", resource == Tool::"admin_tool");',
    'permit(principal, action == Action::"call_tool", resource) when { principal.claim_roles.contains("premium") };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource.arg_operation == "add" || resource.arg_operation == "subtract" };',
    'forbid(principal in THVGroup::"blocked", action, resource);',
    'permit(principal, action == Action::"call_tool", resource == Tool::"echo") when { principal has claim_email && principal.claim_email like "*@example.com" };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"echo") when { context.claim_dept == "ops" };',
  ];

  it('says which callers a permit still asks for, and which a forbid stops', () => {
    const r = whoCan(config(guide), { feature: 'tool', name: 'echo', arguments: {} });
    expect(r.decision).toBeNull();
    expect(r.permits.map((p) => [p.index, p.words])).toEqual(
      expect.arrayContaining([
        [2, 'callers whose `claim_roles` contains `premium`'],
        [5, 'callers whose token has `email` and whose `claim_email` matches `*@example.com`'],
      ]),
    );
    expect(r.permits.map((p) => p.index).sort()).toEqual([2, 5]);
    expect(r.forbids.map((p) => [p.index, p.words])).toEqual([[4, 'callers in group `blocked`']]);
    // context.claim_* cannot be known without a caller.
    expect(r.unanswerable.map((u) => u.index)).toEqual([6]);
    expect(r.permits.find((p) => p.index === 2)!.cedar).toMatch(/principal|unknown/);
  });

  it('names the one caller a scope allows, everyone when nothing is asked, and the arguments it depends on', () => {
    expect(whoCan(config(guide), { feature: 'tool', name: 'admin_tool' }).permits.map((p) => [p.index, p.words])).toEqual(expect.arrayContaining([[1, 'callers that are Client `alice123`']]));
    const weather = whoCan(config(guide.slice(0, 1)), { feature: 'tool', name: 'weather' });
    expect(weather.decision).toBe('allow');
    expect(weather.permits.map((p) => p.words)).toEqual(['every caller']);
    const add = whoCan(config(guide.slice(3, 4)), { feature: 'tool', name: 'calculator', arguments: { operation: 'add' } });
    expect(add.decision).toBe('allow');
    const divide = whoCan(config(guide.slice(3, 4)), { feature: 'tool', name: 'calculator', arguments: { operation: 'divide' } });
    expect(divide.decision).toBe('deny');
    expect(divide.permits).toEqual([]);
  });

  it("says what every caller's token must carry when a policy reads a claim without `has` (an evaluation error denies the whole request)", () => {
    const unguarded = config(guide.slice(0, 4));
    const add = whoCan(unguarded, { feature: 'tool', name: 'calculator', arguments: { operation: 'add' } });
    expect(add.decision).toBe('allow');
    expect(add.requires).toEqual([{ attribute: 'claim_roles', policies: [2] }]);
    expect(whoCan(unguarded, { feature: 'tool', name: 'admin_tool' }).requires).toEqual([{ attribute: 'claim_roles', policies: [2] }]);
    // Guarded, scoped to one caller, or on another action: nothing every caller must carry.
    const guarded = config([guide[0]!, 'permit(principal, action == Action::"call_tool", resource) when { principal has claim_roles && principal.claim_roles.contains("premium") };']);
    expect(whoCan(guarded, { feature: 'tool', name: 'weather' }).requires).toEqual([]);
    const scoped = config([guide[0]!, 'permit(principal == Client::"bob", action == Action::"call_tool", resource) when { principal.claim_level > 2 };']);
    expect(whoCan(scoped, { feature: 'tool', name: 'weather' }).requires).toEqual([]);
    const elsewhere = config([guide[0]!, 'permit(principal, action == Action::"get_prompt", resource) when { principal.claim_roles.contains("x") };']);
    expect(whoCan(elsewhere, { feature: 'tool', name: 'weather' }).requires).toEqual([]);
    // Read in a later `when` after a `has` in an earlier one: guarded too.
    const twoWhens = config([guide[0]!, 'permit(principal, action, resource) when { principal has claim_team } when { principal.claim_team == "a" };']);
    expect(whoCan(twoWhens, { feature: 'tool', name: 'weather' }).requires).toEqual([]);
  });
});
