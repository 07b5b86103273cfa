// A small, exact JavaScript evaluator for Cedar policies in Cedar's JSON form (`policyToJson`), the
// fast path of the authorizer. It gives Cedar 4.x's answer or throws `UnsupportedExpression` (the
// caller then asks cedar-wasm); it never guesses. Semantics follow cedar-policy-core's evaluator:
// strict binary operators evaluate both sides before checking types, `&&`, `||` and `if` short-circuit,
// a policy is `scope && when_1 && !unless_1 && ...` in clause order, any error makes the policy
// "errored" (Cedar skips it and reports the error). Requests Cedar would refuse as a whole (bad data,
// hierarchy cycles) are Unsupported; see `checkEntities` for the part of that the caller owns.
import type {
  ActionConstraint,
  CedarValueJson,
  EntityUidJson,
  Expr,
  PatternElem,
  PolicyJson,
  PrincipalConstraint,
  ResourceConstraint,
} from '@cedar-policy/cedar-wasm/nodejs';
import { uidKey, type CedarEntity, type CedarRequest, type EntityStore, type EntityUid } from './cedar-types.js';

/** The policy (or the request's data) uses something this evaluator does not model: ask Cedar. */
export class UnsupportedExpression extends Error {
  override name = 'UnsupportedExpression';
}

/** A Cedar evaluation error: the policy is ignored and the error reported. */
class EvalError extends Error {}

export type PolicyOutcome = { kind: 'satisfied' } | { kind: 'not-satisfied' } | { kind: 'error'; message: string };

export interface PolicyAnalysis {
  /** Which request variables the conditions read. */
  reads: { principal: boolean; action: boolean; resource: boolean; context: boolean };
  /** The conditions name entities literally (so their answer may depend on the entity store). */
  entityLiterals: boolean;
  /** No conditions, or only `when { true }` / `unless { false }`: the scope decides alone. */
  conditionFree: boolean;
  /** Every node is one this evaluator handles (it may still throw for i64 results beyond ±2^53 or odd data). */
  supported: boolean;
}

// ---------------------------------------------------------------------------------------------
// Values. Records and sets read from JSON are wrapped lazily: an attribute is converted when read.

class EntityRef implements EntityUid {
  constructor(
    readonly type: string,
    readonly id: string,
  ) {}
}

/** A `decimal` extension value (ToolHive/Gatehouse turn JSON numbers into these): i64 scaled by 10^4. */
class Decimal {
  constructor(readonly scaled: bigint) {}
}

class Rec {
  private constructor(
    private readonly json: Readonly<Record<string, CedarValueJson>> | undefined,
    private readonly map: ReadonlyMap<string, Value> | undefined,
  ) {}
  static ofJson(json: Readonly<Record<string, CedarValueJson>>): Rec {
    return new Rec(json, undefined);
  }
  static ofMap(map: ReadonlyMap<string, Value>): Rec {
    return new Rec(undefined, map);
  }
  get(key: string): Value | undefined {
    if (this.map) return this.map.get(key);
    return this.json && Object.hasOwn(this.json, key) ? fromJson(this.json[key] as CedarValueJson, true) : undefined;
  }
  has(key: string): boolean {
    return this.map ? this.map.has(key) : this.json !== undefined && Object.hasOwn(this.json, key);
  }
  keys(): string[] {
    return this.map ? [...this.map.keys()] : Object.keys(this.json ?? {});
  }
}

type Value = boolean | number | string | EntityRef | Decimal | Rec | Value[];

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

/**
 * Cedar's JSON value → Value. Longs are JS numbers, exact only up to ±(2^53-1): anything else is
 * Unsupported. `__extn` is only accepted from data (`decimal`), never as a policy literal.
 */
