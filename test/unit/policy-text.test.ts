import { describe, expect, it } from 'vitest';
import { joinPolicies, offsetOf, placeProblem, splitPolicies } from '../../src/authz/policy-text.js';
import { mulberry32 } from '../support/seeded-random.js';

/** The policy editor's one text, and the set's policies it stands for. */
describe('policy text', () => {
  const guide = [
    'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
    'permit(principal == Client::"alice123", action == Action::"call_tool", resource == Tool::"admin_tool");',
    'permit(principal, action == Action::"call_tool", resource) when { principal.claim_roles.contains("premium") };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource.arg_operation == "add" || resource.arg_operation == "subtract" };',
  ];

  it('splits the join of a set back into the same policies, at the same places', () => {
    const { text, spans } = joinPolicies(guide);
    const back = splitPolicies(text);
    expect(back.policies).toEqual(guide);
    expect(back.spans).toEqual(spans);
    for (const [i, s] of spans.entries()) expect(text.slice(s.from, s.to)).toBe(guide[i]);
  });

  it('splits only at a ; outside strings and comments, and keeps comments with their policy', () => {
    const text = [
      '// who may read',
      '@id("readers")',
      'permit(principal, action, resource) when { resource.arg_q == "a;b" }; // not "c;d"',
      '',
      '// the last one; it ends here',
      'forbid(principal, action, resource) when { context.x like "*;\\"*" };',
      '// trailing notes',
    ].join('\n');
    const { policies } = splitPolicies(text);
    expect(policies).toEqual([
      '// who may read\n@id("readers")\npermit(principal, action, resource) when { resource.arg_q == "a;b" }; // not "c;d"',
      '// the last one; it ends here\nforbid(principal, action, resource) when { context.x like "*;\\"*" };\n// trailing notes',
    ]);
  });

  it('keeps a policy still being written as one, so the check can say what is missing', () => {
    expect(splitPolicies('permit(principal, action, resource);\n\npermit(principal, action').policies).toEqual(['permit(principal, action, resource);', 'permit(principal, action']);
    expect(splitPolicies('  \n ').policies).toEqual([]);
    expect(splitPolicies('// only a note').policies).toEqual(['// only a note']);
  });

  it('round-trips generated sets (strings with ; and quotes, comments, blank lines)', () => {
    const rand = mulberry32(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (let n = 0; n < 300; n++) {
      const set = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
        const value = Array.from({ length: Math.floor(rand() * 8) }, () => pick(['a', ';', '\\"', ' ', '//', '{', '}'])).join('');
        const lead = rand() < 0.3 ? '// note; with a semicolon\n' : '';
        const trail = rand() < 0.3 ? ' // after; too' : '';
        return `${lead}${pick(['permit', 'forbid'])}(principal, action, resource) when { resource.arg_x == "${value}" };${trail}`;
      });
      const { text } = joinPolicies(set);
      expect(splitPolicies(text).policies).toEqual(set);
    }
  });

  it('finds a line and column, clamped to the text', () => {
    const t = 'ab\ncde\nf';
    expect(offsetOf(t, 1, 1)).toBe(0);
    expect(offsetOf(t, 2, 3)).toBe(5);
    expect(offsetOf(t, 2, 99)).toBe(6);
    expect(offsetOf(t, 9, 1)).toBe(t.length);
  });
});

describe('placing a problem of policy N in the joined text', () => {
  it('puts it at its line and column, over its span, and one of the whole set at the start', () => {
    const policies = ['permit(principal, action, resource);', 'permit(\n  principal,\n  action == Action::"call_tol",\n  resource\n);'];
    const { text, spans } = joinPolicies(policies);
    // Cedar points at Action::"call_tol" on line 3, column 13 of the second policy.
    const placed = placeProblem({ policy: 1, line: 3, column: 13, length: 'Action::"call_tol"'.length, severity: 'warning', message: 'unknown action' }, policies, spans, text);
    expect(text.slice(placed.from, placed.to)).toBe('Action::"call_tol"');
    expect(placed).toMatchObject({ line: 5, column: 13 });
    const whole = placeProblem({ policy: 0, severity: 'error', message: 'x' }, policies, spans, text);
    expect(text.slice(whole.from, whole.to)).toBe(policies[0]);
    expect(placeProblem({ severity: 'error', message: 'entities_json' }, policies, spans, text)).toMatchObject({ from: 0, to: 0, line: 1, column: 1 });
  });
});
