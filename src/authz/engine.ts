import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import { AuthzConfigError, entitiesOf, type AuthzConfig, type CedarOptions } from './config.js';
import { parsePolicies, plainIsAuthorized, PreparsedPolicySet, staticPolicies, type ParsedPolicy, type WasmDecision } from './cedar.js';
import { uidKey, type CedarEntity, type CedarRequest, type CedarValue, type EntityUid } from './cedar-types.js';
import { MapEntityStore } from './entity-store.js';
import { analyzePolicy, evaluatePolicy, UnsupportedExpression, type PolicyOutcome } from './evaluator.js';

export type Decision = WasmDecision;

/** Actions Gatehouse ever asks about; an `in` on anything else may be an action group, so it is not indexed. */
const KNOWN_ACTIONS = new Set(['call_tool', 'get_prompt', 'read_resource', 'list_tools', 'list_prompts', 'list_resources']);
const DECISION_CACHE_SIZE = 20_000;

interface CompiledPolicy extends ParsedPolicy {
  effect: 'permit' | 'forbid';
  /** False when the JS evaluator cannot handle it: always evaluated by cedar-wasm. */
  supported: boolean;
  /** Lazily preparsed in cedar-wasm on its own, for the policies the JS evaluator cannot decide. */
  wasmSet?: PreparsedPolicySet;
}

/** Policies grouped by what their head can match, so a request looks only at policies that may apply. */
interface Bucket {
  byResource: Map<string, number[]>;
  anyResource: number[];
}

function newBucket(): Bucket {
  return { byResource: new Map(), anyResource: [] };
}

function normalizeUid(raw: unknown, where: string): EntityUid {
  const u = (typeof raw === 'object' && raw !== null && '__entity' in raw ? (raw as { __entity: unknown }).__entity : raw) as Partial<EntityUid> | null;
  if (!u || typeof u.type !== 'string' || typeof u.id !== 'string') throw new AuthzConfigError(`cedar.entities_json: ${where} is not an entity UID ({"type": ..., "id": ...}).`);
  return { type: u.type, id: u.id };
}

function baseEntities(options: CedarOptions): CedarEntity[] {
  const raw = entitiesOf(options);
  if (raw.length === 0) return [];
  const check = wasm.checkParseEntities({ entities: raw as never });
  if (check.type === 'failure') throw new AuthzConfigError(`cedar.entities_json is not valid Cedar entity JSON: ${check.errors.map((e) => e.message).join('; ')}`);
  return raw.map((e, i) => {
    const rec = e as { uid?: unknown; attrs?: Record<string, CedarValue>; parents?: unknown[] };
    return {
      uid: normalizeUid(rec.uid, `entity ${i} uid`),
      attrs: rec.attrs ?? {},
      parents: (rec.parents ?? []).map((p, j) => normalizeUid(p, `entity ${i} parent ${j}`)),
    };
  });
}

/**
 * A compiled authz-config: policies parsed once, indexed by action and resource, evaluated by an exact
 * JS evaluator (cedar-wasm for what it does not cover), and decisions cached for identical inputs.
 * Answers are the same as cedar-wasm's `isAuthorized` over the whole set; the differential tests say so.
 */
export class PolicyEngine {
  readonly policies: CompiledPolicy[];
  readonly options: CedarOptions;
  readonly base: MapEntityStore;
  private readonly buckets = new Map<string, Bucket>();
  private readonly anyAction = newBucket();
  private readonly cache = new Map<string, Decision>();
  private plainSet: Record<string, string> | undefined;
  stats = { decisions: 0, cacheHits: 0, wasmCalls: 0 };

  constructor(readonly config: AuthzConfig) {
    this.options = config.cedar;
    this.policies = parsePolicies(config.cedar.policies).map((p) => ({ ...p, effect: p.json.effect, supported: analyzePolicy(p.json).supported }));
    this.base = new MapEntityStore(baseEntities(config.cedar));
    for (const p of this.policies) this.index(p);
  }

  /** The reference answer: cedar-wasm's plain isAuthorized over every policy (slow; for simulate and tests). */
  decidePlain(request: CedarRequest, requestEntities: readonly CedarEntity[]): Decision {
    this.plainSet ??= staticPolicies(this.policies);
    return plainIsAuthorized(this.plainSet, request, new MapEntityStore(requestEntities, this.base).all());
  }

