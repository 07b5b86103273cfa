import type { SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarEntity, CedarValue } from './cedar-types.js';
import type { CedarOptions } from './config.js';
import { TOOL_ANNOTATION_HINTS } from './entities.js';

/**
 * A Cedar schema of ToolHive's MCP entity model, so Cedar's own validator catches policies that can
 * never match (`Action::"call_tol"`, `Tol::"x"`) and attributes nobody sends (`principal.claim_role`).
 * Claims and arguments are open-ended in reality, so findings about them are warnings, not errors
 * (see policy-tools.ts; argument names are compared with what the server's lists declare); the types here are what ToolHive hands to Cedar (numbers are decimals).
 */

type Attr = { type: string; name?: string; element?: Attr; required?: boolean };

const STRING: Attr = { type: 'String', required: false };
const BOOL: Attr = { type: 'Boolean', required: false };
const DECIMAL: Attr = { type: 'Extension', name: 'decimal', required: false };
const STRING_SET: Attr = { type: 'Set', element: { type: 'String' }, required: false };

/** Registered JWT / OIDC claims with the type they arrive in. */
export const KNOWN_CLAIMS: Readonly<Record<string, Attr>> = {
  // Every caller Cedar is asked about has one (a token without `sub` is denied before): reading it needs no `has`.
  sub: { type: 'String', required: true },
  iss: STRING,
  aud: STRING_SET,
  azp: STRING,
  client_id: STRING,
  jti: STRING,
  exp: DECIMAL,
  iat: DECIMAL,
  nbf: DECIMAL,
  auth_time: DECIMAL,
  name: STRING,
  given_name: STRING,
  family_name: STRING,
  preferred_username: STRING,
  email: STRING,
  email_verified: BOOL,
  scope: STRING,
  scp: STRING_SET,
  groups: STRING_SET,
  roles: STRING_SET,
  'cognito:groups': STRING_SET,
  org_id: STRING,
  tenant: STRING,
};

export function claimAttributeTypes(options: CedarOptions): Record<string, Attr> {
  const attrs: Record<string, Attr> = {};
  for (const [name, t] of Object.entries(KNOWN_CLAIMS)) attrs[`claim_${name}`] = t;
  for (const name of [options.group_claim_name, options.role_claim_name]) {
    if (name && !name.includes('.')) attrs[`claim_${name}`] = STRING_SET;
  }
  for (const name of options.multi_valued_claims ?? []) {
    attrs[`claim_${name}`] = STRING;
    attrs[`claimset_${name}`] = STRING_SET;
  }
  return attrs;
}

const record = (attributes: Record<string, Attr>) => ({ type: 'Record', attributes });
const featureAttrs = (extra: Record<string, Attr> = {}): Record<string, Attr> => ({
  name: { type: 'String' },
  operation: { type: 'String' },
  feature: { type: 'String' },
  ...extra,
});

/** The schema type of a value in entities_json, as Cedar's JSON format reads it (undefined: cannot say). */
function typeOfValue(v: CedarValue): Attr | undefined {
  if (typeof v === 'string') return { type: 'String' };
  if (typeof v === 'boolean') return { type: 'Boolean' };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'Long' } : undefined;
  if (Array.isArray(v)) {
    const types = v.map(typeOfValue);
    const first = types[0];
    return first && types.every((t) => JSON.stringify(t) === JSON.stringify(first)) ? { type: 'Set', element: first } : undefined;
  }
  if ('__entity' in v && typeof v.__entity === 'object') return { type: 'Entity', name: (v.__entity as { type: string }).type };
  if ('__extn' in v && typeof v.__extn === 'object') return { type: 'Extension', name: (v.__extn as { fn: string }).fn };
  return undefined;
}

const PLAIN_TYPE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The entity types entities_json brings (ToolHive's group → role hierarchy, `THVRole`, ...): declared
 * with the types of their parents and, for types Gatehouse does not build itself, their attributes,
 * so that `principal in THVRole::"developer"` validates as it evaluates.
 */
function entitiesJsonTypes(entities: readonly CedarEntity[]): Map<string, { memberOf: Set<string>; attrs: Record<string, Attr> }> {
  const types = new Map<string, { memberOf: Set<string>; attrs: Record<string, Attr> }>();
  const entry = (t: string) => {
    let e = types.get(t);
    if (!e) types.set(t, (e = { memberOf: new Set(), attrs: {} }));
    return e;
  };
  for (const e of entities) {
    if (!PLAIN_TYPE.test(e.uid.type) || e.uid.type === 'Action') continue;
    const t = entry(e.uid.type);
    for (const p of e.parents) if (PLAIN_TYPE.test(p.type)) (t.memberOf.add(p.type), entry(p.type));
    for (const [k, v] of Object.entries(e.attrs)) {
      const type = typeOfValue(v);
      if (type && !(k in t.attrs)) t.attrs[k] = { ...type, required: false };
    }
  }
  return types;
}

const BUILT_IN = new Set(['Client', 'MCP', 'Tool', 'Prompt', 'Resource', 'FeatureType']);

export function mcpSchema(options: CedarOptions, entities: readonly CedarEntity[] = []): SchemaJson<string> {
  const groupType = options.group_entity_type ?? 'THVGroup';
  const claims = claimAttributeTypes(options);
  const hints = Object.fromEntries(TOOL_ANNOTATION_HINTS.map((h) => [h, BOOL]));
  const action = (resource: string, context: Record<string, Attr>) => ({
    appliesTo: { principalTypes: ['Client'], resourceTypes: [resource], context: record(context) },
  });
  const extra = entitiesJsonTypes(entities);
  const memberOf = (t: string, own: string[]) => [...new Set([...own, ...(extra.get(t)?.memberOf ?? [])])];
  const entityTypes: Record<string, unknown> = {
    Client: { memberOfTypes: memberOf('Client', [groupType]), shape: record(claims) },
    MCP: { memberOfTypes: memberOf('MCP', []) },
    Tool: { memberOfTypes: memberOf('Tool', ['MCP']), shape: record(featureAttrs(hints)) },
    Prompt: { memberOfTypes: memberOf('Prompt', ['MCP']), shape: record(featureAttrs()) },
    Resource: { memberOfTypes: memberOf('Resource', ['MCP']), shape: record(featureAttrs({ uri: { type: 'String' } })) },
    FeatureType: { shape: record({ type: { type: 'String' }, operation: { type: 'String' }, feature: { type: 'String' } }) },
  };
  for (const [t, e] of [[groupType, extra.get(groupType) ?? { memberOf: new Set<string>(), attrs: {} }] as const, ...extra]) {
    if (BUILT_IN.has(t)) continue;
    entityTypes[t] = { memberOfTypes: [...e.memberOf], ...(Object.keys(e.attrs).length > 0 ? { shape: record(e.attrs) } : {}) };
  }
  return {
    '': {
      entityTypes,
      actions: {
        call_tool: action('Tool', claims),
        get_prompt: action('Prompt', claims),
        read_resource: action('Resource', claims),
        list_tools: action('FeatureType', claims),
        list_prompts: action('FeatureType', claims),
        list_resources: action('FeatureType', claims),
      },
    },
  } as unknown as SchemaJson<string>;
}
