import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import { GenerationalCache } from '../common/index.js';
import { AuthzConfigError, entitiesOf, type AuthzConfig, type CedarOptions } from './config.js';
import { parsePolicies, plainIsAuthorized, PreparsedPolicySet, staticPolicies, type ParsedPolicy, type WasmDecision } from './cedar.js';
import type { ActionConstraint, PolicyJson, PrincipalConstraint, ResourceConstraint } from '@cedar-policy/cedar-wasm/nodejs';
import { uidKey, type CedarEntity, type CedarRequest, type CedarValue, type EntityStore, type EntityUid } from './cedar-types.js';
import { MapEntityStore } from './entity-store.js';
import { checkEntity, compilePolicy, RequestScope, UnsupportedExpression, type CompiledPolicy, type PolicyOutcome } from './evaluator.js';

export type Decision = WasmDecision;

const DECISION_CACHE_SIZE = 20_000;
/** The index key of a head constraint that does not narrow what it matches (never a uidKey: those hold `::`). */
const ANY = '*';

/** One policy of the set (a class: the hot path reads these, see the note on Constraint in evaluator.ts). */
class EnginePolicy implements ParsedPolicy {
  readonly index: number;
  readonly id: string;
  readonly text: string;
  readonly json: PolicyJson;
  readonly effect: 'permit' | 'forbid';
  /** The JS evaluator's form (it throws UnsupportedExpression for what it does not model: then cedar-wasm decides). */
  readonly code: CompiledPolicy;
  /** Lazily preparsed in cedar-wasm on its own, for the policies the JS evaluator cannot decide. */
  wasmSet: PreparsedPolicySet | undefined = undefined;

  constructor(p: ParsedPolicy) {
    this.index = p.index;
    this.id = p.id;
    this.text = p.text;
    this.json = p.json;
    this.effect = p.json.effect;
    this.code = compilePolicy(p.json);
  }
}

/** The index entries for one principal key and action key (see PolicyEngine.planFor). */
class PrincipalPlan {
  constructor(
    readonly action: string,
    readonly actionAncestors: ReadonlySet<string>,
    readonly principal: string,
    readonly entries: readonly Map<string, number[]>[],
  ) {}
}

/**
 * Policy indexes by what their head can match: action key → principal key → resource key → policies
 * in file order. A key is the uidKey of the entity a constraint names (`==`, `in`, `is ... in`; an
 * action list files the policy under each of its actions) or ANY; a request looks under its own
 * entity's key, its ancestors' keys and ANY in each dimension. A head that matches always names one
 * of those keys (`==`: the entity itself; `in`: the entity or an ancestor), so no policy that can match
 * is missed; the few found that cannot (`==` on an ancestor, `is` of another type) fail their head test.
 */
type Index = Map<string, Map<string, Map<string, number[]>>>;

function normalizeUid(raw: unknown, where: string): EntityUid {
  const u = (typeof raw === 'object' && raw !== null && '__entity' in raw ? (raw as { __entity: unknown }).__entity : raw) as Partial<EntityUid> | null;
  if (!u || typeof u.type !== 'string' || typeof u.id !== 'string') throw new AuthzConfigError(`cedar.entities_json: ${where} is not an entity UID ({"type": ..., "id": ...}).`);
  return { type: u.type, id: u.id };
}

/**
 * entities_json as ToolHive reads it: cedar-go's EntityMap takes an entity without `attrs` or `parents`
 * (ToolHive's own docs leave `parents` out), where Cedar's JSON format requires both: they default to empty.
 */
function withDefaults(raw: unknown[]): unknown[] {
  return raw.map((e) => (typeof e === 'object' && e !== null && !Array.isArray(e) ? { attrs: {}, parents: [], ...e } : e));
}

function baseEntities(options: CedarOptions): CedarEntity[] {
  const raw = withDefaults(entitiesOf(options));
  if (raw.length === 0) return [];
  const check = wasm.checkParseEntities({ entities: raw as never });
  if (check.type === 'failure') throw new AuthzConfigError(`cedar.entities_json is not valid Cedar entity JSON: ${check.errors.map((e) => e.message).join('; ')}`);
  return raw.map((e, i) => {
    const rec = e as { uid?: unknown; attrs?: Record<string, CedarValue>; parents?: unknown[]; tags?: Record<string, CedarValue> };
    const entity: CedarEntity = {
      uid: normalizeUid(rec.uid, `entity ${i} uid`),
      attrs: rec.attrs ?? {},
      parents: (rec.parents ?? []).map((p, j) => normalizeUid(p, `entity ${i} parent ${j}`)),
    };
    // Kept as written: a forbid on `hasTag` must see them (cedar-wasm evaluates tag expressions).
    if (rec.tags !== undefined) entity.tags = rec.tags;
    return entity;
  });
}

