import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { filterEventStream } from '../../src/authz/stream-filter.js';

/** A real HTTP server whose handler installs the filter and then writes `chunks` as an event stream. */
async function streamThrough(chunks: (string | Buffer)[], viaWriteHead = true): Promise<{ server: http.Server; body: string }> {
  const server = http.createServer((_req, res) => {
    filterEventStream(res, (kind, item) => kind === 'tools' && item['name'] === 'ok');
    if (viaWriteHead) res.writeHead(200, { 'content-type': 'text/event-stream' });
    else res.setHeader('content-type', 'text/event-stream');
    for (const c of chunks) res.write(c);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return { server, body: await res.text() };
}

describe('filterEventStream (list answers on long-lived event streams)', () => {
  let server: http.Server | undefined;
  afterEach(() => server?.close());

  it('filters a list answer split across chunks, even inside a multi-byte character, and passes the rest as is', async () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 3, result: { tools: [{ name: 'ok', description: 'é✓' }, { name: 'secret' }], nextCursor: 'c' } });
    const raw = Buffer.from(`event: endpoint\ndata: /messages?sessionId=1\n\nevent: message\nid: 9\ndata: ${list}\n\n: keep-alive\n\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n`);
    const cut = raw.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
    const r = await streamThrough([raw.subarray(0, 10), raw.subarray(10, cut), raw.subarray(cut)]);
    server = r.server;
    expect(r.body).toBe(
      `event: endpoint\ndata: /messages?sessionId=1\n\nevent: message\nid: 9\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 3, result: { tools: [{ name: 'ok', description: 'é✓' }], nextCursor: 'c' } })}\n\n: keep-alive\n\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n`,
    );
  });

  it('turns a list answer it cannot check into an error, and drops an event cut off by the end of the stream', async () => {
    const r = await streamThrough(['data: {"jsonrpc":"2.0","id":1,"result":{"tools":"not a list"}}\n\n', 'data: {"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"secret"}]}}'], false);
    server = r.server;
    expect(r.body).toBe(`data: ${JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: "The server's list response could not be checked against the authorization policies." } })}\n\n`);
  });
});
