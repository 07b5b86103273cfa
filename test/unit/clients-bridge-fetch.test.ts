// The bridge's fetch over a real loopback HTTP server: thousands of calls on one session signal leave
// no listeners behind (no MaxListenersExceededWarning in the client's log), and aborting the session
// still aborts what is in flight.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observedFetch } from '../../src/clients/bridge/upstream.js';

let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n'); // then never ends
        return;
      }
      if (req.url === '/accepted') {
        res.writeHead(202).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const observer = { postStreamEnded: () => {}, getStreamEnded: () => {} };
const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' };

describe('observedFetch', () => {
  it('leaves no abort listener on the session signal after a call', async () => {
    const session = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const f = observedFetch(observer);
      for (let i = 0; i < 2000; i++) {
        const res = await f(`${url}/mcp`, { ...post, signal: session.signal });
        expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
      }
      // Many at once, as a client does: one listener each while in flight is no leak.
      const together = await Promise.all(Array.from({ length: 64 }, () => f(`${url}/mcp`, { ...post, signal: session.signal }).then((r) => r.json())));
      expect(together).toHaveLength(64);
      const accepted = await f(`${url}/accepted`, { ...post, signal: session.signal });
      expect(accepted.status).toBe(202);
      expect(await accepted.text()).toBe('');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('aborting the session aborts a stream in flight, and the stream end is reported', async () => {
    const session = new AbortController();
    const ended: unknown[] = [];
    const f = observedFetch({ ...observer, postStreamEnded: (ids) => ended.push(ids) });
    const res = await f(`${url}/stream`, { ...post, signal: session.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('notifications/progress');
    const next = reader.read();
    session.abort(new Error('transport closed'));
    await expect(next).rejects.toThrow();
    expect(ended).toEqual([[1]]);
  });

  it('a session aborted before the call aborts it at once', async () => {
    const session = new AbortController();
    session.abort(new Error('closed'));
    await expect(observedFetch(observer)(`${url}/mcp`, { ...post, signal: session.signal })).rejects.toThrow();
  });
});
