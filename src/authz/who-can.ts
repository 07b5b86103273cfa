import type { AuthzConfig } from './config.js';
import { entitiesOf } from './config.js';
import { parsePolicies, partialWithUnknownPrincipal, policyText, staticPolicies } from './cedar.js';
import type { CedarEntity } from './cedar-types.js';
import { argumentAttributes, FEATURE_ACTIONS, type FeatureRequest } from './entities.js';

/**
 * "Who can call this tool?": Cedar's partial evaluation with the caller unknown. For each policy
 * that could still decide, the conditions left on the caller, in words ("callers whose `claim_roles`
 * contains `premium`") and as Cedar text. Policies that read the caller's claims through `context`
 * cannot be answered without a caller (the context has no unknowns in Cedar), and are listed as such.
 */

export interface CallerCondition {
  id: string;
  index: number;
  effect: 'permit' | 'forbid';
  /** The condition on the caller in words; "every caller" when there is none. */
  words: string;
  /** The residual policy, as Cedar text. */
  cedar: string;
}

export interface WhoCanResult {
  /** Cedar's answer when the caller does not matter: everyone is allowed or everyone denied. */
  decision: 'allow' | 'deny' | null;
  permits: CallerCondition[];
  forbids: CallerCondition[];
  /** Policies Cedar could not evaluate without a caller (they read context.claim_*, say). */
  unanswerable: { id: string; index: number }[];
  /**
   * What a caller's token must carry, whatever the answer above: these policies read the attribute
   * without `has`, so for a caller without it they fail to evaluate, and an evaluation error denies the
   * whole request (as in ToolHive), even what another policy permits.
   */
  requires: { attribute: string; policies: number[] }[];
}

type Expr = Record<string, unknown>;

const q = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function isUnknownPrincipal(e: unknown): boolean {
  const u = (e as Expr | null)?.['unknown'];
  return Array.isArray(u) && (u[0] as Expr | undefined)?.['Value'] === 'principal';
}

function valueOf(e: unknown): { ok: true; v: unknown } | { ok: false } {
  if (typeof e === 'object' && e !== null && 'Value' in e) return { ok: true, v: (e as Expr)['Value'] };
  if (typeof e === 'object' && e !== null && 'Set' in e && Array.isArray((e as Expr)['Set'])) {
    const items = ((e as Expr)['Set'] as unknown[]).map(valueOf);
    return items.every((i) => i.ok) ? { ok: true, v: items.map((i) => (i as { v: unknown }).v) } : { ok: false };
  }
  return { ok: false };
}

/** A value as people read it: entities as Type "id", strings quoted as code. */
function show(v: unknown): string {
  const ent = (v as { __entity?: { type: string; id: string } } | null)?.__entity;
  if (ent) return ent.type === 'THVGroup' ? `group ${q(ent.id)}` : `${ent.type} ${q(ent.id)}`;
  if (Array.isArray(v)) return v.map(show).join(', ');
  return q(v);
}

/** The caller's attribute an expression reads (`principal.claim_x`), if that is what it is. */
function attrOf(e: unknown): string | undefined {
  const dot = (e as Expr | null)?.['.'] as { left?: unknown; attr?: string } | undefined;
  return dot && isUnknownPrincipal(dot.left) ? dot.attr : undefined;
}

const simplify = (e: unknown): unknown => {
  if (typeof e !== 'object' || e === null) return e;
  const x = e as Expr;
  for (const op of ['&&', '||'] as const) {
    const b = x[op] as { left: unknown; right: unknown } | undefined;
    if (!b) continue;
    const l = simplify(b.left);
    const r = simplify(b.right);
    const lv = valueOf(l);
    const rv = valueOf(r);
    if (op === '&&') {
      if (lv.ok && lv.v === true) return r;
      if (rv.ok && rv.v === true) return l;
      if ((lv.ok && lv.v === false) || (rv.ok && rv.v === false)) return { Value: false };
    } else {
      if (lv.ok && lv.v === false) return r;
      if (rv.ok && rv.v === false) return l;
      if ((lv.ok && lv.v === true) || (rv.ok && rv.v === true)) return { Value: true };
    }
    return { [op]: { left: l, right: r } };
  }
  return e;
};