/**
 * A compiled authz-config: policies parsed and compiled once, indexed by action, principal and
 * resource, evaluated by an exact JS evaluator (cedar-wasm for what it does not cover), and decisions
 * cached for identical inputs. Answers are the same as cedar-wasm's `isAuthorized` over the whole set;
 * the differential tests say so.
 */
export class PolicyEngine {
  readonly policies: EnginePolicy[];
  readonly options: CedarOptions;
  readonly base: MapEntityStore;
  private readonly index: Index = new Map();
  /** Per policy, the last candidates() call that listed it (an action list files a policy more than once). */
  private readonly listed: Uint32Array;
  private listing = 0;
  private readonly cache = new GenerationalCache<string, Decision>(DECISION_CACHE_SIZE);
  /** planFor's cache, on principals' ancestor sets. */
  private readonly plans = new WeakMap<ReadonlySet<string>, PrincipalPlan>();
  private plainSet: Record<string, string> | undefined;
  private wholeSet: PreparsedPolicySet | undefined;
  stats = { decisions: 0, cacheHits: 0, wasmCalls: 0 };

  /**
   * `evaluator: 'wasm'` decides each request with cedar-wasm's preparsed statefulIsAuthorized over the
   * same index candidates (one preparsed set per candidate list), behind the same decision cache: the
   * fair alternative to the JS evaluator, which bench:authz measures against it.
   */
  constructor(
    readonly config: AuthzConfig,
    private readonly engineOptions: { evaluator?: 'js' | 'wasm' } = {},
  ) {
    this.options = config.cedar;
    this.policies = parsePolicies(config.cedar.policies).map((p) => new EnginePolicy(p));
    // checkParseEntities refused hierarchy cycles and malformed entities in entities_json.
    this.base = new MapEntityStore(baseEntities(config.cedar));
    this.listed = new Uint32Array(this.policies.length);
    for (const p of this.policies) this.add(p);
  }

  /** Forgets every cached decision (benchmarks that time cache misses on inputs seen before). */
  clearDecisionCache(): void {
    this.cache.clear();
  }

  /** The reference answer: cedar-wasm's plain isAuthorized over every policy (slow; for simulate and tests). */
  decidePlain(request: CedarRequest, requestEntities: readonly CedarEntity[]): Decision {
    this.plainSet ??= staticPolicies(this.policies);
    return plainIsAuthorized(this.plainSet, request, new MapEntityStore(requestEntities, this.base).all());
  }

  /** Decides a request, from the decision cache when the same request and entities were decided before. */
  decide(request: CedarRequest, requestEntities: readonly CedarEntity[]): Decision {
    const key = JSON.stringify([request, requestEntities]);
    return this.cached(key) ?? this.remember(key, this.evaluate(request, requestEntities));
  }

  /**
   * `decide` with the caller's own cache key, cheaper to compute than the whole input: `build` is only
   * called on a cache miss. The key must determine the request and its entities exactly (two inputs
   * with one key would share a decision) and must not start with `[` (decide's own keys do).
   */
  decideKeyed(key: string, build: () => { request: CedarRequest; entities: readonly CedarEntity[] }): Decision {
    if (key.startsWith('[')) throw new Error('decideKeyed: a key must not start with "["');
    const hit = this.cached(key);
    if (hit) return hit;
    const { request, entities } = build();
    return this.remember(key, this.evaluate(request, entities));
  }

  /**
   * The ids of the policies the index offers for a request, in file order: every policy whose head
   * can match it, and maybe a few more. Undefined when Cedar decides the request as a whole (see
   * evaluate). For tests and diagnostics.
   */
  candidateIds(request: CedarRequest, requestEntities: readonly CedarEntity[]): string[] | undefined {
    const store = new MapEntityStore(requestEntities, this.base);
    let scope: RequestScope;
    try {
      scope = requestScope(request, requestEntities, store);
    } catch (err) {
      if (err instanceof UnsupportedExpression) return undefined;
      throw err;
    }
    return this.candidates(scope).map((i) => this.policies[i]!.id);
  }