function fromJson(v: CedarValueJson, data: boolean): Value {
  switch (typeof v) {
    case 'boolean':
    case 'string':
      return v;
    case 'number':
      if (!Number.isSafeInteger(v)) throw new UnsupportedExpression(`number ${v} is not an exact Long`);
      return v;
    case 'object':
      if (v === null) throw new UnsupportedExpression('null value');
      if (Array.isArray(v)) return v.map((x) => fromJson(x, data));
      if (Object.hasOwn(v, '__entity')) return entityFromJson(v);
      if (Object.hasOwn(v, '__extn')) {
        if (!data) throw new UnsupportedExpression('extension value literal');
        return decimalFromJson(v);
      }
      if (Object.hasOwn(v, '__expr')) throw new UnsupportedExpression('__expr escape');
      if (data) return Rec.ofJson(v as Record<string, CedarValueJson>);
      // Policy literals are converted eagerly, so a nested `__extn` or bad number is caught here.
      return Rec.ofMap(new Map(Object.entries(v as Record<string, CedarValueJson>).map(([k, x]) => [k, fromJson(x, false)])));
    default:
      throw new UnsupportedExpression(`not a Cedar value: ${typeof v}`);
  }
}

/** Only the exact `{ __entity: { type, id } }` form: Cedar reads other shapes as records or rejects them. */
function entityFromJson(v: object): EntityRef {
  const e = (v as { __entity?: unknown }).__entity;
  if (Object.keys(v).length !== 1 || !isUidShape(e)) throw new UnsupportedExpression('malformed __entity escape');
  if (!validTypeName(e.type)) throw new UnsupportedExpression(`invalid entity type name ${JSON.stringify(e.type)}`);
  return new EntityRef(e.type, e.id);
}

function isUidShape(e: unknown): e is EntityUid {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const o = e as Record<string, unknown>;
  return Object.keys(o).length === 2 && typeof o['type'] === 'string' && typeof o['id'] === 'string';
}

/** `{ __extn: { fn: "decimal", arg } }` with Cedar's decimal syntax and range; other extensions: Unsupported. */
function decimalFromJson(v: object): Decimal {
  const x = (v as { __extn?: unknown }).__extn as Record<string, unknown> | undefined;
  if (Object.keys(v).length !== 1 || typeof x !== 'object' || x === null || Object.keys(x).length !== 2) {
    throw new UnsupportedExpression('malformed __extn escape');
  }
  const arg = x['arg'];
  if (x['fn'] !== 'decimal' || typeof arg !== 'string') throw new UnsupportedExpression('extension value other than decimal');
  const m = /^(-?)([0-9]+)\.([0-9]{1,4})$/.exec(arg);
  if (!m) throw new UnsupportedExpression(`malformed decimal ${JSON.stringify(arg)}`);
  const magnitude = BigInt(m[2]!) * 10_000n + BigInt(m[3]!.padEnd(4, '0'));
  const scaled = m[1] ? -magnitude : magnitude;
  if (scaled > I64_MAX || scaled < I64_MIN) throw new UnsupportedExpression(`decimal out of range ${arg}`);
  return new Decimal(scaled);
}

function typeName(v: Value): string {
  if (typeof v === 'number') return 'long';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return 'set';
  if (v instanceof EntityRef) return 'entity';
  if (v instanceof Decimal) return 'decimal';
  return 'record';
}

const typeError = (expected: string, v: Value): EvalError => new EvalError(`type error: expected ${expected}, got ${typeName(v)}`);

function asBool(v: Value): boolean {
  if (typeof v !== 'boolean') throw typeError('bool', v);
  return v;
}
function asLong(v: Value): number {
  if (typeof v !== 'number') throw typeError('long', v);
  return v;
}
function asString(v: Value): string {
  if (typeof v !== 'string') throw typeError('string', v);
  return v;
}
function asSet(v: Value): Value[] {
  if (!Array.isArray(v)) throw typeError('set', v);
  return v;
}
function asEntity(v: Value): EntityRef {
  if (!(v instanceof EntityRef)) throw typeError('entity', v);
  return v;
}

/** Cedar equality: structural, never a type error; sets compare as sets, records by keys and values. */
function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) return Array.isArray(b) && subset(a, b) && subset(b, a);
  if (a instanceof EntityRef) return b instanceof EntityRef && a.type === b.type && a.id === b.id;
  if (a instanceof Decimal) return b instanceof Decimal && a.scaled === b.scaled;
  if (!(a instanceof Rec) || !(b instanceof Rec)) return false;
  const ka = a.keys();
  if (ka.length !== b.keys().length) return false;
  return ka.every((k) => {
    const bv = b.get(k);
    return bv !== undefined && equal(a.get(k) as Value, bv);
  });
}

const member = (set: readonly Value[], v: Value): boolean => set.some((x) => equal(x, v));
const subset = (a: readonly Value[], b: readonly Value[]): boolean => a.every((x) => member(b, x));

