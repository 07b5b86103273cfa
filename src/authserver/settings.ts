import { z } from 'zod';
import { goDurationMs, isLoopbackUrl } from '../common/index.js';

/**
 * The embedded authorization server's settings, exactly as ToolHive takes them, in both of its
 * spellings: the operator's camelCase (`MCPExternalAuthConfig.spec.embeddedAuthServer`, the guide's
 * YAML) and the runner's snake_case (`embedded_auth_server_config` of `thv run --from-config`). Both
 * become one shape here. Secrets are never values: a `{name, key}` reference names a keychain secret
 * (`name.key`, or `name` alone); the runner's `*_file` and `*_env_var` fields name a file or a variable.
 */

/** Where a secret's value is read from when the server starts. */
export type SecretSource = { keychain: string[] } | { file: string } | { env: string };

export interface Lifespans {
  accessTokenMs: number;
  refreshTokenMs: number;
  authCodeMs: number;
}

interface UpstreamCommon {
  name: string;
  clientId?: string;
  clientSecret?: SecretSource;
  /** Default: `{issuer}/oauth/callback`, Gatehouse's one callback for every server. */
  redirectUri?: string;
  scopes: string[];
  additionalAuthorizationParams: Record<string, string>;
  insecureAllowHttp: boolean;
  allowPrivateIps: boolean;
}

export interface OidcUpstream extends UpstreamCommon {
  type: 'oidc';
  clientId: string;
  issuerUrl: string;
  /** The ID-token claim that identifies the user (default `sub`; Entra's stable one is `oid`). */
  subjectClaim: string;
}

export interface FieldMapping {
  subjectFields: string[];
  nameFields: string[];
  emailFields: string[];
}

export interface OAuth2Upstream extends UpstreamCommon {
  type: 'oauth2';
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userInfo?: { endpointUrl: string; httpMethod: 'GET' | 'POST'; additionalHeaders: Record<string, string>; fieldMapping: FieldMapping };
  tokenResponseMapping?: { accessTokenPath: string; scopePath: string; refreshTokenPath: string; expiresInPath: string };
  identityFromToken?: { subjectPath: string; namePath?: string; emailPath?: string };
  dcr?: { discoveryUrl?: string; registrationEndpoint?: string; initialAccessToken?: SecretSource; softwareId?: string; softwareStatement?: string };
}

export type Upstream = OidcUpstream | OAuth2Upstream;

export interface AuthServerSettings {
  issuer: string;
  /** Where browsers are sent for /oauth/authorize when it differs from the issuer. */
  authorizationEndpointBaseUrl?: string;
  /** The first signs; the others are published for verification only (rotation). Empty: Gatehouse's own, in the keychain. */
  signingKeys: SecretSource[];
  /** The first is current; the others still verify. Empty: Gatehouse's own, in the keychain. */
  hmacKeys: SecretSource[];
  lifespans: Lifespans;
  upstream: Upstream;
  scopesSupported: string[];
  baselineClientScopes: string[];
  allowedAudiences: string[];
  disableUpstreamTokenInjection: boolean;
  allowConfidentialClientRegistration: boolean;
  forceConfidentialRedirectUris: string[];
  cimd: { enabled: boolean; cacheMaxSize: number; cacheFallbackTtlMs: number };
  insecureAllowHttp: boolean;
  /** Which spelling the settings came in (an export writes them back the same way). */
  spelling: 'operator' | 'runner';
}

export class AuthServerSettingsError extends Error {}

// ---- the two spellings become one ------------------------------------------------------------

/** Maps whose keys are data (header and parameter names), not field names: their keys are kept as written. */
const VERBATIM_MAPS = new Set(['additionalAuthorizationParams', 'additionalHeaders', 'additional_authorization_params', 'additional_headers']);
/** Runner names whose camelCase differs from the operator's. */
const RUNNER_RENAMES: Record<string, string> = { upstreams: 'upstreamProviders', userinfo: 'userInfo', allowPrivateIps: 'allowPrivateIPs', insecureAllowHttp: 'insecureAllowHTTP' };
const RUNNER_MARKERS = ['upstreams', 'signing_key_config', 'hmac_secret_files', 'token_lifespans', 'authorization_endpoint_base_url', 'scopes_supported', 'allowed_audiences'];
const OPERATOR_MARKERS = ['upstreamProviders', 'signingKeySecretRefs', 'hmacSecretRefs', 'tokenLifespans', 'authorizationEndpointBaseUrl', 'scopesSupported', 'allowedAudiences'];

