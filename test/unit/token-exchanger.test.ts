import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenExchangeError, TokenExchanger, parseTokenExchangeSettings } from '../../src/oauth/index.js';

/** A small in-memory token service double: answers what the test sets. Integration: test/integration/token-exchange.test.ts. */
let answer: (form: URLSearchParams) => { status: number; body: unknown } = () => ({ status: 500, body: {} });
const seen: URLSearchParams[] = [];
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      seen.push(form);
      const a = answer(form);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const ok = (token: string, expiresIn?: number) => () => ({ status: 200, body: { access_token: token, token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', ...(expiresIn ? { expires_in: expiresIn } : {}) } });

function exchanger(now: { t: number }) {
  return new TokenExchanger(parseTokenExchangeSettings({ tokenUrl: url, clientId: 'c', audience: 'api' }), { clientSecret: async () => 'shh', fetch, now: () => now.t });
}

describe('TokenExchanger', () => {
  it('reuses an exchanged token until shortly before it expires, never past the subject token', async () => {
    const now = { t: Date.now() };
    const x = exchanger(now);
    answer = ok('first', 600);
    const subject = jwt({ exp: Math.floor(now.t / 1000) + 120 });
    expect(await x.exchange(subject)).toBe('first');
    answer = ok('second', 600);
    now.t += 60_000;
    expect(await x.exchange(subject)).toBe('first');
    // 120 s subject lifetime, 30 s margin: at 91 s the subject bounds it, although the exchanged token lives 600 s.
    now.t += 31_000;
    expect(await x.exchange(subject)).toBe('second');
    expect(x.exchangeCount).toBe(2);
    x.forget(subject);
    answer = ok('third', 600);
    expect(await x.exchange(subject)).toBe('third');
    const form = seen.at(-1)!;
    expect(Object.fromEntries(form)).toMatchObject({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subject, audience: 'api', requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  });

  it.each([
    [{ status: 429, body: {} }, 'unavailable'],
    [{ status: 503, body: {} }, 'unavailable'],
    [{ status: 400, body: { error: 'invalid_grant' } }, 'subject'],
    [{ status: 400, body: { error: 'invalid_target', error_description: 'no such audience' } }, 'settings'],
    [{ status: 200, body: { access_token: 't', token_type: 'Bearer' } }, 'settings'],
  ])('classifies %j as %s', async (a, failure) => {
    const x = exchanger({ t: Date.now() });
    answer = () => a;
    const err = await x.exchange(`s-${Math.random()}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenExchangeError);
    expect((err as TokenExchangeError).failure).toBe(failure);
  });

  it('does not cache a failure', async () => {
    const x = exchanger({ t: Date.now() });
    answer = () => ({ status: 503, body: {} });
    await expect(x.exchange('s')).rejects.toThrow(/503/);
    answer = ok('fine', 300);
    expect(await x.exchange('s')).toBe('fine');
  });
});