  private cached(key: string): Decision | undefined {
    this.stats.decisions++;
    const hit = this.cache.get(key);
    if (hit) this.stats.cacheHits++;
    return hit;
  }

  private remember(key: string, decision: Decision): Decision {
    this.cache.set(key, decision);
    return decision;
  }

  private evaluate(request: CedarRequest, requestEntities: readonly CedarEntity[]): Decision {
    const store = new MapEntityStore(requestEntities, this.base);
    let scope: RequestScope;
    try {
      scope = requestScope(request, requestEntities, store);
    } catch (err) {
      if (!(err instanceof UnsupportedExpression)) throw err;
      // Cedar may refuse this request as a whole (or the JS evaluator cannot model its data): Cedar decides it all.
      this.stats.wasmCalls++;
      this.wholeSet ??= new PreparsedPolicySet(staticPolicies(this.policies));
      return this.wholeSet.isAuthorized(request, store.all());
    }
    if (this.engineOptions.evaluator === 'wasm') return this.evaluateInWasm(scope, store);
    const permits: string[] = [];
    const forbids: string[] = [];
    const errors: { policy: string; message: string }[] = [];
    for (const i of this.candidates(scope)) {
      const p = this.policies[i]!;
      const outcome = this.outcomeOf(p, scope);
      if (outcome.kind === 'error') errors.push({ policy: p.id, message: outcome.message });
      else if (outcome.kind === 'satisfied') (p.effect === 'forbid' ? forbids : permits).push(p.id);
    }
    // Cedar: any satisfied forbid denies; otherwise any satisfied permit allows; otherwise deny.
    // Candidates come in file order, so reasons are in policy order.
    if (forbids.length > 0) return { decision: 'deny', reasons: forbids, errors };
    if (permits.length > 0) return { decision: 'allow', reasons: permits, errors };
    return { decision: 'deny', reasons: [], errors };
  }

  /** Preparsed sets by candidate list, for the wasm evaluator. */
  private readonly bucketSets = new Map<string, PreparsedPolicySet>();

  private evaluateInWasm(scope: RequestScope, store: MapEntityStore): Decision {
    const candidates = this.candidates(scope);
    const key = candidates.join(',');
    let set = this.bucketSets.get(key);
    if (!set) {
      set = new PreparsedPolicySet(staticPolicies(candidates.map((i) => this.policies[i]!)));
      this.bucketSets.set(key, set);
    }
    this.stats.wasmCalls++;
    return set.isAuthorized(scope.request, store.all());
  }

  private outcomeOf(p: EnginePolicy, scope: RequestScope): PolicyOutcome {
    try {
      return p.code.run(scope);
    } catch (err) {
      if (!(err instanceof UnsupportedExpression)) throw err;
    }
    this.stats.wasmCalls++;
    p.wasmSet ??= new PreparsedPolicySet({ [p.id]: p.text });
    const d = p.wasmSet.isAuthorized(scope.request, scope.store.all());
    const failed = d.errors.find((e) => e.policy === p.id || e.policy === '');
    if (failed) return { kind: 'error', message: failed.message };
    return d.reasons.includes(p.id) ? { kind: 'satisfied' } : { kind: 'not-satisfied' };
  }

  /** Indexes of the policies whose head may match, in file order. */
  private candidates(scope: RequestScope): number[] {
    const store = scope.store;
    const plan = this.planFor(scope);
    const resourceKeys = keysOf(scope.resource.key, store);
    if (++this.listing === 0xffff_ffff) {
      this.listed.fill(0);
      this.listing = 1;
    }
    const out: number[] = [];
    for (const byResource of plan.entries) {
      for (let r = 0; r < resourceKeys.length; r++) {
        const list = byResource.get(resourceKeys[r]!);
        if (list !== undefined) this.collect(list, out);
      }
    }
    if (out.length > 64) return out.sort((x, y) => x - y);
    // Insertion sort: typically a dozen numbers, in sorted runs.
    for (let i = 1; i < out.length; i++) {
      const x = out[i]!;
      let j = i - 1;
      while (j >= 0 && out[j]! > x) {
        out[j + 1] = out[j]!;
        j--;
      }
      out[j + 1] = x;
    }
    return out;
  }