function camel(key: string): string {
  const c = key.replace(/_([a-z0-9])/g, (_m, ch: string) => ch.toUpperCase());
  return RUNNER_RENAMES[c] ?? c;
}

function camelizeRunner(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeRunner);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[camel(k)] = VERBATIM_MAPS.has(k) ? v : camelizeRunner(v);
  return out;
}

/** The settings object itself, out of the documents people paste: an MCPExternalAuthConfig, a RunConfig, or the bare block. */
function unwrap(input: unknown): { body: Record<string, unknown>; spelling: 'operator' | 'runner' } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new AuthServerSettingsError('The authorization server settings must be an object.');
  let o = input as Record<string, unknown>;
  const spec = o['spec'];
  if (typeof spec === 'object' && spec !== null && 'embeddedAuthServer' in spec) o = spec as Record<string, unknown>;
  if (typeof o['embeddedAuthServer'] === 'object' && o['embeddedAuthServer'] !== null) o = o['embeddedAuthServer'] as Record<string, unknown>;
  else if (typeof o['embedded_auth_server_config'] === 'object' && o['embedded_auth_server_config'] !== null) o = o['embedded_auth_server_config'] as Record<string, unknown>;
  const runner = RUNNER_MARKERS.filter((k) => k in o);
  const operator = OPERATOR_MARKERS.filter((k) => k in o);
  if (runner.length && operator.length) {
    throw new AuthServerSettingsError(`The settings mix ToolHive's two spellings (${runner[0]} and ${operator[0]}): use the operator's camelCase or the runner's snake_case, not both.`);
  }
  return { body: runner.length ? (camelizeRunner(o) as Record<string, unknown>) : o, spelling: runner.length ? 'runner' : 'operator' };
}

// ---- the schema (operator spelling; the runner's file and env fields are its own) --------------

