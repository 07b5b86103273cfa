import { createHash, randomBytes } from 'node:crypto';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import { safeFetchLike } from '../auth/index.js';
import type { OAuth2Upstream } from './settings.js';
import type { PendingUpstreamLogin, UpstreamIdentity } from './upstream-oidc.js';
import type { UpstreamClientCredentials } from './upstream-registration.js';

/** Where Gatehouse's client at the upstream comes from: the settings' clientId, or a registration (dcrConfig). */
export interface OAuth2ClientSource {
  /** `check`: a sign-in is about to start, and a registration the upstream dropped is worth finding out about now. */
  credentials(opts?: { check?: boolean }): Promise<UpstreamClientCredentials>;
  /** The upstream answered invalid_client: a registration it no longer knows is made again next time. */
  rejected?(): Promise<void>;
}

/** The settings' own client: its id, and the secret (sent in the form, as ToolHive does). */
export function configuredClient(clientId: string, clientSecret: () => Promise<string | undefined>): OAuth2ClientSource {
  return {
    credentials: async () => {
      const secret = await clientSecret();
      return { clientId, ...(secret ? { clientSecret: secret } : {}), authMethod: secret ? 'client_secret_post' : 'none' };
    },
  };
}

/** RFC 6749 §2.3.1: the id and secret are form-urlencoded before they are joined for Basic. */
function basicAuth(id: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/**
 * Gatehouse as a client of a plain OAuth 2.0 provider without OpenID (GitHub and the like): explicit
 * endpoints, PKCE S256 sent regardless, JSON asked for explicitly (GitHub answers form-encoded
 * otherwise), token responses read through ToolHive's tokenResponseMapping, and the user identified by
 * the userInfo call with its field mapping (the first non-empty candidate wins; numeric ids become
 * strings) or from the token response (identityFromToken). There is no ID token to check: identity
 * rests on TLS to the provider, as ToolHive's does.
 */
export class OAuth2UpstreamClient {
  private readonly fetchFn;

  constructor(
    private readonly u: OAuth2Upstream,
    private readonly client: OAuth2ClientSource,
  ) {
    this.fetchFn = safeFetchLike({ insecureAllowHttp: u.insecureAllowHttp, allowPrivateIp: u.allowPrivateIps }, { timeoutMs: 10_000 });
  }

  async begin(redirectUri: string): Promise<PendingUpstreamLogin> {
    const { clientId } = await this.client.credentials({ check: true });
    const state = randomBytes(24).toString('base64url');
    const codeVerifier = randomBytes(32).toString('base64url');
    const url = new URL(this.u.authorizationEndpoint);
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      state,
      code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...(this.u.scopes.length ? { scope: this.u.scopes.join(' ') } : {}),
      ...this.u.additionalAuthorizationParams,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { authorizationUrl: url.href, state, nonce: '', codeVerifier, redirectUri };
  }

  /** The token request; the response as tokens, and as it came (identityFromToken reads it). */
  private async token(form: Record<string, string>): Promise<{ tokens: OAuthTokens; raw: Record<string, unknown> }> {
    const c = await this.client.credentials();
    const basic = c.authMethod === 'client_secret_basic' && c.clientSecret !== undefined;
    const body = new URLSearchParams({ ...form, ...(basic ? {} : { client_id: c.clientId }), ...(c.authMethod === 'client_secret_post' && c.clientSecret ? { client_secret: c.clientSecret } : {}) });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(basic ? { authorization: basicAuth(c.clientId, c.clientSecret!) } : {}) };
    const res = await this.fetchFn(this.u.tokenEndpoint, { method: 'POST', headers, body: body.toString() });
    const text = await res.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`${this.u.tokenEndpoint} answered HTTP ${res.status} without JSON.`);
    }
    // A registration the upstream dropped (or whose secret it expired early): registered again next time.
    if (json['error'] === 'invalid_client') await this.client.rejected?.();
    // GitHub answers 200 with {"error": ...}: an error is an error whatever the status.
    if (!res.ok || typeof json['error'] === 'string') throw new Error(`${this.u.tokenEndpoint} refused: ${String(json['error'] ?? `HTTP ${res.status}`)}${typeof json['error_description'] === 'string' ? ` (${json['error_description']})` : ''}`);
    const m = this.u.tokenResponseMapping;
    const accessToken = pathValue(json, m?.accessTokenPath ?? 'access_token');
    if (typeof accessToken !== 'string' || accessToken === '') throw new Error(`${this.u.tokenEndpoint} gave no access token${m ? ` at ${m.accessTokenPath}` : ''}.`);
    const refresh = pathValue(json, m?.refreshTokenPath ?? 'refresh_token');
    const expires = pathValue(json, m?.expiresInPath ?? 'expires_in');
    const scope = pathValue(json, m?.scopePath ?? 'scope');
    const tokens: OAuthTokens = {
      access_token: accessToken,
      token_type: 'Bearer',
      ...(typeof refresh === 'string' && refresh ? { refresh_token: refresh } : {}),
      ...(typeof expires === 'number' ? { expires_in: expires } : typeof expires === 'string' && /^\d+$/.test(expires) ? { expires_in: Number(expires) } : {}),
      ...(typeof scope === 'string' ? { scope } : {}),
    };
    return { tokens, raw: json };
  }

  async refresh(refreshToken: string): Promise<OAuthTokens> {
    return (await this.token({ grant_type: 'refresh_token', refresh_token: refreshToken })).tokens;
  }

  async finish(pending: PendingUpstreamLogin, code: string): Promise<UpstreamIdentity> {
    const { tokens: clean, raw } = await this.token({ grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, code_verifier: pending.codeVerifier });
    if (this.u.identityFromToken) {
      const f = this.u.identityFromToken;
      const subject = stringOf(pathValue(raw, f.subjectPath));
      if (!subject) throw new Error(`The token response has no user at ${f.subjectPath}.`);
      const name = f.namePath ? stringOf(pathValue(raw, f.namePath)) : undefined;
      const email = f.emailPath ? stringOf(pathValue(raw, f.emailPath)) : undefined;
      return { subject, ...(name ? { name } : {}), ...(email ? { email } : {}), claims: {}, tokens: clean };
    }
    const ui = this.u.userInfo;
    if (!ui) throw new Error('An OAuth 2.0 upstream needs userInfo (or identityFromToken) to say who signed in.');
    const res = await this.fetchFn(ui.endpointUrl, { method: ui.httpMethod, headers: { accept: 'application/json', ...ui.additionalHeaders, authorization: `Bearer ${clean.access_token}` } });
    if (!res.ok) throw new Error(`${ui.endpointUrl} answered HTTP ${res.status}.`);
    const user = (await res.json()) as Record<string, unknown>;
    const first = (fields: string[]) => fields.map((f) => stringOf(pathValue(user, f))).find((v) => v !== undefined);
    const subject = first(ui.fieldMapping.subjectFields);
    if (!subject) throw new Error(`${ui.endpointUrl} names no user (none of ${ui.fieldMapping.subjectFields.join(', ')}).`);
    const name = first(ui.fieldMapping.nameFields);
    const email = first(ui.fieldMapping.emailFields);
    return { subject, ...(name ? { name } : {}), ...(email ? { email } : {}), claims: {}, tokens: clean };
  }
}

/** A non-empty string, or a number as one (GitHub's numeric user id); anything else is no value. */
function stringOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * A dot path into JSON ("authed_user.access_token"), and ToolHive's "@upstreamjwt" modifier
 * ("access_token|@upstreamjwt|sub": the named field is a JWT, its payload read without verification).
 */
export function pathValue(json: unknown, path: string): unknown {
  const [head, ...mods] = path.split('|');
  let v = dig(json, head!);
  for (let i = 0; i < mods.length; i++) {
    if (mods[i] === '@upstreamjwt') {
      try {
        v = decodeJwt(String(v));
      } catch {
        return undefined;
      }
    } else v = dig(v, mods[i]!);
  }
  return v;
}

function dig(json: unknown, path: string): unknown {
  let v: unknown = json;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
