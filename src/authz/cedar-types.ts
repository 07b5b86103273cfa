// The JSON shapes Cedar itself uses (cedar-wasm's entity, value and policy JSON), re-exported under
// names that read well in Gatehouse code, plus the two small interfaces the evaluators share.
import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';

export type { PolicyJson };

export interface EntityUid {
  type: string;
  id: string;
}

/** A Cedar value in Cedar's JSON form (entity references as `{ __entity }`, extensions as `{ __extn }`). */
export type CedarValue =
  | boolean
  | number
  | string
  | CedarValue[]
  | { __entity: EntityUid }
  | { __extn: { fn: string; arg: string } }
  | { [key: string]: CedarValue };

export interface CedarEntity {
  uid: EntityUid;
  attrs: Record<string, CedarValue>;
  parents: EntityUid[];
  /** Cedar 4 entity tags (`hasTag`, `getTag`); only cedar-wasm reads them. */
  tags?: Record<string, CedarValue>;
}

/** One authorization question, as Cedar asks it. */
export interface CedarRequest {
  principal: EntityUid;
  action: EntityUid;
  resource: EntityUid;
  context: Record<string, CedarValue>;
}

/** The entities a request is evaluated against: the request's own merged over entities_json. */
export interface EntityStore {
  get(uid: EntityUid): CedarEntity | undefined;
  /** True when `ancestor` is reachable from `uid` through parents (transitively); false for uid itself. */
  hasAncestor(uid: EntityUid, ancestor: EntityUid): boolean;
  /** The same by uidKey: the uidKeys of every transitive parent of the entity with uidKey `key`. */
  ancestorKeys(key: string): ReadonlySet<string>;
  /** `get` by uidKey. */
  getByKey(key: string): CedarEntity | undefined;
  /** uidKey(uid) (a store may know it already). */
  keyOf(uid: EntityUid): string;
  /** Every entity (cedar-wasm takes them as they are). */
  all(): CedarEntity[];
}

/** `Type::"id"` with the id as JSON; one string per entity uid (type names hold no quotes). */
export const uidKey = (u: EntityUid): string => `${u.type}::${jsonString(u.id)}`;

/** JSON.stringify for a string, without its cost when nothing needs escaping (the usual id). */
function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // What JSON.stringify escapes: quote, backslash, control characters, and lone surrogates (any surrogate goes the slow way).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}