// ---------------------------------------------------------------------------------------------
// Input checks. Cedar rejects a whole request whose data it cannot parse (bad type names, floats,
// nulls, malformed escapes, cycles, an action with a non-action parent): such a request has no
// per-policy answer, so it is Unsupported here. The request itself (uids, context) is checked on
// every evaluation, and so is each entity whose attributes or hierarchy an evaluation reads. The rest
// of the store is the caller's: `checkEntities` once over entities_json, and over each request's own
// entities (checking all of `store.all()` per request would cost more than evaluating).

const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);
const IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const goodTypeNames = new Set<string>();

function validTypeName(t: string): boolean {
  if (goodTypeNames.has(t)) return true;
  const ok = t.split('::').every((s) => IDENT.test(s) && !RESERVED.has(s));
  if (ok && goodTypeNames.size < 10_000) goodTypeNames.add(t);
  return ok;
}

/** Lone surrogates cannot cross into Rust strings intact, so equality on them is not JS equality. */
const LONE_SURROGATE = /\p{Cs}/u;

function checkString(s: string): void {
  if (LONE_SURROGATE.test(s)) throw new UnsupportedExpression('string with a lone surrogate');
}

function checkUid(u: EntityUid): void {
  if (!isUidShape(u) || !validTypeName(u.type)) throw new UnsupportedExpression(`invalid entity uid ${JSON.stringify(u)}`);
  checkString(u.id);
}

function checkData(v: CedarValueJson): void {
  if (typeof v === 'string') return checkString(v);
  if (Array.isArray(v)) return v.forEach(checkData);
  if (typeof v === 'object' && v !== null && !['__entity', '__extn', '__expr'].some((k) => Object.hasOwn(v, k))) {
    for (const [k, x] of Object.entries(v)) {
      checkString(k);
      checkData(x as CedarValueJson);
    }
    return;
  }
  const value = fromJson(v, true); // throws for what Cedar would reject or we do not model
  if (value instanceof EntityRef) checkString(value.id);
}

/** Deep checks may recurse as deep as the data: too deep is Unsupported, not a crash. */
function guarded(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof RangeError) throw new UnsupportedExpression(`input too deep to check: ${err.message}`);
    throw err;
  }
}

const isActionType = (t: string): boolean => t === 'Action' || t.endsWith('::Action');
const checkedEntities = new WeakSet<CedarEntity>();

/** One entity's own data (cached per entity object: entities_json entities are shared by every request). */
function checkEntity(e: CedarEntity): void {
  if (checkedEntities.has(e)) return;
  guarded(() => {
    checkUid(e.uid);
    if (typeof e.attrs !== 'object' || e.attrs === null || Array.isArray(e.attrs) || !Array.isArray(e.parents)) {
      throw new UnsupportedExpression('malformed entity');
    }
    for (const p of e.parents) {
      checkUid(p);
      // Cedar: "action ... has a non-action parent"
      if (isActionType(e.uid.type) && !isActionType(p.type)) throw new UnsupportedExpression('action with a non-action parent');
    }
    for (const [k, v] of Object.entries(e.attrs)) {
      checkString(k);
      checkData(v as CedarValueJson);
    }
  });
  checkedEntities.add(e);
}

/**
 * Throws UnsupportedExpression if Cedar would reject a request over `store` because of `entities`:
 * malformed entities, or a cycle through them (Cedar computes the transitive closure up front and
 * refuses cycles). Call it once for entities_json and once per request for the request's own entities:
 * every cycle of the merged hierarchy goes through one of those.
 */
export function checkEntities(entities: readonly CedarEntity[], store: EntityStore): void {
  for (const e of entities) checkEntity(e);
  const done = new Set<string>();
  const onPath = new Set<string>();
  const visit = (u: EntityUid): void => {
    const k = uidKey(u);
    if (done.has(k)) return;
    if (onPath.has(k)) throw new UnsupportedExpression(`entity hierarchy has a cycle through ${k}`);
    onPath.add(k);
    for (const p of store.get(u)?.parents ?? []) visit(p);
    onPath.delete(k);
    done.add(k);
  };
  guarded(() => entities.forEach((e) => visit(e.uid)));
}

const checkedContexts = new WeakSet<object>();

