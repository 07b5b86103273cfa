import { createHash } from 'node:crypto';
import { registerClient } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthMetadataSchema, type OAuthClientMetadata, type OAuthMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import { z } from 'zod';
import { INTERNAL_PREFIX, type Keychain } from '../secrets/index.js';
import type { OAuth2Upstream } from './settings.js';

/**
 * Gatehouse registering itself at an OAuth 2.0 upstream (ToolHive's dcrConfig, RFC 7591): once, with
 * its one callback URL, so one registration serves every local server. The registration (client id and
 * secret) is kept in the keychain and reused across restarts; ToolHive keeps it in memory and registers
 * again at every start, leaving the earlier registrations behind at the provider. A new registration
 * is made only when what it was made for changes (endpoint, callback, scopes) or its secret expires
 * (RFC 7591 §3.2.1 client_secret_expires_at).
 */

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** How Gatehouse authenticates at the upstream's token endpoint. */
export interface UpstreamClientCredentials {
  clientId: string;
  clientSecret?: string;
  authMethod: ClientAuthMethod;
}

export interface UpstreamRegistrationView {
  clientId: string;
  registeredAt: number;
  /** When the upstream said its secret expires; null: never. */
  expiresAt: number | null;
  registrationEndpoint: string;
}

export interface UpstreamRegistrarDeps {
  keychain: Keychain;
  /** Names this authorization server's entry in the keychain (one per Gatehouse home). */
  instanceId: string;
  /** The upstream's fetch (its SSRF rules: private addresses only with allowPrivateIPs). */
  fetchFn: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /** The RFC 7591 initial access token, when the settings name one (read when a registration is made). */
  initialAccessToken: () => Promise<string | undefined>;
  now?: () => number;
}

export class UpstreamRegistrationError extends Error {}

