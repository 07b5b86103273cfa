import { parse } from 'yaml';
import { z } from 'zod';
import { AuthConfigSchema, OidcInlineSchema, type AuthConfig, type OidcInline } from './config.js';

export class AuthConfigFormatError extends Error {}

function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
}

function parseText(text: string, source: string): unknown {
  try {
    return parse(text, { prettyErrors: true });
  } catch (err) {
    throw new AuthConfigFormatError(`${source} is not valid YAML or JSON: ${(err as Error).message}`);
  }
}

/**
 * Reads authentication settings as ToolHive writes them: an MCPServer manifest (spec.oidcConfig), an
 * `oidcConfig:` block, the block's inner object, or a bare inline object (issuer, audience, ...).
 */
export function parseAuthConfigDocument(text: string, source = 'the file'): AuthConfig {
  let doc = parseText(text, source) as Record<string, unknown> | null;
  if (doc && typeof doc === 'object' && doc['kind'] === 'MCPServer') doc = ((doc['spec'] ?? {}) as Record<string, unknown>);
  if (doc && typeof doc === 'object' && 'oidcConfig' in doc) doc = doc['oidcConfig'] as Record<string, unknown>;
  if (doc && typeof doc === 'object' && !('type' in doc) && 'issuer' in doc) doc = { type: 'inline', inline: doc };
  const parsed = AuthConfigSchema.safeParse(doc);
  if (!parsed.success) throw new AuthConfigFormatError(`${source} is not a valid oidcConfig: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * Reads a shared identity-provider profile: a ConfigMap manifest (its data[key], default the only or
 * `oidc.json` entry), or the JSON/YAML object itself, as in ToolHive's shared OIDC configuration guide.
 */
export function parseIdpProfileDocument(text: string, source = 'the file', key?: string): OidcInline {
  let doc = parseText(text, source) as Record<string, unknown> | null;
  if (doc && typeof doc === 'object' && doc['kind'] === 'ConfigMap') {
    const data = (doc['data'] ?? {}) as Record<string, string>;
    const keys = Object.keys(data);
    const pick = key ?? (keys.length === 1 ? keys[0] : 'oidc.json');
    const raw = pick !== undefined ? data[pick] : undefined;
    if (raw === undefined) throw new AuthConfigFormatError(`${source}: the ConfigMap has no data key "${pick}" (keys: ${keys.join(', ') || 'none'}).`);
    doc = parseText(raw, `${source} data["${pick}"]`) as Record<string, unknown>;
  }
  const parsed = OidcInlineSchema.safeParse(doc);
  if (!parsed.success) throw new AuthConfigFormatError(`${source} is not a valid identity-provider profile: ${formatIssues(parsed.error)}`);
  return parsed.data;
}
