import { createHash } from 'node:crypto';
import { GenerationalCache } from '../common/index.js';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { SecretsProvider } from '../secrets/index.js';
import type { EffectiveAuth } from './config.js';
import { IssuerDiscovery } from './discovery.js';
import { AuthFailure } from './errors.js';
import { identityFromClaims, type Identity } from './identity.js';
import { JwksCache } from './jwks.js';
import { safeFetchJson, type SafeFetchOptions, type UrlPolicy } from './safe-fetch.js';

/** Asymmetric algorithms only: never `none`, never HS* (a public key must not become an HMAC secret). */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface ValidatorDeps {
  secrets?: () => SecretsProvider;
  request?: SafeFetchOptions['request'];
  onWarning?: (message: string) => void;
  jwksRefreshMs?: number;
  unknownKidCooldownMs?: number;
}

/**
 * Validates bearer tokens for one server: JWTs against the issuer's keys (discovered or configured),
 * opaque tokens through RFC 7662 introspection when configured. Returns the caller's identity or
 * throws an AuthFailure that says why, without the token.
 */
/** Identities of tokens already validated, so a client's next call with the same token costs a hash lookup. */
class ValidatedTokenCache {
  private readonly entries: GenerationalCache<string, { identity: Identity; until: number }>;

  constructor(maxEntries = 2048) {
    this.entries = new GenerationalCache(maxEntries);
  }

  static key(token: string): string {
    // Keyed by a hash: the cache never holds tokens themselves.
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string, now: number): Identity | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.identity;
  }

  set(key: string, identity: Identity, until: number): void {
    this.entries.set(key, { identity, until });
  }
}

/** How long a validated token is reused: never past its exp, and briefly, so a key the IdP withdraws stops working soon. */
const JWT_CACHE_MS = 60_000;
const INTROSPECTION_CACHE_MS = 30_000;

export class TokenValidator {
  readonly jwks: JwksCache | undefined;
  private readonly cache = new ValidatedTokenCache();
  private readonly policy: UrlPolicy;
  private readonly audiences: string[];

  constructor(
    readonly config: EffectiveAuth & { audiences?: string[]; audienceExplicit?: boolean },
    private readonly deps: ValidatorDeps = {},
  ) {
    this.policy = { insecureAllowHttp: config.insecureAllowHttp, allowPrivateIp: config.allowPrivateIp };
    this.audiences = config.audiences ?? [config.audience];
    const discovery = config.jwksUrl ? undefined : new IssuerDiscovery(config.issuer, this.policy, deps.request);
    const jwksUrl = config.jwksUrl;
    this.jwks = new JwksCache(jwksUrl ? async () => jwksUrl : () => discovery!.jwksUrl(), {
      policy: this.policy,
      request: deps.request,
      refreshMs: deps.jwksRefreshMs,
      unknownKidCooldownMs: deps.unknownKidCooldownMs,
      onError: deps.onWarning,
    });
    this.jwks.start();
  }

  close(): void {
    this.jwks?.stop();
  }

  async validate(token: string): Promise<Identity> {
    const key = ValidatedTokenCache.key(token);
    const now = Date.now();
    const cached = this.cache.get(key, now);
    if (cached) return cached;
    const identity = await this.validateUncached(token);
    const exp = typeof identity.claims['exp'] === 'number' ? identity.claims['exp'] * 1000 : now;
    const cap = identity.tokenType === 'opaque' ? INTROSPECTION_CACHE_MS : JWT_CACHE_MS;
    this.cache.set(key, identity, Math.min(exp, now + cap));
    return identity;
  }