/** An expression about the caller in words, or undefined when it is not one of the usual shapes. */
function words(e: unknown): string | undefined {
  const x = e as Expr;
  const v = valueOf(e);
  if (v.ok) return v.v === true ? 'always' : v.v === false ? 'never' : undefined;
  const bin = (op: string) => x[op] as { left: unknown; right: unknown } | undefined;
  for (const [op, joiner] of [
    ['&&', 'and'],
    ['||', 'or'],
  ] as const) {
    const b = bin(op);
    if (b) {
      const l = words(b.left);
      const r = words(b.right);
      return l && r ? `${l} ${joiner} ${r}` : undefined;
    }
  }
  const not = x['!'] as { arg: unknown } | undefined;
  if (not) {
    const inner = words(not.arg);
    return inner ? `not (${inner})` : undefined;
  }
  const has = x['has'] as { left: unknown; attr: string } | undefined;
  if (has && isUnknownPrincipal(has.left)) return `whose token has ${q(has.attr.replace(/^claim_/, ''))}`;
  for (const [op, say] of [
    ['==', 'is'],
    ['!=', 'is not'],
    ['contains', 'contains'],
    ['containsAll', 'contains all of'],
    ['containsAny', 'contains any of'],
  ] as const) {
    const b = bin(op);
    if (!b) continue;
    const attr = attrOf(b.left);
    const right = valueOf(b.right);
    if (attr && right.ok) return `whose ${q(attr)} ${say} ${show(right.v)}`;
    if ((op === '==' || op === '!=') && isUnknownPrincipal(b.left) && right.ok) return `${op === '==' ? 'that are' : 'that are not'} ${show(right.v)}`;
    return undefined;
  }
  const inn = bin('in');
  if (inn && isUnknownPrincipal(inn.left)) {
    const right = valueOf(inn.right);
    return right.ok ? `in ${show(right.v)}` : undefined;
  }
  const like = x['like'] as { left: unknown; pattern: (string | { Literal: string })[] } | undefined;
  if (like) {
    const attr = attrOf(like.left);
    const pattern = like.pattern.map((p) => (p === 'Wildcard' ? '*' : typeof p === 'object' ? p.Literal : '')).join('');
    return attr ? `whose ${q(attr)} matches ${q(pattern)}` : undefined;
  }
  return undefined;
}

/** The attributes an `&&` chain tests with `has` on the caller: what its right-hand side may read safely. */
function testedWithHas(e: unknown): string[] {
  const x = e as Expr | null;
  const has = x?.['has'] as { left: unknown; attr: string } | undefined;
  if (has && isUnknownPrincipal(has.left)) return [has.attr];
  const and = x?.['&&'] as { left: unknown; right: unknown } | undefined;
  return and ? [...testedWithHas(and.left), ...testedWithHas(and.right)] : [];
}

/** Whether an `&&` chain tests who the caller is (`principal == E`, `principal in E`). */
function namesCallers(e: unknown): boolean {
  const x = e as Expr | null;
  for (const op of ['==', 'in'] as const) {
    const b = x?.[op] as { left: unknown } | undefined;
    if (b && isUnknownPrincipal(b.left)) return true;
  }
  const and = x?.['&&'] as { left: unknown; right: unknown } | undefined;
  return and ? namesCallers(and.left) || namesCallers(and.right) : false;
}

/** The caller's attributes an expression reads where no `has` before it guarantees them. */
function unguardedReads(e: unknown, guarded: ReadonlySet<string>, out: Set<string>): void {
  if (typeof e !== 'object' || e === null) return;
  if (Array.isArray(e)) return e.forEach((x) => unguardedReads(x, guarded, out));
  const x = e as Expr;
  const attr = attrOf(x);
  if (attr !== undefined) {
    if (!guarded.has(attr)) out.add(attr);
    return;
  }
  const and = x['&&'] as { left: unknown; right: unknown } | undefined;
  if (and) {
    unguardedReads(and.left, guarded, out);
    // After `principal == X &&` (a scope, as partial evaluation writes it) only X gets that far: not every caller.
    if (!namesCallers(and.left)) unguardedReads(and.right, new Set([...guarded, ...testedWithHas(and.left)]), out);
    return;
  }
  const ite = x['if-then-else'] as { if: unknown; then: unknown; else: unknown } | undefined;
  if (ite) {
    unguardedReads(ite.if, guarded, out);
    unguardedReads(ite.then, new Set([...guarded, ...testedWithHas(ite.if)]), out);
    unguardedReads(ite.else, guarded, out);
    return;
  }
  for (const v of Object.values(x)) unguardedReads(v, guarded, out);
}