const StoredSchema = z.object({
  key: z.string(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  authMethod: z.enum(['client_secret_basic', 'client_secret_post', 'none']),
  registeredAt: z.number(),
  expiresAt: z.number().nullable(),
  registrationEndpoint: z.string(),
  /** RFC 7592, when the upstream offers it: where Gatehouse can ask whether the registration still exists. */
  registrationClientUri: z.string().optional(),
  registrationAccessToken: z.string().optional(),
});
type Stored = z.infer<typeof StoredSchema>;

/** A registration is made again this long before the upstream said its secret expires. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

/** What a registration is for: another endpoint, callback or scope set needs another one. */
function registrationKey(u: OAuth2Upstream, redirectUri: string): string {
  const parts = [u.dcr?.discoveryUrl ?? '', u.dcr?.registrationEndpoint ?? '', redirectUri, [...new Set(u.scopes)].sort().join(' '), u.dcr?.softwareId ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The issuer a metadata URL was built from (RFC 8414 §3.1 inserts the well-known segment before the
 * path; OpenID Discovery appends it): the document must name that issuer (§3.3), or it is not the
 * upstream's. Undefined for a URL of neither shape.
 */
export function issuerOfMetadataUrl(metadataUrl: string): string | undefined {
  const u = new URL(metadataUrl);
  for (const wk of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    if (u.pathname.startsWith(wk)) return `${u.origin}${u.pathname.slice(wk.length)}`;
    if (u.pathname.endsWith(wk)) return `${u.origin}${u.pathname.slice(0, -wk.length)}`;
  }
  return undefined;
}

/** Prefers a client secret (basic, which RFC 6749 makes every server support, then post); a public client only with PKCE S256. */
function chooseAuthMethod(metadata: OAuthMetadata | undefined): ClientAuthMethod {
  const offered = metadata?.token_endpoint_auth_methods_supported;
  // RFC 8414 §2: when omitted, the default is client_secret_basic.
  if (!offered) return 'client_secret_basic';
  for (const m of ['client_secret_basic', 'client_secret_post'] as const) if (offered.includes(m)) return m;
  if (offered.includes('none') && metadata?.code_challenge_methods_supported?.includes('S256')) return 'none';
  throw new UpstreamRegistrationError(`The upstream offers no client authentication Gatehouse uses (it offers ${offered.join(', ') || 'none'}; Gatehouse uses client_secret_basic, client_secret_post, or none with PKCE S256).`);
}

/** The keychain entry of an authorization server's registration at its upstream. */
function registrationAccount(instanceId: string): string {
  return `${INTERNAL_PREFIX}authserver:${instanceId}:upstream-client`;
}

/** Drops a kept registration (settings without dcrConfig, or no authorization server any more). */
export async function forgetUpstreamRegistration(keychain: Keychain, instanceId: string): Promise<void> {
  await keychain.delete(registrationAccount(instanceId));
}

const ManagementSchema = z.object({ registration_client_uri: z.string().url(), registration_access_token: z.string().min(1) });

/** RFC 7592's means to read the registration back, when the answer has them. */
function management(answer: unknown): Pick<Stored, 'registrationClientUri' | 'registrationAccessToken'> {
  const m = ManagementSchema.safeParse(answer);
  return m.success ? { registrationClientUri: m.data.registration_client_uri, registrationAccessToken: m.data.registration_access_token } : {};
}

export class UpstreamRegistrar {
  private readonly now: () => number;
  private flight: Promise<UpstreamClientCredentials> | undefined;
  /** The registration in use, once read or made (the keychain is read once, not at every token request). */
  private current: Stored | undefined;

  constructor(
    private readonly u: OAuth2Upstream,
    private readonly redirectUri: string,
    private readonly d: UpstreamRegistrarDeps,
  ) {
    this.now = d.now ?? Date.now;
  }

  private account(): string {
    return registrationAccount(this.d.instanceId);
  }

  private async stored(): Promise<Stored | undefined> {
    if (this.current) return this.current;
    const raw = await this.d.keychain.get(this.account());
    if (raw === null) return undefined;
    try {
      const p = StoredSchema.safeParse(JSON.parse(raw));
      return p.success ? p.data : undefined;
    } catch {
      return undefined;
    }
  }

  private usable(s: Stored | undefined): s is Stored {
    return s !== undefined && s.key === registrationKey(this.u, this.redirectUri) && (s.expiresAt === null || s.expiresAt - EXPIRY_MARGIN_MS > this.now());
  }

  /** The registration in the keychain, if it is still good for these settings. */
  async view(): Promise<UpstreamRegistrationView | undefined> {
    const s = await this.stored();
    return this.usable(s) ? { clientId: s.clientId, registeredAt: s.registeredAt, expiresAt: s.expiresAt, registrationEndpoint: s.registrationEndpoint } : undefined;
  }

  /**
   * The client credentials at the upstream: the kept registration, or a new one (kept before it is
   * used). Concurrent callers share one registration request, so none is left orphaned.
   */
  credentials(opts: { check?: boolean } = {}): Promise<UpstreamClientCredentials> {
    this.flight ??= this.resolve(opts.check === true).finally(() => (this.flight = undefined));
    return this.flight;
  }

  /** The upstream no longer knows the kept registration (invalid_client): the next sign-in registers anew. */
  async forget(): Promise<void> {
    this.current = undefined;
    await this.d.keychain.delete(this.account());
  }

  /**
   * Whether the upstream still has the registration (RFC 7592 read, where it gave the means): a sign-in
   * sent with a client it dropped would end on its error page, where Gatehouse never learns of it.
   * Only a clear "no such client" counts; an unreachable endpoint leaves the registration as it is.
   */
  private async stillRegistered(s: Stored): Promise<boolean> {
    if (!s.registrationClientUri || !s.registrationAccessToken) return true;
    try {
      const res = await this.d.fetchFn(s.registrationClientUri, { headers: { authorization: `Bearer ${s.registrationAccessToken}`, accept: 'application/json' } });
      return ![401, 403, 404].includes(res.status);
    } catch {
      return true;
    }
  }

  private async resolve(check: boolean): Promise<UpstreamClientCredentials> {
    let kept = await this.stored();
    if (check && this.usable(kept) && !(await this.stillRegistered(kept))) {
      await this.forget();
      kept = undefined;
    }
    if (this.usable(kept)) {
      this.current = kept;
      return { clientId: kept.clientId, ...(kept.clientSecret ? { clientSecret: kept.clientSecret } : {}), authMethod: kept.authMethod };
    }
    this.current = undefined;
    const metadata = this.u.dcr?.discoveryUrl ? await this.discover(this.u.dcr.discoveryUrl) : undefined;
    const registrationEndpoint = metadata?.registration_endpoint ?? this.u.dcr?.registrationEndpoint;
    if (!registrationEndpoint) throw new UpstreamRegistrationError(`The upstream's metadata (${this.u.dcr?.discoveryUrl}) has no registration_endpoint: it does not take dynamic registration. Register Gatehouse there by hand and give its clientId instead of dcrConfig.`);
    const authMethod = chooseAuthMethod(metadata);
    const clientMetadata: OAuthClientMetadata = {
      client_name: 'Gatehouse',
      redirect_uris: [this.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: authMethod,
      ...(this.u.scopes.length ? { scope: this.u.scopes.join(' ') } : {}),
      ...(this.u.dcr?.softwareId ? { software_id: this.u.dcr.softwareId } : {}),
      ...(this.u.dcr?.softwareStatement ? { software_statement: this.u.dcr.softwareStatement } : {}),
    };
    const token = await this.d.initialAccessToken();
    // The SDK's response schema drops RFC 7592's fields: the answer is read for them here as well.
    let answer: unknown;
    let status: number | undefined;
    const fetchFn: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      const res = await this.d.fetchFn(input instanceof Request ? input.url : input, { ...init, headers });
      status = res.status;
      answer = await res.clone().json().catch(() => undefined);
      return res;
    };
    let info;
    try {
      // The SDK's registration request; the metadata only tells it where the endpoint is.
      info = await registerClient(new URL(registrationEndpoint).origin, { metadata: { ...(metadata ?? {}), registration_endpoint: registrationEndpoint } as OAuthMetadata, clientMetadata, fetchFn });
    } catch (err) {
      const code = (err as { errorCode?: unknown }).errorCode;
      const said = [status !== undefined ? `HTTP ${status}` : undefined, typeof code === 'string' ? code : undefined, (err as Error).message || undefined].filter(Boolean).join(', ');
      const refused = status === 401 || status === 403 || code === 'invalid_token';
      const hint = refused ? (token ? ' The initial access token may be wrong or expired.' : ' It may want an initial access token (dcrConfig.initialAccessTokenRef).') : '';
      throw new UpstreamRegistrationError(`Registering Gatehouse at ${registrationEndpoint} failed (${said}).${hint}`);
    }
    const method = (info.token_endpoint_auth_method as ClientAuthMethod | undefined) ?? authMethod;
    if (!['client_secret_basic', 'client_secret_post', 'none'].includes(method)) throw new UpstreamRegistrationError(`${registrationEndpoint} registered Gatehouse for ${method} at its token endpoint, which Gatehouse does not use.`);
    if (method !== 'none' && !info.client_secret) throw new UpstreamRegistrationError(`${registrationEndpoint} registered Gatehouse as a confidential client (${method}) but gave no client_secret.`);
    const expires = info.client_secret_expires_at;
    const stored: Stored = {
      key: registrationKey(this.u, this.redirectUri),
      clientId: info.client_id,
      ...(info.client_secret ? { clientSecret: info.client_secret } : {}),
      authMethod: method,
      registeredAt: this.now(),
      // RFC 7591: 0 means it does not expire.
      expiresAt: expires ? expires * 1000 : null,
      registrationEndpoint,
      ...management(answer),
    };
    // Kept before it is used: a registration that was used but not kept would be made again, and orphaned.
    await this.d.keychain.set(this.account(), JSON.stringify(stored));
    this.current = stored;
    return { clientId: stored.clientId, ...(stored.clientSecret ? { clientSecret: stored.clientSecret } : {}), authMethod: stored.authMethod };
  }

  /** One GET of the metadata document, as ToolHive (no well-known fallbacks), its issuer checked. */
  private async discover(url: string): Promise<OAuthMetadata> {
    let res: Response;
    try {
      res = await this.d.fetchFn(url, { headers: { accept: 'application/json' } });
    } catch (err) {
      throw new UpstreamRegistrationError(`The upstream's metadata at ${url} could not be read: ${(err as Error).message}`);
    }
    if (!res.ok) throw new UpstreamRegistrationError(`The upstream's metadata at ${url} answered HTTP ${res.status}.`);
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new UpstreamRegistrationError(`The upstream's metadata at ${url} is not JSON.`);
    }
    const parsed = OAuthMetadataSchema.safeParse(body);
    if (!parsed.success) throw new UpstreamRegistrationError(`The upstream's metadata at ${url} is not authorization server metadata (RFC 8414): ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim());
    const expected = issuerOfMetadataUrl(url);
    if (expected !== undefined && parsed.data.issuer !== expected) throw new UpstreamRegistrationError(`The upstream's metadata at ${url} names the issuer ${parsed.data.issuer}, not ${expected} (RFC 8414 §3.3): it is not that provider's.`);
    return parsed.data;
  }
}