/** The request's uids and context (the context is checked once per context object). */
function checkRequest(req: CedarRequest): void {
  checkUid(req.principal);
  checkUid(req.action);
  checkUid(req.resource);
  if (checkedContexts.has(req.context)) return;
  if (typeof req.context !== 'object' || req.context === null || Array.isArray(req.context)) {
    throw new UnsupportedExpression('context is not a record');
  }
  guarded(() => {
    for (const [k, v] of Object.entries(req.context)) {
      checkString(k);
      checkData(v as CedarValueJson);
    }
  });
  checkedContexts.add(req.context);
}

/** An entity whose attributes are read: checked first, so its values are ones Cedar accepted. */
function entityData(store: EntityStore, u: EntityUid): CedarEntity | undefined {
  const e = store.get(u);
  if (e) checkEntity(e);
  return e;
}

// ---------------------------------------------------------------------------------------------
// The policy head.

const uidOf = (u: EntityUidJson): EntityUid => ('__entity' in u ? u.__entity : u);
const sameUid = (a: EntityUid, b: EntityUid): boolean => a.type === b.type && a.id === b.id;
/** Cedar's `in`: reflexive, then the (transitive) ancestors of an entity the store knows. */
function isIn(u: EntityUid, target: EntityUid, store: EntityStore): boolean {
  if (sameUid(u, target)) return true;
  // Cedar would have refused the whole request (the store answers anyway: it is cycle-safe).
  if (store.hasAncestor(u, u)) throw new UnsupportedExpression(`entity hierarchy has a cycle through ${uidKey(u)}`);
  return store.hasAncestor(u, target);
}

function slotTarget(c: { entity: EntityUidJson } | { slot: string }): EntityUid {
  if ('slot' in c) throw new UnsupportedExpression('template slot');
  return uidOf(c.entity);
}

function principalOrResourceMatches(c: PrincipalConstraint | ResourceConstraint, u: EntityUid, store: EntityStore): boolean {
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      return sameUid(u, slotTarget(c));
    case 'in':
      return isIn(u, slotTarget(c), store);
    case 'is':
      return u.type === c.entity_type && (c.in === undefined || isIn(u, slotTarget(c.in), store));
    default:
      throw new UnsupportedExpression(`scope constraint ${JSON.stringify(c)}`);
  }
}

function actionMatches(c: ActionConstraint, u: EntityUid, store: EntityStore): boolean {
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      return sameUid(u, slotTarget(c));
    case 'in':
      return 'entities' in c ? c.entities.some((t) => isIn(u, uidOf(t), store)) : isIn(u, uidOf(c.entity), store);
    default:
      throw new UnsupportedExpression(`action constraint ${JSON.stringify(c)}`);
  }
}

/** Templates are left to Cedar: a policy with a slot anywhere in its head is Unsupported. */
const headSupported = (policy: PolicyJson): boolean =>
  [policy.principal, policy.action, policy.resource].every((c) => !('slot' in c) && !(c.op === 'is' && c.in && 'slot' in c.in));

function headMatches(policy: PolicyJson, req: CedarRequest, store: EntityStore): boolean {
  if (!headSupported(policy)) throw new UnsupportedExpression('template slot');
  return (
    principalOrResourceMatches(policy.principal, req.principal, store) &&
    actionMatches(policy.action, req.action, store) &&
    principalOrResourceMatches(policy.resource, req.resource, store)
  );
}

/** Whether the policy head (principal, action, resource constraints) matches the request. */
export function scopeMatches(policy: PolicyJson, req: CedarRequest, store: EntityStore): boolean {
  checkRequest(req);
  return headMatches(policy, req, store);
}

// ---------------------------------------------------------------------------------------------
// Expressions.

interface Env {
  store: EntityStore;
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: Rec;
}

type Bin = { left: Expr; right: Expr };
type Un = { arg: Expr };
type Has = { left: Expr; attr: string | string[] };
type Like = { left: Expr; pattern: PatternElem[] };
type Is = { left: Expr; entity_type: string; in?: Expr };
type Ite = { if: Expr; then: Expr; else: Expr };

/** The node's operator: every Cedar JSON expression is an object with exactly one key. */
function opOf(e: Expr): [string, unknown] {
  const keys = Object.keys(e);
  if (keys.length !== 1) throw new UnsupportedExpression(`malformed expression ${JSON.stringify(e)}`);
  const op = keys[0]!;
  return [op, (e as Record<string, unknown>)[op]];
}

