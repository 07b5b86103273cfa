import http from 'node:http';
import { createParser } from 'eventsource-parser';
import { apiErrorFromText, connectApi, createApiClient, encodeRequest, REQUEST_HEADER, type ApiClient, type ApiError, type ApiTransport } from '../api/browser.js';

/**
 * The control API over node:http, for the command line and the bridge: the requests, headers and
 * errors of the client's fetch transport (`httpTransport` in src/api/client.ts), through the
 * `ApiTransport` interface the route map's client is built on, without fetch. Node's fetch (undici)
 * costs ~20 ms to load at a process's first request, and its HTTP parser is WebAssembly that V8
 * optimizes in the background after its first use: a process that used fetch once waits ~60 ms at
 * exit for that compilation to finish. For `gatehouse ls` that was a third of its time.
 * Network failures are reported as fetch reports them (a TypeError "fetch failed" whose cause is the
 * socket's error), so what the CLI prints does not depend on the transport.
 */
export function connectCli(baseUrl: string, token: string): ApiClient {
  if (new URL(baseUrl).protocol !== 'http:') return connectApi(baseUrl, token);
  return createApiClient(nodeHttpTransport(baseUrl, token));
}

function nodeHttpTransport(baseUrl: string, token: string): ApiTransport {
  const headers = (json: boolean): http.OutgoingHttpHeaders => ({
    [REQUEST_HEADER]: '1',
    authorization: `Bearer ${token}`,
    ...(json ? { 'content-type': 'application/json' } : {}),
  });
  const url = (path: string, query: URLSearchParams) => `${baseUrl}${path}${query.toString() !== '' ? `?${query.toString()}` : ''}`;
  return {
    async request(spec, input) {
      const { path, query, body } = encodeRequest(spec, input);
      const text = body !== undefined ? JSON.stringify(body) : undefined;
      const res = await send(url(path, query), spec.method, headers(text !== undefined), text);
      const answer = await readText(res);
      if (!ok(res)) throw errorOf(res, answer);
      return JSON.parse(answer) as unknown;
    },
    async stream(spec, input, onEvent, signal) {
      const { path, query } = encodeRequest(spec, input);
      const res = await send(url(path, query), 'GET', { ...headers(false), accept: 'text/event-stream' }, undefined, signal);
      if (!ok(res)) throw errorOf(res, await readText(res));
      const parser = createParser({ onEvent: (e) => e.data !== '' && onEvent(JSON.parse(e.data)) });
      res.setEncoding('utf8');
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        let ended = false;
        const settle = (err?: unknown) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (err === undefined || signal?.aborted) resolve();
          else reject(err);
        };
        const onAbort = () => {
          res.destroy();
          settle();
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        res.on('data', (chunk: string) => {
          try {
            parser.feed(chunk);
          } catch (err) {
            res.destroy();
            settle(err);
          }
        });
        res.on('end', () => {
          ended = true;
          settle();
        });
        res.on('error', (err) => settle(new TypeError('terminated', { cause: err })));
        res.on('close', () => {
          if (!ended) settle(new TypeError('terminated'));
        });
      });
    },
  };
}

function ok(res: http.IncomingMessage): boolean {
  const status = res.statusCode ?? 0;
  return status >= 200 && status <= 299;
}

function errorOf(res: http.IncomingMessage, text: string): ApiError {
  return apiErrorFromText(res.statusCode ?? 0, text);
}

function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** One request on its own connection (no keep-alive: nothing is left open when a command ends). */
function send(target: string, method: string, headers: http.OutgoingHttpHeaders, body: string | undefined, signal?: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const req = http.request(target, {
      method,
      agent: false,
      headers: body !== undefined ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers,
    });
    const onAbort = () => {
      req.destroy();
      reject(aborted(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? aborted(signal) : new TypeError('fetch failed', { cause: err }));
    });
    req.end(body);
  });
}

function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) => reject(new TypeError('terminated', { cause: err })));
    res.on('close', () => {
      if (!res.complete) reject(new TypeError('terminated'));
    });
  });
}
