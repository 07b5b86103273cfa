import type { SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';
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
  sub: STRING,
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

export function mcpSchema(options: CedarOptions): SchemaJson<string> {
  const groupType = options.group_entity_type ?? 'THVGroup';
  const claims = claimAttributeTypes(options);
  const hints = Object.fromEntries(TOOL_ANNOTATION_HINTS.map((h) => [h, BOOL]));
  const action = (resource: string, context: Record<string, Attr>) => ({
    appliesTo: { principalTypes: ['Client'], resourceTypes: [resource], context: record(context) },
  });
  return {
    '': {
      entityTypes: {
        Client: { memberOfTypes: [groupType], shape: record(claims) },
        [groupType]: {},
        MCP: {},
        Tool: { memberOfTypes: ['MCP'], shape: record(featureAttrs(hints)) },
        Prompt: { memberOfTypes: ['MCP'], shape: record(featureAttrs()) },
        Resource: { memberOfTypes: ['MCP'], shape: record(featureAttrs({ uri: { type: 'String' } })) },
        FeatureType: { shape: record({ type: { type: 'String' }, operation: { type: 'String' }, feature: { type: 'String' } }) },
      },
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