function evaluate(e: Expr, env: Env): Value {
  const [op, a] = opOf(e);
  switch (op) {
    case 'Value':
      return literal(a as CedarValueJson);
    case 'Var':
      return variable(a as string, env);
    case '&&':
    case '||':
      return logical(op, a as Bin, env);
    case 'if-then-else': {
      const n = a as Ite;
      return evaluate(asBool(evaluate(n.if, env)) ? n.then : n.else, env);
    }
    case '!':
      return !asBool(evaluate((a as Un).arg, env));
    case 'neg':
      return negate(evaluate((a as Un).arg, env));
    case 'isEmpty':
      return asSet(evaluate((a as Un).arg, env)).length === 0;
    case '.':
      return getAttr(evaluate((a as Has).left, env), (a as { attr: string }).attr, env);
    case 'has':
      return hasPath(a as Has, env);
    case 'like': {
      const n = a as Like;
      return wildcardMatch(asString(evaluate(n.left, env)), n.pattern);
    }
    case 'is':
      return isType(a as Is, env);
    case 'Set':
      return (a as Expr[]).map((x) => evaluate(x, env));
    case 'Record':
      return Rec.ofMap(new Map(Object.entries(a as Record<string, Expr>).map(([k, x]) => [k, evaluate(x, env)])));
    default:
      if (BINARY.has(op)) {
        // Strict operators: both operands first, then their types (as Cedar does).
        const n = a as Bin;
        const l = evaluate(n.left, env);
        return binary(op, l, evaluate(n.right, env), env);
      }
      throw new UnsupportedExpression(`unsupported expression \`${op}\``);
  }
}

const literals = new WeakMap<object, Value>();

/** Literal values are immutable here, so each literal object is converted once. */
function literal(v: CedarValueJson): Value {
  if (typeof v !== 'object' || v === null) return fromJson(v, false);
  let out = literals.get(v);
  if (out === undefined) {
    out = fromJson(v, false);
    literals.set(v, out);
  }
  return out;
}

function variable(name: string, env: Env): Value {
  switch (name) {
    case 'principal':
    case 'action':
    case 'resource':
    case 'context':
      return env[name];
    default:
      throw new UnsupportedExpression(`unknown variable ${name}`);
  }
}

/** Short-circuit: the right side is not evaluated (so cannot error) when the left decides. */
function logical(op: '&&' | '||', n: Bin, env: Env): boolean {
  const left = asBool(evaluate(n.left, env));
  if (op === '&&' ? !left : left) return left;
  return asBool(evaluate(n.right, env));
}

const BINARY = new Set(['==', '!=', 'in', '<', '<=', '>', '>=', '+', '-', '*', 'contains', 'containsAll', 'containsAny']);

function binary(op: string, l: Value, r: Value, env: Env): Value {
  switch (op) {
    case '==':
      return equal(l, r);
    case '!=':
      return !equal(l, r);
    case 'in':
      return inHierarchy(l, r, env.store);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return compare(op, l, r);
    case '+':
    case '-':
    case '*':
      return arithmetic(op, l, r);
    case 'contains':
      return member(asSet(l), r);
    case 'containsAll': {
      const [a, b] = [asSet(l), asSet(r)];
      return subset(b, a);
    }
    default: {
      const [a, b] = [asSet(l), asSet(r)];
      return a.some((x) => member(b, x));
    }
  }
}

/** `e in x`: x an entity or a set of entities (every element is type-checked, as Cedar does). */
function inHierarchy(l: Value, r: Value, store: EntityStore): boolean {
  const u = asEntity(l);
  if (r instanceof EntityRef) return isIn(u, r, store);
  if (!Array.isArray(r)) throw typeError('set or entity', r);
  const targets = r.map(asEntity);
  return targets.some((t) => isIn(u, t, store));
}

