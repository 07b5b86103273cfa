import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubLike {
  /** e.g. http://127.0.0.1:PORT (its endpoints: /login/oauth/authorize, /login/oauth/access_token, /user). */
  url: string;
  clientId: string;
  clientSecret: string;
  /** The Accept header of every token request (GitHub answers form-encoded unless JSON is asked for). */
  tokenAccepts: (string | undefined)[];
  close(): Promise<void>;
}

/**
 * A small OAuth 2.0 provider that behaves as GitHub does where it matters to a client: an authorize page
 * with a button, a token endpoint that answers JSON only on `Accept: application/json` (form-encoded
 * otherwise) and errors with HTTP 200, no ID token, and `/user` with a numeric `id`, a `login` and a
 * null `name` (so field mapping falls through to the next candidate). PKCE S256 is checked when sent.
 */
export async function startGitHubLike(user: { id: number; login: string; name: string | null; email: string | null }): Promise<GitHubLike> {
  const clientId = `Iv1.${randomBytes(8).toString('hex')}`;
  const clientSecret = randomBytes(20).toString('hex');
  const codes = new Map<string, { redirectUri: string; challenge: string | null }>();
  const tokens = new Set<string>();
  const tokenAccepts: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (u.pathname === '/login/oauth/authorize' && req.method === 'GET') {
        if (u.searchParams.get('client_id') !== clientId) return void res.writeHead(404).end('unknown application');
        const q = u.searchParams;
        res.writeHead(200, { 'content-type': 'text/html' });
        return void res.end(
          `<!doctype html><html lang="en"><title>Authorize application</title><main><h1>Authorize Gatehouse</h1><form method="post"><input type="hidden" name="q" value="${encodeURIComponent(q.toString())}"><button type="submit">Authorize</button></form></main></html>`,
        );
      }
      if (u.pathname === '/login/oauth/authorize' && req.method === 'POST') {
        const q = new URLSearchParams(decodeURIComponent(new URLSearchParams(body).get('q') ?? ''));
        const code = randomBytes(10).toString('hex');
        codes.set(code, { redirectUri: q.get('redirect_uri') ?? '', challenge: q.get('code_challenge') });
        const back = new URL(q.get('redirect_uri') ?? '');
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        res.writeHead(302, { location: back.href });
        return void res.end();
      }
      if (u.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        tokenAccepts.push(req.headers.accept);
        const f = new URLSearchParams(body);
        const c = codes.get(f.get('code') ?? '');
        codes.delete(f.get('code') ?? '');
        const verifierOk = !c?.challenge || createHash('sha256').update(f.get('code_verifier') ?? '').digest('base64url') === c.challenge;
        const ok = c && f.get('client_id') === clientId && f.get('client_secret') === clientSecret && f.get('redirect_uri') === c.redirectUri && verifierOk;
        const answer: Record<string, string> = ok ? { access_token: `gho_${randomBytes(16).toString('hex')}`, token_type: 'bearer', scope: 'read:user,user:email' } : { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' };
        if (ok) tokens.add(answer['access_token']!);
        if (req.headers.accept?.includes('application/json')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify(answer));
        }
        res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
        return void res.end(new URLSearchParams(answer).toString());
      }
      if (u.pathname === '/user' && req.method === 'GET') {
        const token = req.headers.authorization?.replace(/^(Bearer|token) /, '');
        if (!token || !tokens.has(token)) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}');
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(user));
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    clientSecret,
    tokenAccepts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
