import type { McpFeature } from '../mcp/index.js';
import type { CedarOptions } from './config.js';
import type { CedarEntity, CedarRequest, CedarValue, EntityUid } from './cedar-types.js';

/**
 * ToolHive's Cedar entity model for MCP (pkg/authz/authorizers/cedar), so authz-config files written
 * for ToolHive decide the same way here:
 * - principal `Client::"<sub>"`, every claim as `claim_<name>`, parents `THVGroup::"<group>"` for each
 *   value of the group and role claims;
 * - action `Action::"call_tool" | "get_prompt" | "read_resource"` with `operation`;
 * - resource `Tool::"<name>"` / `Prompt::"<name>"` / `Resource::"<uri>"` with `name`, `operation`,
 *   `feature`, the call's top-level arguments as `arg_<name>`, tool annotations, parent `MCP::"<server>"`;
 * - context: every `claim_*` and `arg_*`.
 */

export type { McpFeature };

export const FEATURE_ACTIONS = {
  tool: { action: 'call_tool', entityType: 'Tool', operation: 'call' },
  prompt: { action: 'get_prompt', entityType: 'Prompt', operation: 'get' },
  resource: { action: 'read_resource', entityType: 'Resource', operation: 'read' },
} as const;

/** ToolHive's maxClaimNestingDepth: a value nested deeper than this (a top-level claim is 0) is dropped. */
const MAX_NESTING_DEPTH = 10;
const TWO_63 = 2 ** 63;

/**
 * A JSON number as ToolHive hands it to Cedar: Go decodes every JSON number to float64, and cedar-go's
 * NewDecimalFromFloat multiplies by 10^4 and TRUNCATES to int64 (2.71828 → 2.7182, and 0.3, whose
 * product is 2999.99..., → 0.2999). Out of range: dropped, as there.
 */
export function decimalOf(n: number): CedarValue | undefined {
  const scaled = n * 10_000;
  if (!Number.isFinite(scaled) || scaled >= TWO_63 || scaled < -TWO_63) return undefined;
  const t = BigInt(Math.trunc(scaled));
  const abs = t < 0n ? -t : t;
  const frac = (abs % 10_000n).toString().padStart(4, '0').replace(/0+$/, '') || '0';
  return { __extn: { fn: 'decimal', arg: `${t < 0n ? '-' : ''}${abs / 10_000n}.${frac}` } };
}

/** JSON → Cedar value with ToolHive's rules (convertToCedarValueAtDepth); undefined means "dropped". */
export function toCedarValue(v: unknown, depth = 0): CedarValue | undefined {
  if (depth > MAX_NESTING_DEPTH) return undefined;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return decimalOf(v);
    case 'object': {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        const items: CedarValue[] = [];
        for (const item of v) {
          const c = toCedarValue(item, depth + 1);
          if (c !== undefined) items.push(c);
        }
        return items;
      }
      const rec: Record<string, CedarValue> = {};
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        const c = toCedarValue(item, depth + 1);
        if (c !== undefined) rec[k] = c;
      }
      return rec;
    }
    default:
      return undefined;
  }
}

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  // Dot paths reach into nested claims (Keycloak's realm_access.roles).
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * The groups a claim names, as ToolHive's extractGroups reads it: the string items of an array (an
 * empty array, or one without strings, names none but still counts as present); anything else (a
 * string, a number, absent) is not a group claim. A string is not split: "admin users" is not two groups.
 */
