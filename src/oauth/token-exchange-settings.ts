import { z } from 'zod';
import { isLoopbackUrl } from '../common/index.js';

/** RFC 8693 §3 token type URNs, and ToolHive's short names for them. */
export const TOKEN_TYPES = {
  access_token: 'urn:ietf:params:oauth:token-type:access_token',
  id_token: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;
export type TokenTypeUrn = (typeof TOKEN_TYPES)[keyof typeof TOKEN_TYPES];

/** Where the client secret is: keychain names to try in order, or (runner files only) the value, moved to the keychain on save. */
export type ExchangeSecret = { keychain: string[] } | { clear: string };

/** ToolHive's token exchange settings, one shape whichever spelling they came in. */
export interface TokenExchangeSettings {
  tokenUrl: string;
  clientId?: string;
  clientSecret?: ExchangeSecret;
  audience?: string;
  scopes: string[];
  subjectTokenType: TokenTypeUrn;
  /** The header toward the MCP server: Authorization (ToolHive's `replace`) or a custom one, always `Bearer <token>`. */
  headerName: string;
  /** Exchange the user's upstream token from the embedded authorization server rather than the caller's own. */
  subjectProviderName?: string;
}

export class TokenExchangeSettingsError extends Error {}

const HEADER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** Headers a custom header name may not take over: they carry the request itself, or the caller's session. */
const RESERVED = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'mcp-session-id', 'mcp-protocol-version', 'cookie']);

const SubjectType = z.enum(['access_token', 'id_token', 'jwt', ...Object.values(TOKEN_TYPES)] as [string, ...string[]]);
const SecretKeyRef = z.object({ name: z.string().min(1).max(253), key: z.string().min(1).max(253).optional() }).strict();
const Scopes = z.array(z.string().regex(SCOPE, 'a scope has no spaces, quotes or backslashes')).max(32);

/** The operator's TokenExchangeConfig (MCPExternalAuthConfig spec.tokenExchange). */
const OperatorSchema = z
  .object({
    tokenUrl: z.string().url(),
    clientId: z.string().min(1).optional(),
    clientSecretRef: SecretKeyRef.optional(),
    audience: z.string().min(1).optional(),
    scopes: Scopes.optional(),
    subjectTokenType: SubjectType.or(z.literal('')).optional(),
    externalTokenHeaderName: z.string().regex(HEADER, 'a header name (letters, digits, -)').or(z.literal('')).optional(),
    subjectProviderName: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/).or(z.literal('')).optional(),
  })
  .strict();

/** The runner's token_exchange_config (RunConfig, `thv run --from-config`). */
const RunnerSchema = z
  .object({
    token_url: z.string().url(),
    client_id: z.string().optional(),
    client_secret: z.string().optional(),
    audience: z.string().optional(),
    scopes: Scopes.nullable().optional(),
    subject_token_type: SubjectType.or(z.literal('')).optional(),
    header_strategy: z.enum(['replace', 'custom']).or(z.literal('')).optional(),
    external_token_header_name: z.string().regex(HEADER, 'a header name (letters, digits, -)').or(z.literal('')).optional(),
  })
  .strict();

function issues(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/** The block itself out of what people paste: an MCPExternalAuthConfig manifest, its spec, a RunConfig or the bare block. */
function unwrap(input: unknown): { body: Record<string, unknown>; spelling: 'operator' | 'runner' } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TokenExchangeSettingsError('The token exchange settings must be an object.');
  let o = input as Record<string, unknown>;
  if (o['kind'] !== undefined && o['kind'] !== 'MCPExternalAuthConfig') throw new TokenExchangeSettingsError(`A ${String(o['kind'])} holds no token exchange settings: give an MCPExternalAuthConfig of type tokenExchange, its tokenExchange block, or a RunConfig's token_exchange_config.`);
  if (typeof o['spec'] === 'object' && o['spec'] !== null) o = o['spec'] as Record<string, unknown>;
  if (o['type'] !== undefined && o['type'] !== 'tokenExchange') throw new TokenExchangeSettingsError(`This MCPExternalAuthConfig is of type ${String(o['type'])}, not tokenExchange.`);
  const block = (k: string) => (typeof o[k] === 'object' && o[k] !== null ? (o[k] as Record<string, unknown>) : undefined);
  const operator = block('tokenExchange');
  if (operator) return { body: operator, spelling: 'operator' };
  const runner = block('token_exchange_config');
  if (runner) return { body: runner, spelling: 'runner' };
  return { body: o, spelling: 'token_url' in o ? 'runner' : 'operator' };
}