function compare(op: '<' | '<=' | '>' | '>=', l: Value, r: Value): boolean {
  // Cedar 4 overloads these for datetime/duration extension values: leave all extensions to Cedar.
  if (l instanceof Decimal || r instanceof Decimal) throw new UnsupportedExpression('comparison of an extension value');
  const [x, y] = [asLong(l), asLong(r)];
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

/** Longs are i64: overflow is a Cedar error; exact results beyond ±(2^53-1) are Unsupported. */
function arithmetic(op: '+' | '-' | '*', l: Value, r: Value): number {
  const [x, y] = [asLong(l), asLong(r)];
  const approx = op === '+' ? x + y : op === '-' ? x - y : x * y;
  // A safe-integer double result is the exact result (rounding only moves results past 2^53).
  if (Number.isSafeInteger(approx)) return approx === 0 ? 0 : approx;
  const [bx, by] = [BigInt(x), BigInt(y)];
  const exact = op === '+' ? bx + by : op === '-' ? bx - by : bx * by;
  if (exact > I64_MAX || exact < I64_MIN) throw new EvalError(`integer overflow: ${x} ${op} ${y}`);
  throw new UnsupportedExpression(`Long result ${exact} is not exact in JavaScript`);
}

function negate(v: Value): number {
  const x = asLong(v); // |x| <= 2^53-1, so -x is exact and cannot overflow
  return x === 0 ? 0 : -x;
}

function getAttr(v: Value, attr: string, env: Env): Value {
  if (v instanceof Rec) {
    const r = v.get(attr);
    if (r === undefined) throw new EvalError(`record does not have the attribute \`${attr}\``);
    return r;
  }
  if (v instanceof EntityRef) {
    const entity = entityData(env.store, v);
    if (!entity) throw new EvalError(`entity \`${v.type}::${JSON.stringify(v.id)}\` does not exist`);
    if (!Object.hasOwn(entity.attrs, attr)) throw new EvalError(`\`${v.type}::${JSON.stringify(v.id)}\` does not have the attribute \`${attr}\``);
    return fromJson(entity.attrs[attr] as CedarValueJson, true);
  }
  throw typeError('record or entity', v);
}

function hasAttr(v: Value, attr: string, env: Env): boolean {
  if (v instanceof Rec) return v.has(attr);
  if (v instanceof EntityRef) {
    // A missing entity has no attributes (not an error, unlike `.`).
    const entity = entityData(env.store, v);
    return entity !== undefined && Object.hasOwn(entity.attrs, attr);
  }
  throw typeError('record or entity', v);
}

/** `e has a.b.c` is Cedar 4's sugar for `e has a && e.a has b && e.a.b has c`. */
function hasPath(n: Has, env: Env): boolean {
  const path = typeof n.attr === 'string' ? [n.attr] : n.attr;
  if (path.length === 0) throw new UnsupportedExpression('empty has path');
  let v = evaluate(n.left, env);
  for (const [i, attr] of path.entries()) {
    if (!hasAttr(v, attr, env)) return false;
    if (i < path.length - 1) v = getAttr(v, attr, env);
  }
  return true;
}

/** `e is T` (and `e is T in x`, which is `e is T && e in x`: x is only evaluated for a T). */
function isType(n: Is, env: Env): boolean {
  const v = evaluate(n.left, env);
  if (asEntity(v).type !== n.entity_type) return false;
  return n.in === undefined ? true : inHierarchy(v, evaluate(n.in, env), env.store);
}

const WILDCARD = null;
const compiledPatterns = new WeakMap<PatternElem[], (string | null)[]>();

/** Pattern elements as code points and wildcards (a Literal may hold more than one character). */
function compilePattern(pattern: PatternElem[]): (string | null)[] {
  let out = compiledPatterns.get(pattern);
  if (!out) {
    out = pattern.flatMap((p) => {
      if (p === 'Wildcard') return [WILDCARD];
      if (typeof p !== 'object' || typeof p.Literal !== 'string') throw new UnsupportedExpression('malformed like pattern');
      return Array.from(p.Literal);
    });
    compiledPatterns.set(pattern, out);
  }
  return out;
}

/** `like`: `*` matches any (possibly empty) sequence of characters; greedy with backtracking. */
function wildcardMatch(s: string, pattern: PatternElem[]): boolean {
  const pat = compilePattern(pattern);
  const text = Array.from(s);
  let t = 0;
  let p = 0;
  let star = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pat.length && pat[p] !== WILDCARD && pat[p] === text[t]) {
      t++;
      p++;
    } else if (p < pat.length && pat[p] === WILDCARD) {
      star = p++;
      starT = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pat.length && pat[p] === WILDCARD) p++;
  return p === pat.length;
}

