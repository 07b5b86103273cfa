// A small, exact JavaScript evaluator for Cedar policies in Cedar's JSON form (`policyToJson`), the
// fast path of the authorizer: each policy is compiled once (`compilePolicy`: its head as data, its
// conditions as closures), each request is checked and converted once (`RequestScope`), and a policy
// is then run against it. It gives Cedar 4.x's answer or throws `UnsupportedExpression` (the
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
import { MapEntityStore } from './entity-store.js';

/** The policy (or the request's data) uses something this evaluator does not model: ask Cedar. */
export class UnsupportedExpression extends Error {
  override name = 'UnsupportedExpression';
}

/**
 * A Cedar evaluation error: the policy is ignored and the error reported. Not an Error: it never
 * leaves the evaluator, and policies that error on most requests (an attribute some callers lack)
 * would otherwise pay for a stack trace on every evaluation.
 */
class EvalError {
  constructor(readonly message: string) {}
}

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
  private memoKey: string | undefined = undefined;
  /** The entity `entityData` found for this reference in `memoStore` (a store never changes). */
  memoStore: EntityStore | undefined = undefined;
  memoEntity: CedarEntity | undefined = undefined;
  /** Its ancestors' keys in `ancestorsStore`. */
  ancestorsStore: EntityStore | undefined = undefined;
  ancestors: ReadonlySet<string> | undefined = undefined;
  constructor(
    readonly type: string,
    readonly id: string,
    key?: string,
  ) {
    this.memoKey = key;
  }
  /** `uidKey`, computed once per reference. */
  get key(): string {
    return (this.memoKey ??= uidKey(this));
  }
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
 * A weak cache that keeps an object only once it is seen a second time: the first sighting goes to a
 * small ring of recent objects. A caller's claims, principal entity and entities_json are seen again
 * and again; most request objects (a tool's entity, its arguments) only once, and putting those into
 * a WeakMap costs more than it saves (an ephemeron entry each, for the GC to trace until they die).
 */
class TwiceCache<V> {
  private readonly weak = new WeakMap<object, V>();
  private readonly keys: (object | undefined)[] = new Array<object | undefined>(8).fill(undefined);
  private readonly values: (V | undefined)[] = new Array<V | undefined>(8).fill(undefined);
  private next = 0;

  get(k: object): V | undefined {
    const v = this.weak.get(k);
    if (v !== undefined) return v;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] === k) {
        const seen = this.values[i]!;
        this.weak.set(k, seen);
        return seen;
      }
    }
    return undefined;
  }

  set(k: object, v: V): void {
    this.keys[this.next] = k;
    this.values[this.next] = v;
    this.next = (this.next + 1) & 7;
  }
}

/**
 * Cedar's JSON value → Value. Longs are JS numbers, exact only up to ±(2^53-1): anything else is
 * Unsupported. `__extn` is only accepted from data (`decimal`), never as a policy literal.
 */
function fromJson(v: CedarValueJson, data: boolean): Value {
  if (data && typeof v === 'object' && v !== null) {
    // Data is immutable here and so are Values: each JSON object or array is converted once.
    let out = dataValues.get(v);
    if (out === undefined) {
      out = convert(v, true);
      dataValues.set(v, out);
    }
    return out;
  }
  return convert(v, data);
}

const dataValues = new TwiceCache<Value>();

function convert(v: CedarValueJson, data: boolean): Value {
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
  if (typeof o['type'] !== 'string' || typeof o['id'] !== 'string') return false;
  // Exactly those two keys among the own enumerable ones (what JSON, hence Cedar, sees).
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    if (k !== 'type' && k !== 'id') return false;
    n++;
  }
  return n === 2;
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
// per-policy answer, so it is Unsupported here. The request itself (uids, context) is checked once
// per RequestScope, and each entity whose attributes an evaluation reads when it is first read. The
// rest of the store is the caller's: entities_json once (the engine: cedar-wasm's checkParseEntities),
// each request's own entities per request (`checkEntity`, and cycles: `checkEntities` or the engine's
// own check), as checking all of `store.all()` per request would cost more than evaluating.

const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);
const IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const goodTypeNames = new Set<string>();