  private async validateUncached(token: string): Promise<Identity> {
    if (!COMPACT_JWS.test(token)) {
      if (this.config.introspectionUrl) return this.introspect(token);
      throw new AuthFailure('invalid_token', 'The access token is not a JWT, and no introspection endpoint is configured.');
    }
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthFailure('invalid_token', 'The access token is malformed.');
    }
    if (typeof header.alg !== 'string' || !ALLOWED_ALGORITHMS.includes(header.alg)) {
      throw new AuthFailure('invalid_token', `The token's algorithm (${String(header.alg).slice(0, 20)}) is not accepted.`);
    }
    const options = {
      algorithms: ALLOWED_ALGORITHMS,
      issuer: this.config.issuer,
      audience: this.audiences,
      clockTolerance: this.config.clockToleranceSeconds,
      requiredClaims: ['exp', 'iss', 'sub'],
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks!.getKey, options));
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw this.describe(err);
      // No kid and several keys of the token's algorithm family: try each of those keys (never other families).
      payload = await this.verifyWithCandidates(token, err, options);
    }
    this.checkCommon(payload as Record<string, unknown>);
    return identityFromClaims(payload as Record<string, unknown>, 'jwt');
  }

  private async verifyWithCandidates(token: string, candidates: errors.JWKSMultipleMatchingKeys, options: Parameters<typeof jwtVerify>[2]): Promise<JWTPayload> {
    let last: unknown = candidates;
    for await (const key of candidates as unknown as AsyncIterable<Parameters<typeof jwtVerify>[1]>) {
      try {
        return (await jwtVerify(token, key as Exclude<Parameters<typeof jwtVerify>[1], Function>, options)).payload;
      } catch (err) {
        last = err;
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) break; // claims failed: another key will not fix that
      }
    }
    throw this.describe(last);
  }

  /** Checks jose does not do (or not in the way MCP needs), for JWTs and introspected tokens alike. */
  private checkCommon(claims: Record<string, unknown>): void {
    // Sessions, audit events and Cedar's principal are keyed by the subject: two callers must never share
    // one, so a number, an object or an empty string (which would all read as "") is refused (RFC 7519: StringOrURI).
    if (typeof claims['sub'] !== 'string' || claims['sub'] === '') throw new AuthFailure('invalid_token', 'The token has no subject ("sub" must be a non-empty string).');
    const now = Math.floor(Date.now() / 1000);
    const iat = claims['iat'];
    if (iat !== undefined && (typeof iat !== 'number' || iat > now + this.config.clockToleranceSeconds)) {
      throw new AuthFailure('invalid_token', 'The token was issued in the future (iat).');
    }
    if (this.config.requiredSubject !== undefined && claims['sub'] !== this.config.requiredSubject) {
      throw new AuthFailure('invalid_token', `The token's subject is not the service account this server accepts.`);
    }
  }

  private describe(err: unknown): AuthFailure {
    if (err instanceof AuthFailure) return err;
    if (err instanceof errors.JWTExpired) return new AuthFailure('invalid_token', 'The access token has expired.');
    if (err instanceof errors.JWTClaimValidationFailed) {
      const claim = err.claim;
      if (claim === 'aud') return new AuthFailure('invalid_token', 'The access token was not issued for this server (audience).');
      if (claim === 'iss') return new AuthFailure('invalid_token', 'The access token was issued by another issuer.');
      if (claim === 'nbf') return new AuthFailure('invalid_token', 'The access token is not valid yet (nbf).');
      return new AuthFailure('invalid_token', `The access token is missing or has an invalid "${claim}" claim.`);
    }
    if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthFailure('invalid_token', 'The access token signature is invalid.');
    if (err instanceof errors.JWKSNoMatchingKey) return new AuthFailure('invalid_token', 'No key of the issuer matches the token (unknown kid or algorithm).');
    if (err instanceof errors.JOSEAlgNotAllowed) return new AuthFailure('invalid_token', 'The token algorithm is not accepted.');
    if (err instanceof errors.JOSEError) return new AuthFailure('invalid_token', 'The access token is invalid.');
    // Discovery or JWKS could not be fetched and no keys are cached yet: not the caller's fault.
    this.deps.onWarning?.(`Token validation could not get the issuer's keys: ${(err as Error).message}`);
    return new AuthFailure(undefined, `The identity provider's keys are unavailable right now: ${(err as Error).message}`, 503);
  }

  /** RFC 7662 introspection for opaque tokens; the client secret comes from the keychain. */
  private async introspect(token: string): Promise<Identity> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (this.config.clientId) {
      const secret = this.config.clientSecretRef && this.deps.secrets ? await this.deps.secrets().get(this.config.clientSecretRef) : '';
      headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
    let res;
    try {
      res = await safeFetchJson(this.config.introspectionUrl!, {
        policy: this.policy,
        method: 'POST',
        headers,
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        maxBytes: 64 * 1024,
        request: this.deps.request,
        what: 'the introspection endpoint',
      });
    } catch (err) {
      throw this.describe(err);
    }
    const claims = res.body as Record<string, unknown> | undefined;
    if (res.status !== 200 || !claims) throw new AuthFailure(undefined, `The introspection endpoint answered HTTP ${res.status}.`, 503);
    if (claims['active'] !== true) throw new AuthFailure('invalid_token', 'The access token is not active.');
    const now = Math.floor(Date.now() / 1000);
    const tol = this.config.clockToleranceSeconds;
    if (typeof claims['exp'] !== 'number' || claims['exp'] <= now - tol) throw new AuthFailure('invalid_token', 'The access token has expired.');
    if (claims['iss'] !== undefined && claims['iss'] !== this.config.issuer) throw new AuthFailure('invalid_token', 'The access token was issued by another issuer.');
    // Introspection answers often carry no aud (RFC 7662 makes it optional): it is required only when an
    // audience was configured explicitly; when present it must always match.
    const aud = claims['aud'];
    const auds = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
    if ((auds.length > 0 || this.config.audienceExplicit) && !auds.some((a) => this.audiences.includes(String(a)))) {
      throw new AuthFailure('invalid_token', 'The access token was not issued for this server (audience).');
    }
    const subject = [claims['sub'], claims['username'], claims['client_id']].find((v): v is string => typeof v === 'string' && v !== '');
    if (subject === undefined) throw new AuthFailure('invalid_token', 'The access token has no subject.');
    this.checkCommon({ ...claims, sub: subject });
    return identityFromClaims({ ...claims, sub: subject }, 'opaque');
  }
}
