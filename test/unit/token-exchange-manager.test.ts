import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthManager } from '../../src/app/auth-manager.js';
import { TokenExchangeManager, tokenExchangeViewOf, unpackStoredTokenExchange } from '../../src/app/token-exchange-manager.js';
import { CredentialsRefusedError, type CallerIdentity, type UpstreamCredentials } from '../../src/proxy/index.js';
import type { SecretsProvider } from '../../src/secrets/index.js';
import type { ServerRecord, Store } from '../../src/store/index.js';

/**
 * TokenExchangeManager.credentialsFor against a small token service double (each exchange gets a new
 * token, so a test sees when one happened). Integration: test/integration/token-exchange*.test.ts.
 */
let server: http.Server;
let url: string;
const subjects: string[] = [];
/** Whether a request named a client (in the form or as HTTP Basic). */
const clients: boolean[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      subjects.push(form.get('subject_token') ?? '');
      clients.push(form.has('client_id') || req.headers.authorization !== undefined);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `exchanged-${subjects.length}`, token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', expires_in: 300 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const caller = (token: string): CallerIdentity => ({ subject: token, name: undefined, email: undefined, groups: [], scopes: [], claims: {}, local: false, presentedToken: () => token }) as unknown as CallerIdentity;
/** The server rows as the store holds them now: credentialsFor reads the current settings at each request. */
const rows = new Map<string, ServerRecord>();
const record = (tokenExchange: unknown): ServerRecord => {
  const r = { name: 'srv', tokenExchange } as unknown as ServerRecord;
  rows.set(r.name, r);
  return r;
};

function manager(upstream: (purpose: 'inject' | 'exchange') => UpstreamCredentials | undefined, upstreamName: () => string | undefined = () => 'corp'): TokenExchangeManager {
  return new TokenExchangeManager({
    store: { servers: { get: (name: string) => rows.get(name) } } as unknown as Store,
    secrets: () => ({}) as SecretsProvider,
    auth: { state: () => undefined } as unknown as AuthManager,
    upstreamCredentials: (_s, purpose) => upstream(purpose),
    upstreamName,
    log: () => {},
  });
}

/** An upstream whose token for a caller stays the same when it is "renewed" (a provider without refresh tokens, say). */
function steadyUpstream(): UpstreamCredentials & { refusals: number } {
  const u = {
    refusals: 0,
    headers: async (c: CallerIdentity | undefined) => ({ authorization: `Bearer upstream-of-${c?.subject ?? 'nobody'}` }),
    refused: async () => {
      u.refusals += 1;
    },
    refusedMessage: () => 'refused',
  };
  return u;
}

describe('TokenExchangeManager.credentialsFor', () => {
  it("with subjectProviderName, a server's refusal forgets the exchange of that upstream token, so the retry exchanges again", async () => {
    subjects.length = 0;
    const upstream = steadyUpstream();
    const creds = manager(() => upstream).credentialsFor(record({ tokenUrl: url, subjectProviderName: 'corp' }))!;
    const alice = caller('gatehouse-token-of-alice');
    expect(await creds.headers(alice)).toEqual({ authorization: 'Bearer exchanged-1' });
    expect(subjects).toEqual(['upstream-of-gatehouse-token-of-alice']);
    // The server answers 401 to it: the proxy calls refused('first'), then asks again (a new request, a new identity object).
    await creds.refused('first', alice);
    expect(upstream.refusals).toBe(1);
    expect(await creds.headers(caller('gatehouse-token-of-alice'))).toEqual({ authorization: 'Bearer exchanged-2' });
    expect(subjects).toEqual(['upstream-of-gatehouse-token-of-alice', 'upstream-of-gatehouse-token-of-alice']);
  });

  it("a refusal forgets only that caller's exchange (settings without a client: none is named)", async () => {
    subjects.length = 0;
    clients.length = 0;
    const creds = manager(() => undefined).credentialsFor(record({ tokenUrl: url }))!;
    const a = caller('token-a');
    const b = caller('token-b');
    const first = [await creds.headers(a), await creds.headers(b)];
    await creds.refused('first', a);
    expect(await creds.headers(caller('token-b'))).toEqual(first[1]); // from the cache
    expect(await creds.headers(caller('token-a'))).not.toEqual(first[0]); // exchanged again
    expect(subjects).toEqual(['token-a', 'token-b', 'token-a']);
    expect(clients).toEqual([false, false, false]);
  });

  it("asks for the upstream token to exchange, not to inject: disableUpstreamTokenInjection withholds only the latter", async () => {
    subjects.length = 0;
    const asked: string[] = [];
    // As the authorization server answers with disableUpstreamTokenInjection: a token to exchange, none to send on.
    const upstream = (purpose: 'inject' | 'exchange') => {
      asked.push(purpose);
      return purpose === 'exchange' ? steadyUpstream() : { ...steadyUpstream(), headers: async () => ({}) };
    };
    const m = manager(upstream);
    const creds = m.credentialsFor(record({ tokenUrl: url, subjectProviderName: 'corp' }))!;
    expect(await creds.headers(caller('t9'))).toEqual({ authorization: 'Bearer exchanged-1' });
    expect(subjects).toEqual(['upstream-of-t9']);
    expect(await m.credentialsFor(record(undefined))!.headers(caller('t9'))).toEqual({});
    expect(asked).toEqual(['exchange', 'inject']);
  });

  it('finds the authorization server when it is set up after the proxy was built', async () => {
    subjects.length = 0;
    let upstream: UpstreamCredentials | undefined;
    const creds = manager(() => upstream).credentialsFor(record({ tokenUrl: url, subjectProviderName: 'corp' }))!;
    await expect(creds.headers(caller('t1'))).rejects.toThrow(CredentialsRefusedError);
    upstream = steadyUpstream();
    expect(await creds.headers(caller('t1'))).toEqual({ authorization: 'Bearer exchanged-1' });
    expect(subjects).toEqual(['upstream-of-t1']);
  });

  it('uses settings replaced while the proxy runs from the next request, and refuses once they are removed', async () => {
    subjects.length = 0;
    clients.length = 0;
    const m = manager(() => undefined);
    const creds = m.credentialsFor(record({ tokenUrl: url }))!;
    expect(await creds.headers(caller('t2'))).toEqual({ authorization: 'Bearer exchanged-1' });
    record({ tokenUrl: url, clientId: 'gatehouse', externalTokenHeaderName: 'X-Backend' });
    // New settings, a new exchange (not the cached one made under the old settings), in the new header.
    expect(await creds.headers(caller('t2'))).toEqual({ 'x-backend': 'Bearer exchanged-2' });
    expect(clients).toEqual([false, true]);
    rows.set('srv', { name: 'srv', tokenExchange: null } as unknown as ServerRecord);
    await expect(creds.headers(caller('t2'))).rejects.toThrow(/removed while it runs: restart it/);
    rows.set('srv', { name: 'srv', tokenExchange: '{not json' } as unknown as ServerRecord);
    await expect(creds.headers(caller('t2'))).rejects.toThrow(/cannot be read/);
  });

  it("refuses to exchange when subjectProviderName is not the authorization server's upstream", async () => {
    subjects.length = 0;
    let name: string | undefined = 'okta';
    const creds = manager(() => steadyUpstream(), () => name).credentialsFor(record({ tokenUrl: url, subjectProviderName: 'corp' }))!;
    await expect(creds.headers(caller('t3'))).rejects.toThrow(/subjectProviderName is "corp", but the embedded authorization server's upstream identity provider is named "okta"/);
    expect(subjects).toEqual([]);
    name = 'corp';
    expect(await creds.headers(caller('t3'))).toEqual({ authorization: 'Bearer exchanged-1' });
  });

  it('reads the stored form with the secrets Gatehouse made, and a bare block (stored before) as owning none', () => {
    const block = { tokenUrl: url, clientSecretRef: { name: 'srv-token-exchange' } };
    expect(unpackStoredTokenExchange({ tokenExchange: block, ownedSecrets: ['srv-token-exchange'] })).toEqual({ settings: block, owned: ['srv-token-exchange'] });
    expect(unpackStoredTokenExchange(block)).toEqual({ settings: block, owned: [] });
    expect(tokenExchangeViewOf({ tokenExchange: block, ownedSecrets: ['srv-token-exchange'] })).toMatchObject({ tokenUrl: url, clientSecretName: 'srv-token-exchange' });
    expect(tokenExchangeViewOf(block)).toMatchObject({ tokenUrl: url, clientSecretName: 'srv-token-exchange' });
  });
});