// ---------------------------------------------------------------------------------------------
// Policies.

/** Head and conditions with Cedar's semantics. Throws UnsupportedExpression when it cannot be exact. */
export function evaluatePolicy(policy: PolicyJson, req: CedarRequest, store: EntityStore): PolicyOutcome {
  checkRequest(req);
  if (!headMatches(policy, req, store)) return { kind: 'not-satisfied' };
  const env: Env = {
    store,
    principal: new EntityRef(req.principal.type, req.principal.id),
    action: new EntityRef(req.action.type, req.action.id),
    resource: new EntityRef(req.resource.type, req.resource.id),
    context: Rec.ofJson(req.context as Record<string, CedarValueJson>),
  };
  try {
    for (const clause of policy.conditions) {
      if (clause.kind !== 'when' && clause.kind !== 'unless') throw new UnsupportedExpression(`clause kind ${(clause as { kind: string }).kind}`);
      const v = evaluate(clause.body, env);
      if (typeof v !== 'boolean') throw typeError('bool', v); // a clause must be a boolean
      if (clause.kind === 'when' ? !v : v) return { kind: 'not-satisfied' };
    }
    return { kind: 'satisfied' };
  } catch (err) {
    if (err instanceof EvalError) return { kind: 'error', message: err.message };
    if (err instanceof RangeError) throw new UnsupportedExpression(`evaluation failed: ${err.message}`); // e.g. too deep
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Static analysis.

/** Sub-expressions of a node, for any operator (unknown ones included, so `reads` stays complete). */
function children(op: string, a: unknown): Expr[] {
  if (op === 'Value' || op === 'Var' || op === 'Slot') return [];
  if (op === 'Record') return Object.values(a as Record<string, Expr>);
  if (Array.isArray(a)) return a as Expr[]; // Set, extension function calls
  const n = a as Partial<Bin & Un & Ite & Is>;
  return [n.left, n.right, n.arg, n.if, n.then, n.else, n.in].filter((x): x is Expr => x !== undefined);
}

const SUPPORTED = new Set(['Value', 'Var', '&&', '||', 'if-then-else', '!', 'neg', 'isEmpty', '.', 'has', 'like', 'is', 'Set', 'Record', ...BINARY]);

/** Whether a literal holds an entity reference, and whether the evaluator accepts it. */
function literalInfo(v: CedarValueJson): { entity: boolean; ok: boolean } {
  try {
    const value = fromJson(v, false);
    return { entity: holdsEntity(value), ok: true };
  } catch {
    return { entity: JSON.stringify(v).includes('"__entity"'), ok: false };
  }
}

function holdsEntity(v: Value): boolean {
  if (v instanceof EntityRef) return true;
  if (Array.isArray(v)) return v.some(holdsEntity);
  if (v instanceof Rec) return v.keys().some((k) => holdsEntity(v.get(k) as Value));
  return false;
}

const isTrivial = (c: PolicyJson['conditions'][number]): boolean => {
  const body = c.body as { Value?: unknown };
  return Object.keys(body).length === 1 && body.Value === (c.kind === 'when');
};

/** What the conditions read and whether the evaluator can handle them, without a request. */
export function analyzePolicy(policy: PolicyJson): PolicyAnalysis {
  const result: PolicyAnalysis = {
    reads: { principal: false, action: false, resource: false, context: false },
    entityLiterals: false,
    conditionFree: policy.conditions.every(isTrivial),
    supported: headSupported(policy),
  };
  const visit = (e: Expr): void => {
    let op: string;
    let a: unknown;
    try {
      [op, a] = opOf(e);
    } catch {
      result.supported = false;
      return;
    }
    if (!SUPPORTED.has(op)) result.supported = false;
    if (op === 'Var') {
      if (a === 'principal' || a === 'action' || a === 'resource' || a === 'context') result.reads[a] = true;
      else result.supported = false;
    } else if (op === 'Value') {
      const info = literalInfo(a as CedarValueJson);
      if (info.entity) result.entityLiterals = true;
      if (!info.ok) result.supported = false;
    } else if (op === 'has' && Array.isArray((a as Has).attr) && (a as Has).attr.length === 0) {
      result.supported = false;
    }
    for (const c of children(op, a)) visit(c);
  };
  for (const c of policy.conditions) visit(c.body);
  return result;
}