  decide(request: CedarRequest, requestEntities: readonly CedarEntity[]): Decision {
    this.stats.decisions++;
    const key = JSON.stringify([request, requestEntities]);
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.cacheHits++;
      // Refresh recency: Map keeps insertion order, so the oldest entry is the first one.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const decision = this.evaluate(request, requestEntities);
    this.cache.set(key, decision);
    if (this.cache.size > DECISION_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    return decision;
  }

  private evaluate(request: CedarRequest, requestEntities: readonly CedarEntity[]): Decision {
    const store = new MapEntityStore(requestEntities, this.base);
    const permits: string[] = [];
    const forbids: string[] = [];
    const errors: { policy: string; message: string }[] = [];
    for (const i of this.candidates(request)) {
      const p = this.policies[i]!;
      const outcome = this.outcomeOf(p, request, store);
      if (outcome.kind === 'error') errors.push({ policy: p.id, message: outcome.message });
      else if (outcome.kind === 'satisfied') (p.effect === 'forbid' ? forbids : permits).push(p.id);
    }
    // Cedar: any satisfied forbid denies; otherwise any satisfied permit allows; otherwise deny.
    const byOrder = (a: string, b: string) => Number(a.slice(6)) - Number(b.slice(6));
    if (forbids.length > 0) return { decision: 'deny', reasons: forbids.sort(byOrder), errors };
    if (permits.length > 0) return { decision: 'allow', reasons: permits.sort(byOrder), errors };
    return { decision: 'deny', reasons: [], errors };
  }

  private outcomeOf(p: CompiledPolicy, request: CedarRequest, store: MapEntityStore): PolicyOutcome {
    if (p.supported) {
      try {
        return evaluatePolicy(p.json, request, store);
      } catch (err) {
        if (!(err instanceof UnsupportedExpression)) throw err;
      }
    }
    this.stats.wasmCalls++;
    p.wasmSet ??= new PreparsedPolicySet({ [p.id]: p.text });
    const d = p.wasmSet.isAuthorized(request, store.all());
    const failed = d.errors.find((e) => e.policy === p.id || e.policy === '');
    if (failed) return { kind: 'error', message: failed.message };
    return d.reasons.includes(p.id) ? { kind: 'satisfied' } : { kind: 'not-satisfied' };
  }

  /** Policy indexes whose head may match, in file order. */
  private candidates(request: CedarRequest): number[] {
    const resourceKey = uidKey(request.resource);
    const out: number[] = [];
    for (const bucket of [this.buckets.get(request.action.id), this.anyAction]) {
      if (!bucket) continue;
      out.push(...bucket.anyResource);
      const exact = bucket.byResource.get(resourceKey);
      if (exact) out.push(...exact);
    }
    return out.sort((a, b) => a - b);
  }

  private index(p: CompiledPolicy): void {
    const action = p.json.action;
    let actionIds: string[] | undefined;
    if (action.op === '==' && 'entity' in action) actionIds = [normalizeUid(action.entity, 'action').id];
    else if (action.op === 'in') {
      const list = 'entities' in action ? action.entities : [action.entity];
      const ids = list.map((u) => normalizeUid(u, 'action'));
      // Only plain Action:: UIDs Gatehouse asks about can be indexed; anything else may be a group.
      if (ids.every((u) => u.type === 'Action' && KNOWN_ACTIONS.has(u.id))) actionIds = ids.map((u) => u.id);
    }
    const resource = p.json.resource;
    const resourceKey = resource.op === '==' && 'entity' in resource ? uidKey(normalizeUid(resource.entity, 'resource')) : undefined;
    const targets = actionIds ? [...new Set(actionIds)].map((id) => this.bucketFor(id)) : [this.anyAction];
    for (const bucket of targets) {
      if (resourceKey === undefined) bucket.anyResource.push(p.index);
      else {
        const list = bucket.byResource.get(resourceKey) ?? [];
        list.push(p.index);
        bucket.byResource.set(resourceKey, list);
      }
    }
  }

  private bucketFor(actionId: string): Bucket {
    let b = this.buckets.get(actionId);
    if (!b) {
      b = newBucket();
      this.buckets.set(actionId, b);
    }
    return b;
  }
}
