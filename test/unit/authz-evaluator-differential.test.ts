// Differential test: the JS evaluator against cedar-wasm on seeded random policies and requests over
// Gatehouse's entity model. Every (policy, request) pair the evaluator answers must get Cedar's answer.
import { isAuthorized, policyToJson, preparsePolicySet, statefulIsAuthorized, type PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import type { CedarEntity, CedarRequest, CedarValue, EntityUid } from '../../src/authz/cedar-types.js';
import { PolicyEngine, type Decision } from '../../src/authz/engine.js';
import { MapEntityStore } from '../../src/authz/entity-store.js';
import { analyzePolicy, checkEntities, evaluatePolicy, scopeMatches, UnsupportedExpression, type PolicyOutcome } from '../../src/authz/evaluator.js';
import { SeededRandom } from '../support/seeded-random.js';

const SEED = 20240611;
const POLICIES = 1800;
const BATCH = 24;
const REQUESTS_PER_BATCH = 8;
const SINGLE_CALL_CHECKS = 200;

const SUBS = ['alice', 'bob', 'carol', 'svc-ci'];
const GROUPS = ['eng', 'ops', 'admins', 'sre', 'all', 'contractors'];
const SERVERS = ['github', 'fetch', 'files'];
const TOOLS = ['search_code', 'create_issue', 'delete_repo', 'fetch', 'read_file', 'write_file'];
const ACTIONS = ['call_tool', 'get_prompt', 'read_resource', 'list_tools'];
const ACTION_GROUPS = ['tool_ops', 'read_ops'];
const ROLES = ['admin', 'dev', 'viewer', 'auditor'];
const STRINGS = ['alice', 'admin', 'dev', 'call', 'tool', 'x', '', 'search_code', 'a*b', 'ALICE', 'alice@example.com', 'eng', 'ünï', '😀x', 'read_file', 'us-east-1'];
const LONGS = [0, 1, 2, 3, 5, 10, -1, -7, 100, 4096];
// Products of these reach past 2^53 (Unsupported) and past i64 (a Cedar overflow error).
const BIG_LONGS = [9007199254740991, -9007199254740991, 4611686018427387, 3037000499, 3037000500, 4294967296];
const DECIMALS = ['0.7', '1.5', '1.50', '-0.5', '0.5', '1700000000.0', '3.0'];
const ATTRS = [
  'claim_sub', 'claim_roles', 'claim_email', 'claim_level', 'claim_org', 'claim_manager', 'claim_exp', 'name', 'operation', 'feature',
  'arg_query', 'arg_count', 'arg_force', 'arg_temp', 'readOnlyHint', 'owner', 'tier', 'teams', 'meta', 'region', 'missing', 'level',
];

class Gen extends SeededRandom {
  // ---- data -------------------------------------------------------------------------------

  longValue(): number {
    return this.chance(0.06) ? this.pick(BIG_LONGS) : this.pick(LONGS);
  }
  decimal(): CedarValue {
    return { __extn: { fn: 'decimal', arg: this.pick(DECIMALS) } };
  }
  /** Attributes may be missing or of the wrong type, so policies meet Cedar's errors. */
  maybe(attrs: Record<string, CedarValue>, key: string, value: () => CedarValue, wrong: () => CedarValue): void {
    if (this.chance(0.15)) return;
    attrs[key] = this.chance(0.07) ? wrong() : value();
  }
  claims(sub: string): Record<string, CedarValue> {
    const a: Record<string, CedarValue> = {};
    this.maybe(a, 'claim_sub', () => sub, () => 7);
    this.maybe(a, 'claim_roles', () => this.subset(ROLES), () => 'admin');
    this.maybe(a, 'claim_email', () => (this.chance(0.8) ? `${sub}@example.com` : this.pick(STRINGS)), () => true);
    this.maybe(a, 'claim_level', () => this.longValue(), () => this.decimal());
    this.maybe(a, 'claim_exp', () => this.decimal(), () => 1700000000);
    this.maybe(a, 'claim_manager', () => ({ __entity: { type: 'Client', id: this.pick(SUBS) } }), () => this.pick(SUBS));
    this.maybe(
      a,
      'claim_org',
      () => {
        const org: Record<string, CedarValue> = {};
        this.maybe(org, 'name', () => this.pick(['acme', 'globex', '']), () => 3);
        this.maybe(org, 'tier', () => this.longValue(), () => 'gold');
        this.maybe(org, 'teams', () => this.subset(GROUPS), () => ({ eng: true }));
        this.maybe(org, 'meta', () => ({ region: this.pick(['us-east-1', 'eu-west-1']), flags: this.subset([1, 2, 3]) }), () => []);
        return org;
      },
      () => this.pick(STRINGS),
    );
    return a;
  }
  toolArgs(): Record<string, CedarValue> {
    const a: Record<string, CedarValue> = {};
    this.maybe(a, 'arg_query', () => this.pick(STRINGS), () => this.longValue());
    this.maybe(a, 'arg_count', () => this.longValue(), () => this.decimal());
    this.maybe(a, 'arg_force', () => this.chance(0.5), () => 'yes');
    this.maybe(a, 'arg_temp', () => this.decimal(), () => this.longValue());
    return a;
  }
  /** entities_json: a THVGroup DAG (parents only later in the list: no cycles), MCP servers. */
  baseEntities(): CedarEntity[] {
    const out: CedarEntity[] = [];
    GROUPS.forEach((g, i) => {
      const parents = GROUPS.slice(i + 1).filter(() => this.chance(0.3));
      const attrs: Record<string, CedarValue> = {};
      if (this.chance(0.5)) attrs['level'] = this.longValue();
      if (this.chance(0.5)) attrs['name'] = g;
      out.push({ uid: { type: 'THVGroup', id: g }, attrs, parents: parents.map((p) => ({ type: 'THVGroup', id: p })) });
    });
    for (const s of SERVERS) out.push({ uid: { type: 'MCP', id: s }, attrs: { name: s }, parents: [] });
    return out;
  }

  request(base: MapEntityStore): { req: CedarRequest; store: MapEntityStore; entities: CedarEntity[] } {
    const sub = this.pick(SUBS);
    const action = this.chance(0.7) ? 'call_tool' : this.pick(ACTIONS);
    const principal: EntityUid = { type: 'Client', id: sub };
    const feature = action === 'get_prompt' ? 'prompt' : action === 'read_resource' ? 'resource' : 'tool';
    const resourceType = this.chance(0.9) ? { tool: 'Tool', prompt: 'Prompt', resource: 'Resource' }[feature] : 'Tool';
    const name = resourceType === 'Tool' ? this.pick(TOOLS) : this.pick(['summarize', 'file:///etc/hosts']);
    const resource: EntityUid = { type: resourceType, id: name };
    const claims = this.claims(sub);
    const args = this.toolArgs();
    const entities: CedarEntity[] = [];
    if (this.chance(0.9)) {
      entities.push({ uid: principal, attrs: claims, parents: this.subset(GROUPS, 0.3).map((g) => ({ type: 'THVGroup', id: g })) });
    }
    if (this.chance(0.9)) {
      const attrs: Record<string, CedarValue> = { ...args };
      this.maybe(attrs, 'name', () => name, () => 1);
      this.maybe(attrs, 'operation', () => (action === 'list_tools' ? 'list' : 'call'), () => false);
      this.maybe(attrs, 'feature', () => feature, () => [feature]);
      this.maybe(attrs, 'readOnlyHint', () => this.chance(0.5), () => 'true');
      this.maybe(attrs, 'owner', () => ({ __entity: { type: 'Client', id: this.pick(SUBS) } }), () => ({ type: 'Client', id: 'alice' }));
      entities.push({ uid: resource, attrs, parents: this.chance(0.9) ? [{ type: 'MCP', id: this.pick(SERVERS) }] : [] });
    }
    if (this.chance(0.5)) {
      for (const a of ACTIONS) {
        const parents = a === 'list_tools' ? [] : [{ type: 'Action', id: a === 'call_tool' ? 'tool_ops' : 'read_ops' }];
        entities.push({ uid: { type: 'Action', id: a }, attrs: this.chance(0.3) ? { level: this.longValue() } : {}, parents });
      }
    }
    const context: Record<string, CedarValue> = { ...this.claims(sub), ...args };
    if (this.chance(0.005)) context['bad'] = 1.5; // Cedar rejects the whole request: Unsupported here
    return { req: { principal, action: { type: 'Action', id: action }, resource, context }, store: new MapEntityStore(entities, base), entities };
  }

  // ---- policy text ------------------------------------------------------------------------

  str(s: string): string {
    return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  uid(type: string, id: string): string {
    return `${type}::${this.str(id)}`;
  }
  head(): string {
    const p = this.weighted<string>([
      [9, () => 'principal'],
      [1, () => `principal == ${this.uid('Client', this.pick(SUBS))}`],
      [2, () => `principal in ${this.uid('THVGroup', this.pick(GROUPS))}`],
      [1, () => 'principal is Client'],
      [1, () => `principal is Client in ${this.uid('THVGroup', this.pick(GROUPS))}`],
      [0.3, () => `principal in ${this.uid('Client', this.pick(SUBS))}`],
      [0.2, () => `principal == ${this.uid('THVGroup', 'eng')}`],
    ]);
    const a = this.weighted<string>([
      [9, () => 'action'],
      [2, () => `action == ${this.uid('Action', this.chance(0.6) ? 'call_tool' : this.pick(ACTIONS))}`],
      [1, () => `action in [${this.subset(ACTIONS, 0.5).map((x) => this.uid('Action', x)).join(', ')}]`],
      [1, () => `action in ${this.uid('Action', this.pick(ACTION_GROUPS))}`],
    ]);
    const r = this.weighted<string>([
      [9, () => 'resource'],
      [1, () => `resource == ${this.uid('Tool', this.pick(TOOLS))}`],
      [2, () => `resource in ${this.uid('MCP', this.pick(SERVERS))}`],
      [1, () => 'resource is Tool'],
      [1, () => `resource is Tool in ${this.uid('MCP', this.pick(SERVERS))}`],
      [0.3, () => 'resource is Prompt'],
    ]);
    return `${p}, ${a}, ${r}`;
  }
  policy(): string {
    const effect = this.chance(0.6) ? 'permit' : 'forbid';
    const clauses: string[] = [];
    const n = this.weighted<number>([[1, () => 0], [6, () => 1], [3, () => 2], [1, () => 3]]);
    for (let i = 0; i < n; i++) clauses.push(`${this.chance(0.7) ? 'when' : 'unless'} { ${this.bool(this.between(1, 3))} }`);
    if (this.chance(0.04)) clauses.push(`when { ${this.unsupported()} }`);
    return `${effect}(${this.head()})${clauses.map((c) => `\n  ${c}`).join('')};`;
  }

  unsupported(): string {
    return this.pick([
      'decimal("1.5").lessThan(decimal("2.5"))',
      'ip("10.0.0.1").isIpv4()',
      'context.arg_temp.greaterThan(decimal("0.5"))',
      'resource.hasTag("x")',
      'datetime("2024-01-01") < datetime("2024-06-01")',
      'context.claim_exp == decimal("1700000000.0")',
    ]);
  }

  entityLit(): string {
    return this.weighted<string>([
      [2, () => this.uid('Client', this.pick(SUBS))],
      [3, () => this.uid('THVGroup', this.pick(GROUPS))],
      [1, () => this.uid('MCP', this.pick(SERVERS))],
      [1, () => this.uid('Tool', this.pick(TOOLS))],
      [1, () => this.uid('Action', this.pick([...ACTIONS, ...ACTION_GROUPS]))],
    ]);
  }
  attrOf(target: string, names: readonly string[]): string {
    return `${target}.${this.pick(names)}`;
  }
  entity(d: number): string {
    return this.weighted<string>([
      [3, () => 'principal'],
      [3, () => 'resource'],
      [1, () => 'action'],
      [3, () => this.entityLit()],
      [1, () => this.pick(['principal.claim_manager', 'resource.owner', 'context.claim_manager'])],
      [d > 0 ? 0.5 : 0, () => `(if ${this.bool(d - 1)} then ${this.entity(d - 1)} else ${this.entity(d - 1)})`],
    ]);
  }
  long(d: number): string {
    return this.weighted<string>([
      [3, () => String(this.longLit())],
      [3, () => this.pick(['principal.claim_level', 'context.claim_level', 'resource.arg_count', 'context.arg_count', 'principal.claim_org.tier'])],
      [0.5, () => this.pick(['THVGroup::"eng".level', 'action.level'])],
      [d > 0 ? 2 : 0, () => `(${this.long(d - 1)} ${this.pick(['+', '-', '*'])} ${this.long(d - 1)})`],
      [d > 0 ? 0.5 : 0, () => `(-${this.long(d - 1)})`],
      // Near the edges: exact beyond 2^53 (Unsupported), or just past i64 (overflow error).
      [0.4, () => `(${this.pick([...BIG_LONGS, 'principal.claim_level', 'context.arg_count'])} * ${this.pick([1024, 1025, 1500, -1500, 3037000500])})`],
      [d > 0 ? 0.3 : 0, () => `(if ${this.bool(d - 1)} then ${this.long(d - 1)} else ${this.long(d - 1)})`],
      [0.3, () => this.any(d - 1)],
    ]);
  }
  longLit(): number {
    return this.chance(0.1) ? this.pick(BIG_LONGS) * (this.chance(0.5) ? 1 : -1) : this.pick(LONGS);
  }
  string(d: number): string {
    return this.weighted<string>([
      [3, () => this.str(this.pick(STRINGS))],
      [4, () => this.pick(['principal.claim_sub', 'principal.claim_email', 'context.claim_email', 'resource.name', 'resource.operation', 'resource.arg_query', 'context.arg_query', 'principal.claim_org.name', 'principal.claim_org.meta.region', 'resource.feature'])],
      [d > 0 ? 0.3 : 0, () => `(if ${this.bool(d - 1)} then ${this.string(d - 1)} else ${this.string(d - 1)})`],
    ]);
  }
  set(d: number): string {
    return this.weighted<string>([
      [2, () => `[${this.subset(ROLES).map((s) => this.str(s)).join(', ')}]`],
      [1, () => `[${this.subset(LONGS).join(', ')}]`],
      [1, () => `[${[...this.subset(ROLES, 0.3), ...this.subset(ROLES, 0.3)].map((s) => this.str(s)).join(', ')}]`], // duplicates
      [0.5, () => `[${this.entity(0)}, ${this.entity(0)}, ${this.entity(0)}]`],
      [1, () => `[${this.subset(GROUPS).map((g) => this.uid('THVGroup', g)).join(', ')}]`],
      [3, () => this.pick(['principal.claim_roles', 'context.claim_roles', 'principal.claim_org.teams', 'principal.claim_org.meta.flags'])],
      [d > 0 ? 1 : 0, () => `[${this.any(d - 1)}, ${this.any(d - 1)}]`],
      [0.3, () => '[]'],
      // Small universe, repeats: set equality (order and duplicates do not matter) often holds.
      [1.5, () => `[${Array.from({ length: this.between(0, 3) }, () => this.str(this.pick(['admin', 'dev']))).join(', ')}]`],
    ]);
  }
  record(d: number): string {
    return this.weighted<string>([
      [2, () => 'context'],
      [2, () => this.pick(['principal.claim_org', 'context.claim_org', 'principal.claim_org.meta'])],
      [d > 0 ? 1 : 0, () => `{name: ${this.string(d - 1)}, tier: ${this.long(d - 1)}}`],
      [d > 0 ? 0.5 : 0, () => `{"region": ${this.string(d - 1)}, flags: ${this.set(d - 1)}}`],
      [0.3, () => '{}'],
    ]);
  }
  any(d: number): string {
    const dd = Math.max(d, 0);
    return this.weighted<string>([
      [2, () => this.bool(dd)],
      [2, () => this.long(dd)],
      [2, () => this.string(dd)],
      [1, () => this.set(dd)],
      [1.5, () => this.entity(dd)],
      [1, () => this.record(dd)],
      [0.5, () => this.pick(['context.arg_temp', 'context.claim_exp', 'principal.claim_exp', 'resource.arg_temp'])],
    ]);
  }
  pattern(): string {
    const parts: string[] = [];
    const n = this.between(0, 5);
    for (let i = 0; i < n; i++) {
      parts.push(
        this.weighted<string>([
          [3, () => '*'],
          [1, () => '\\*'],
          [6, () => this.pick(['a', 'l', 'i', 'c', 'e', '@', '.', '_', 'x', 'ü', '😀', 'al', 'read', 'search'])],
        ]),
      );
    }
    return `"${parts.join('')}"`;
  }
  bool(d: number): string {
    if (d <= 0) {
      return this.weighted<string>([
        [2, () => this.pick(['true', 'false'])],
        [2, () => this.pick(['resource.readOnlyHint', 'context.arg_force', 'resource.arg_force'])],
        [3, () => `(${this.pick(['principal', 'resource', 'context', 'action', 'principal.claim_org'])} has ${this.pick(ATTRS)})`],
        [2, () => `(${this.entity(0)} in ${this.entityLit()})`],
        [1, () => `(${this.string(0)} == ${this.string(0)})`],
      ]);
    }
    const e = d - 1;
    return this.weighted<string>([
      [3, () => `(${this.long(e)} ${this.pick(['<', '<=', '>', '>='])} ${this.long(e)})`],
      [3, () => `(${this.any(e)} ${this.pick(['==', '!='])} ${this.any(e)})`],
      [2, () => `(${this.string(e)} == ${this.string(e)})`],
      [1, () => `(${this.set(e)} ${this.pick(['==', '!='])} ${this.set(e)})`],
      [3, () => `(${this.entity(e)} in ${this.chance(0.5) ? this.entity(e) : `[${this.entity(e)}, ${this.entity(e)}]`})`],
      [0.5, () => `(${this.any(e)} in ${this.any(e)})`],
      [1, () => `(!${this.bool(e)})`],
      [2, () => `(${this.bool(e)} ${this.pick(['&&', '||'])} ${this.bool(e)})`],
      [2, () => `${this.set(e)}.contains(${this.chance(0.8) ? this.str(this.pick(ROLES)) : this.any(e)})`],
      [1.5, () => `${this.set(e)}.${this.pick(['containsAll', 'containsAny'])}(${this.set(e)})`],
      [0.5, () => `${this.set(e)}.isEmpty()`],
      [0.3, () => `${this.any(e)}.contains(${this.any(e)})`],
      [2, () => `(${this.pick(['principal', 'resource', 'context', 'principal.claim_org', 'context.claim_org', this.record(e)])} has ${this.pick(ATTRS)})`],
      [1.5, () => `(${this.pick(['principal', 'context', 'resource'])} has ${this.pick(['claim_org', 'claim_level', 'arg_count', 'owner'])}.${this.pick(['tier', 'meta', 'name', 'x'])}${this.chance(0.4) ? `.${this.pick(['region', 'flags', 'y'])}` : ''})`],
      [2, () => `(${this.string(e)} like ${this.pattern()})`],
      [0.3, () => `(${this.any(e)} like ${this.pattern()})`],
      [1.5, () => `(${this.entity(e)} is ${this.pick(['Client', 'Tool', 'THVGroup', 'MCP', 'Action', 'Prompt'])})`],
      [1, () => `(${this.entity(e)} is ${this.pick(['Client', 'Tool', 'THVGroup'])} in ${this.chance(0.7) ? this.entity(e) : this.any(e)})`],
      [0.3, () => `(${this.any(e)} is Client)`],
      [1, () => `(if ${this.bool(e)} then ${this.bool(e)} else ${this.bool(e)})`],
      [1, () => this.pick(['resource.readOnlyHint', 'context.arg_force', 'principal.claim_org.meta.flags.contains(2)'])],
      [0.4, () => this.any(e)], // often not a boolean: a type error
    ]);
  }
}

type Cedar = PolicyOutcome['kind'] | 'request-rejected';

/**
 * Cedar's outcome for each policy of a set of policies with the same effect (so that `reason` lists
 * exactly the satisfied ones: with mixed effects a satisfied forbid would hide satisfied permits).
 * One call per set instead of one per policy: parsing the entities dominates a call's cost.
 */
function cedarOutcomes(setId: string, ids: readonly string[], req: CedarRequest, store: MapEntityStore): Map<string, Cedar> {
  const answer = statefulIsAuthorized({
    principal: req.principal,
    action: req.action,
    resource: req.resource,
    context: req.context as never,
    preparsedPolicySetId: setId,
    entities: store.all(),
  });
  const out = new Map<string, Cedar>();
  for (const id of ids) {
    if (answer.type === 'failure') out.set(id, 'request-rejected');
    else if (answer.response.diagnostics.errors.some((e) => e.policyId === id)) out.set(id, 'error');
    else out.set(id, answer.response.diagnostics.reason.includes(id) ? 'satisfied' : 'not-satisfied');
  }
  return out;
}

function cedarSingle(text: string, req: CedarRequest, store: MapEntityStore): Cedar {
  const answer = isAuthorized({
    principal: req.principal,
    action: req.action,
    resource: req.resource,
    context: req.context as never,
    policies: { staticPolicies: { p: text } },
    entities: store.all(),
  });
  if (answer.type === 'failure') return 'request-rejected';
  const d = answer.response.diagnostics;
  if (d.errors.some((e) => e.policyId === 'p')) return 'error';
  return d.reason.includes('p') ? 'satisfied' : 'not-satisfied';
}

describe('JS Cedar evaluator vs cedar-wasm (seeded random policies and requests)', () => {
  it('agrees on every pair it answers', () => {
    const g = new Gen(SEED);
    const bases = Array.from({ length: 4 }, () => new MapEntityStore(g.baseEntities()));
    // As the engine does: entities_json checked once, each request's own entities per request.
    for (const b of bases) checkEntities(b.all() as CedarEntity[], b);
    const stats = { scopeMatched: 0, policies: 0, parseFailures: 0, pairs: 0, compared: 0, unsupported: 0, satisfied: 0, 'not-satisfied': 0, error: 0 };
    const mismatches: string[] = [];
    let firstParseFailure: string | undefined;

    for (let batch = 0; batch < POLICIES / BATCH; batch++) {
      const policies: { id: string; text: string; json: PolicyJson }[] = [];
      for (let i = 0; i < BATCH; i++) {
        const text = g.policy();
        const parsed = policyToJson(text);
        if (parsed.type !== 'success') {
          stats.parseFailures++;
          firstParseFailure ??= `${text}\n${JSON.stringify(parsed.errors.map((e) => e.message))}`;
          continue;
        }
        stats.policies++;
        policies.push({ id: `p${batch}_${i}`, text, json: parsed.json });
      }
      const sets = (['permit', 'forbid'] as const).map((effect) => {
        const members = policies.filter((p) => p.json.effect === effect);
        const parsed = preparsePolicySet(effect, { staticPolicies: Object.fromEntries(members.map((p) => [p.id, p.text])) });
        expect(parsed.type, JSON.stringify(parsed)).toBe('success');
        return { effect, ids: members.map((p) => p.id) };
      });
      for (let j = 0; j < REQUESTS_PER_BATCH; j++) {
        const { req, store, entities } = g.request(g.pick(bases));
        const cedar = new Map(sets.flatMap((s) => [...cedarOutcomes(s.effect, s.ids, req, store)]));
        let entitiesOk = true;
        try {
          checkEntities(entities, store);
        } catch (err) {
          if (!(err instanceof UnsupportedExpression)) throw err;
          entitiesOk = false;
        }
        for (const { id, text, json: policy } of policies) {
          stats.pairs++;
          let ours: PolicyOutcome;
          let scope: boolean;
          try {
            if (!entitiesOk) throw new UnsupportedExpression('entities');
            ours = evaluatePolicy(policy, req, store);
            scope = scopeMatches(policy, req, store);
          } catch (err) {
            if (!(err instanceof UnsupportedExpression)) throw err;
            stats.unsupported++;
            continue;
          }
          stats.compared++;
          if (scope) stats.scopeMatched++;
          stats[ours.kind]++;
          const theirs = cedar.get(id);
          // The batched calls must agree with the plain one-policy `isAuthorized` (checked on a sample).
          if (stats.compared <= SINGLE_CALL_CHECKS) expect(cedarSingle(text, req, store), `${text}`).toBe(theirs);
          const analysis = analyzePolicy(policy);
          // Internal consistency too: a non-matching head is never satisfied; no conditions means the head decides.
          const consistent =
            (scope || ours.kind === 'not-satisfied') && (!analysis.conditionFree || ours.kind === (scope ? 'satisfied' : 'not-satisfied'));
          if (theirs !== ours.kind || !consistent) {
            mismatches.push(
              [
                `MISMATCH #${mismatches.length + 1} (${id}, request ${j})`,
                `policy:\n${text}`,
                `request: ${JSON.stringify({ principal: req.principal, action: req.action, resource: req.resource, context: req.context })}`,
                `entities: ${JSON.stringify(store.all())}`,
                `evaluator: ${JSON.stringify(ours)} (scopeMatches ${scope}, analysis ${JSON.stringify(analysis)})`,
                `cedar-wasm: ${theirs}`,
              ].join('\n'),
            );
          }
        }
      }
    }

    console.log(`differential: ${JSON.stringify(stats)}`);
    if (firstParseFailure) console.log(`first generated policy Cedar rejected:\n${firstParseFailure}`);
    if (mismatches.length > 0) console.error(`${mismatches.length} mismatches; the first:\n${mismatches[0]}`);
    expect(mismatches.length, mismatches[0]).toBe(0);
    expect(stats.parseFailures).toBeLessThan(POLICIES * 0.02);
    expect(stats.compared).toBeGreaterThan(6000);
    expect(stats.unsupported / stats.pairs).toBeLessThan(0.1);
    // Every outcome is well represented, so the comparison means something.
    for (const k of ['satisfied', 'not-satisfied', 'error'] as const) expect(stats[k]).toBeGreaterThan(stats.compared * 0.08);
  });

  it('the engine (index, compiled policies, per-principal memo, fallbacks) decides as plain isAuthorized', () => {
    const g = new Gen(SEED + 1);
    const summary = (d: Decision) => ({ decision: d.decision, reasons: [...d.reasons].sort(), errors: [...new Set(d.errors.map((e) => e.policy))].sort() });
    const stats = { requests: 0, allow: 0, errored: 0, wasm: 0 };
    const mismatches: string[] = [];
    for (let batch = 0; batch < 60; batch++) {
      const policies: string[] = [];
      const size = g.pick([3, 6, 12, 24]);
      while (policies.length < size) {
        const text = g.policy();
        if (policyToJson(text).type === 'success') policies.push(text);
      }
      const engine = new PolicyEngine({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: JSON.stringify(g.baseEntities()) } });
      // Principal entities are reused across requests (as a caller's are), so per-principal results are too.
      const principals = new Map<string, CedarEntity>();
      for (let j = 0; j < 14; j++) {
        const { req, entities } = g.request(engine.base);
        const own = entities.map((e) => {
          if (e.uid.type !== 'Client') return e;
          const known = principals.get(e.uid.id);
          if (known && g.chance(0.6)) return known;
          principals.set(e.uid.id, e);
          return e;
        });
        const fast = engine.decide(req, own);
        const plain = engine.decidePlain(req, own);
        stats.requests++;
        if (plain.decision === 'allow') stats.allow++;
        if (plain.errors.length > 0) stats.errored++;
        if (JSON.stringify(summary(fast)) !== JSON.stringify(summary(plain))) {
          mismatches.push([`MISMATCH #${mismatches.length + 1}`, `policies:\n${policies.map((t, i) => `policy${i}: ${t}`).join('\n')}`, `request: ${JSON.stringify(req)}`, `entities: ${JSON.stringify(own)}`, `engine: ${JSON.stringify(summary(fast))}`, `plain: ${JSON.stringify(summary(plain))}`].join('\n'));
        }
      }
      stats.wasm += engine.stats.wasmCalls;
    }
    console.log(`engine differential: ${JSON.stringify(stats)}`);
    expect(mismatches.length, mismatches[0]).toBe(0);
    // Both outcomes, with and without errors, are well represented.
    expect(stats.allow).toBeGreaterThan(stats.requests * 0.1);
    expect(stats.requests - stats.allow).toBeGreaterThan(stats.requests * 0.1);
    expect(stats.errored).toBeGreaterThan(stats.requests * 0.1);
    expect(stats.requests - stats.errored).toBeGreaterThan(stats.requests * 0.1);
  });
});
