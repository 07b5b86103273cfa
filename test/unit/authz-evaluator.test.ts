// Unit tests for the JS Cedar evaluator, construct by construct. Each expected outcome is also
// checked against cedar-wasm, so a test cannot encode a wrong belief about Cedar's semantics.
import { isAuthorized, policyToJson, templateToJson, type PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import type { CedarEntity, CedarRequest, CedarValue } from '../../src/authz/cedar-types.js';
import { MapEntityStore } from '../../src/authz/entity-store.js';
import { analyzePolicy, checkEntities, evaluatePolicy, scopeMatches, UnsupportedExpression } from '../../src/authz/evaluator.js';

const uid = (type: string, id: string) => ({ type, id });
const group = (id: string, ...parents: string[]): CedarEntity => ({ uid: uid('THVGroup', id), attrs: { name: id }, parents: parents.map((p) => uid('THVGroup', p)) });

/** entities_json-like: eng ⊂ staff ⊂ everyone, ops ⊂ staff; servers. */
const base = new MapEntityStore([
  group('eng', 'staff'),
  group('ops', 'staff'),
  group('staff', 'everyone'),
  group('everyone'),
  { uid: uid('MCP', 'github'), attrs: { name: 'github' }, parents: [] },
  { uid: uid('Action', 'call_tool'), attrs: {}, parents: [uid('Action', 'tool_ops')] },
]);

const alice: CedarEntity = {
  uid: uid('Client', 'alice'),
  attrs: {
    claim_sub: 'alice',
    claim_roles: ['dev', 'admin'],
    claim_email: 'alice@example.com',
    claim_level: 3,
    claim_org: { name: 'acme', meta: { region: 'eu-west-1' }, tier: 2 },
    claim_manager: { __entity: uid('Client', 'bob') },
    claim_exp: { __extn: { fn: 'decimal', arg: '1700000000.0' } },
  },
  parents: [uid('THVGroup', 'eng')],
};
const tool: CedarEntity = {
  uid: uid('Tool', 'search_code'),
  attrs: { name: 'search_code', operation: 'call', feature: 'tool', readOnlyHint: true, arg_query: 'a*b', arg_count: 5 },
  parents: [uid('MCP', 'github')],
};

function request(context: Record<string, CedarValue> = {}, over: Partial<CedarRequest> = {}): CedarRequest {
  return { principal: alice.uid, action: uid('Action', 'call_tool'), resource: tool.uid, context: { arg_count: 5, ...context }, ...over };
}

const parse = (text: string): PolicyJson => {
  const r = policyToJson(text);
  if (r.type !== 'success') throw new Error(`${text}: ${JSON.stringify(r.errors)}`);
  return r.json;
};

/** Cedar's own outcome for one policy, as the differential test computes it. */
function cedar(text: string, req: CedarRequest, store: MapEntityStore): string {
  let a: ReturnType<typeof isAuthorized>;
  try {
    a = isAuthorized({ ...req, context: req.context as never, policies: { staticPolicies: { p: text } }, entities: store.all() });
  } catch {
    return 'request-rejected'; // e.g. a lone surrogate: the JSON bridge into wasm throws
  }
  if (a.type === 'failure') return 'request-rejected';
  if (a.response.diagnostics.errors.some((e) => e.policyId === 'p')) return 'error';
  return a.response.diagnostics.reason.includes('p') ? 'satisfied' : 'not-satisfied';
}

/** The outcome of a `when` condition (or a whole policy), checked against cedar-wasm. */
function outcome(condOrPolicy: string, req = request(), entities: CedarEntity[] = [alice, tool]): string {
  const text = /^(permit|forbid)\(/.test(condOrPolicy) ? condOrPolicy : `permit(principal, action, resource) when { ${condOrPolicy} };`;
  const store = new MapEntityStore(entities, base);
  const ours = evaluatePolicy(parse(text), req, store).kind;
  expect(ours, `cedar-wasm disagrees on: ${text}`).toBe(cedar(text, req, store));
  return ours;
}

function unsupported(condOrPolicy: string, req = request(), entities: CedarEntity[] = [alice, tool]): void {
  const text = /^(permit|forbid)\(/.test(condOrPolicy) ? condOrPolicy : `permit(principal, action, resource) when { ${condOrPolicy} };`;
  expect(() => evaluatePolicy(parse(text), req, new MapEntityStore(entities, base))).toThrow(UnsupportedExpression);
}

const T = 'satisfied';
const F = 'not-satisfied';
const E = 'error';

describe('scope (policy head)', () => {
  const scope = (head: string, req = request(), entities = [alice, tool]) => {
    const text = `permit(${head});`;
    const store = new MapEntityStore(entities, base);
    const ours = scopeMatches(parse(text), req, store);
    expect(ours ? T : F).toBe(cedar(text, req, store));
    return ours;
  };

  it('All, == and != entities', () => {
    expect(scope('principal, action, resource')).toBe(true);
    expect(scope('principal == Client::"alice", action == Action::"call_tool", resource == Tool::"search_code"')).toBe(true);
    expect(scope('principal == Client::"bob", action, resource')).toBe(false);
    expect(scope('principal, action == Action::"get_prompt", resource')).toBe(false);
  });

  it('in: reflexive and transitive through entities_json groups', () => {
    expect(scope('principal in Client::"alice", action, resource')).toBe(true);
    expect(scope('principal in THVGroup::"eng", action, resource')).toBe(true);
    expect(scope('principal in THVGroup::"everyone", action, resource')).toBe(true); // eng → staff → everyone
    expect(scope('principal in THVGroup::"ops", action, resource')).toBe(false);
    expect(scope('principal, action, resource in MCP::"github"')).toBe(true);
    // A principal the store does not know is only `in` itself.
    expect(scope('principal in THVGroup::"eng", action, resource', request({}, { principal: uid('Client', 'zed') }))).toBe(false);
    expect(scope('principal in Client::"zed", action, resource', request({}, { principal: uid('Client', 'zed') }))).toBe(true);
  });

  it('action in a list, and in an action group', () => {
    expect(scope('principal, action in [Action::"get_prompt", Action::"call_tool"], resource')).toBe(true);
    expect(scope('principal, action in [Action::"get_prompt"], resource')).toBe(false);
    expect(scope('principal, action in [], resource')).toBe(false);
    expect(scope('principal, action in Action::"tool_ops", resource')).toBe(true);
  });

  it('is, and is ... in', () => {
    expect(scope('principal is Client, action, resource is Tool')).toBe(true);
    expect(scope('principal, action, resource is Prompt')).toBe(false);
    expect(scope('principal is Client in THVGroup::"staff", action, resource is Tool in MCP::"github"')).toBe(true);
    expect(scope('principal is THVGroup in THVGroup::"staff", action, resource')).toBe(false);
  });

  it('templates (slots) are Unsupported', () => {
    const t = templateToJson('permit(principal == ?principal, action, resource);');
    if (t.type !== 'success') throw new Error('template');
    expect(() => scopeMatches(t.json, request(), base)).toThrow(UnsupportedExpression);
    expect(analyzePolicy(t.json).supported).toBe(false);
  });

  it('a non-matching head never evaluates the conditions (so cannot error)', () => {
    expect(outcome('permit(principal == Client::"bob", action, resource) when { 1 };')).toBe(F);
    expect(outcome('forbid(principal, action, resource) when { principal.claim_level > 2 };')).toBe(T);
  });
});

describe('clauses', () => {
  it('when/unless in order; unless negates; a non-boolean clause is an error', () => {
    expect(outcome('permit(principal, action, resource) when { true } unless { false };')).toBe(T);
    expect(outcome('permit(principal, action, resource) unless { true };')).toBe(F);
    expect(outcome('permit(principal, action, resource) when { "yes" };')).toBe(E);
    expect(outcome('permit(principal, action, resource) unless { 1 };')).toBe(E);
  });

  it('stops at the first failing clause: later errors are not reached', () => {
    expect(outcome('permit(principal, action, resource) when { false } when { principal.nope };')).toBe(F);
    expect(outcome('permit(principal, action, resource) when { principal.nope } when { false };')).toBe(E);
  });
});

describe('values and equality', () => {
  it('literals and structural, type-aware equality (different types are unequal, not an error)', () => {
    expect(outcome('1 == 1 && "a" == "a" && true == true && Client::"alice" == principal')).toBe(T);
    expect(outcome('1 == "1"')).toBe(F);
    expect(outcome('1 != "1"')).toBe(T);
    expect(outcome('principal == "alice"')).toBe(F);
    expect(outcome('Client::"alice" == THVGroup::"alice"')).toBe(F);
  });

  it('sets compare as sets; records by keys and values', () => {
    expect(outcome('[1, 2, 2] == [2, 1]')).toBe(T);
    expect(outcome('["a", "b"] == ["a"]')).toBe(F);
    expect(outcome('{a: 1, b: [1, 2]} == {b: [2, 1], a: 1}')).toBe(T);
    expect(outcome('{a: 1} == {a: 1, b: 2}')).toBe(F);
    expect(outcome('principal.claim_org == {name: "acme", tier: 2, meta: {region: "eu-west-1"}}')).toBe(T);
    expect(outcome('[principal.claim_manager] == [Client::"bob"]')).toBe(T);
  });

  it('decimal values from data: equal by value; other uses are type errors, comparisons Unsupported', () => {
    const d = (arg: string): CedarValue => ({ __extn: { fn: 'decimal', arg } });
    expect(outcome('context.x == context.y', request({ x: d('1.5'), y: d('1.50') }))).toBe(T);
    expect(outcome('context.x == context.y', request({ x: d('-0.5'), y: d('0.5') }))).toBe(F);
    expect(outcome('context.x == 15', request({ x: d('1.5') }))).toBe(F);
    expect(outcome('[context.x].contains(context.y)', request({ x: d('2.0'), y: d('2.0000') }))).toBe(T);
    expect(outcome('context.x + 1 == 2', request({ x: d('1.0') }))).toBe(E);
    expect(outcome('context.x like "1*"', request({ x: d('1.0') }))).toBe(E);
    unsupported('context.x < 2', request({ x: d('1.0') }));
    unsupported('principal.claim_exp == decimal("1700000000.0")'); // extension function call
  });
});

describe('boolean operators', () => {
  it('&& and || short-circuit; a non-boolean operand that is reached is an error', () => {
    expect(outcome('false && (1 + "a" == 2)')).toBe(F);
    expect(outcome('true || principal.nope')).toBe(T);
    expect(outcome('true && 1')).toBe(E);
    expect(outcome('false || "x"')).toBe(E);
    expect(outcome('1 && false')).toBe(E);
    expect(outcome('!false && !(1 == 2)')).toBe(T);
    expect(outcome('!1')).toBe(E);
  });

  it('if-then-else evaluates only the chosen branch; a non-boolean guard is an error', () => {
    expect(outcome('if principal has claim_level then principal.claim_level == 3 else principal.nope')).toBe(T);
    expect(outcome('if false then principal.nope else true')).toBe(T);
    expect(outcome('if 1 then true else true')).toBe(E);
  });
});

describe('arithmetic and comparison (Long = i64)', () => {
  it('computes and compares Longs; other types are errors', () => {
    expect(outcome('principal.claim_level * 2 + 1 - context.arg_count == 2')).toBe(T);
    expect(outcome('-(principal.claim_level) < 0 && 3 <= 3 && 4 > 3 && 3 >= 3')).toBe(T);
    expect(outcome('"a" < "b"')).toBe(E);
    expect(outcome('1 + true == 2')).toBe(E);
    expect(outcome('-"a" == 1')).toBe(E);
  });

  it('i64 overflow is an error; exact results beyond ±(2^53-1) are Unsupported', () => {
    expect(outcome('9007199254740991 * 1025 == 0')).toBe(E); // > 2^63-1
    expect(outcome('-9007199254740991 * 1025 == 0')).toBe(E);
    expect(outcome('3037000500 * 3037000500 == 0')).toBe(E); // 2^63-1 < x < 2^64
    unsupported('9007199254740991 * 1024 == 0'); // 2^63 - 1024: valid i64, not exact in JS
    unsupported('9007199254740991 + 1 == 0');
    unsupported('9223372036854775807 == 0'); // the literal itself
    expect(outcome('9007199254740991 - 1 == 9007199254740990')).toBe(T);
  });
});

describe('in', () => {
  it('entity in entity / set of entities, through the hierarchy', () => {
    expect(outcome('principal in THVGroup::"staff"')).toBe(T);
    expect(outcome('principal in [THVGroup::"ops", THVGroup::"everyone"]')).toBe(T);
    expect(outcome('principal in []')).toBe(F);
    expect(outcome('resource in principal')).toBe(F);
    expect(outcome('principal.claim_manager in principal.claim_manager')).toBe(T); // bob is not in the store: equality
  });

  it('type errors: non-entity left side, non-entity in the set (even after a match), other right sides', () => {
    expect(outcome('"alice" in THVGroup::"eng"')).toBe(E);
    expect(outcome('principal in [THVGroup::"eng", 1]')).toBe(E);
    expect(outcome('principal in "eng"')).toBe(E);
    expect(outcome('principal in {a: THVGroup::"eng"}')).toBe(E);
  });
});

describe('sets', () => {
  it('contains, containsAll, containsAny, isEmpty', () => {
    expect(outcome('principal.claim_roles.contains("admin")')).toBe(T);
    expect(outcome('principal.claim_roles.contains(1)')).toBe(F);
    expect(outcome('principal.claim_roles.containsAll(["admin", "dev", "dev"])')).toBe(T);
    expect(outcome('principal.claim_roles.containsAll(["admin", "ops"])')).toBe(F);
    expect(outcome('principal.claim_roles.containsAny(["ops", "dev"])')).toBe(T);
    expect(outcome('[].containsAny([])')).toBe(F);
    expect(outcome('[].containsAll([])')).toBe(T);
    expect(outcome('[].isEmpty() && ![1].isEmpty()')).toBe(T);
    expect(outcome('[[1, 2], {a: 1}].contains([2, 1]) && [{a: 1}].contains({a: 1})')).toBe(T);
  });

  it('type errors on non-sets', () => {
    expect(outcome('"admin".contains("a")')).toBe(E);
    expect(outcome('principal.claim_roles.containsAll("admin")')).toBe(E);
    expect(outcome('principal.claim_sub.isEmpty()')).toBe(E);
  });
});

describe('attributes: . and has', () => {
  it('reads record and entity attributes; missing attribute or entity is an error', () => {
    expect(outcome('principal.claim_org.meta.region == "eu-west-1" && context.arg_count == 5')).toBe(T);
    expect(outcome('principal.nope == 1')).toBe(E);
    expect(outcome('context.nope == 1')).toBe(E);
    expect(outcome('principal.claim_manager.claim_sub == "bob"')).toBe(E); // bob is not in the store
    expect(outcome('THVGroup::"staff".name == "staff"')).toBe(T); // entities_json attributes
    expect(outcome('principal.claim_sub.length == 5')).toBe(E); // not a record
    expect(outcome('action has x')).toBe(F); // the action entity exists, without attributes
  });

  it('has: false for a missing attribute or a missing entity; a type error on other values', () => {
    expect(outcome('principal has claim_email && !(principal has nope) && context has arg_count')).toBe(T);
    expect(outcome('principal.claim_manager has claim_sub')).toBe(F);
    expect(outcome('principal has "claim_email"')).toBe(T);
    expect(outcome('principal.claim_sub has x')).toBe(E);
  });

  it('nested has (Cedar 4): e has a.b.c is e has a && e.a has b && e.a.b has c', () => {
    expect(outcome('principal has claim_org.meta.region')).toBe(T);
    expect(outcome('principal has claim_org.meta.zone')).toBe(F);
    expect(outcome('principal has claim_org.nope.zone')).toBe(F);
    expect(outcome('principal has nope.meta')).toBe(F);
    expect(outcome('principal has claim_org.name.x')).toBe(E); // claim_org.name is a string
    expect(outcome('principal has claim_manager.claim_sub')).toBe(F); // an entity that does not exist
  });
});

describe('like', () => {
  it('* matches any sequence; \\* is a literal star; whole-string match', () => {
    expect(outcome('principal.claim_email like "*@example.com"')).toBe(T);
    expect(outcome('principal.claim_email like "alice"')).toBe(F);
    expect(outcome('principal.claim_email like "a*e*e*"')).toBe(T);
    expect(outcome('principal.claim_email like "*"')).toBe(T);
    expect(outcome('"" like ""')).toBe(T);
    expect(outcome('"" like "**"')).toBe(T);
    expect(outcome('resource.arg_query like "a\\*b"')).toBe(T);
    expect(outcome('"axxb" like "a\\*b"')).toBe(F);
    expect(outcome('"aab" like "*ab"')).toBe(T); // needs backtracking
    expect(outcome('"😀é" like "?*" || "😀é" like "😀*"')).toBe(T);
  });

  it('a non-string is a type error', () => {
    expect(outcome('principal.claim_level like "*"')).toBe(E);
  });
});

describe('is', () => {
  it('checks the entity type; is ... in also checks the hierarchy', () => {
    expect(outcome('principal is Client && !(resource is Client)')).toBe(T);
    expect(outcome('principal is Client in THVGroup::"staff"')).toBe(T);
    expect(outcome('principal is Client in THVGroup::"ops"')).toBe(F);
    expect(outcome('principal.claim_manager is Client in [THVGroup::"eng", Client::"bob"]')).toBe(T);
  });

  it('a non-entity is a type error; the in part is only evaluated for a matching type', () => {
    expect(outcome('"x" is Client')).toBe(E);
    expect(outcome('resource is Client in 1')).toBe(F);
    expect(outcome('principal is Client in 1')).toBe(E);
  });
});

describe('Unsupported constructs', () => {
  it('extension functions, tags', () => {
    unsupported('decimal("1.5").lessThan(decimal("2.5"))');
    unsupported('ip("10.0.0.1").isIpv4()');
    unsupported('resource.hasTag("x")');
    unsupported('datetime("2024-01-01") < datetime("2024-06-01")');
  });

  it('short-circuited unsupported parts are never reached', () => {
    expect(outcome('false && decimal("1.5").lessThan(decimal("2.5"))')).toBe(F);
  });

  it('request data Cedar would reject as a whole', () => {
    const text = 'permit(principal, action, resource);';
    for (const req of [
      request({ f: 1.5 }),
      request({ n: null as unknown as CedarValue }),
      request({ x: { __extn: { fn: 'decimal', arg: '1.12345' } } }),
      request({ s: 'lone \ud800 surrogate' }),
      request({}, { principal: uid('Client::', 'x') }),
    ]) {
      expect(cedar(text, req, new MapEntityStore([alice, tool], base))).toBe('request-rejected');
      unsupported(text, req);
    }
    // Cedar accepts ip values; this evaluator only models decimals.
    unsupported(text, request({ x: { __extn: { fn: 'ip', arg: '10.0.0.1' } } }));
  });

  it('entities Cedar would reject: checkEntities, and the entities an evaluation reads', () => {
    const text = 'permit(principal, action, resource);';
    const bad: CedarEntity[][] = [
      [group('loop1', 'loop2'), group('loop2', 'loop1')],
      [{ uid: uid('if', 'x'), attrs: {}, parents: [] }],
      [{ uid: uid('Action', 'x'), attrs: {}, parents: [uid('THVGroup', 'eng')] }],
      [{ uid: uid('THVGroup', 'x'), attrs: { f: 0.5 }, parents: [] }],
    ];
    for (const extra of bad) {
      const store = new MapEntityStore([alice, tool, ...extra], base);
      expect(cedar(text, request(), store)).toBe('request-rejected');
      expect(() => checkEntities(extra, store)).toThrow(UnsupportedExpression);
    }
    // A cycle through the request's own principal and entities_json: found from the request's entities.
    const looped = new MapEntityStore([{ ...alice, parents: [uid('THVGroup', 'loop')] }], new MapEntityStore([group('loop', 'eng'), { ...group('eng'), parents: [alice.uid] }]));
    expect(() => checkEntities([looped.get(alice.uid)!], looped)).toThrow(UnsupportedExpression);
    expect(() => checkEntities([alice, tool], new MapEntityStore([alice, tool], base))).not.toThrow();
    // Without checkEntities, an evaluation still refuses what it reads: the hierarchy, attributes.
    expect(() => evaluatePolicy(parse('permit(principal in THVGroup::"x", action, resource);'), request(), looped)).toThrow(UnsupportedExpression);
    unsupported('THVGroup::"x".f == 1', request(), [alice, tool, { uid: uid('THVGroup', 'x'), attrs: { f: 0.5 }, parents: [] }]);
  });
});

describe('analyzePolicy', () => {
  it('reports variables read, entity literals, condition-freeness and support', () => {
    const a = analyzePolicy(parse('permit(principal in THVGroup::"eng", action, resource) when { context.arg_count > 1 && resource.name like "s*" };'));
    expect(a).toEqual({ reads: { principal: false, action: false, resource: true, context: true }, entityLiterals: false, conditionFree: false, supported: true });
    const b = analyzePolicy(parse('forbid(principal, action, resource) when { principal in [THVGroup::"ops"] };'));
    expect(b.reads.principal).toBe(true);
    expect(b.entityLiterals).toBe(true);
    expect(analyzePolicy(parse('permit(principal, action, resource) when { context.x == {a: Client::"x"} };')).entityLiterals).toBe(true);
  });

  it('conditionFree: none, or only `when { true }` / `unless { false }`', () => {
    expect(analyzePolicy(parse('permit(principal, action, resource);')).conditionFree).toBe(true);
    expect(analyzePolicy(parse('permit(principal, action, resource) when { true } unless { false };')).conditionFree).toBe(true);
    expect(analyzePolicy(parse('permit(principal, action, resource) when { false };')).conditionFree).toBe(false);
  });

  it('supported is false for extension calls, tags and inexact literals', () => {
    expect(analyzePolicy(parse('permit(principal, action, resource) when { decimal("1.0") == context.x };')).supported).toBe(false);
    expect(analyzePolicy(parse('permit(principal, action, resource) when { resource.getTag("a") == 1 };')).supported).toBe(false);
    expect(analyzePolicy(parse('permit(principal, action, resource) when { context.x == 9223372036854775807 };')).supported).toBe(false);
    expect(analyzePolicy(parse('permit(principal, action, resource) when { context.x == 9007199254740991 };')).supported).toBe(true);
  });
});