  /**
   * The index entries under the request's action and principal keys. A caller's principal entity
   * is the same object in each of its requests, and so is its set of ancestors (the store takes it
   * from entities_json's cache): the entries are looked up once per caller and action, and kept on
   * that set (checked against the keys and the action's ancestors before use).
   */
  private planFor(scope: RequestScope): PrincipalPlan {
    const store = scope.store;
    const principal = scope.principal.key;
    const action = scope.action.key;
    const principalAncestors = store.ancestorKeys(principal);
    const actionAncestors = store.ancestorKeys(action);
    const known = this.plans.get(principalAncestors);
    if (known !== undefined && known.principal === principal && known.action === action && known.actionAncestors === actionAncestors) return known;
    const entries: Map<string, number[]>[] = [];
    const principalKeys = keysOf(principal, store);
    for (const a of keysOf(action, store)) {
      const byPrincipal = this.index.get(a);
      if (byPrincipal === undefined) continue;
      for (const p of principalKeys) {
        const byResource = byPrincipal.get(p);
        if (byResource !== undefined) entries.push(byResource);
      }
    }
    const plan = new PrincipalPlan(action, actionAncestors, principal, entries);
    this.plans.set(principalAncestors, plan);
    return plan;
  }

  /** Appends the policies of one index entry not listed yet in this candidates() call. */
  private collect(list: number[], out: number[]): void {
    const listing = this.listing;
    for (const i of list) {
      if (this.listed[i] === listing) continue;
      this.listed[i] = listing;
      out.push(i);
    }
  }

  private add(p: EnginePolicy): void {
    const principal = headKey(p.json.principal, 'principal');
    const resource = headKey(p.json.resource, 'resource');
    for (const action of actionKeys(p.json.action)) {
      let byPrincipal = this.index.get(action);
      if (!byPrincipal) this.index.set(action, (byPrincipal = new Map()));
      let byResource = byPrincipal.get(principal);
      if (!byResource) byPrincipal.set(principal, (byResource = new Map()));
      let list = byResource.get(resource);
      if (!list) byResource.set(resource, (list = []));
      list.push(p.index);
    }
  }
}

/**
 * The request's scope for the JS evaluator. Throws UnsupportedExpression when Cedar would refuse the
 * request as a whole (malformed data, a hierarchy cycle, an action with a non-action parent) or the
 * evaluator cannot model its data. entities_json passed checkParseEntities (no cycles, well formed),
 * so a cycle goes through one of the request's own entities, which is then its own ancestor.
 */
function requestScope(request: CedarRequest, requestEntities: readonly CedarEntity[], store: MapEntityStore): RequestScope {
  for (const e of requestEntities) checkEntity(e);
  for (const k of store.ownKeys()) if (store.ancestorKeys(k).has(k)) throw new UnsupportedExpression(`entity hierarchy has a cycle through ${k}`);
  return new RequestScope(request, store);
}

/** The index keys a request's entity is looked up under: its own, its ancestors', ANY. */
function keysOf(key: string, store: EntityStore): string[] {
  const out = [key];
  for (const a of store.ancestorKeys(key)) out.push(a);
  out.push(ANY);
  return out;
}

/** The index key of a principal or resource constraint: the entity it needs the request's entity to be or be in. */
function headKey(c: PrincipalConstraint | ResourceConstraint, where: string): string {
  switch (c.op) {
    case '==':
    case 'in':
      return 'entity' in c ? uidKey(normalizeUid(c.entity, where)) : ANY;
    case 'is':
      return c.in && 'entity' in c.in ? uidKey(normalizeUid(c.in.entity, where)) : ANY;
    default:
      return ANY;
  }
}

/** The action keys a policy is filed under (none for `action in []`, which matches nothing). */
function actionKeys(c: ActionConstraint): string[] {
  switch (c.op) {
    case '==':
      return 'entity' in c ? [uidKey(normalizeUid(c.entity, 'action'))] : [ANY];
    case 'in':
      return [...new Set(('entities' in c ? c.entities : [c.entity]).map((u) => uidKey(normalizeUid(u, 'action'))))];
    default:
      return [ANY];
  }
}

/** One policy and one engine kept alive, for their maps: see keptInstances in evaluator.ts (exported only so that they stay). */
export const keptEngineInstances: readonly object[] = [
  new PrincipalPlan('', new Set(), '', []),
  new PolicyEngine({ version: '1.0', type: 'cedarv1', cedar: { policies: [] } }),
  new EnginePolicy({ index: 0, id: 'policy0', text: '', json: { effect: 'permit', principal: { op: 'All' }, action: { op: 'All' }, resource: { op: 'All' }, conditions: [] } }),
];
