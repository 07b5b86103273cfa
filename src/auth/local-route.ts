import http from 'node:http';
import https from 'node:https';
import type { SafeFetchOptions } from './safe-fetch.js';

/** An origin this machine serves itself on a port of 127.0.0.1 (an issuer behind a front). */
export interface LocalRoute {
  origin: string;
  port: number;
}

type Transport = NonNullable<SafeFetchOptions['request']>;

/**
 * The transport of discovery and JWKS requests, with requests to a locally served origin sent straight
 * to its port on 127.0.0.1 (Host kept): the proxies read Gatehouse's own authorization server's keys
 * without DNS, TLS or a trip through its front. Everything else goes out as usual.
 */
export function localRouteTransport(route: () => LocalRoute | undefined, base: Transport = { http: http.request, https: https.request }): Transport {
  const pick =
    (fallback: Transport['http']): Transport['http'] =>
    ((url: string | URL, options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void) => {
      const r = route();
      const u = new URL(url);
      if (!r || u.origin !== r.origin) return fallback(u, options, callback);
      const { lookup: _lookup, ...rest } = options;
      return http.request({ ...rest, host: '127.0.0.1', port: r.port, path: `${u.pathname}${u.search}`, headers: { ...rest.headers, host: u.host } }, callback);
    }) as Transport['http'];
  return { http: pick(base.http), https: pick(base.https) };
}