function validTypeName(t: string): boolean {
  if (goodTypeNames.has(t)) return true;
  const ok = t.split('::').every((s) => IDENT.test(s) && !RESERVED.has(s));
  if (ok && goodTypeNames.size < 10_000) goodTypeNames.add(t);
  return ok;
}

/**
 * Lone surrogates cannot cross into Rust strings intact, so equality on them is not JS equality.
 * String.prototype.isWellFormed (ES2024, in Node 20) is false exactly when a string holds one.
 */
function checkString(s: string): void {
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) throw new UnsupportedExpression('string with a lone surrogate');
}

function checkUid(u: EntityUid): void {
  if (!isUidShape(u) || !validTypeName(u.type)) throw new UnsupportedExpression(`invalid entity uid ${JSON.stringify(u)}`);
  checkString(u.id);
}

/** Data objects and arrays already checked (a caller's claims reach every request's context). */
const checkedValues = new TwiceCache<true>();

function checkData(v: CedarValueJson): void {
  if (typeof v === 'string') return checkString(v);
  if (typeof v === 'object' && v !== null) {
    if (checkedValues.get(v)) return;
    checkObject(v);
    checkedValues.set(v, true);
    return;
  }
  fromJson(v, true); // throws for what Cedar would reject or we do not model
}

function checkObject(v: object): void {
  if (Array.isArray(v)) {
    for (const x of v) checkData(x as CedarValueJson);
    return;
  }
  if (!Object.hasOwn(v, '__entity') && !Object.hasOwn(v, '__extn') && !Object.hasOwn(v, '__expr')) {
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      checkString(k);
      checkData((v as Record<string, CedarValueJson>)[k]!);
    }
    return;
  }
  const value = fromJson(v as CedarValueJson, true); // throws for what Cedar would reject or we do not model
  if (value instanceof EntityRef) checkString(value.id);
}

/** Deep checks may recurse as deep as the data: too deep is Unsupported, not a crash. */
function guarded(check: () => void): void {
  try {
    check();
  } catch (err) {
    throw tooDeep(err);
  }
}

/** What a check's exception becomes: a RangeError (too deep to check) is Unsupported. */
function tooDeep(err: unknown): unknown {
  return err instanceof RangeError ? new UnsupportedExpression(`input too deep to check: ${err.message}`) : err;
}

const isActionType = (t: string): boolean => t === 'Action' || t.endsWith('::Action');
const checkedEntities = new TwiceCache<true>();

/**
 * One entity's own data and parents (cached per entity object: entities_json entities are shared by
 * every request, and a caller's principal entity by all of its requests). Throws UnsupportedExpression.
 */
