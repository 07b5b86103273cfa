import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { isBrowserRestrictedPort, LoginError, openLoopbackCallback } from '../../src/oauth/index.js';
import { launchBrowser } from '../support/browser.js';

/**
 * The loopback redirect listener of Gatehouse's own logins (RFC 8252), against checklist rows C1-C3:
 * stray, forged and replayed answers are ignored or stop the login before any token request; the
 * issuer is compared exactly (RFC 9207); the listener is 127.0.0.1 only, GET only, one-shot.
 */
const ISSUER = 'https://id.example.com/tenant';
const expectation = (issParameterSupported = true) => ({ state: 'st-8sd7f6g5h4j3k2l1', issuer: ISSUER, issParameterSupported });

function get(url: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET', agent: false, headers: opts.host ? { host: opts.host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const answer = (base: string, params: Record<string, string | string[]>) => {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, x);
  return u.href;
};

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof LoginError ? err.kind : String(err);
  }
}

describe('the loopback callback listener', () => {
  it('hands over the code for the right state and issuer, answers once, then is gone', async () => {
    const cb = await openLoopbackCallback(expectation());
    const u = new URL(cb.redirectUri);
    expect(u.hostname).toBe('127.0.0.1');
    expect(u.pathname).toMatch(/^\/callback\/[A-Za-z0-9_-]{22}$/);
    const ok = await get(answer(cb.redirectUri, { code: 'the-code', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }));
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.headers['referrer-policy']).toBe('no-referrer');
    expect(await cb.result).toEqual({ code: 'the-code' });
    await expect(get(answer(cb.redirectUri, { code: 'again', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('ignores answers without the state, with another, or not on its path, method or host (C1, C3), and keeps waiting', async () => {
    const cb = await openLoopbackCallback(expectation());
    const origin = new URL(cb.redirectUri).origin;
    const stray = [
      answer(cb.redirectUri, { code: 'c', iss: ISSUER }),
      answer(cb.redirectUri, { code: 'c', state: 'someone-elses', iss: ISSUER }),
      answer(cb.redirectUri, { code: 'c', state: ['st-8sd7f6g5h4j3k2l1', 'x'], iss: ISSUER }),
      answer(`${origin}/callback`, { code: 'c', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }),
    ];
    for (const url of stray) expect((await get(url)).status, url).toBeGreaterThanOrEqual(400);
    expect((await get(answer(cb.redirectUri, { code: 'c', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }), { method: 'POST' })).status).toBe(405);
    expect((await get(answer(cb.redirectUri, { code: 'c', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }), { host: 'rebound.example' })).status).toBe(404);
    // Still waiting: the real answer after all of that is taken.
    expect((await get(answer(cb.redirectUri, { code: 'real', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }))).status).toBe(200);
    expect(await cb.result).toEqual({ code: 'real' });
  });

  it('stops the login on a wrong, missing (when advertised) or trailing-slash issuer, without showing what it said (C2)', async () => {
    for (const [iss, advertised] of [[`${ISSUER}/`, true], ['https://evil.example', false], [undefined, true]] as const) {
      const cb = await openLoopbackCallback(expectation(advertised));
      const res = await get(answer(cb.redirectUri, { code: 'c', state: 'st-8sd7f6g5h4j3k2l1', ...(iss ? { iss } : {}), error_description: '<script>x</script>' }));
      expect(res.status).toBe(400);
      expect(res.body).not.toContain('script');
      expect(await kindOf(cb.result)).toBe('issuer-mismatch');
    }
    // Not advertised and absent: RFC 9207 lets it through.
    const cb = await openLoopbackCallback(expectation(false));
    await get(answer(cb.redirectUri, { code: 'c2', state: 'st-8sd7f6g5h4j3k2l1' }));
    expect(await cb.result).toEqual({ code: 'c2' });
  });

  it('reports a declined sign-in, an authorization error, a timeout and a cancel, and closes', async () => {
    const denied = await openLoopbackCallback(expectation());
    await get(answer(denied.redirectUri, { error: 'access_denied', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }));
    expect(await kindOf(denied.result)).toBe('denied');
    const failed = await openLoopbackCallback(expectation());
    await get(answer(failed.redirectUri, { error: 'invalid_scope', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }));
    await expect(failed.result).rejects.toThrow(/invalid_scope/);
    const slow = await openLoopbackCallback(expectation(), { timeoutMs: 50 });
    expect(await kindOf(slow.result)).toBe('timeout');
    await expect(get(slow.redirectUri)).rejects.toThrow(/ECONNREFUSED/);
    const cancelled = await openLoopbackCallback(expectation());
    cancelled.cancel();
    expect(await kindOf(cancelled.result)).toBe('cancelled');
  });

  it('refuses ports browsers block, says a fixed port is busy, and binds 127.0.0.1 only', async () => {
    expect(isBrowserRestrictedPort(6000)).toBe(true);
    expect(isBrowserRestrictedPort(10080)).toBe(true);
    expect(isBrowserRestrictedPort(8080)).toBe(false);
    expect(await kindOf(openLoopbackCallback(expectation(), { port: 6000 }))).toBe('port-refused');
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const busy = (blocker.address() as net.AddressInfo).port;
    expect(await kindOf(openLoopbackCallback(expectation(), { port: busy }))).toBe('port-busy');
    blocker.close();
    const cb = await openLoopbackCallback(expectation());
    const port = Number(new URL(cb.redirectUri).port);
    // Nothing listens on the other loopback addresses for this port.
    await expect(new Promise((resolve, reject) => net.connect({ host: '127.0.0.2', port }).once('connect', resolve).once('error', reject))).rejects.toThrow(/ECONNREFUSED/);
    cb.cancel();
  });

  it('receives the answer a real browser brings back from a redirect', async () => {
    const cb = await openLoopbackCallback(expectation());
    // A stand-in authorization endpoint: a 302 to the redirect URI, as an authorization server sends.
    const as = http.createServer((_req, res) => {
      res.writeHead(302, { location: answer(cb.redirectUri, { code: 'from-the-browser', state: 'st-8sd7f6g5h4j3k2l1', iss: ISSUER }) });
      res.end();
    });
    await new Promise<void>((r) => as.listen(0, '127.0.0.1', () => r()));
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(as.address() as net.AddressInfo).port}/authorize`);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Signed in');
      expect(await cb.result).toEqual({ code: 'from-the-browser' });
    } finally {
      await browser.close();
      as.close();
    }
  });
});
