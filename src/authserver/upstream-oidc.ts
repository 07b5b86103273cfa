import { randomBytes } from 'node:crypto';
import { discoverAuthorizationServerMetadata, exchangeAuthorization, refreshAuthorization, startAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import type { AuthorizationServerMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { safeFetchLike } from '../auth/index.js';
import type { OidcUpstream } from './settings.js';

/** Who the upstream says signed in, and the tokens it gave (kept, later injected toward the MCP server). */
export interface UpstreamIdentity {
  subject: string;
  name?: string;
  email?: string;
  /** The ID token's other claims (groups, roles, ...): what Cedar policies may want to see. */
  claims: Record<string, unknown>;
  tokens: OAuthTokens;
}

/** A login at the upstream under way: what its callback must bring back and prove. */
export interface PendingUpstreamLogin {
  authorizationUrl: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

/** Claims every JWT has, or that only make sense in the upstream's own token: not copied into Gatehouse's. */
const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'nonce', 'azp', 'at_hash', 'c_hash', 'auth_time', 'acr', 'amr', 'sid', 's_hash', 'client_id', 'scope', 'cnf']);

/**
 * Gatehouse as a client of an OpenID provider (the MCP SDK's helpers for discovery, PKCE and the token
 * request; jose for the ID token): the authorization URL with state, nonce and PKCE S256, then the code
 * exchanged and the ID token checked (signature from the provider's keys, issuer, audience, nonce,
 * expiry) before anyone is signed in (checklist row B26).
 */
export class OidcUpstreamClient {
  private metadata: Promise<AuthorizationServerMetadata> | undefined;
  private readonly fetchFn;

  constructor(
    private readonly u: OidcUpstream,
    private readonly clientSecret: () => Promise<string | undefined>,
  ) {
    this.fetchFn = safeFetchLike({ insecureAllowHttp: u.insecureAllowHttp, allowPrivateIp: u.allowPrivateIps }, { timeoutMs: 10_000 });
  }

  private discover(): Promise<AuthorizationServerMetadata> {
    this.metadata ??= discoverAuthorizationServerMetadata(this.u.issuerUrl, { fetchFn: this.fetchFn }).then((m) => {
      if (!m) throw new Error(`${this.u.issuerUrl} publishes no OpenID metadata.`);
      if (m.issuer !== this.u.issuerUrl) throw new Error(`The metadata of ${this.u.issuerUrl} names another issuer (${m.issuer}).`);
      if (!m.code_challenge_methods_supported?.includes('S256')) throw new Error(`${this.u.issuerUrl} does not advertise PKCE with S256.`);
      return m;
    });
    this.metadata.catch(() => (this.metadata = undefined)); // a failed discovery is tried again next time
    return this.metadata;
  }

  async begin(redirectUri: string): Promise<PendingUpstreamLogin> {
    const metadata = await this.discover();
    const state = randomBytes(24).toString('base64url');
    const nonce = randomBytes(24).toString('base64url');
    const { authorizationUrl, codeVerifier } = await startAuthorization(this.u.issuerUrl, {
      metadata,
      clientInformation: { client_id: this.u.clientId },
      redirectUrl: redirectUri,
      scope: this.u.scopes.join(' '),
      state,
    });
    authorizationUrl.searchParams.set('nonce', nonce);
    // offline_access needs the consent prompt at most providers (the SDK asks for it too).
    for (const [k, v] of Object.entries(this.u.additionalAuthorizationParams)) authorizationUrl.searchParams.set(k, v);
    return { authorizationUrl: authorizationUrl.href, state, nonce, codeVerifier, redirectUri };
  }

  /** New upstream tokens from a refresh token (the provider may rotate it: the caller keeps the new one first). */
  async refresh(refreshToken: string): Promise<OAuthTokens> {
    const metadata = await this.discover();
    const secret = await this.clientSecret();
    return refreshAuthorization(this.u.issuerUrl, { metadata, clientInformation: { client_id: this.u.clientId, ...(secret ? { client_secret: secret } : {}) }, refreshToken, fetchFn: this.fetchFn });
  }

  async finish(pending: PendingUpstreamLogin, code: string): Promise<UpstreamIdentity> {
    const metadata = await this.discover();
    const secret = await this.clientSecret();
    const tokens = await exchangeAuthorization(this.u.issuerUrl, {
      metadata,
      clientInformation: { client_id: this.u.clientId, ...(secret ? { client_secret: secret } : {}) },
      authorizationCode: code,
      codeVerifier: pending.codeVerifier,
      redirectUri: pending.redirectUri,
      fetchFn: this.fetchFn,
    });
    if (!tokens.id_token) throw new Error(`${this.u.issuerUrl} gave no ID token (is "openid" among the upstream scopes?).`);
    if (!metadata.jwks_uri) throw new Error(`${this.u.issuerUrl} publishes no jwks_uri.`);
    const jwksRes = await this.fetchFn(String(metadata.jwks_uri));
    if (!jwksRes.ok) throw new Error(`${metadata.jwks_uri} answered HTTP ${jwksRes.status}.`);
    const jwks = createLocalJWKSet((await jwksRes.json()) as JSONWebKeySet);
    let claims: JWTPayload;
    try {
      claims = (await jwtVerify(tokens.id_token, jwks, { issuer: this.u.issuerUrl, audience: this.u.clientId, algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'] })).payload;
    } catch (err) {
      throw new Error(`The ID token from ${this.u.issuerUrl} is not valid: ${(err as Error).message}`);
    }
    if (claims['nonce'] !== pending.nonce) throw new Error(`The ID token from ${this.u.issuerUrl} is for another sign-in (nonce).`);
    const subject = claims[this.u.subjectClaim];
    if (typeof subject !== 'string' || subject === '') throw new Error(`The ID token from ${this.u.issuerUrl} has no "${this.u.subjectClaim}" claim to identify the user.`);
    const extra = Object.fromEntries(Object.entries(claims).filter(([k]) => !REGISTERED.has(k)));
    return {
      subject,
      ...(typeof claims['name'] === 'string' ? { name: claims['name'] } : {}),
      ...(typeof claims['email'] === 'string' ? { email: claims['email'] } : {}),
      claims: extra,
      tokens,
    };
  }
}
