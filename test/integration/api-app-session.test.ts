import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectApi, routes } from '../../src/api/index.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';

/**
 * The control API as the app reaches it: a one-time code becomes an HttpOnly, SameSite=Strict cookie;
 * with it, only the app's own code on the app's own origin can call the API. No Docker needed.
 */
type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };

function request(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the app session on the control API', () => {
  let t: TestCore;
  let base: string;
  let cookie: string;
  beforeAll(async () => {
    t = await startTestCore();
    base = t.core.url;
    const login = await request(base, new URL(t.core.loginUrl()).pathname + new URL(t.core.loginUrl()).search);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/');
    expect(login.headers['cache-control']).toBe('no-store');
    expect(login.headers['referrer-policy']).toBe('no-referrer');
    const set = login.headers['set-cookie']?.[0] ?? '';
    expect(set).toMatch(/; HttpOnly; SameSite=Strict; Path=\//);
    cookie = set.split(';')[0]!;
  });
  afterAll(async () => {
    await t?.stop();
  });

  const app = { 'x-gatehouse-request': '1' };

  it('answers the app with its cookie and the request header, from its own origin', async () => {
    const host = new URL(base).host;
    expect((await request(base, '/v1/servers', { cookie, ...app })).status).toBe(200);
    expect((await request(base, '/v1/servers', { cookie, ...app, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('refuses what another page could send: other origins, no request header, cross-site fetches, other hosts', async () => {
    const refused: Record<string, string>[] = [
      { cookie, ...app, origin: 'http://evil.example' },
      { cookie, ...app, origin: 'http://127.0.0.1:1' },
      { cookie, ...app, origin: 'null' },
      { cookie },
      { cookie, ...app, 'sec-fetch-site': 'same-site' },
      { cookie, ...app, 'sec-fetch-site': 'cross-site' },
      { cookie, ...app, host: 'rebound.example:80' },
      { cookie: 'gatehouse_session_1=abc', ...app },
      { ...app },
    ];
    for (const headers of refused) {
      const r = await request(base, '/v1/servers', headers, 'GET');
      expect([401, 403], JSON.stringify(headers)).toContain(r.status);
      expect(r.body).not.toContain('"name"');
    }
    // A form post from anywhere has neither the header nor JSON: nothing runs.
    const post = await request(base, '/v1/servers', { cookie, origin: 'http://evil.example', 'content-type': 'text/plain' }, 'POST');
    expect(post.status).toBe(403);
    expect(await t.api.listServers()).toEqual([]);
  });

  it('serves the app with a strict CSP, and no API data without a session', async () => {
    const page = await request(base, '/');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect([200, 404]).toContain(page.status);
    expect((await request(base, '/v1/core', app)).status).toBe(401);
    // Paths out of the app's folder are not files: the app's page comes back, never a file from elsewhere.
    const escape = await request(base, '/..%2f..%2fpackage.json');
    expect(escape.body).not.toContain('"devDependencies"');
  });

  it('a code works once; `gatehouse ui` asks the core for a new one with the token', async () => {
    const { url } = await t.api.uiLoginCode();
    const u = new URL(url);
    expect(u.origin).toBe(new URL(base).origin);
    expect((await request(base, u.pathname + u.search)).status).toBe(303);
    expect((await request(base, u.pathname + u.search)).status).toBe(403);
    expect((await request(base, '/login?code=')).status).toBe(403);
  });

  it('errors carry a stable code and a hint, not CLI words', async () => {
    const err = await t.api.getServer({ name: 'nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'No server named "nope".', hint: { action: 'list-servers' } });
  });

  it('one route map: every route has a distinct method and path, and the client has a method for each', () => {
    const keys = Object.values(routes).map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    const client = connectApi(base, 'x');
    for (const name of Object.keys(routes)) expect(typeof (client as unknown as Record<string, unknown>)[name]).toBe('function');
  });
});