function groupClaim(claims: Record<string, unknown>, name: string): string[] | undefined {
  const v = claimAt(claims, name);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

const WELL_KNOWN_GROUP_CLAIMS = ['groups', 'roles', 'cognito:groups'];

/**
 * The caller's groups: the configured group claim; when it is absent or not an array, the first of
 * groups, roles, cognito:groups that is an array; plus the role claim (no fallback). Deduplicated.
 */
export function groupsOf(claims: Record<string, unknown>, options: Pick<CedarOptions, 'group_claim_name' | 'role_claim_name'>): string[] {
  let groups = options.group_claim_name ? groupClaim(claims, options.group_claim_name) : undefined;
  for (const name of WELL_KNOWN_GROUP_CLAIMS) {
    if (groups !== undefined) break;
    groups = groupClaim(claims, name);
  }
  const roles = options.role_claim_name ? (groupClaim(claims, options.role_claim_name) ?? []) : [];
  return [...new Set([...(groups ?? []), ...roles])];
}

/** What Go's strings.Fields splits on (unicode.IsSpace): not quite JavaScript's \s (NEL yes, BOM no). */
const GO_WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** The string elements of a multi-valued claim's array (non-strings are malformed scope tokens: skipped). */
function stringItems(v: unknown[]): string[] {
  return v.filter((x): x is string => typeof x === 'string');
}

/**
 * `claim_<name>` for every claim; multi-valued claims (ToolHive's multi_valued_claims) also as a string
 * (a string claim verbatim, an array joined by single spaces) and as `claimset_<name>`, a Set (a string
 * split on whitespace, an array's strings). A claim of any other type is left as it was.
 */
export function claimAttributes(claims: Record<string, unknown>, multiValued: readonly string[] = []): Record<string, CedarValue> {
  const attrs: Record<string, CedarValue> = {};
  for (const [name, value] of Object.entries(claims)) {
    const c = toCedarValue(value);
    if (c !== undefined) attrs[`claim_${name}`] = c;
  }
  for (const name of multiValued) {
    if (!Object.hasOwn(claims, name)) continue;
    const v = claims[name];
    if (typeof v === 'string') {
      attrs[`claim_${name}`] = v;
      attrs[`claimset_${name}`] = v.split(GO_WHITESPACE).filter(Boolean);
    } else if (Array.isArray(v)) {
      const items = stringItems(v);
      attrs[`claim_${name}`] = items.join(' ');
      attrs[`claimset_${name}`] = items;
    }
  }
  return attrs;
}

/** `arg_<name>` for top-level scalar arguments; objects, arrays and null only as `arg_<name>_present`. */
export function argumentAttributes(args: unknown): Record<string, CedarValue> {
  const attrs: Record<string, CedarValue> = {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return attrs;
  for (const [name, value] of Object.entries(args as Record<string, unknown>)) {
    if (typeof value === 'string' || typeof value === 'boolean') attrs[`arg_${name}`] = value;
    else if (typeof value === 'number') {
      const d = decimalOf(value);
      if (d !== undefined) attrs[`arg_${name}`] = d;
    } else attrs[`arg_${name}_present`] = true;
  }
  return attrs;
}

export const TOOL_ANNOTATION_HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

export interface Principal {
  uid: EntityUid;
  entity: CedarEntity;
  /** The claim attributes (they go into the context too). */
  claimAttrs: Record<string, CedarValue>;
}

/** Builds the principal once per caller (claims rarely change between a caller's requests). */
export function principalOf(claims: Record<string, unknown>, options: CedarOptions): Principal | undefined {
  const sub = claims['sub'];
  if (typeof sub !== 'string' || sub === '') return undefined; // ToolHive: no subject, no decision but deny
  const groupType = options.group_entity_type ?? 'THVGroup';
  const claimAttrs = claimAttributes(claims, options.multi_valued_claims);
  const uid = { type: 'Client', id: sub };
  return {
    uid,
    claimAttrs,
    entity: { uid, attrs: claimAttrs, parents: groupsOf(claims, options).map((g) => ({ type: groupType, id: g })) },
  };
}

export interface FeatureRequest {
  feature: McpFeature;
  /** Tool or prompt name, or resource URI. */
  name: string;
  arguments?: unknown;
  /** Tool annotations learned from the server's tools/list (booleans only). */
  annotations?: Readonly<Record<string, unknown>>;
}

/** One MCP operation as a Cedar request plus the entities it brings. */
export function cedarRequestOf(principal: Principal, op: FeatureRequest, serverName: string | undefined): { request: CedarRequest; entities: CedarEntity[] } {
  const spec = FEATURE_ACTIONS[op.feature];
  const args = op.feature === 'resource' ? {} : argumentAttributes(op.arguments);
  const resourceAttrs: Record<string, CedarValue> = {};
  if (op.feature === 'tool' && op.annotations) {
    for (const hint of TOOL_ANNOTATION_HINTS) {
      const v = op.annotations[hint];
      if (typeof v === 'boolean') resourceAttrs[hint] = v;
    }
  }
  Object.assign(resourceAttrs, args, { name: op.name, operation: spec.operation, feature: op.feature });
  if (op.feature === 'resource') resourceAttrs['uri'] = op.name;
  const action = { type: 'Action', id: spec.action };
  const resource = { type: spec.entityType, id: op.name };
  const entities: CedarEntity[] = [
    principal.entity,
    { uid: action, attrs: { operation: spec.action }, parents: [] },
    { uid: resource, attrs: resourceAttrs, parents: serverName ? [{ type: 'MCP', id: serverName }] : [] },
  ];
  return { request: { principal: principal.uid, action, resource, context: { ...principal.claimAttrs, ...args } }, entities };
}
