/**
 * A security token service for token exchange tests (RFC 8693), as Keycloak or a company STS would be:
 * a real `oidc-provider` with the token-exchange grant registered on it (oidc-provider authenticates the
 * client, parses the form and answers OAuth errors), which accepts subject tokens signed by a given
 * issuer's JWKS and issues its own signed JWT for the requested audience, with `act` naming the client.
 *
 * `exchanges()` lists every exchange it answered (subject, audience, scope, outcome, and the subject
 * token itself), so a test can count them (the cache) and see what was asked. Opaque subject tokens
 * (an upstream's, say) are checked at `subjectIntrospection` (RFC 7662) when it is given. `setMode('503')` makes the token endpoint fail as an
 * overloaded gateway would; `setMode('refuse')` refuses every subject token with invalid_grant.
 * Listens on 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import ProviderUntyped, { errors as errorsUntyped } from 'oidc-provider';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface StsExchange {
  subject: string | undefined;
  audience: string | undefined;
  scope: string | undefined;
  subjectTokenType: string | undefined;
  /** The subject_token as it arrived (a test token: tests compare it with what they expect was sent). */
  subjectToken: string | undefined;
  outcome: 'issued' | 'refused';
}

export interface TestSts {
  issuer: string;
  tokenUrl: string;
  jwksUri: string;
  client: { clientId: string; clientSecret: string };
  exchanges(): StsExchange[];
  setMode(mode: 'up' | '503' | 'refuse'): void;
  stop(): Promise<void>;
}

interface GrantCtx {
  oidc: { params?: Record<string, unknown>; client?: { clientId: string } };
  body: unknown;
}
interface ProviderLike {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  registerGrantType(name: string, handler: (ctx: GrantCtx) => Promise<void>, params: Set<string>): void;
}
const Provider = ProviderUntyped as unknown as new (issuer: string, configuration: Record<string, unknown>) => ProviderLike;
const oidcErrors = errorsUntyped as unknown as { InvalidGrant: new (description?: string) => Error; InvalidTarget: new (description?: string) => Error };

/** The subject of an opaque token, from the introspection endpoint of its issuer (RFC 7662); undefined when inactive. */
async function introspectedSubject(at: { url: string; clientId: string; clientSecret: string }, token: string): Promise<string | undefined> {
  const res = await fetch(at.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${at.clientId}:${at.clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ token }),
  });
  const info = (await res.json()) as { active?: boolean; sub?: unknown };
  return info.active === true && typeof info.sub === 'string' ? info.sub : undefined;
}

export async function startTestSts(opts: { subjectIssuer: string; subjectJwksUri: string; tokenTTL?: number; subjectIntrospection?: { url: string; clientId: string; clientSecret: string } }): Promise<TestSts> {
  const ttl = opts.tokenTTL ?? 300;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const subjectKeys = createRemoteJWKSet(new URL(opts.subjectJwksUri));
  const client = { clientId: 'gatehouse-exchanger', clientSecret: randomBytes(24).toString('base64url') };
  const log: StsExchange[] = [];
  let mode: 'up' | '503' | 'refuse' = 'up';

  let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/sts-jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    if (path === '/token' && mode === '503') {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' }).end('Service Unavailable');
      return;
    }
    handler!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [{ client_id: client.clientId, client_secret: client.clientSecret, grant_types: [TOKEN_EXCHANGE_GRANT], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' }],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: { devInteractions: { enabled: false } },
  });
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx) => {
      const p = ctx.oidc.params ?? {};
      const str = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : undefined);
      const entry: StsExchange = { subject: undefined, audience: str('audience'), scope: str('scope'), subjectTokenType: str('subject_token_type'), subjectToken: str('subject_token'), outcome: 'refused' };
      log.push(entry);
      if (mode === 'refuse') throw new oidcErrors.InvalidGrant('subject token refused by policy');
      let sub: string;
      const subjectToken = str('subject_token') ?? '';
      if (opts.subjectIntrospection && subjectToken.split('.').length !== 3) {
        const found = await introspectedSubject(opts.subjectIntrospection, subjectToken);
        if (found === undefined) throw new oidcErrors.InvalidGrant('subject token inactive at its issuer');
        sub = found;
      } else {
        try {
          const { payload } = await jwtVerify(subjectToken, subjectKeys, { issuer: opts.subjectIssuer });
          sub = String(payload.sub);
        } catch (err) {
          throw new oidcErrors.InvalidGrant(`subject token invalid: ${(err as Error).message}`);
        }
      }
      entry.subject = sub;
      const audience = str('audience');
      if (!audience) throw new oidcErrors.InvalidTarget('audience is required');
      const token = await new SignJWT({ act: { sub: ctx.oidc.client?.clientId }, ...(str('scope') ? { scope: str('scope') } : {}) })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .sign(privateKey);
      entry.outcome = 'issued';
      ctx.body = { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: ttl };
    },
    new Set(['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope', 'resource', 'actor_token', 'actor_token_type']),
  );
  handler = provider.callback();

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    jwksUri: `${issuer}/sts-jwks`,
    client,
    exchanges: () => [...log],
    setMode: (m) => (mode = m),
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