function endpoint(raw: string): string {
  const u = new URL(raw);
  if (u.username || u.password) throw new TokenExchangeSettingsError('tokenUrl must not carry a user name or password: give the client id and secret as settings.');
  if (u.hash) throw new TokenExchangeSettingsError('tokenUrl must not have a fragment.');
  if (u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackUrl(raw))) return raw;
  throw new TokenExchangeSettingsError(`tokenUrl must be https (http only on this machine): ${raw}`);
}

function headerOf(name: string | undefined): string {
  if (!name) return 'authorization';
  const lower = name.toLowerCase();
  if (RESERVED.has(lower)) throw new TokenExchangeSettingsError(`externalTokenHeaderName cannot be ${name}: the proxy sets that header itself.`);
  return lower;
}

/**
 * ToolHive's token exchange settings, in either spelling (the operator's camelCase with a secret
 * reference, or the runner's snake_case whose client_secret is a value: it is moved to the keychain).
 */
export function parseTokenExchangeSettings(input: unknown): TokenExchangeSettings {
  const { body, spelling } = unwrap(input);
  if (spelling === 'operator') {
    const p = OperatorSchema.safeParse(body);
    if (!p.success) throw new TokenExchangeSettingsError(`Token exchange settings: ${issues(p.error)}`);
    const s = p.data;
    return {
      tokenUrl: endpoint(s.tokenUrl),
      ...(s.clientId ? { clientId: s.clientId } : {}),
      ...(s.clientSecretRef ? { clientSecret: { keychain: s.clientSecretRef.key ? [`${s.clientSecretRef.name}.${s.clientSecretRef.key}`, s.clientSecretRef.name] : [s.clientSecretRef.name] } } : {}),
      ...(s.audience ? { audience: s.audience } : {}),
      scopes: s.scopes ?? [],
      subjectTokenType: urn(s.subjectTokenType),
      headerName: headerOf(s.externalTokenHeaderName),
      ...(s.subjectProviderName ? { subjectProviderName: s.subjectProviderName } : {}),
    };
  }
  const p = RunnerSchema.safeParse(body);
  if (!p.success) throw new TokenExchangeSettingsError(`Token exchange settings: ${issues(p.error)}`);
  const s = p.data;
  if (s.header_strategy === 'custom' && !s.external_token_header_name) throw new TokenExchangeSettingsError("external_token_header_name must be given when header_strategy is 'custom'.");
  return {
    tokenUrl: endpoint(s.token_url),
    ...(s.client_id ? { clientId: s.client_id } : {}),
    ...(s.client_secret ? { clientSecret: { clear: s.client_secret } } : {}),
    ...(s.audience ? { audience: s.audience } : {}),
    scopes: s.scopes ?? [],
    subjectTokenType: urn(s.subject_token_type),
    headerName: headerOf(s.header_strategy === 'replace' ? undefined : s.external_token_header_name),
  };
}

function urn(t: string | undefined): TokenTypeUrn {
  if (!t) return TOKEN_TYPES.access_token;
  return (TOKEN_TYPES as Record<string, TokenTypeUrn>)[t] ?? (t as TokenTypeUrn);
}

/**
 * The stored form: the operator's spelling with a keychain reference (a runner file's client secret
 * has been moved to the keychain under `secretName` by then), so SQLite never holds a secret.
 */
export function storedTokenExchange(s: TokenExchangeSettings, secretName?: string): Record<string, unknown> {
  const secret = s.clientSecret && 'keychain' in s.clientSecret ? s.clientSecret.keychain : secretName ? [secretName] : undefined;
  const ref = secret ? (secret.length === 2 ? { name: secret[1]!, key: secret[0]!.slice(secret[1]!.length + 1) } : { name: secret[0]! }) : undefined;
  return {
    tokenUrl: s.tokenUrl,
    ...(s.clientId ? { clientId: s.clientId } : {}),
    ...(ref ? { clientSecretRef: ref } : {}),
    ...(s.audience ? { audience: s.audience } : {}),
    ...(s.scopes.length ? { scopes: s.scopes } : {}),
    subjectTokenType: s.subjectTokenType,
    ...(s.headerName !== 'authorization' ? { externalTokenHeaderName: s.headerName } : {}),
    ...(s.subjectProviderName ? { subjectProviderName: s.subjectProviderName } : {}),
  };
}