export function checkEntity(e: CedarEntity): void {
  if (checkedEntities.get(e)) return;
  try {
    checkUid(e.uid);
    if (typeof e.attrs !== 'object' || e.attrs === null || Array.isArray(e.attrs) || !Array.isArray(e.parents)) {
      throw new UnsupportedExpression('malformed entity');
    }
    for (const p of e.parents) {
      checkUid(p);
      // Cedar: "action ... has a non-action parent"
      if (isActionType(e.uid.type) && !isActionType(p.type)) throw new UnsupportedExpression('action with a non-action parent');
    }
    for (const k in e.attrs) {
      if (!Object.hasOwn(e.attrs, k)) continue;
      checkString(k);
      checkData(e.attrs[k]!);
    }
  } catch (err) {
    throw tooDeep(err);
  }
  checkedEntities.set(e, true);
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

/** The request's uids and context (checked once per request: RequestScope). */
function checkRequest(req: CedarRequest): void {
  checkUid(req.principal);
  checkUid(req.action);
  checkUid(req.resource);
  if (typeof req.context !== 'object' || req.context === null || Array.isArray(req.context)) {
    throw new UnsupportedExpression('context is not a record');
  }
  try {
    for (const k in req.context) {
      if (!Object.hasOwn(req.context, k)) continue;
      checkString(k);
      checkData(req.context[k]!);
    }
  } catch (err) {
    throw tooDeep(err);
  }
}

/** An entity whose attributes are read: checked first, so its values are ones Cedar accepted. */
function entityData(store: EntityStore, u: EntityRef): CedarEntity | undefined {
  if (u.memoStore === store) return u.memoEntity;
  const e = store.getByKey(u.key);
  if (e) checkEntity(e);
  u.memoStore = store;
  u.memoEntity = e;
  return e;
}

// ---------------------------------------------------------------------------------------------
// The request.

/**
 * One request, checked and converted once and shared by every policy evaluated for it: the request's
 * uids and context are checked when it is built (UnsupportedExpression if Cedar would refuse them or
 * this evaluator cannot model them), the variables are converted once, entity keys computed once.
 */
export class RequestScope {
  readonly principal: EntityRef;
  readonly action: EntityRef;
  readonly resource: EntityRef;
  readonly context: Rec;

  constructor(
    readonly request: CedarRequest,
    readonly store: EntityStore,
  ) {
    checkRequest(request);
    this.principal = new EntityRef(request.principal.type, request.principal.id, store.keyOf(request.principal));
    this.action = new EntityRef(request.action.type, request.action.id, store.keyOf(request.action));
    this.resource = new EntityRef(request.resource.type, request.resource.id, store.keyOf(request.resource));
    this.context = Rec.ofJson(request.context as Record<string, CedarValueJson>);
  }
}

type Env = RequestScope;

// ---------------------------------------------------------------------------------------------
// The policy head.

const uidOf = (u: EntityUidJson): EntityUid => ('__entity' in u ? u.__entity : u);
const refOf = (u: EntityUidJson): EntityRef => {
  const x = uidOf(u);
  return new EntityRef(x.type, x.id);
};
const sameUid = (a: EntityUid, b: EntityUid): boolean => a.type === b.type && a.id === b.id;

/** Cedar's `in`: reflexive, then the (transitive) ancestors of an entity the store knows. */
function isIn(u: EntityRef, target: EntityRef, store: EntityStore): boolean {
  if (sameUid(u, target)) return true;
  const ancestors = ancestorsOf(u, store);
  // Cedar would have refused the whole request (the store answers anyway: it is cycle-safe).
  if (ancestors.has(u.key)) throw new UnsupportedExpression(`entity hierarchy has a cycle through ${u.key}`);
  return ancestors.has(target.key);
}

function ancestorsOf(u: EntityRef, store: EntityStore): ReadonlySet<string> {
  if (u.ancestorsStore === store) return u.ancestors!;
  const out = store.ancestorKeys(u.key);
  u.ancestorsStore = store;
  u.ancestors = out;
  return out;
}

// A head is data, checked by one function (no closure per constraint): the constraint's kind, and the
// entity it names or the type it requires.
const ALL = 0;
const EQ = 1;
const IN = 2;
const IS = 3;
const IS_IN = 4;
const UNSUPPORTED = 5;

/**
 * One constraint of a head. Classes, not object literals, here and for the other objects the hot
 * path reads: a class's instances share a map that lives as long as the class, so optimized code
 * keeps working across engines (object literals' maps die with the last engine that used them, and
 * every function that embedded one is deoptimized at the next full GC).
 */
class Constraint {
  constructor(
    readonly kind: number,
    /** The entity of `==`, `in` and `is ... in`; for an action list, `targets`. */
    readonly target: EntityRef | undefined = undefined,
    readonly targets: EntityRef[] | undefined = undefined,
    /** The type of `is`. */
    readonly type: string | undefined = undefined,
    /** Why an UNSUPPORTED constraint is. */
    readonly message: string | undefined = undefined,
  ) {}
}

const unsupportedConstraint = (message: string): Constraint => new Constraint(UNSUPPORTED, undefined, undefined, undefined, message);

function entityConstraint(c: PrincipalConstraint | ResourceConstraint): Constraint {
  switch (c.op) {
    case 'All':
      return new Constraint(ALL);
    case '==':
      return 'slot' in c ? unsupportedConstraint('template slot') : new Constraint(EQ, refOf(c.entity));
    case 'in':
      return 'slot' in c ? unsupportedConstraint('template slot') : new Constraint(IN, refOf(c.entity));
    case 'is':
      if (c.in === undefined) return new Constraint(IS, undefined, undefined, c.entity_type);
      return 'slot' in c.in ? unsupportedConstraint('template slot') : new Constraint(IS_IN, refOf(c.in.entity), undefined, c.entity_type);
    default:
      return unsupportedConstraint(`scope constraint ${JSON.stringify(c)}`);
  }
}

function actionConstraint(c: ActionConstraint): Constraint {
  switch (c.op) {
    case 'All':
      return new Constraint(ALL);
    case '==':
      return 'slot' in c ? unsupportedConstraint('template slot') : new Constraint(EQ, refOf(c.entity));
    case 'in':
      return new Constraint(IN, undefined, ('entities' in c ? c.entities : [c.entity]).map(refOf));
    default:
      return unsupportedConstraint(`action constraint ${JSON.stringify(c)}`);
  }
}

function satisfies(c: Constraint, u: EntityRef, store: EntityStore): boolean {
  switch (c.kind) {
    case ALL:
      return true;
    case EQ:
      return sameUid(u, c.target!);
    case IN:
      if (c.targets === undefined) return isIn(u, c.target!, store);
      for (const t of c.targets) if (isIn(u, t, store)) return true;
      return false;
    case IS:
      return u.type === c.type;
    case IS_IN:
      return u.type === c.type && isIn(u, c.target!, store);
    default:
      throw new UnsupportedExpression(c.message);
  }
}

class Head {
  constructor(
    readonly principal: Constraint,
    readonly action: Constraint,
    readonly resource: Constraint,
  ) {}
}

/** Templates are left to Cedar: a policy with a slot anywhere in its head is Unsupported. */
const headSupported = (policy: PolicyJson): boolean =>
  [policy.principal, policy.action, policy.resource].every((c) => !('slot' in c) && !(c.op === 'is' && c.in && 'slot' in c.in));

function compileHead(policy: PolicyJson): Head {
  if (!headSupported(policy)) {
    const slot = unsupportedConstraint('template slot');
    return new Head(slot, slot, slot);
  }
  return new Head(entityConstraint(policy.principal), actionConstraint(policy.action), entityConstraint(policy.resource));
}

/** Principal, then action, then resource (each only when the previous matched). */
function headMatches(h: Head, s: RequestScope): boolean {
  return satisfies(h.principal, s.principal, s.store) && satisfies(h.action, s.action, s.store) && satisfies(h.resource, s.resource, s.store);
}

/** Whether the policy head (principal, action, resource constraints) matches the request. */
export function scopeMatches(policy: PolicyJson, req: CedarRequest, store: EntityStore): boolean {
  return compilePolicy(policy).head(new RequestScope(req, store));
}

// ---------------------------------------------------------------------------------------------
// Expressions, compiled once per policy into closures. Each closure does what Cedar's evaluator does
// at that node, in the same order: what this evaluator does not model compiles to a closure that
// throws UnsupportedExpression when (and only when) evaluation reaches it.

type Bin = { left: Expr; right: Expr };
type Un = { arg: Expr };
type Has = { left: Expr; attr: string | string[] };
type Like = { left: Expr; pattern: PatternElem[] };
type Is = { left: Expr; entity_type: string; in?: Expr };
type Ite = { if: Expr; then: Expr; else: Expr };

type Code = (env: Env) => Value;

/** The node's operator: every Cedar JSON expression is an object with exactly one key. */
function opOf(e: Expr): [string, unknown] {
  const keys = Object.keys(e);
  if (keys.length !== 1) throw new UnsupportedExpression(`malformed expression ${JSON.stringify(e)}`);
  const op = keys[0]!;
  return [op, (e as Record<string, unknown>)[op]];
}

const unsupportedCode =
  (err: UnsupportedExpression): Code =>
  () => {
    throw err;
  };

/** Runs `f`; an UnsupportedExpression it throws becomes code that throws it when evaluated. */
function orUnsupported(f: () => Code): Code {
  try {
    return f();
  } catch (err) {
    if (err instanceof UnsupportedExpression) return unsupportedCode(err);
    throw err;
  }
}

function compile(e: Expr): Code {
  return orUnsupported(() => {
    const [op, a] = opOf(e);
    switch (op) {
      case 'Value': {
        const v = literal(a as CedarValueJson);
        return () => v;
      }
      case 'Var':
        switch (a) {
          case 'principal':
            return (env) => env.principal;
          case 'action':
            return (env) => env.action;
          case 'resource':
            return (env) => env.resource;
          case 'context':
            return (env) => env.context;
          default:
            throw new UnsupportedExpression(`unknown variable ${String(a)}`);
        }
      case '&&': {
        // Short-circuit: the right side is not evaluated (so cannot error) when the left decides.
        const [l, r] = [compile((a as Bin).left), compile((a as Bin).right)];
        return (env) => asBool(l(env)) && asBool(r(env));
      }
      case '||': {
        const [l, r] = [compile((a as Bin).left), compile((a as Bin).right)];
        return (env) => asBool(l(env)) || asBool(r(env));
      }
      case 'if-then-else': {
        const n = a as Ite;
        const [c, t, f] = [compile(n.if), compile(n.then), compile(n.else)];
        return (env) => (asBool(c(env)) ? t(env) : f(env));
      }
      case '!': {
        const x = compile((a as Un).arg);
        return (env) => !asBool(x(env));
      }
      case 'neg': {
        const x = compile((a as Un).arg);
        return (env) => negate(x(env));
      }
      case 'isEmpty': {
        const x = compile((a as Un).arg);
        return (env) => asSet(x(env)).length === 0;
      }
      case '.': {
        const l = compile((a as Has).left);
        const attr = (a as { attr: string }).attr;
        return (env) => getAttr(l(env), attr, env);
      }
      case 'has':
        return compileHas(a as Has);
      case 'like': {
        const n = a as Like;
        const l = compile(n.left);
        let pattern: (string | null)[];
        try {
          pattern = compilePattern(n.pattern);
        } catch (err) {
          if (!(err instanceof UnsupportedExpression)) throw err;
          return (env) => {
            asString(l(env));
            throw err;
          };
        }
        return (env) => wildcardMatch(asString(l(env)), pattern);
      }
      case 'is': {
        // `e is T in x` is `e is T && e in x`: x is only evaluated for a T.
        const n = a as Is;
        const l = compile(n.left);
        const type = n.entity_type;
        const target = n.in === undefined ? undefined : compile(n.in);
        return (env) => {
          const v = l(env);
          if (asEntity(v).type !== type) return false;
          return target === undefined ? true : inHierarchy(v, target(env), env.store);
        };
      }
      case 'Set': {
        const items = (a as Expr[]).map(compile);
        return (env) => items.map((x) => x(env));
      }
      case 'Record': {
        const fields = Object.entries(a as Record<string, Expr>).map(([k, x]) => [k, compile(x)] as const);
        return (env) => Rec.ofMap(new Map(fields.map(([k, x]) => [k, x(env)])));
      }
      default:
        if (BINARY.has(op)) return compileBinary(op, compile((a as Bin).left), compile((a as Bin).right));
        throw new UnsupportedExpression(`unsupported expression \`${op}\``);
    }
  });
}

const BINARY = new Set(['==', '!=', 'in', '<', '<=', '>', '>=', '+', '-', '*', 'contains', 'containsAll', 'containsAny']);

/** Strict operators: both operands first (left, then right), then their types, as Cedar does. */
function compileBinary(op: string, l: Code, r: Code): Code {
  switch (op) {
    case '==':
      return (env) => equal(l(env), r(env));
    case '!=':
      return (env) => !equal(l(env), r(env));
    case 'in':
      return (env) => inHierarchy(l(env), r(env), env.store);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (env) => compare(op, l(env), r(env));
    case '+':
    case '-':
    case '*':
      return (env) => arithmetic(op, l(env), r(env));
    case 'contains':
      return (env) => {
        const x = l(env);
        const y = r(env);
        return member(asSet(x), y);
      };
    case 'containsAll':
      return (env) => {
        const x = l(env);
        const y = r(env);
        const [a, b] = [asSet(x), asSet(y)];
        return subset(b, a);
      };
    default:
      return (env) => {
        const x = l(env);
        const y = r(env);
        const [a, b] = [asSet(x), asSet(y)];
        return a.some((v) => member(b, v));
      };
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
    if (!entity) throw new EvalError(`entity \`${v.key}\` does not exist`);
    if (!Object.hasOwn(entity.attrs, attr)) throw new EvalError(`\`${v.key}\` does not have the attribute \`${attr}\``);
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
function compileHas(n: Has): Code {
  const path = typeof n.attr === 'string' ? [n.attr] : n.attr;
  if (path.length === 0) throw new UnsupportedExpression('empty has path');
  const l = compile(n.left);
  if (path.length === 1) {
    const attr = path[0]!;
    return (env) => hasAttr(l(env), attr, env);
  }
  return (env) => {
    let v = l(env);
    for (const [i, attr] of path.entries()) {
      if (!hasAttr(v, attr, env)) return false;
      if (i < path.length - 1) v = getAttr(v, attr, env);
    }
    return true;
  };
}

const WILDCARD = null;

/** Pattern elements as code points and wildcards (a Literal may hold more than one character). */
function compilePattern(pattern: PatternElem[]): (string | null)[] {
  return pattern.flatMap((p) => {
    if (p === 'Wildcard') return [WILDCARD];
    if (typeof p !== 'object' || typeof p.Literal !== 'string') throw new UnsupportedExpression('malformed like pattern');
    return Array.from(p.Literal);
  });
}

/** `like`: `*` matches any (possibly empty) sequence of characters; greedy with backtracking. */
function wildcardMatch(s: string, pat: readonly (string | null)[]): boolean {
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

const SATISFIED: PolicyOutcome = Object.freeze({ kind: 'satisfied' });
const NOT_SATISFIED: PolicyOutcome = Object.freeze({ kind: 'not-satisfied' });

/** A `when` (or `unless`) clause, compiled. */
class Clause {
  constructor(
    readonly when: boolean,
    readonly body: Code,
  ) {}
}

function compileClauses(policy: PolicyJson): Clause[] {
  try {
    return policy.conditions.map((clause) => {
      if (clause.kind !== 'when' && clause.kind !== 'unless') {
        return new Clause(true, unsupportedCode(new UnsupportedExpression(`clause kind ${(clause as { kind: string }).kind}`)));
      }
      return new Clause(clause.kind === 'when', compile(clause.body));
    });
  } catch (err) {
    // Too deep to compile: Unsupported once evaluation gets past the head (Cedar decides it then).
    if (err instanceof RangeError) return [new Clause(true, unsupportedCode(new UnsupportedExpression(`policy too deep to compile: ${err.message}`)))];
    throw err;
  }
}

/**
 * Whether an expression reads nothing but the principal: no other variable, and the store only for
 * the principal's own attributes (`.` and `has` directly on `principal`, no `in`). Its value is then
 * a function of the principal's uid and entity. Conservative: any other shape is "no".
 */
function principalOnly(e: Expr): boolean {
  let op: string;
  let a: unknown;
  try {
    [op, a] = opOf(e);
  } catch {
    return false;
  }
  switch (op) {
    case 'Value':
      return true;
    case 'Var':
      return a === 'principal';
    case '.':
    case 'has': {
      // `principal has a.b` reads `principal.a`'s attributes too, which may be another entity's.
      const { left, attr } = a as Has;
      const path = typeof attr === 'string' || (Array.isArray(attr) && attr.length === 1);
      return path && Object.keys(left).length === 1 && (left as { Var?: unknown }).Var === 'principal';
    }
    case 'is':
      return (a as Is).in === undefined && principalOnly((a as Is).left);
    case 'in':
      return false;
    case 'Set':
      return Array.isArray(a) && (a as Expr[]).every(principalOnly);
    case 'Record':
      return Object.values(a as Record<string, Expr>).every(principalOnly);
    case '&&':
    case '||':
    case 'if-then-else':
    case '!':
    case 'neg':
    case 'isEmpty':
    case 'like':
      return children(op, a).every(principalOnly);
    default:
      return BINARY.has(op) && children(op, a).every(principalOnly);
  }
}

function conditionsReadOnlyPrincipal(policy: PolicyJson): boolean {
  try {
    return policy.conditions.length > 0 && policy.conditions.every((c) => (c.kind === 'when' || c.kind === 'unless') && principalOnly(c.body));
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/** A policy compiled for `RequestScope`s: its head alone, and the whole policy. */
export class CompiledPolicy {
  constructor(
    private readonly parts: Head,
    private readonly clauses: readonly Clause[],
    /**
     * Conditions that read only the principal have one outcome per principal entity (the uid is the
     * entity's, entities never change): per caller, they are evaluated once, not once per tool.
     */
    private readonly byPrincipal: WeakMap<CedarEntity, PolicyOutcome> | undefined,
  ) {}

  /** Whether the head matches (UnsupportedExpression for templates). */
  head(scope: RequestScope): boolean {
    return headMatches(this.parts, scope);
  }

  /** Head and conditions with Cedar's semantics. Throws UnsupportedExpression when it cannot be exact. */
  run(scope: RequestScope): PolicyOutcome {
    if (!headMatches(this.parts, scope)) return NOT_SATISFIED;
    if (this.byPrincipal === undefined) return this.conditions(scope);
    const entity = entityData(scope.store, scope.principal);
    if (!entity) return this.conditions(scope);
    let outcome = this.byPrincipal.get(entity);
    if (!outcome) this.byPrincipal.set(entity, (outcome = this.conditions(scope)));
    return outcome;
  }

  private conditions(scope: RequestScope): PolicyOutcome {
    try {
      for (const clause of this.clauses) {
        const v = clause.body(scope);
        if (typeof v !== 'boolean') throw typeError('bool', v); // a clause must be a boolean
        if (clause.when ? !v : v) return NOT_SATISFIED;
      }
      return SATISFIED;
    } catch (err) {
      if (err instanceof EvalError) return { kind: 'error', message: err.message };
      if (err instanceof RangeError) throw new UnsupportedExpression(`evaluation failed: ${err.message}`); // e.g. too deep
      throw err;
    }
  }
}

const compiledPolicies = new WeakMap<PolicyJson, CompiledPolicy>();

/** Compiles a policy once (cached per policy JSON object); `scope.store` is read at evaluation. */
export function compilePolicy(policy: PolicyJson): CompiledPolicy {
  let compiled = compiledPolicies.get(policy);
  if (!compiled) {
    compiled = new CompiledPolicy(compileHead(policy), compileClauses(policy), conditionsReadOnlyPrincipal(policy) ? new WeakMap() : undefined);
    compiledPolicies.set(policy, compiled);
  }
  return compiled;
}

/** Head and conditions with Cedar's semantics. Throws UnsupportedExpression when it cannot be exact. */
export function evaluatePolicy(policy: PolicyJson, req: CedarRequest, store: EntityStore): PolicyOutcome {
  return compilePolicy(policy).run(new RequestScope(req, store));
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

// ---------------------------------------------------------------------------------------------
// Keeping V8's maps alive.

/**
 * One instance of each class the evaluation allocates, alive for the life of the process (engine.ts
 * and authorizer.ts keep theirs). V8 holds the map (hidden class) of a class's fully built instances
 * only weakly, through the transitions from the constructor's initial map: once the last instance
 * dies (every request's RequestScope does; the last engine's policies do when a policy set is
 * replaced), the next full GC frees the map and deoptimizes every optimized function that embedded
 * it ("weak objects" in --trace-deopt). The requests after that ran unoptimized until V8 re-optimized
 * them in the background, which took longer than a freshly built engine's first 500-tool list (about
 * twice as slow). A live instance keeps each map, and the optimized code stays valid.
 */
export const keptInstances: readonly object[] = (() => {
  const store = new MapEntityStore([]);
  const scope = new RequestScope({ principal: { type: 'Client', id: '' }, action: { type: 'Action', id: '' }, resource: { type: 'Tool', id: '' }, context: {} }, store);
  entityData(store, scope.principal);
  ancestorsOf(scope.principal, store);
  const all = new Constraint(ALL);
  const head = new Head(all, all, all);
  return [store, scope, Rec.ofMap(new Map()), new EvalError(''), new Decimal(0n), head, new Clause(true, () => true), new CompiledPolicy(head, [], undefined)];
})();