const BASE_URL = /^https?:\/\/[^\s?#]+[^/\s?#]$/;
const UPSTREAM_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const CLAIM_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** Parameters the flow sets itself: configuring one would override PKCE, state or the client. */
const FRAMEWORK_PARAMS = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce']);

const SecretKeyRef = z.object({ name: z.string().min(1).max(253), key: z.string().min(1).max(253).optional() }).strict();
const Duration = (what: string) => z.string().refine((s) => goDurationMs(s) !== undefined, `${what} is a Go duration such as 1h, 30m or 168h`);
const Url = z.string().url();
const AuthParams = z
  .record(z.string(), z.string())
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 additional authorization parameters')
  .refine((m) => Object.keys(m).every((k) => !FRAMEWORK_PARAMS.has(k)), `additional authorization parameters may not set ${[...FRAMEWORK_PARAMS].join(', ')} (Gatehouse sets them)`);

const UpstreamCommonFields = {
  clientSecretRef: SecretKeyRef.optional(),
  clientSecretFile: z.string().min(1).optional(),
  clientSecretEnvVar: z.string().min(1).optional(),
  redirectUri: Url.optional(),
  scopes: z.array(z.string().regex(SCOPE)).optional(),
  additionalAuthorizationParams: AuthParams.optional(),
  insecureAllowHTTP: z.boolean().optional(),
  allowPrivateIPs: z.boolean().optional(),
};

const OidcConfig = z
  .object({
    ...UpstreamCommonFields,
    issuerUrl: Url,
    clientId: z.string().min(1),
    subjectClaim: z.string().max(128).regex(CLAIM_NAME, 'subjectClaim names a top-level claim (letters, digits, _)').or(z.literal('')).optional(),
    /** ToolHive ignores it for OIDC upstreams (with a warning); so does Gatehouse. */
    userInfoOverride: z.unknown().optional(),
  })
  .strict();

const FieldMappingSchema = z
  .object({ subjectFields: z.array(z.string().min(1)).min(1).optional(), nameFields: z.array(z.string().min(1)).optional(), emailFields: z.array(z.string().min(1)).optional() })
  .strict();

const OAuth2Config = z
  .object({
    ...UpstreamCommonFields,
    authorizationEndpoint: Url,
    tokenEndpoint: Url,
    clientId: z.string().min(1).optional(),
    userInfo: z
      .object({ endpointUrl: Url, httpMethod: z.enum(['GET', 'POST']).optional(), additionalHeaders: z.record(z.string(), z.string()).optional(), fieldMapping: FieldMappingSchema.optional() })
      .strict()
      .optional(),
    tokenResponseMapping: z
      .object({ accessTokenPath: z.string().min(1), scopePath: z.string().min(1).optional(), refreshTokenPath: z.string().min(1).optional(), expiresInPath: z.string().min(1).optional() })
      .strict()
      .optional(),
    identityFromToken: z.object({ subjectPath: z.string().min(1).max(256), namePath: z.string().min(1).max(256).optional(), emailPath: z.string().min(1).max(256).optional() }).strict().optional(),
    dcrConfig: z
      .object({
        // https (http only on this machine, or with insecureAllowHTTP: checked below, as for the other endpoints).
        discoveryUrl: z.string().max(2048).regex(BASE_URL, 'dcrConfig.discoveryUrl is an absolute URL without query or fragment').optional(),
        registrationEndpoint: z.string().max(2048).regex(BASE_URL, 'dcrConfig.registrationEndpoint is an absolute URL without query or fragment').optional(),
        initialAccessTokenRef: SecretKeyRef.optional(),
        // The runner's spelling (initial_access_token_file, initial_access_token_env_var).
        initialAccessTokenFile: z.string().min(1).optional(),
        initialAccessTokenEnvVar: z.string().min(1).optional(),
        softwareId: z.string().max(255).optional(),
        softwareStatement: z.string().max(16384).optional(),
      })
      .strict()
      .refine((d) => (d.discoveryUrl === undefined) !== (d.registrationEndpoint === undefined), 'dcrConfig: exactly one of discoveryUrl or registrationEndpoint')
      .refine((d) => [d.initialAccessTokenRef, d.initialAccessTokenFile, d.initialAccessTokenEnvVar].filter((v) => v !== undefined).length <= 1, 'dcrConfig: give the initial access token one way (a secret reference, a file or an environment variable)')
      .optional(),
  })
  .strict()
  .refine((c) => (c.clientId !== undefined) !== (c.dcrConfig !== undefined), 'exactly one of clientId or dcrConfig must be set')
  .refine((c) => !(c.dcrConfig && (c.clientSecretRef || c.clientSecretFile || c.clientSecretEnvVar)), 'a client secret must not be set with dcrConfig: the registration gives one');

const UpstreamProvider = z
  .object({ name: z.string().min(1).max(63).regex(UPSTREAM_NAME, 'an upstream name is lowercase letters, digits and -').default('default'), type: z.enum(['oidc', 'oauth2']), oidcConfig: OidcConfig.optional(), oauth2Config: OAuth2Config.optional() })
  .strict()
  .refine((u) => (u.type === 'oidc' ? u.oidcConfig !== undefined && u.oauth2Config === undefined : u.oauth2Config !== undefined && u.oidcConfig === undefined), "type 'oidc' takes oidcConfig, type 'oauth2' takes oauth2Config (and not the other)");

const SettingsSchema = z
  .object({
    issuer: z.string().regex(BASE_URL, 'the issuer is an http(s) URL without query, fragment or trailing slash'),
    authorizationEndpointBaseUrl: z.string().regex(BASE_URL, 'authorizationEndpointBaseUrl is an http(s) URL without query, fragment or trailing slash').optional(),
    signingKeySecretRefs: z.array(SecretKeyRef).max(5).optional(),
    hmacSecretRefs: z.array(SecretKeyRef).optional(),
    signingKeyConfig: z.object({ keyDir: z.string().optional(), signingKeyFile: z.string().min(1).optional(), fallbackKeyFiles: z.array(z.string().min(1)).optional() }).strict().optional(),
    hmacSecretFiles: z.array(z.string().min(1)).optional(),
    tokenLifespans: z.object({ accessTokenLifespan: Duration('accessTokenLifespan').optional(), refreshTokenLifespan: Duration('refreshTokenLifespan').optional(), authCodeLifespan: Duration('authCodeLifespan').optional() }).strict().optional(),
    upstreamProviders: z.array(UpstreamProvider).min(1, 'name an upstream identity provider (upstreamProviders)'),
    primaryUpstreamProvider: z.string().optional(),
    scopesSupported: z.array(z.string().regex(SCOPE)).min(1).optional(),
    baselineClientScopes: z.array(z.string().regex(SCOPE)).max(10).optional(),
    allowedAudiences: z.array(Url).optional(),
    disableUpstreamTokenInjection: z.boolean().optional(),
    allowConfidentialClientRegistration: z.boolean().optional(),
    insecureAllowConfidentialOverLoopbackHTTP: z.boolean().optional(),
    forceConfidentialRedirectUris: z.array(z.string().regex(/^https:\/\/[^\s?#]+$/, 'a forced-confidential redirect URI is https')).max(10).optional(),
    cimd: z.object({ enabled: z.boolean(), cacheMaxSize: z.number().int().min(1).optional(), cacheFallbackTtl: Duration('cimd.cacheFallbackTtl').optional() }).strict().optional(),
    insecureAllowHTTP: z.boolean().optional(),
    /** Kept by the operator for Redis and the like; one laptop has one store (SQLite). */
    storage: z.unknown().optional(),
  })
  .strict();

// ---- checks the schema cannot express, and the normalized shape ---------------------------------

function secured(what: string, raw: string, insecureAllowHttp: boolean): string {
  const u = new URL(raw);
  if (u.protocol === 'https:' || (u.protocol === 'http:' && (isLoopbackUrl(raw) || insecureAllowHttp))) return raw;
  throw new AuthServerSettingsError(`${what} must be https (http only on this machine, or with insecureAllowHTTP): ${raw}`);
}

function within(what: string, text: string | undefined, fallbackMs: number, minMs: number, maxMs: number, range: string): number {
  const ms = text === undefined ? fallbackMs : goDurationMs(text)!;
  if (ms < minMs || ms > maxMs) throw new AuthServerSettingsError(`${what} must be between ${range}, not ${text}.`);
  return ms;
}

type SecretFields = { clientSecretRef?: z.infer<typeof SecretKeyRef>; clientSecretFile?: string; clientSecretEnvVar?: string };

function fromRef(ref: z.infer<typeof SecretKeyRef>): SecretSource {
  return { keychain: ref.key ? [`${ref.name}.${ref.key}`, ref.name] : [ref.name] };
}

function clientSecretOf(c: SecretFields, spelling: 'operator' | 'runner'): SecretSource | undefined {
  if (spelling === 'operator' && (c.clientSecretFile || c.clientSecretEnvVar)) throw new AuthServerSettingsError('clientSecretFile and clientSecretEnvVar are runner settings (client_secret_file, client_secret_env_var); the operator spelling uses clientSecretRef.');
  const given = [c.clientSecretRef, c.clientSecretFile, c.clientSecretEnvVar].filter((v) => v !== undefined);
  if (given.length > 1) throw new AuthServerSettingsError('Give the upstream client secret one way: a secret reference, a file or an environment variable.');
  if (c.clientSecretRef) return fromRef(c.clientSecretRef);
  if (c.clientSecretFile) return { file: c.clientSecretFile };
  if (c.clientSecretEnvVar) return { env: c.clientSecretEnvVar };
  return undefined;
}

function initialAccessTokenOf(d: { initialAccessTokenRef?: z.infer<typeof SecretKeyRef>; initialAccessTokenFile?: string; initialAccessTokenEnvVar?: string }, spelling: 'operator' | 'runner'): { initialAccessToken?: SecretSource } {
  if (spelling === 'operator' && (d.initialAccessTokenFile || d.initialAccessTokenEnvVar)) throw new AuthServerSettingsError('initialAccessTokenFile and initialAccessTokenEnvVar are runner settings (initial_access_token_file, initial_access_token_env_var); the operator spelling uses dcrConfig.initialAccessTokenRef.');
  if (d.initialAccessTokenRef) return { initialAccessToken: fromRef(d.initialAccessTokenRef) };
  if (d.initialAccessTokenFile) return { initialAccessToken: { file: d.initialAccessTokenFile } };
  if (d.initialAccessTokenEnvVar) return { initialAccessToken: { env: d.initialAccessTokenEnvVar } };
  return {};
}

function upstreamOf(u: z.infer<typeof UpstreamProvider>, spelling: 'operator' | 'runner'): Upstream {
  if (u.type === 'oidc') {
    const c = u.oidcConfig!;
    const insecure = c.insecureAllowHTTP === true;
    const secret = clientSecretOf(c, spelling);
    return {
      type: 'oidc',
      name: u.name,
      issuerUrl: secured('The upstream issuerUrl', c.issuerUrl, insecure),
      clientId: c.clientId,
      ...(secret ? { clientSecret: secret } : {}),
      ...(c.redirectUri ? { redirectUri: c.redirectUri } : {}),
      scopes: c.scopes ?? ['openid', 'offline_access'],
      subjectClaim: c.subjectClaim || 'sub',
      additionalAuthorizationParams: c.additionalAuthorizationParams ?? {},
      insecureAllowHttp: insecure,
      allowPrivateIps: c.allowPrivateIPs === true,
    };
  }
  const c = u.oauth2Config!;
  const insecure = c.insecureAllowHTTP === true;
  const secret = clientSecretOf(c, spelling);
  const fm = c.userInfo?.fieldMapping;
  return {
    type: 'oauth2',
    name: u.name,
    authorizationEndpoint: secured('The upstream authorizationEndpoint', c.authorizationEndpoint, insecure),
    tokenEndpoint: secured('The upstream tokenEndpoint', c.tokenEndpoint, insecure),
    ...(c.clientId ? { clientId: c.clientId } : {}),
    ...(secret ? { clientSecret: secret } : {}),
    ...(c.redirectUri ? { redirectUri: c.redirectUri } : {}),
    scopes: c.scopes ?? [],
    additionalAuthorizationParams: c.additionalAuthorizationParams ?? {},
    insecureAllowHttp: insecure,
    allowPrivateIps: c.allowPrivateIPs === true,
    ...(c.userInfo
      ? {
          userInfo: {
            endpointUrl: secured('The upstream userInfo endpointUrl', c.userInfo.endpointUrl, insecure),
            httpMethod: c.userInfo.httpMethod ?? 'GET',
            additionalHeaders: c.userInfo.additionalHeaders ?? {},
            fieldMapping: { subjectFields: fm?.subjectFields ?? ['sub'], nameFields: fm?.nameFields ?? ['name'], emailFields: fm?.emailFields ?? ['email'] },
          },
        }
      : {}),
    ...(c.tokenResponseMapping
      ? {
          tokenResponseMapping: {
            accessTokenPath: c.tokenResponseMapping.accessTokenPath,
            scopePath: c.tokenResponseMapping.scopePath ?? 'scope',
            refreshTokenPath: c.tokenResponseMapping.refreshTokenPath ?? 'refresh_token',
            expiresInPath: c.tokenResponseMapping.expiresInPath ?? 'expires_in',
          },
        }
      : {}),
    ...(c.identityFromToken ? { identityFromToken: c.identityFromToken } : {}),
    ...(c.dcrConfig
      ? {
          dcr: {
            ...(c.dcrConfig.discoveryUrl ? { discoveryUrl: secured('dcrConfig.discoveryUrl', c.dcrConfig.discoveryUrl, insecure) } : {}),
            ...(c.dcrConfig.registrationEndpoint ? { registrationEndpoint: secured('dcrConfig.registrationEndpoint', c.dcrConfig.registrationEndpoint, insecure) } : {}),
            ...initialAccessTokenOf(c.dcrConfig, spelling),
            ...(c.dcrConfig.softwareId ? { softwareId: c.dcrConfig.softwareId } : {}),
            ...(c.dcrConfig.softwareStatement ? { softwareStatement: c.dcrConfig.softwareStatement } : {}),
          },
        }
      : {}),
  };
}

const MIN = 60_000;
const HOUR = 60 * MIN;

/**
 * Reads the settings in either spelling (or a document holding them) into one shape, or says what is
 * wrong, naming the field. Nothing is read from the keychain, files or the environment here.
 */
export function parseAuthServerSettings(input: unknown): AuthServerSettings {
  const { body, spelling } = unwrap(input);
  const parsed = SettingsSchema.safeParse(body);
  if (!parsed.success) {
    throw new AuthServerSettingsError(`Invalid authorization server settings: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; ')}.`);
  }
  const s = parsed.data;
  const insecure = s.insecureAllowHTTP === true;
  if (spelling === 'operator' && (s.signingKeyConfig || s.hmacSecretFiles)) throw new AuthServerSettingsError('signingKeyConfig and hmacSecretFiles are runner settings; the operator spelling uses signingKeySecretRefs and hmacSecretRefs.');
  if (s.upstreamProviders.length > 1) {
    throw new AuthServerSettingsError(`Gatehouse takes one upstream identity provider per authorization server (as ToolHive's MCPServer does), not ${s.upstreamProviders.length}.`);
  }
  if (s.allowConfidentialClientRegistration && insecure) throw new AuthServerSettingsError('allowConfidentialClientRegistration cannot be combined with insecureAllowHTTP: client secrets would be issued in cleartext.');
  if (s.forceConfidentialRedirectUris?.length && !s.allowConfidentialClientRegistration) throw new AuthServerSettingsError('forceConfidentialRedirectUris requires allowConfidentialClientRegistration to be true.');
  for (const uri of s.forceConfidentialRedirectUris ?? []) if (isLoopbackUrl(uri)) throw new AuthServerSettingsError(`A loopback client is public by construction: ${uri} cannot be forced confidential.`);
  const scopesSupported = s.scopesSupported ?? ['openid', 'profile', 'email', 'offline_access'];
  const missing = (s.baselineClientScopes ?? []).filter((b) => !scopesSupported.includes(b));
  if (missing.length) throw new AuthServerSettingsError(`baselineClientScopes must be among scopesSupported; not there: ${missing.join(', ')}.`);
  const files = s.signingKeyConfig;
  const inDir = (f: string) => (files?.keyDir ? `${files.keyDir.replace(/\/+$/, '')}/${f}` : f);
  const lt = s.tokenLifespans;
  const cimdTtl = s.cimd?.cacheFallbackTtl;
  return {
    issuer: secured('The issuer', s.issuer, insecure),
    ...(s.authorizationEndpointBaseUrl ? { authorizationEndpointBaseUrl: secured('authorizationEndpointBaseUrl', s.authorizationEndpointBaseUrl, insecure) } : {}),
    signingKeys: [
      ...(s.signingKeySecretRefs ?? []).map(fromRef),
      ...(files?.signingKeyFile ? [{ file: inDir(files.signingKeyFile) }] : []),
      ...(files?.fallbackKeyFiles ?? []).map((f) => ({ file: inDir(f) })),
    ],
    hmacKeys: [...(s.hmacSecretRefs ?? []).map(fromRef), ...(s.hmacSecretFiles ?? []).map((file) => ({ file }))],
    lifespans: {
      accessTokenMs: within('accessTokenLifespan', lt?.accessTokenLifespan, HOUR, MIN, 24 * HOUR, '1m and 24h'),
      refreshTokenMs: within('refreshTokenLifespan', lt?.refreshTokenLifespan, 168 * HOUR, HOUR, 30 * 24 * HOUR, '1h and 720h'),
      authCodeMs: within('authCodeLifespan', lt?.authCodeLifespan, 10 * MIN, 30_000, 10 * MIN, '30s and 10m'),
    },
    upstream: upstreamOf(s.upstreamProviders[0]!, spelling),
    scopesSupported,
    baselineClientScopes: s.baselineClientScopes ?? [],
    allowedAudiences: s.allowedAudiences ?? [],
    disableUpstreamTokenInjection: s.disableUpstreamTokenInjection === true,
    allowConfidentialClientRegistration: s.allowConfidentialClientRegistration === true,
    forceConfidentialRedirectUris: s.forceConfidentialRedirectUris ?? [],
    cimd: { enabled: s.cimd?.enabled === true, cacheMaxSize: s.cimd?.cacheMaxSize ?? 256, cacheFallbackTtlMs: cimdTtl === undefined ? 5 * MIN : goDurationMs(cimdTtl)! },
    insecureAllowHttp: insecure,
    spelling,
  };
}
