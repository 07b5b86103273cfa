import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { safeFetchLike } from '../auth/index.js';
import { GenerationalCache } from '../common/index.js';
import { TOKEN_TYPES, type TokenExchangeSettings } from './token-exchange-settings.js';

const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** An exchanged token is given up this long before it expires, so none expires on its way to the server. */
const EXPIRY_MARGIN_MS = 30_000;
/** For a token service that says neither expires_in nor exp: reuse briefly, then ask again. */
const UNDATED_REUSE_MS = 60_000;
const CACHE_ENTRIES = 2048;

/**
 * Why an exchange failed, as the caller's answer needs it: `unavailable` (the token service is down
 * or slow: retry later), `subject` (it refused the caller's token: sign in again), `settings` (it
 * refused Gatehouse's request itself: the server's token exchange settings need fixing).
 */
export type ExchangeFailure = 'unavailable' | 'subject' | 'settings';

export class TokenExchangeError extends Error {
  constructor(
    message: string,
    readonly failure: ExchangeFailure,
  ) {
    super(message);
  }
}

/** OAuth errors that say the subject token is the problem (RFC 8693 §2.2.2, RFC 6749 §5.2). */
const SUBJECT_ERRORS = new Set(['invalid_grant', 'invalid_token', 'access_denied', 'unauthorized_client']);

export interface TokenExchangerDeps {
  /** The client secret, read when an exchange needs it (from the keychain); undefined: none configured. */
  clientSecret(): Promise<string | undefined>;
  /** A fetch with the address rules of the server (loopback always, private addresses when allowed). */
  fetch?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  now?: () => number;
}

interface Cached {
  token: string;
  until: number;
}

function keyOf(subjectToken: string): string {
  return createHash('sha256').update(subjectToken).digest('base64url');
}

function jwtExpiryMs(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * RFC 8693 token exchange toward one MCP server (ToolHive's tokenexchange middleware), with what
 * ToolHive lacks: exchanged tokens are reused until shortly before they expire, or the caller's own
 * token does, rather than one exchange per request; concurrent requests of one caller share one
 * exchange. The cache is keyed by a hash of the caller's token, in memory only.
 */
export class TokenExchanger {
  private readonly cache = new GenerationalCache<string, Cached>(CACHE_ENTRIES);
  private readonly pending = new Map<string, Promise<string>>();
  private readonly as: oauth.AuthorizationServer;
  private readonly fetch: NonNullable<TokenExchangerDeps['fetch']>;
  private readonly now: () => number;
  private exchanges = 0;

  constructor(
    readonly settings: TokenExchangeSettings,
    private readonly d: TokenExchangerDeps,
  ) {
    const origin = new URL(settings.tokenUrl);
    this.as = { issuer: origin.origin, token_endpoint: settings.tokenUrl };
    // The token URL is the user's own setting, not something a server told us: private addresses (a company STS) are fine.
    this.fetch = d.fetch ?? safeFetchLike({ insecureAllowHttp: false, allowPrivateIp: true }, { timeoutMs: 10_000, maxBytes: 64 * 1024 });
    this.now = d.now ?? Date.now;
  }

  /** How many exchanges reached the token service (the rest came from the cache). */
  get exchangeCount(): number {
    return this.exchanges;
  }

  /** The token for the MCP server in exchange for `subjectToken`; from the cache while it is good. */
  async exchange(subjectToken: string): Promise<string> {
    const key = keyOf(subjectToken);
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.token;
    const running = this.pending.get(key);
    if (running) return running;
    const p = this.request(subjectToken)
      .then((answer) => {
        this.cache.set(key, answer);
        return answer.token;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  /** The server refused what it was given for this caller: the next request exchanges again. */
  forget(subjectToken: string): void {
    this.cache.delete(keyOf(subjectToken));
  }

  private async request(subjectToken: string): Promise<Cached> {
    const s = this.settings;
    const params = new URLSearchParams({ subject_token: subjectToken, subject_token_type: s.subjectTokenType, requested_token_type: TOKEN_TYPES.access_token });
    if (s.audience) params.set('audience', s.audience);
    if (s.scopes.length) params.set('scope', s.scopes.join(' '));
    const secret = await this.d.clientSecret();
    // Some token services take no client at all (Google's STS): then nothing identifies one. oauth4webapi
    // wants a client id all the same; without one, the no-op authentication never sends this placeholder.
    const client: oauth.Client = { client_id: s.clientId ?? 'no-client' };
    const auth: oauth.ClientAuth = s.clientId ? (secret !== undefined ? oauth.ClientSecretBasic(secret) : oauth.None()) : () => {};
    const options = { [oauth.customFetch]: this.fetch, [oauth.allowInsecureRequests]: new URL(s.tokenUrl).protocol === 'http:', signal: AbortSignal.timeout(10_000) };
    const host = new URL(s.tokenUrl).host;
    let answer: oauth.TokenEndpointResponse;
    try {
      this.exchanges += 1;
      const response = await oauth.genericTokenEndpointRequest(this.as, client, auth, GRANT_TYPE, params, options);
      if (response.status >= 500 || response.status === 429) {
        throw new TokenExchangeError(`The token service at ${host} answered ${response.status}: try again in a moment.`, 'unavailable');
      }
      answer = await oauth.processGenericTokenEndpointResponse(this.as, client, response, { recognizedTokenTypes: { n_a: () => {} } });
    } catch (err) {
      throw classify(err, host);
    }
    if (typeof answer['issued_token_type'] !== 'string') throw new TokenExchangeError(`The token service at ${host} answered without issued_token_type (RFC 8693 requires it).`, 'settings');
    const now = this.now();
    const expiresAt = typeof answer.expires_in === 'number' ? now + answer.expires_in * 1000 : (jwtExpiryMs(answer.access_token) ?? now + UNDATED_REUSE_MS + EXPIRY_MARGIN_MS);
    // Never beyond the caller's own token: a caller whose token expired is not served from the cache.
    const subjectExpiry = jwtExpiryMs(subjectToken);
    const until = Math.min(expiresAt, subjectExpiry ?? Infinity) - EXPIRY_MARGIN_MS;
    return { token: answer.access_token, until };
  }
}

function classify(err: unknown, host: string): TokenExchangeError {
  if (err instanceof TokenExchangeError) return err;
  if (err instanceof oauth.ResponseBodyError) {
    const detail = `${err.error}${err.error_description ? `: ${err.error_description.slice(0, 200)}` : ''}`;
    if (SUBJECT_ERRORS.has(err.error)) return new TokenExchangeError(`The token service at ${host} refused your token (${detail}).`, 'subject');
    return new TokenExchangeError(`The token service at ${host} refused Gatehouse's exchange request (${detail}): check the server's token exchange settings.`, 'settings');
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) return new TokenExchangeError(`The token service at ${host} refused Gatehouse's client credentials (${err.status}): check the token exchange client id and secret.`, 'settings');
  if (err instanceof oauth.OperationProcessingError) return new TokenExchangeError(`The token service at ${host} gave an answer Gatehouse cannot use (${err.message}).`, 'settings');
  const e = err as Error;
  return new TokenExchangeError(`The token service at ${host} could not be reached (${e.name === 'TimeoutError' ? 'no answer within 10 s' : e.message}).`, 'unavailable');
}
