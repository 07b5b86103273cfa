import { safeFetchJson, type SafeFetchOptions, type UrlPolicy } from './safe-fetch.js';

/**
 * OIDC discovery of the JWKS URL when only the issuer is configured. Failures are not remembered:
 * the next request tries again (an IdP that was briefly down must not break a server for good).
 */
export class IssuerDiscovery {
  private jwksUri: Promise<string> | undefined;

  constructor(
    private readonly issuer: string,
    private readonly policy: UrlPolicy,
    private readonly request?: SafeFetchOptions['request'],
  ) {}

  jwksUrl(): Promise<string> {
    this.jwksUri ??= this.discover().catch((err: unknown) => {
      this.jwksUri = undefined;
      throw err;
    });
    return this.jwksUri;
  }

  private async discover(): Promise<string> {
    const base = this.issuer.replace(/\/$/, '');
    let lastError = '';
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const url = `${base}${path}`;
      try {
        const res = await safeFetchJson(url, { policy: this.policy, request: this.request, what: `OIDC discovery at ${url}` });
        const doc = res.body as { issuer?: unknown; jwks_uri?: unknown } | undefined;
        if (res.status !== 200 || typeof doc?.jwks_uri !== 'string') {
          lastError = `${url} answered HTTP ${res.status} without jwks_uri`;
          continue;
        }
        if (doc.issuer !== this.issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not ${this.issuer}`);
        return doc.jwks_uri;
      } catch (err) {
        lastError = (err as Error).message;
        if (/Refusing|names issuer/.test(lastError)) throw err;
      }
    }
    throw new Error(`OIDC discovery for ${this.issuer} failed: ${lastError}`);
  }
}
