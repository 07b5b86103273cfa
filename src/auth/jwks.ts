import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { safeFetchJson, type SafeFetchOptions, type UrlPolicy } from './safe-fetch.js';

export interface JwksOptions {
  policy: UrlPolicy;
  /** Background refresh period. */
  refreshMs?: number;
  /** An unknown kid triggers a refetch at most this often. */
  unknownKidCooldownMs?: number;
  request?: SafeFetchOptions['request'];
  onError?: (message: string) => void;
}

type KeyFn = ReturnType<typeof createLocalJWKSet>;
type Key = Awaited<ReturnType<KeyFn>>;

/** While no key was ever fetched, failed fetches back off: 1 s, 2 s, 4 s, ... at most this long. */
const MAX_COLD_BACKOFF_MS = 60_000;

/**
 * The issuer's keys, cached. Refreshed in the background; an unknown kid refetches at most once per
 * cooldown (so a flood of forged kids cannot make us hammer the IdP); while the JWKS endpoint is down
 * the keys already held keep working. Before any key was fetched (the IdP down at start, a fresh
 * validator), a failed discovery or JWKS fetch is not retried for each request that carries a token:
 * requests in the backoff window fail at once with the last error, so forged tokens cost no fetches.
 */
export class JwksCache {
  private keys: KeyFn | undefined;
  private kids = new Set<string>();
  private lastFetchAt = 0;
  /** Only refetches caused by unknown kids count against the cooldown: a routine fetch must not delay a rotation. */
  private lastUnknownKidRefetchAt = -Infinity;
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private coldFailures = 0;
  private retryAt = 0;
  private lastError: Error | undefined;
  fetches = 0;

  constructor(
    private readonly url: () => Promise<string>,
    private readonly opts: JwksOptions,
  ) {}

  /** The key lookup handed to jose's jwtVerify. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> => {
    if (!this.keys) await this.refresh();
    try {
      return await this.keys!(header, token);
    } catch (err) {
      const unknownKid = err instanceof errors.JWKSNoMatchingKey && header.kid !== undefined && !this.kids.has(header.kid);
      if (!unknownKid || Date.now() - this.lastUnknownKidRefetchAt < (this.opts.unknownKidCooldownMs ?? 60_000)) throw err;
      // Maybe the IdP rotated its keys: look once more, then decide.
      this.lastUnknownKidRefetchAt = Date.now();
      await this.refresh().catch(() => undefined);
      return this.keys!(header, token);
    }
  };

  /** Fetches the JWKS; concurrent callers share one fetch. Keeps the old keys if it fails. */
  refresh(): Promise<void> {
    if (!this.keys && this.lastError && Date.now() < this.retryAt) return Promise.reject(this.lastError);
    this.inflight ??= this.fetchOnce()
      .then(
        () => {
          this.coldFailures = 0;
          this.lastError = undefined;
        },
        (err: unknown) => {
          if (!this.keys) {
            this.coldFailures++;
            this.retryAt = Date.now() + Math.min(MAX_COLD_BACKOFF_MS, 1000 * 2 ** (this.coldFailures - 1));
            this.lastError = err instanceof Error ? err : new Error(String(err));
          }
          throw err;
        },
      )
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((e: unknown) => this.opts.onError?.(`JWKS refresh failed (keeping the cached keys): ${(e as Error).message}`));
    }, this.opts.refreshMs ?? 10 * 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async fetchOnce(): Promise<void> {
    this.lastFetchAt = Date.now();
    this.fetches++;
    const url = await this.url();
    const res = await safeFetchJson(url, { policy: this.opts.policy, request: this.opts.request, what: `the JWKS at ${url}` });
    const body = res.body as JSONWebKeySet | undefined;
    if (res.status !== 200 || !body || !Array.isArray(body.keys)) {
      throw new Error(`the JWKS at ${url} answered HTTP ${res.status} without a "keys" array`);
    }
    this.keys = createLocalJWKSet(body);
    this.kids = new Set(body.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string'));
  }
}
