import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';

const TLS_DIR = path.resolve('test/fixtures/tls');
/** The guide's host: its certificate is the test's own (test/fixtures/tls). */
export const FRONT_HOST = 'mcp.example.com';
export const FRONT_CA = fs.readFileSync(path.join(TLS_DIR, `${FRONT_HOST}.crt`));

export interface TlsFront {
  port: number;
  /** What it forwarded: "<first path segment> -> <port>" per request. */
  seen: string[];
  close(): Promise<void>;
}

/**
 * What a user puts in front of a laptop service to give it an https name (Caddy, nginx, a tunnel):
 * TLS for mcp.example.com on 127.0.0.1, routing by path, the Host header kept and X-Forwarded-Proto/For
 * added, as those do by default.
 */
export async function startTlsFront(route: (pathname: string) => number): Promise<TlsFront> {
  const seen: string[] = [];
  const server = https.createServer({ key: fs.readFileSync(path.join(TLS_DIR, `${FRONT_HOST}.key`)), cert: FRONT_CA }, (req, res) => {
    const pathname = new URL(req.url ?? '/', `https://${FRONT_HOST}`).pathname;
    const port = route(pathname);
    seen.push(`${pathname} -> ${port}`);
    const up = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': req.socket.remoteAddress ?? '' } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fetch for which mcp.example.com is the front (a hosts entry and a trusted CA, without touching the machine's). */
export function frontFetch(frontPort: number): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const u = new URL(req.url);
    if (u.hostname !== FRONT_HOST) return fetch(req);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    return new Promise<Response>((resolve, reject) => {
      const r = https.request(
        { host: '127.0.0.1', port: frontPort, servername: FRONT_HOST, ca: FRONT_CA, method: req.method, path: `${u.pathname}${u.search}`, headers: { ...Object.fromEntries(req.headers), host: u.host } },
        (res) => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, one);
          const empty = res.statusCode === 204 || res.statusCode === 304 || req.method === 'HEAD';
          resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream), { status: res.statusCode ?? 0, headers }));
        },
      );
      req.signal.addEventListener('abort', () => r.destroy(new Error('aborted')), { once: true });
      r.on('error', reject);
      r.end(body);
    });
  };
}
