import { parse } from 'yaml';
import { z } from 'zod';
import { isCedarTypeName } from './cedar.js';

/**
 * ToolHive's `authz-config` file (`--authz-config`), JSON or YAML, exactly as its guides write it:
 * `{ version, type: cedarv1, cedar: { policies, entities_json, group_claim_name, ... } }`.
 * Unknown keys are kept out of the parsed value but do not fail the file (ToolHive ignores them too).
 */
export const CedarOptionsSchema = z.object({
  policies: z.array(z.string()).min(1, 'at least one policy is required for Cedar authorization'),
  /** Cedar entities JSON, as a string (ToolHive's format). An array is accepted too for convenience. */
  entities_json: z.union([z.string(), z.array(z.unknown())]).optional(),
  group_claim_name: z.string().optional(),
  role_claim_name: z.string().optional(),
  group_entity_type: z
    .string()
    .refine((s) => !s.includes('::'), 'namespaced entity types ("A::B") are not supported; use a plain Cedar type name')
    .refine((s) => s === '' || isCedarTypeName(s), 'must be a Cedar identifier (letters, digits and _, not starting with a digit, not a reserved word such as "in" or "if")')
    .optional(),
  multi_valued_claims: z.array(z.string().min(1)).optional(),
  primary_upstream_provider: z.string().optional(),
});

export const AuthzConfigSchema = z.object({
  version: z.string().min(1, 'version is required (for example "1.0")'),
  type: z.literal('cedarv1', { message: 'type must be "cedarv1" (the only authorizer Gatehouse runs in-process)' }),
  cedar: CedarOptionsSchema,
});

export type AuthzConfig = z.infer<typeof AuthzConfigSchema>;
export type CedarOptions = z.infer<typeof CedarOptionsSchema>;

export class AuthzConfigError extends Error {}

function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
}

function parseText(text: string, source: string): unknown {
  try {
    return parse(text, { prettyErrors: true });
  } catch (err) {
    throw new AuthzConfigError(`${source} is not valid YAML or JSON: ${(err as Error).message}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads an authz-config as users have it: the file itself, a ConfigMap manifest holding it under a
 * data key (the operator guide's `authz-config.json`), or an MCPServer manifest with an inline
 * `authzConfig` (`type: inline`, `inline: { policies, entitiesJson }`).
 */
export function parseAuthzConfigDocument(text: string, source = 'the file', key?: string): AuthzConfig {
  return readDocument(text, source, key).config;
}

/** An authz-config file's own text and syntax, as it was read. */
export interface AuthzConfigFile {
  text: string;
  format: 'json' | 'yaml';
}

/**
 * The same, with the authz-config file inside the document: the text itself, or a ConfigMap's data
 * value. An MCPServer's inline policies have no file of their own (and the manifest carries other
 * settings), so none is returned for one.
 */
export function readAuthzConfigSource(text: string, source = 'the file', key?: string): { config: AuthzConfig; file?: AuthzConfigFile } {
  const { config, fileText } = readDocument(text, source, key);
  return { config, ...(fileText !== undefined ? { file: { text: fileText, format: isJson(fileText) ? 'json' : 'yaml' } } : {}) };
}

function readDocument(text: string, source: string, key: string | undefined): { config: AuthzConfig; fileText: string | undefined } {
  let doc = parseText(text, source);
  let where = source;
  let fileText: string | undefined = text;
  if (isRecord(doc) && doc['kind'] === 'ConfigMap') {
    const data = isRecord(doc['data']) ? (doc['data'] as Record<string, unknown>) : {};
    const keys = Object.keys(data);
    const pick = key ?? (keys.length === 1 ? keys[0] : 'authz-config.json');
    const raw = pick !== undefined ? data[pick] : undefined;
    if (typeof raw !== 'string') {
      throw new AuthzConfigError(`${source}: the ConfigMap has no data key "${pick}" (keys: ${keys.join(', ') || 'none'}).`);
    }
    where = `${source} data["${pick}"]`;
    doc = parseText(raw, where);
    fileText = raw;
  } else if (isRecord(doc) && doc['kind'] === 'MCPServer') {
    const authz = isRecord(doc['spec']) ? (doc['spec'] as Record<string, unknown>)['authzConfig'] : undefined;
    if (!isRecord(authz)) throw new AuthzConfigError(`${source}: the MCPServer has no spec.authzConfig.`);
    if (authz['type'] !== 'inline' || !isRecord(authz['inline'])) {
      throw new AuthzConfigError(
        `${source}: spec.authzConfig refers to a ConfigMap (${JSON.stringify(authz['configMap'] ?? {})}); pass the ConfigMap manifest or the authz-config file itself.`,
      );
    }
    const inline = authz['inline'] as Record<string, unknown>;
    doc = { version: '1.0', type: 'cedarv1', cedar: { policies: inline['policies'], entities_json: inline['entitiesJson'] ?? '[]' } };
    fileText = undefined;
  }
  const parsed = AuthzConfigSchema.safeParse(doc);
  if (!parsed.success) throw new AuthzConfigError(`${where} is not a valid authz-config: ${formatIssues(parsed.error)}`);
  return { config: parsed.data, fileText };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The entities of `entities_json`, parsed (a string in ToolHive's format). */
export function entitiesOf(options: CedarOptions): unknown[] {
  const raw = options.entities_json;
  if (raw === undefined || raw === '') return [];
  if (Array.isArray(raw)) return raw;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new AuthzConfigError(`cedar.entities_json is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new AuthzConfigError('cedar.entities_json must be a JSON array of Cedar entities.');
  return value;
}
