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
  /** Every entity (cedar-wasm takes them as they are). */
  all(): CedarEntity[];
}

export const uidKey = (u: EntityUid): string => `${u.type}::${JSON.stringify(u.id)}`;
