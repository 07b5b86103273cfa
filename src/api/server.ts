import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BadRequestError, NotFoundError } from '../app/errors.js';
import { messagePage } from '../common/index.js';
import { isAllowedHost } from '../proxy/index.js';
import { REQUEST_HEADER } from './client.js';
import type { CoreEvents } from './core-events.js';
import { errorResponse } from './error-mapping.js';
import type { ApiDeps } from './handlers.js';
import { pathParams, routes, streams, type RouteSpec, type StreamSpec } from './routes.js';
import { ApiService } from './service.js';
import { SECURITY_HEADERS, StaticFiles } from './static-files.js';
import { UiSessions } from './ui-sessions.js';

export interface ApiServerOptions {
  /** The built renderer (index.html and assets/); the app's pages are served from it. */
  rendererDir?: string;
  /** Check every response against its route's schema (tests): a mismatch is a 500. */
  checkResponses?: boolean;
}

const MAX_API_BODY = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

interface Compiled<S> {
  name: string;
  spec: S;
  pattern: RegExp;
  params: string[];
}

function compile<S extends { path: string }>(table: Record<string, S>): Compiled<S>[] {
  return Object.entries(table).map(([name, spec]) => {
    const source = spec.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:([a-zA-Z]+)/g, '([^/]+)');
    return { name, spec, pattern: new RegExp(`^${source}$`), params: pathParams(spec.path) };
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff' });
  res.end(text);
}

function sendPage(res: http.ServerResponse, status: number, title: string, text: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(messagePage(title, text));
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_API_BODY) throw new BadRequestError('Request body too large.');
    chunks.push(c);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequestError('Request body is not valid JSON.');
  }
}

function queryObject(url: URL): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    out[key] = all.length === 1 ? all[0] : all;
  }
  return out;
}

/**
 * The control API over HTTP, derived from the route map, and the app's pages. Loopback only; every API
 * call carries the bearer token (CLI) or the app's session cookie with the request header, from the
 * app's own origin only (a page elsewhere can neither read nor send: CSRF, DNS rebinding).
 */
export class ApiServer {
  readonly sessions = new UiSessions();
  /** The API itself, shared with the Electron IPC binding. */
  readonly service: ApiService;
  private readonly server: http.Server;
  private readonly routeTable = compile<RouteSpec>(routes);
  private readonly streamTable = compile<StreamSpec>(streams);
  private readonly files: StaticFiles | undefined;
  private baseUrl = '';

  constructor(
    private readonly deps: ApiDeps,
    opts: ApiServerOptions = {},
  ) {
    this.service = new ApiService(deps, { checkResponses: opts.checkResponses === true });
    this.files = opts.rendererDir !== undefined ? new StaticFiles(opts.rendererDir) : undefined;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const { status, body } = errorResponse(err);
        if (!res.headersSent) sendJson(res, status, body);
        else res.end();
      });
    });
    this.server.requestTimeout = 0;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address() as AddressInfo;
        this.baseUrl = `http://${host}:${a.port}`;
        resolve(this.baseUrl);
      });
    });
  }

  /** A URL that signs a browser in to the app once (printed by `serve`, opened by `gatehouse ui`). */
  loginUrl(): string {
    return `${this.baseUrl}/login?code=${this.sessions.issueCode()}`;
  }

  get events(): CoreEvents {
    return this.service.events;
  }

  close(): Promise<void> {
    this.service.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private get cookieName(): string {
    // Cookies ignore ports: the port in the name keeps two cores (two users) from overwriting each other.
    return `gatehouse_session_${new URL(this.baseUrl).port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const host = req.headers.host;
    // The app's own origin is the only one allowed to send an Origin header at all.
    if (!isAllowedHost(host) || (req.headers.origin !== undefined && req.headers.origin !== `http://${host}`)) {
      sendJson(res, 403, { error: { code: 'forbidden', message: 'Forbidden.' } });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!url.pathname.startsWith('/v1/')) return this.page(req, url, res);
    if (!this.authorized(req)) {
      sendJson(res, 401, { error: { code: 'unauthorized', message: 'Missing or wrong API token (see the discovery file core.json).' } });
      return;
    }
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      const stream = this.match(this.streamTable, url.pathname);
      if (stream) return this.stream(stream.entry.name, { ...queryObject(url), ...stream.params }, req, res);
    }
    const found = this.match(
      this.routeTable.filter((r) => r.spec.method === method),
      url.pathname,
    );
    if (!found) throw new NotFoundError(`No API route ${method} ${url.pathname}.`);
    const { entry, params } = found;
    const raw = method === 'POST' || method === 'PUT' ? await readJson(req) : queryObject(url);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequestError('The request body must be a JSON object.');
    const output = await this.service.call(entry.name, { ...raw, ...params }, { uiLoginUrl: () => this.loginUrl(), caller: req.headers.authorization !== undefined ? 'token' : 'app' });
    sendJson(res, entry.spec.status ?? 200, output);
  }

  /** Bearer token; or the app's session cookie, sent by the app's own code (the request header) from its own origin. */
  private authorized(req: http.IncomingMessage): boolean {
    if (req.headers.authorization !== undefined) return tokenMatches(req.headers.authorization, this.deps.token);
    if (req.headers[REQUEST_HEADER] !== '1') return false;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return false;
    return this.sessions.valid(cookie(req, this.cookieName));
  }

  private match<S>(table: Compiled<S>[], pathname: string): { entry: Compiled<S>; params: Record<string, string> } | undefined {
    for (const entry of table) {
      const m = entry.pattern.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      try {
        entry.params.forEach((p, i) => (params[p] = decodeURIComponent(m[i + 1]!)));
      } catch {
        throw new BadRequestError('Malformed path.');
      }
      return { entry, params };
    }
    return undefined;
  }

  /** The app's pages: the one-time sign-in, then the built renderer. */
  private page(req: http.IncomingMessage, url: URL, res: http.ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: { code: 'bad_request', message: 'Method not allowed.' } });
      return;
    }
    if (url.pathname === '/login') {
      const session = this.sessions.exchange(url.searchParams.get('code') ?? '');
      if (session === undefined) {
        sendPage(res, 403, 'This sign-in link is used up', 'Each link signs in once and expires after 15 minutes. Run "gatehouse ui" for a new one.');
        return;
      }
      // 303 to a URL without the code: it leaves the address bar and the history at once.
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        location: '/',
        'cache-control': 'no-store',
        'set-cookie': `${this.cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/`,
      });
      res.end();
      return;
    }
    if (!this.files?.available()) {
      sendPage(res, 404, 'The Gatehouse app is not built', 'Run "npm run build" in the Gatehouse folder, then reload this page.');
      return;
    }
    this.files.serve(url.pathname, res);
  }

  private stream(name: string, raw: Record<string, unknown>, req: http.IncomingMessage, res: http.ServerResponse): void {
    // A refused stream (bad input, unknown server) is answered as a call would be, before any header.
    const start = this.service.stream(name, raw);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff' });
    const send = (e: unknown) => res.write(`data: ${JSON.stringify(e)}\n\n`);
    let keepAlive: NodeJS.Timeout | undefined;
    let stop: (() => void) | undefined;
    const end = () => {
      stop?.();
      clearInterval(keepAlive);
      res.end();
    };
    stop = start(send, end);
    res.write(': ready\n\n');
    keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    req.on('close', end);
  }
}