export function whoCan(config: AuthzConfig, op: FeatureRequest, serverName?: string): WhoCanResult {
  const parsed = parsePolicies(config.cedar.policies);
  const spec = FEATURE_ACTIONS[op.feature];
  const args = op.feature === 'resource' ? {} : argumentAttributes(op.arguments);
  const attrs: Record<string, unknown> = { ...(op.feature === 'tool' && op.annotations ? op.annotations : {}), ...args, name: op.name, operation: spec.operation, feature: op.feature };
  if (op.feature === 'resource') attrs['uri'] = op.name;
  const action = { type: 'Action', id: spec.action };
  const resource = { type: spec.entityType, id: op.name };
  const entities = [
    ...(entitiesOf(config.cedar) as CedarEntity[]),
    { uid: action, attrs: { operation: spec.action }, parents: [] },
    { uid: resource, attrs, parents: serverName ? [{ type: 'MCP', id: serverName }] : [] },
  ] as CedarEntity[];
  const answer = partialWithUnknownPrincipal(staticPolicies(parsed), { action, resource, context: args as never }, entities);
  const indexOf = (id: string) => parsed.find((p) => p.id === id)?.index ?? -1;
  const permits: CallerCondition[] = [];
  const forbids: CallerCondition[] = [];
  // Every policy still open for this request may fail for a caller lacking what it reads unguarded.
  const requires = new Map<string, Set<number>>();
  for (const [id, residual] of Object.entries(answer.residuals)) {
    // A policy for some callers only (its scope names them) is not evaluated for the others.
    if ((residual.principal as { op?: string } | undefined)?.op !== 'All') continue;
    const conditions = (residual.conditions ?? []).map((c) => ({ kind: c.kind, body: simplify(c.body) }));
    // A condition false whoever calls: the policy does not apply to this request, and evaluates no further.
    if (conditions.some((c) => valueOf(c.body).ok && (valueOf(c.body) as { v: unknown }).v === (c.kind !== 'when'))) continue;
    // Conditions are evaluated in order, each only if those before it held: one `&&` chain.
    const chain = conditions.reduce<unknown>((left, c) => ({ '&&': { left, right: c.body } }), { Value: true });
    const reads = new Set<string>();
    unguardedReads(chain, new Set(), reads);
    for (const a of reads) requires.set(a, new Set([...(requires.get(a) ?? []), indexOf(id)]));
  }
  for (const id of [...new Set([...answer.satisfied, ...answer.mayBeDetermining])]) {
    const residual = answer.residuals[id];
    const effect = residual?.effect === 'forbid' ? 'forbid' : 'permit';
    const bodies = (residual?.conditions ?? []).map((c) => {
      const body = simplify(c.body);
      const w = words(body);
      return c.kind === 'unless' ? (w ? `not (${w})` : undefined) : w;
    });
    const scope = residual?.principal as { op: string; entity?: { type: string; id: string } } | undefined;
    // A condition that is false whoever calls: the policy does not apply to this request at all.
    if (bodies.includes('never')) continue;
    const conds = bodies.filter((b) => b !== 'always');
    let said: string;
    if (conds.some((c) => c === undefined)) said = 'callers meeting a condition Gatehouse cannot put in words (see the Cedar)';
    else if (scope?.op === '==' && scope.entity) said = `only ${show({ __entity: scope.entity })}${conds.length ? `, ${conds.join(' and ')}` : ''}`;
    else if (scope?.op === 'in' && scope.entity) said = `callers in ${show({ __entity: scope.entity })}${conds.length ? ` and ${conds.join(' and ')}` : ''}`;
    else said = conds.length ? `callers ${conds.join(' and ')}` : 'every caller';
    const entry = { id, index: indexOf(id), effect, words: said, cedar: residual ? policyText(residual) : '' } as CallerCondition;
    (effect === 'permit' ? permits : forbids).push(entry);
  }
  return {
    decision: answer.decision,
    permits,
    forbids,
    unanswerable: answer.errored.map((id) => ({ id, index: indexOf(id) })),
    requires: [...requires].map(([attribute, policies]) => ({ attribute, policies: [...policies].sort((a, b) => a - b) })).sort((a, b) => a.attribute.localeCompare(b.attribute)),
  };
}
