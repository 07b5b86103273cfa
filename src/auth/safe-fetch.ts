import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { addressScope } from '../common/index.js';

/**
 * Outbound HTTP for discovery, JWKS and introspection, with the SSRF rules applied where they cannot be
 * raced: the address check runs inside the connection's own DNS lookup, so the address that is checked
 * is the address that is connected to. IP literals are checked before any socket exists.
 */
export class UnsafeUrlError extends Error {}

export interface UrlPolicy {
  /** Allow plain http:// to a non-loopback host. */
  insecureAllowHttp: boolean;
  /** Allow private, link-local and other non-public addresses (loopback is always allowed: it is this laptop). */
  allowPrivateIp: boolean;
  /** The setting the refusal names (default: jwksAllowPrivateIp, the OIDC settings' own). */
  privateIpSetting?: string;
}

export function isLoopback(ip: string): boolean {
  return addressScope(ip) === 'loopback';
}

/**
 * Private, link-local, shared, reserved, multicast, or an IPv6 form that leads to one of those
 * (::ffff:169.254.169.254, ::a9fe:a9fe, 64:ff9b::a9fe:a9fe, 2002:a9fe:a9fe::): never a public identity provider.
 */
export function isNonPublic(ip: string): boolean {
  return addressScope(ip) !== 'public';
}

function checkAddress(ip: string, policy: UrlPolicy, what: string): void {
  if (isLoopback(ip)) return;
  if (!policy.allowPrivateIp && isNonPublic(ip)) {
    throw new UnsafeUrlError(`Refusing to fetch ${what}: it resolves to the private or link-local address ${ip} (set ${policy.privateIpSetting ?? 'jwksAllowPrivateIp'} to allow it).`);
  }
}

function hostOf(u: URL): string {
  return u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
}

/** Checks scheme and, for IP literals, the address. Throws before anything is sent. */
export function assertUrlAllowed(raw: string, policy: UrlPolicy, what = raw): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UnsafeUrlError(`Refusing to fetch ${what}: not a URL.`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UnsafeUrlError(`Refusing to fetch ${what}: only https (or http to this machine) is allowed.`);
  if (u.username || u.password) throw new UnsafeUrlError(`Refusing to fetch ${what}: URLs with credentials are not allowed.`);
  const host = hostOf(u);
  const loopbackName = host === 'localhost' || host.endsWith('.localhost');
  if (net.isIP(host)) checkAddress(host, policy, what);
  if (u.protocol === 'http:' && !policy.insecureAllowHttp && !(loopbackName || (net.isIP(host) && isLoopback(host)))) {
    throw new UnsafeUrlError(`Refusing to fetch ${what}: plain http is only allowed to this machine (set insecureAllowHttp to allow it).`);
  }
  return u;
}

export interface FetchedJson {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export type RequestFn = typeof http.request;

export interface SafeFetchOptions {
  policy: UrlPolicy;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  maxBytes?: number;
  what?: string;
  /** The transport (tests pass a spy to prove that a refused URL never reaches it). */
  request?: { http: RequestFn; https: RequestFn };
}

interface SafeAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * A DNS lookup for http(s).request that refuses addresses the policy forbids: the address checked is
 * the address connected to (no rebinding between a check and the connection).
 */
export function guardedLookup(policy: UrlPolicy, what: string): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      try {
        for (const a of list) checkAddress(a.address, policy, what);
      } catch (e) {
        return callback(e as NodeJS.ErrnoException, '', 0);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(new Error(`no address for ${hostname}`) as NodeJS.ErrnoException, '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/** One request under the policy: the address checked in the connection's own lookup, a size and time bound, no redirects followed. */
function safeRequest(raw: string, opts: SafeFetchOptions & { accept?: string }): Promise<SafeAnswer> {
  const what = opts.what ?? raw;
  const u = assertUrlAllowed(raw, opts.policy, what);
  const transport = opts.request ?? { http: http.request, https: https.request };
  const requestFn = u.protocol === 'https:' ? transport.https : transport.http;
  const maxBytes = opts.maxBytes ?? 512 * 1024;
  const lookup = guardedLookup(opts.policy, what);
  return new Promise<SafeAnswer>((resolve, reject) => {
    const req = requestFn(
      u,
      { method: opts.method ?? 'GET', headers: { accept: opts.accept ?? 'application/json', ...opts.headers }, lookup, timeout: opts.timeoutMs ?? 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy(new Error(`${what} answered more than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${what} did not answer within ${opts.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function safeFetchJson(raw: string, opts: SafeFetchOptions): Promise<FetchedJson> {
  const what = opts.what ?? raw;
  const answer = await safeRequest(raw, opts);
  let body: unknown;
  try {
    body = answer.text === '' ? undefined : JSON.parse(answer.text);
  } catch {
    throw new Error(`${what} did not answer JSON (HTTP ${answer.status})`);
  }
  return { status: answer.status, headers: answer.headers, body };
}

/**
 * The same rules behind the fetch signature, for libraries that take a fetch function (the MCP SDK's
 * OAuth discovery, registration and token requests): GET and POST with a string or form body; a
 * redirect is returned as it is, never followed (a redirect to 169.254.169.254 goes nowhere).
 */
export function safeFetchLike(policy: UrlPolicy, opts: { timeoutMs?: number; maxBytes?: number; request?: SafeFetchOptions['request'] } = {}): (input: string | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init = {}) => {
    const method = (init.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'POST') throw new UnsafeUrlError(`Refusing to send ${method}: only GET and POST are used for sign-in.`);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    let body: string | undefined;
    if (init.body !== undefined && init.body !== null) {
      if (typeof init.body === 'string') body = init.body;
      else if (init.body instanceof URLSearchParams) {
        body = init.body.toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      } else throw new TypeError('safeFetchLike sends string or form bodies only.');
    }
    const answer = await safeRequest(String(input), { policy, method, headers, ...(body !== undefined ? { body } : {}), accept: headers['accept'] ?? 'application/json', ...opts });
    const out = new Headers();
    for (const [k, v] of Object.entries(answer.headers)) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) out.append(k, x);
    }
    const status = answer.status;
    // A Response cannot carry a body with 204/304; the text is empty there anyway.
    return new Response(status === 204 || status === 304 ? null : answer.text, { status, headers: out });
  };
}
