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

const MAX_RECORD_DEPTH = 10;
/** Cedar decimals: i64 scaled by 10^4. */
const DECIMAL_LIMIT = 922_337_203_685_477;

/**
 * A JSON number as ToolHive hands it to Cedar: Go decodes every JSON number to float64 and cedar-go
 * turns floats into `decimal` (4 fractional digits). Out of range: dropped, as there.
 */
function decimalOf(n: number): CedarValue | undefined {
  if (!Number.isFinite(n) || Math.abs(n) > DECIMAL_LIMIT) return undefined;
  let text = n.toFixed(4).replace(/0+$/, '');
  if (text.endsWith('.')) text += '0';
  if (text === '-0.0') text = '0.0';
  return { __extn: { fn: 'decimal', arg: text } };
}

/** JSON → Cedar value with ToolHive's rules; undefined means "dropped". */
export function toCedarValue(v: unknown, depth = 0): CedarValue | undefined {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return decimalOf(v);
    case 'object': {
      if (v === null) return undefined;
      if (depth >= MAX_RECORD_DEPTH) return undefined;
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
  if (path in claims) return claims[path];
  // Dot paths reach into nested claims (Keycloak's realm_access.roles).
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

const DEFAULT_GROUP_CLAIMS = ['groups', 'roles', 'cognito:groups'];

/** The caller's groups: the configured group claim (or the first of groups, roles, cognito:groups), plus the role claim. */
export function groupsOf(claims: Record<string, unknown>, options: Pick<CedarOptions, 'group_claim_name' | 'role_claim_name'>): string[] {
  const out = new Set<string>();
  if (options.group_claim_name) {
    for (const g of stringsOf(claimAt(claims, options.group_claim_name))) out.add(g);
  } else {
    for (const name of DEFAULT_GROUP_CLAIMS) {
      const v = claimAt(claims, name);
      if (v !== undefined) {
        for (const g of stringsOf(v)) out.add(g);
        break;
      }
    }
  }
  if (options.role_claim_name) for (const r of stringsOf(claimAt(claims, options.role_claim_name))) out.add(r);
  return [...out];
}

/** `claim_<name>` for every claim; multi-valued claims also as `claimset_<name>` (a Set). */
export function claimAttributes(claims: Record<string, unknown>, multiValued: readonly string[] = []): Record<string, CedarValue> {
  const attrs: Record<string, CedarValue> = {};
  for (const [name, value] of Object.entries(claims)) {
    const c = toCedarValue(value);
    if (c !== undefined) attrs[`claim_${name}`] = c;
  }
  for (const name of multiValued) {
    const v = claims[name];
    if (v === undefined) continue;
    const items = stringsOf(v);
    attrs[`claim_${name}`] = items.join(' ');
    attrs[`claimset_${name}`] = items;
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
