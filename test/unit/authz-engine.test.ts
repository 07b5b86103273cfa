// The policy engine's fast path against cedar-wasm's plain isAuthorized: the index (action, principal,
// resource) never drops a policy that can match, request-level refusals and the evaluator's fallbacks
// give Cedar's answer, and McpAuthorizer's decision-cache key never mixes up two requests.
import { policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { McpAuthorizer } from '../../src/authz/authorizer.js';
import type { CedarEntity, CedarRequest, CedarValue, EntityUid } from '../../src/authz/cedar-types.js';
import type { AuthzConfig } from '../../src/authz/config.js';
import { PolicyEngine, type Decision } from '../../src/authz/engine.js';
import { cedarRequestOf, principalOf, type FeatureRequest } from '../../src/authz/entities.js';
import { MapEntityStore } from '../../src/authz/entity-store.js';
import { scopeMatches, UnsupportedExpression } from '../../src/authz/evaluator.js';
import { SeededRandom } from '../support/seeded-random.js';

const uid = (type: string, id: string): EntityUid => ({ type, id });
const same = (a: Decision, b: Decision) => {
  const ids = (d: Decision) => [...new Set(d.errors.map((e) => e.policy))].sort();
  expect({ decision: a.decision, reasons: [...a.reasons].sort(), errors: ids(a) }).toEqual({ decision: b.decision, reasons: [...b.reasons].sort(), errors: ids(b) });
};
const config = (policies: string[], entities: unknown[] = [], options: Partial<AuthzConfig['cedar']> = {}): AuthzConfig => ({
  version: '1.0',
  type: 'cedarv1',
  cedar: { policies, entities_json: JSON.stringify(entities), ...options },
});
const group = (id: string, ...parents: string[]) => ({ uid: uid('THVGroup', id), attrs: {}, parents: parents.map((p) => uid('THVGroup', p)) });

// ---- the index: property test ------------------------------------------------------------------

const USERS = ['alice', 'bob', 'carol'];
const GROUPS = ['eng', 'ops', 'staff', 'all', 'contractors'];
const SERVERS = ['github', 'files'];
const TOOLS = ['search', 'delete', 'read'];
const ACTIONS = ['call_tool', 'get_prompt', 'read_resource', 'list_tools'];
const ACTION_GROUPS = ['tool_ops', 'read_ops', 'everything'];

function head(g: SeededRandom): string {
  const q = (s: string) => JSON.stringify(s);
  const p = g.weighted<string>([
    [3, () => 'principal'],
    [2, () => `principal == Client::${q(g.pick(USERS))}`],
    [3, () => `principal in THVGroup::${q(g.pick(GROUPS))}`],
    [0.5, () => `principal in Client::${q(g.pick(USERS))}`],
    [0.5, () => `principal == THVGroup::${q(g.pick(GROUPS))}`],
    [1, () => 'principal is Client'],
    [1, () => `principal is Client in THVGroup::${q(g.pick(GROUPS))}`],
    [0.5, () => `principal is THVGroup in THVGroup::${q(g.pick(GROUPS))}`],
  ]);
  const a = g.weighted<string>([
    [2, () => 'action'],
    [3, () => `action == Action::${q(g.pick(ACTIONS))}`],
    [2, () => `action in [${g.subset([...ACTIONS, ...ACTION_GROUPS], 0.3).map((x) => `Action::${q(x)}`).join(', ')}]`],
    [2, () => `action in Action::${q(g.pick([...ACTION_GROUPS, ...ACTIONS]))}`],
  ]);
  const r = g.weighted<string>([
    [3, () => 'resource'],
    [3, () => `resource == Tool::${q(g.pick(TOOLS))}`],
    [2, () => `resource in MCP::${q(g.pick(SERVERS))}`],
    [0.5, () => `resource in Tool::${q(g.pick(TOOLS))}`],
    [1, () => 'resource is Tool'],
    [1, () => `resource is Tool in MCP::${q(g.pick(SERVERS))}`],
    [0.5, () => 'resource is Prompt'],
    [0.3, () => `resource == MCP::${q(g.pick(SERVERS))}`],
  ]);
  return `${p}, ${a}, ${r}`;
}

function randomPolicy(g: SeededRandom): string {
  const effect = g.chance(0.7) ? 'permit' : 'forbid';
  const condition = g.weighted<string>([
    [4, () => ''],
    [1, () => ' when { principal has claim_roles && principal.claim_roles.contains("dev") }'],
    [1, () => ' when { resource.readOnlyHint }'], // errors where the attribute is missing
    [0.5, () => ' when { context.arg_n.lessThan(decimal("1.5")) }'], // cedar-wasm decides it
  ]);
  return `${effect}(${head(g)})${condition};`;
}

/** entities_json: a group DAG (parents later in the list), servers, sometimes action groups. */
function baseEntities(g: SeededRandom): unknown[] {
  const out: unknown[] = GROUPS.map((id, i) => group(id, ...g.subset(GROUPS.slice(i + 1), 0.4)));
  for (const s of SERVERS) out.push({ uid: uid('MCP', s), attrs: {}, parents: [] });
  if (g.chance(0.6)) {
    out.push({ uid: uid('Action', 'everything'), attrs: {}, parents: [] });
    out.push({ uid: uid('Action', 'tool_ops'), attrs: {}, parents: g.chance(0.5) ? [uid('Action', 'everything')] : [] });
    out.push({ uid: uid('Action', 'read_ops'), attrs: {}, parents: [uid('Action', 'everything')] });
    out.push({ uid: uid('Action', 'call_tool'), attrs: {}, parents: [uid('Action', 'tool_ops')] });
    out.push({ uid: uid('Action', 'read_resource'), attrs: {}, parents: [uid('Action', 'read_ops')] });
    if (g.chance(0.3)) out.push({ uid: uid('Action', 'list_tools'), attrs: {}, parents: [uid('Action', 'call_tool')] }); // an action under another
  }
  return out;
}

function randomRequest(g: SeededRandom): { request: CedarRequest; entities: CedarEntity[] } {
  const principal = g.chance(0.9) ? uid('Client', g.pick(USERS)) : uid('THVGroup', g.pick(GROUPS));
  const action = uid('Action', g.pick(ACTIONS));
  const resource = g.chance(0.8) ? uid('Tool', g.pick(TOOLS)) : uid(g.pick(['Prompt', 'MCP']), g.pick(SERVERS));
  const entities: CedarEntity[] = [];
  if (g.chance(0.85)) {
    const roles = g.subset(['dev', 'admin'], 0.5);
    entities.push({ uid: principal, attrs: g.chance(0.8) ? { claim_roles: roles } : {}, parents: g.subset(GROUPS, 0.3).map((x) => uid('THVGroup', x)) });
  }
  if (g.chance(0.3)) entities.push({ uid: action, attrs: {}, parents: g.chance(0.5) ? [uid('Action', g.pick(ACTION_GROUPS))] : [] });
  if (g.chance(0.85) && resource.type !== 'MCP') {
    entities.push({ uid: resource, attrs: g.chance(0.7) ? { readOnlyHint: g.chance(0.5) } : {}, parents: g.chance(0.9) ? [uid('MCP', g.pick(SERVERS))] : [] });
  }
  const context: Record<string, CedarValue> = g.chance(0.5) ? { arg_n: { __extn: { fn: 'decimal', arg: g.pick(['0.5', '2.0']) } } } : {};
  return { request: { principal, action, resource, context }, entities };
}

describe('PolicyEngine index', () => {
  it('never drops a policy whose head can match, and decides as plain isAuthorized does', () => {
    const g = new SeededRandom(0x1de8);
    let compared = 0;
    let matched = 0;
    let offered = 0;
    for (let set = 0; set < 40; set++) {
      const policies = Array.from({ length: 40 }, () => randomPolicy(g));
      const engine = new PolicyEngine(config(policies, baseEntities(g)));
      const json = policies.map((text) => {
        const r = policyToJson(text);
        if (r.type !== 'success') throw new Error(text);
        return r.json;
      });
      for (let k = 0; k < 25; k++) {
        const { request, entities } = randomRequest(g);
        const candidates = engine.candidateIds(request, entities);
        if (candidates) {
          const store = new MapEntityStore(entities, engine.base);
          const expected = json.flatMap((p, i) => {
            try {
              return scopeMatches(p, request, store) ? [`policy${i}`] : [];
            } catch (err) {
              if (err instanceof UnsupportedExpression) return [`policy${i}`]; // unknown to the JS side: must be offered
              throw err;
            }
          });
          for (const id of expected) expect(candidates, `${id}: ${policies[Number(id.slice(6))]}\n${JSON.stringify({ request, entities })}`).toContain(id);
          matched += expected.length;
          offered += candidates.length;
          // File order, no duplicates.
          expect(candidates).toEqual([...new Set(candidates)].sort((a, b) => Number(a.slice(6)) - Number(b.slice(6))));
        }
        if (k % 3 === 0) {
          same(engine.decide(request, entities), engine.decidePlain(request, entities));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(300);
    expect(matched).toBeGreaterThan(1000);
    // The index narrows: far fewer policies offered than the 40 of each set.
    expect(offered).toBeLessThan(40 * 25 * 40 * 0.6);
  });

  it('offers a caller only its own per-user policies, its groups\' policies and unconstrained ones', () => {
    const users = Array.from({ length: 50 }, (_, i) => `user_${i}`);
    const policies = [
      ...users.map((u) => `permit(principal == Client::"${u}", action == Action::"call_tool", resource == Tool::"t");`),
      ...users.map((u) => `permit(principal == Client::"${u}", action in [Action::"call_tool", Action::"get_prompt"], resource in MCP::"github");`),
      ...GROUPS.map((grp) => `permit(principal in THVGroup::"${grp}", action == Action::"call_tool", resource is Tool) when { principal has claim_roles };`),
      'forbid(principal, action == Action::"call_tool", resource) when { resource has destructiveHint && resource.destructiveHint };',
      'permit(principal, action == Action::"get_prompt", resource);',
    ];
    const engine = new PolicyEngine(config(policies, [group('eng', 'staff'), group('staff', 'all'), group('all'), group('ops', 'all'), group('contractors')]));
    const principal = principalOf({ sub: 'user_7', groups: ['eng'], roles: ['dev'] }, engine.options)!;
    const { request, entities } = cedarRequestOf(principal, { feature: 'tool', name: 't' }, 'github');
    const at = (text: string) => `policy${policies.indexOf(text)}`;
    expect(engine.candidateIds(request, entities)).toEqual([
      at('permit(principal == Client::"user_7", action == Action::"call_tool", resource == Tool::"t");'),
      at('permit(principal == Client::"user_7", action in [Action::"call_tool", Action::"get_prompt"], resource in MCP::"github");'),
      at('permit(principal in THVGroup::"eng", action == Action::"call_tool", resource is Tool) when { principal has claim_roles };'),
      at('permit(principal in THVGroup::"staff", action == Action::"call_tool", resource is Tool) when { principal has claim_roles };'),
      at('permit(principal in THVGroup::"all", action == Action::"call_tool", resource is Tool) when { principal has claim_roles };'),
      at('forbid(principal, action == Action::"call_tool", resource) when { resource has destructiveHint && resource.destructiveHint };'),
    ]);
    same(engine.decide(request, entities), engine.decidePlain(request, entities));
  });
});

// ---- scope constraints through the hierarchy ------------------------------------------------------

describe('PolicyEngine decisions over the entity hierarchy', () => {
  const entities = [group('eng', 'staff'), group('staff', 'everyone'), group('everyone'), group('ops', 'staff'), { uid: uid('MCP', 'github'), attrs: {}, parents: [] }];

  it('principal in a group reached through nested groups of entities_json', () => {
    const engine = new PolicyEngine(config(['permit(principal in THVGroup::"everyone", action == Action::"call_tool", resource);'], entities));
    const az = new McpAuthorizer(engine, 'github');
    const inEng = principalOf({ sub: 'alice', groups: ['eng'] }, engine.options)!;
    const noGroup = principalOf({ sub: 'bob' }, engine.options)!;
    const inOther = principalOf({ sub: 'carol', groups: ['sales'] }, engine.options)!;
    expect(az.decide(inEng, { feature: 'tool', name: 'search' }).allowed).toBe(true);
    expect(az.decide(noGroup, { feature: 'tool', name: 'search' }).allowed).toBe(false);
    expect(az.decide(inOther, { feature: 'tool', name: 'search' }).allowed).toBe(false);
    for (const p of [inEng, noGroup, inOther]) {
      const { request, entities: own } = cedarRequestOf(p, { feature: 'tool', name: 'search' }, 'github');
      same(engine.decide(request, own), engine.decidePlain(request, own));
    }
  });

  it('resource in MCP::"server": the tools of that server only', () => {
    const engine = new PolicyEngine(config(['permit(principal, action in [Action::"call_tool", Action::"read_resource"], resource in MCP::"github");'], entities));
    const alice = principalOf({ sub: 'alice' }, engine.options)!;
    expect(new McpAuthorizer(engine, 'github').decide(alice, { feature: 'tool', name: 'search' }).allowed).toBe(true);
    expect(new McpAuthorizer(engine, 'github').decide(alice, { feature: 'resource', name: 'file:///x' }).allowed).toBe(true);
    expect(new McpAuthorizer(engine, 'files').decide(alice, { feature: 'tool', name: 'search' }).allowed).toBe(false);
    expect(new McpAuthorizer(engine, 'github').decide(alice, { feature: 'prompt', name: 'p' }).allowed).toBe(false);
  });

  it('action groups from entities_json (when the request does not bring its own action entity)', () => {
    const withGroups = [...entities, { uid: uid('Action', 'tool_ops'), attrs: {}, parents: [] }, { uid: uid('Action', 'call_tool'), attrs: {}, parents: [uid('Action', 'tool_ops')] }];
    const engine = new PolicyEngine(config(['permit(principal, action in Action::"tool_ops", resource);', 'forbid(principal, action in [Action::"tool_ops"], resource == Tool::"delete");'], withGroups));
    const request = (tool: string): CedarRequest => ({ principal: uid('Client', 'alice'), action: uid('Action', 'call_tool'), resource: uid('Tool', tool), context: {} });
    expect(engine.decide(request('search'), [])).toMatchObject({ decision: 'allow', reasons: ['policy0'] });
    expect(engine.decide(request('delete'), [])).toMatchObject({ decision: 'deny', reasons: ['policy1'] });
    for (const tool of ['search', 'delete']) same(engine.decide(request(tool), []), engine.decidePlain(request(tool), []));
    // The authorizer's requests carry Action::"call_tool" without parents: the request's entity wins, as in ToolHive.
    const alice = principalOf({ sub: 'alice' }, engine.options)!;
    const { request: r, entities: own } = cedarRequestOf(alice, { feature: 'tool', name: 'search' }, 'github');
    expect(engine.decide(r, own).decision).toBe('deny');
    same(engine.decide(r, own), engine.decidePlain(r, own));
  });

  it('request entities override entities_json in the hierarchy, also halfway up a group chain', () => {
    const base = [
      group('eng', 'staff'),
      group('staff', 'everyone'),
      group('everyone'),
      { uid: uid('THVGroup', 'odd'), attrs: {}, parents: [uid('Tool', 'search')] }, // a group under a tool: only the request knows the tool's parents
      { uid: uid('MCP', 'github'), attrs: {}, parents: [] },
    ];
    const engine = new PolicyEngine(
      config(['permit(principal in THVGroup::"staff", action, resource);', 'permit(principal in MCP::"github", action, resource);', 'forbid(principal in THVGroup::"everyone", action, resource == Tool::"delete");'], base),
    );
    const alice = uid('Client', 'alice');
    const cases: { name: string; entities: CedarEntity[]; tool: string }[] = [
      { name: 'through entities_json', entities: [{ uid: alice, attrs: {}, parents: [uid('THVGroup', 'eng')] }], tool: 'x' },
      { name: 'the request redefines eng without parents', entities: [{ uid: alice, attrs: {}, parents: [uid('THVGroup', 'eng')] }, group('eng') as CedarEntity], tool: 'x' },
      { name: 'the request moves staff elsewhere', entities: [{ uid: alice, attrs: {}, parents: [uid('THVGroup', 'eng')] }, group('staff') as CedarEntity], tool: 'delete' },
      {
        name: 'a base group under the request\'s own resource',
        entities: [{ uid: alice, attrs: {}, parents: [uid('THVGroup', 'odd')] }, { uid: uid('Tool', 'search'), attrs: {}, parents: [uid('MCP', 'github')] }],
        tool: 'search',
      },
      { name: 'the same group, without the request\'s resource', entities: [{ uid: alice, attrs: {}, parents: [uid('THVGroup', 'odd')] }], tool: 'search' },
    ];
    const got = cases.map(({ entities, tool }) => {
      const request: CedarRequest = { principal: alice, action: uid('Action', 'call_tool'), resource: uid('Tool', tool), context: {} };
      const d = engine.decide(request, entities);
      same(d, engine.decidePlain(request, entities));
      return d.reasons;
    });
    expect(got).toEqual([['policy0'], [], ['policy0'], ['policy1'], []]);
  });

  it('an action filed under an action group is found through that group', () => {
    const engine = new PolicyEngine(
      config(['permit(principal, action == Action::"call_tool", resource);', 'permit(principal, action in [Action::"call_tool"], resource);'], [
        { uid: uid('Action', 'call_tool'), attrs: {}, parents: [] },
        { uid: uid('Action', 'custom'), attrs: {}, parents: [uid('Action', 'call_tool')] },
      ]),
    );
    const request: CedarRequest = { principal: uid('Client', 'a'), action: uid('Action', 'custom'), resource: uid('Tool', 't'), context: {} };
    expect(engine.decide(request, [])).toMatchObject({ decision: 'allow', reasons: ['policy1'] });
    same(engine.decide(request, []), engine.decidePlain(request, []));
  });
});

// ---- requests Cedar refuses as a whole, and the cedar-wasm fallback ---------------------------------

describe('PolicyEngine: what the JS evaluator leaves to Cedar', () => {
  it('a request whose entities close a cycle with entities_json is decided by Cedar (refused)', () => {
    const engine = new PolicyEngine(config(['permit(principal, action, resource);'], [{ uid: uid('THVGroup', 'loop'), attrs: {}, parents: [uid('Client', 'alice')] }]));
    const alice = principalOf({ sub: 'alice', groups: ['loop'] }, engine.options)!;
    const { request, entities } = cedarRequestOf(alice, { feature: 'tool', name: 'search' }, 'github');
    const d = engine.decide(request, entities);
    expect(d.decision).toBe('deny');
    expect(d.errors.length).toBeGreaterThan(0);
    same(d, engine.decidePlain(request, entities));
    expect(engine.candidateIds(request, entities)).toBeUndefined();
  });

  it('data Cedar refuses or the evaluator does not model: the whole request goes to Cedar', () => {
    const engine = new PolicyEngine(config(['permit(principal, action, resource);', 'permit(principal, action == Action::"call_tool", resource) when { context has claim_x };']));
    const cases: { claims: Record<string, unknown>; args?: unknown }[] = [
      { claims: { sub: 'alice', claim: 'lone \ud800 surrogate' } },
      { claims: { sub: 'alice', weird: { __extn: { fn: 'ip', arg: '10.0.0.1' } } } },
      { claims: { sub: 'alice', broken: { __entity: { type: 'bad type', id: 'x' } } } },
      { claims: { sub: 'alice' }, args: { n: 2 ** 60 } },
    ];
    for (const c of cases) {
      const p = principalOf(c.claims, engine.options)!;
      const { request, entities } = cedarRequestOf(p, { feature: 'tool', name: 'search', arguments: c.args }, 'github');
      let plain: Decision;
      try {
        plain = engine.decidePlain(request, entities);
      } catch {
        continue; // the JSON bridge into wasm refuses it outright (lone surrogates): nothing to compare
      }
      same(engine.decide(request, entities), plain);
    }
  });

  it('entity tags of entities_json are kept: a forbid on hasTag fires, as in cedar-wasm given the file as written', () => {
    const entities = [{ uid: uid('THVGroup', 'eng'), attrs: {}, parents: [], tags: { blocked: true } }];
    const policies = ['permit(principal, action == Action::"call_tool", resource);', 'forbid(principal in THVGroup::"eng", action, resource) when { THVGroup::"eng".hasTag("blocked") };'];
    const az = new McpAuthorizer(config(policies, entities), 'srv');
    const eng = principalOf({ sub: 'alice', groups: ['eng'] }, az.engine.options)!;
    const other = principalOf({ sub: 'bob', groups: ['ops'] }, az.engine.options)!;
    const d = az.decide(eng, { feature: 'tool', name: 'x' });
    expect(d).toMatchObject({ allowed: false, decision: { decision: 'deny', reasons: ['policy1'] } });
    const { request, entities: own } = cedarRequestOf(eng, { feature: 'tool', name: 'x' }, 'srv');
    same(az.engine.decide(request, own), az.engine.decidePlain(request, own));
    expect(az.decide(other, { feature: 'tool', name: 'x' }).allowed).toBe(true);
  });

  it('policies with extension calls: JS up to the call, cedar-wasm only when evaluation reaches it', () => {
    const engine = new PolicyEngine(
      config(['permit(principal, action == Action::"call_tool", resource) when { principal has claim_clearance && principal.claim_clearance.greaterThanOrEqual(decimal("3.0")) };']),
    );
    const az = new McpAuthorizer(engine, 'github');
    const none = principalOf({ sub: 'a' }, engine.options)!;
    const high = principalOf({ sub: 'b', clearance: 4 }, engine.options)!;
    const low = principalOf({ sub: 'c', clearance: 2 }, engine.options)!;
    expect(az.decide(none, { feature: 'tool', name: 't' }).allowed).toBe(false);
    expect(engine.stats.wasmCalls).toBe(0);
    expect(az.decide(high, { feature: 'tool', name: 't' }).allowed).toBe(true);
    expect(az.decide(low, { feature: 'tool', name: 't' }).allowed).toBe(false);
    expect(engine.stats.wasmCalls).toBe(2);
    for (const p of [none, high, low]) {
      const { request, entities } = cedarRequestOf(p, { feature: 'tool', name: 't' }, 'github');
      same(engine.decide(request, entities), engine.decidePlain(request, entities));
    }
  });

  it('conditions that reach past the principal are not kept per principal', () => {
    const engine = new PolicyEngine(
      config([
        'permit(principal, action, resource == Tool::"a") when { principal has claim_manager.name };',
        'permit(principal, action, resource == Tool::"b") when { principal.claim_manager.name == "Bob" };',
        'permit(principal, action, resource == Tool::"c") when { principal.claim_manager in THVGroup::"leads" };',
        'permit(principal, action, resource == Tool::"d") when { principal has claim_sub && context.arg_x == principal.claim_sub };',
      ]),
    );
    // One principal entity object for every request, as a caller's is.
    const alice: CedarEntity = { uid: uid('Client', 'alice'), attrs: { claim_sub: 'alice', claim_manager: { __entity: uid('Client', 'bob') } }, parents: [] };
    const bob: CedarEntity = { uid: uid('Client', 'bob'), attrs: { name: 'Bob' }, parents: [uid('THVGroup', 'leads')] };
    const ask = (tool: string, withBob: boolean, context: Record<string, CedarValue> = {}) => {
      const request: CedarRequest = { principal: alice.uid, action: uid('Action', 'call_tool'), resource: uid('Tool', tool), context };
      const entities = withBob ? [alice, bob] : [alice];
      const d = engine.decide(request, entities);
      same(d, engine.decidePlain(request, entities));
      return d.decision;
    };
    for (const tool of ['a', 'b', 'c']) expect([ask(tool, true), ask(tool, false), ask(tool, true)]).toEqual(['allow', 'deny', 'allow']);
    expect([ask('d', false, { arg_x: 'alice' }), ask('d', false, { arg_x: 'bob' })]).toEqual(['allow', 'deny']);
  });

  it('conditions on the principal alone are evaluated once per principal entity, per principal', () => {
    const engine = new PolicyEngine(
      config([
        'permit(principal, action == Action::"call_tool", resource is Tool) when { principal has claim_roles && principal.claim_roles.contains("dev") };',
        'forbid(principal, action == Action::"call_tool", resource is Tool) when { principal.claim_level > 3 };', // errors without the claim
      ]),
    );
    const az = new McpAuthorizer(engine, 'github');
    const dev = principalOf({ sub: 'alice', roles: ['dev'] }, engine.options)!;
    const sameSubOtherClaims = principalOf({ sub: 'alice', roles: ['viewer'] }, engine.options)!;
    const leveled = principalOf({ sub: 'alice', roles: ['dev'], level: 5 }, engine.options)!;
    for (const tool of ['a', 'b', 'c']) {
      const d1 = az.decide(dev, { feature: 'tool', name: tool }).decision;
      expect(d1).toMatchObject({ decision: 'allow', reasons: ['policy0'], errors: [{ policy: 'policy1' }] });
      const d2 = az.decide(sameSubOtherClaims, { feature: 'tool', name: tool }).decision;
      expect(d2).toMatchObject({ decision: 'deny', reasons: [], errors: [{ policy: 'policy1' }] });
      // claim_level is a decimal here (a JSON number in ToolHive's model): `>` on it is left to Cedar.
      const d3 = az.decide(leveled, { feature: 'tool', name: tool }).decision;
      for (const [p, d] of [
        [dev, d1],
        [sameSubOtherClaims, d2],
        [leveled, d3],
      ] as const) {
        const { request, entities } = cedarRequestOf(p, { feature: 'tool', name: tool }, 'github');
        same(d, engine.decidePlain(request, entities));
      }
    }
  });
});

// ---- McpAuthorizer's decision-cache key -------------------------------------------------------------

describe('McpAuthorizer decision-cache key', () => {
  const policies = [
    'permit(principal, action == Action::"call_tool", resource) when { principal has claim_roles && principal.claim_roles.contains("dev") };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"calc") when { resource has arg_op && resource.arg_op == "add" };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"calc") when { resource has arg_n_present };',
    'permit(principal, action == Action::"call_tool", resource == Tool::"calc") when { context has arg_x && context.arg_x == true };',
    'forbid(principal, action == Action::"call_tool", resource) when { resource has destructiveHint && resource.destructiveHint };',
    'permit(principal, action == Action::"get_prompt", resource) when { resource has arg_op };',
  ];

  /** Decides each case twice through one authorizer (the second a cache hit) and compares with plain isAuthorized. */
  function check(az: McpAuthorizer, cases: { principal: ReturnType<typeof principalOf>; op: FeatureRequest; asked?: FeatureRequest }[]): boolean[] {
    return cases.map(({ principal, op, asked }) => {
      const first = az.decide(principal!, op);
      const again = az.decide(principal!, op);
      expect(again.decision).toBe(first.decision);
      // `asked`: the request the authorizer builds (with learned annotations).
      const { request, entities } = cedarRequestOf(principal!, asked ?? op, az.serverName);
      same(first.decision, az.engine.decidePlain(request, entities));
      return first.allowed;
    });
  }

  it('two principals with the same sub but different claims', () => {
    const az = new McpAuthorizer(config(policies), 'github');
    const dev = principalOf({ sub: 'alice', roles: ['dev'] }, az.engine.options);
    const viewer = principalOf({ sub: 'alice', roles: ['viewer'] }, az.engine.options);
    const op: FeatureRequest = { feature: 'tool', name: 'search' };
    expect(check(az, [{ principal: dev, op }, { principal: viewer, op }, { principal: dev, op }])).toEqual([true, false, true]);
    expect(az.cacheKey(dev!, op)).not.toBe(az.cacheKey(viewer!, op));
    // Equal contents, another object: another key (a miss at worst, never a mix-up).
    const devAgain = principalOf({ sub: 'alice', roles: ['dev'] }, az.engine.options)!;
    expect(az.cacheKey(devAgain, op)).not.toBe(az.cacheKey(dev!, op));
  });

  it('different arguments', () => {
    const az = new McpAuthorizer(config(policies), 'github');
    const p = principalOf({ sub: 'bob' }, az.engine.options);
    const calc = (args: unknown): { principal: typeof p; op: FeatureRequest } => ({ principal: p, op: { feature: 'tool', name: 'calc', arguments: args } });
    const allowed = check(az, [
      calc({ op: 'add' }),
      calc({ op: 'sub' }),
      calc({ op: 'add', n: { deep: 1 } }),
      calc({ op: 'sub', n: [1] }),
      calc({ op: 'sub', n: null }),
      calc({ op: 'sub', n: 1 }),
      calc({ x: true }),
      calc({ x: 'true' }),
      calc({ x: false }),
      calc({ op: 'a"d"d' }),
      calc({ 'op"': 'add' }),
      calc({}),
      calc(undefined),
      calc('add'),
    ]);
    expect(allowed).toEqual([true, false, true, true, true, false, true, false, false, false, false, false, false, false]);
    const key = (args: unknown) => az.cacheKey(p!, { feature: 'tool', name: 'calc', arguments: args });
    const keys = [{ op: 'add' }, { op: 'sub' }, { x: true }, { x: 'true' }, { x: 1 }, { x: '1' }, { x: null }, { x: 1, y: 2 }, { xy: 12 }, { 'x"': 1 }].map(key);
    expect(new Set(keys).size).toBe(keys.length);
    // What cedarRequestOf does not read does not split the cache: nested contents, non-objects.
    expect(key({ n: { a: 1 } })).toBe(key({ n: { b: 2 } }));
    expect(key({ n: null })).toBe(key({ n: [] }));
    expect(key(undefined)).toBe(key('add'));
  });

  it('different annotations, learned or given', () => {
    const az = new McpAuthorizer(config(policies), 'github');
    const p = principalOf({ sub: 'carol', roles: ['dev'] }, az.engine.options);
    const tool = (annotations?: Record<string, unknown>): { principal: typeof p; op: FeatureRequest } => ({ principal: p, op: { feature: 'tool', name: 'rm', ...(annotations ? { annotations } : {}) } });
    expect(check(az, [tool({ destructiveHint: true }), tool({ destructiveHint: false }), tool({ destructiveHint: 'true' }), tool(), tool({ readOnlyHint: true })])).toEqual([false, true, true, true, true]);
    // Learned annotations count when the request has none.
    az.learn('tool', [{ name: 'rm', annotations: { destructiveHint: true } }]);
    expect(check(az, [{ ...tool(), asked: tool({ destructiveHint: true }).op }])).toEqual([false]);
    az.learn('tool', [{ name: 'rm' }]);
    expect(check(az, [tool()])).toEqual([true]);
    expect(az.mayUse(p!, 'tool', { name: 'rm', annotations: { destructiveHint: true } })).toBe(false);
    expect(az.mayUse(p!, 'tool', { name: 'rm', annotations: { destructiveHint: false } })).toBe(true);
  });

  it('features, names and servers', () => {
    const engine = new PolicyEngine(config([...policies, 'permit(principal, action, resource in MCP::"github");']));
    const github = new McpAuthorizer(engine, 'github');
    const files = new McpAuthorizer(engine, 'files');
    const p = principalOf({ sub: 'dave' }, engine.options);
    const cases = (op: FeatureRequest) => [{ principal: p, op }];
    // One engine (one decision cache) shared by two servers.
    expect(check(github, cases({ feature: 'tool', name: 'x' }))).toEqual([true]);
    expect(check(files, cases({ feature: 'tool', name: 'x' }))).toEqual([false]);
    expect(check(files, cases({ feature: 'prompt', name: 'x', arguments: { op: 'a' } }))).toEqual([true]);
    expect(check(files, cases({ feature: 'prompt', name: 'x' }))).toEqual([false]);
    expect(check(files, cases({ feature: 'resource', name: 'x' }))).toEqual([false]);
    expect(check(github, cases({ feature: 'resource', name: 'x' }))).toEqual([true]);
    expect(github.cacheKey(p!, { feature: 'tool', name: 'a' })).not.toBe(github.cacheKey(p!, { feature: 'tool', name: 'b' }));
    expect(github.cacheKey(p!, { feature: 'tool', name: 'x' })).not.toBe(github.cacheKey(p!, { feature: 'prompt', name: 'x' }));
  });

  it('the engine refuses keys that could collide with its own', () => {
    const engine = new PolicyEngine(config(policies));
    expect(() => engine.decideKeyed('["x"]', () => ({ request: { principal: uid('C', 'a'), action: uid('Action', 'call_tool'), resource: uid('Tool', 't'), context: {} }, entities: [] }))).toThrow();
  });
});
