import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { filterListResponse, LIST_FILTER_FAILURE_MESSAGE, listKindOf, type ListFilter } from '../../src/authz/list-filter.js';
import { isRequest } from '../../src/proxy/jsonrpc.js';
import type { Middleware } from '../../src/proxy/middleware.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import type { McpBackend, ProxyLogLevel } from '../../src/proxy/types.js';

/**
 * filterListResponse over real HTTP: a node:http server installs the filter, then writes the answer the
 * way the different backends do (JSON, SSE in odd chunks, flushHeaders, cork/uncork, array headers),
 * and fetch reads what actually left the socket.
 */

const ALLOWED = new Set(['allowed', 'also-allowed', 'file:///ok.txt']);

const TOOLS: unknown[] = [
  { name: 'allowed', description: 'héllo ✓ 🚀', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
  { name: 'secret', description: 'must not leak', inputSchema: { type: 'object' } },
  { name: 'also-allowed', inputSchema: { type: 'object', properties: { a: { type: 'string' } } } },
  { description: 'no name' },
  { name: 42 },
  'not an object',
];
const FILTERED_TOOLS = [TOOLS[0], TOOLS[2]];

const listResponse = (id: string | number = 1, tools: unknown = TOOLS) => ({ jsonrpc: '2.0', id, result: { tools, nextCursor: 'c2' } });
const filteredResponse = (id: string | number = 1) => ({ jsonrpc: '2.0', id, result: { tools: FILTERED_TOOLS, nextCursor: 'c2' } });
const notification = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'listing ✓' } };
const failure = (id: string | number = 1) => ({ jsonrpc: '2.0', id, error: { code: -32603, message: LIST_FILTER_FAILURE_MESSAGE } });

type Scenario = (res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

interface Seen {
  finished: boolean;
  closed: boolean;
  statusAtFinish?: number;
  errors: unknown[];
  notes: Record<string, unknown>;
}

let server: http.Server;
let base: string;
let scenario: Scenario = () => {};
let filter: Omit<ListFilter, 'keep'> & { keep?: ListFilter['keep'] } = { kind: 'tools', requestId: 1 };
let onItemsSaw: Record<string, unknown>[][] = [];
let logs: string[] = [];
let seen: Seen[] = [];

function fullFilter(): ListFilter {
  return {
    kind: filter.kind,
    requestId: filter.requestId,
    keep: filter.keep ?? ((item) => ALLOWED.has(String(item[filter.kind === 'resources' ? 'uri' : 'name']))),
    onItems: (items) => onItemsSaw.push(items),
  };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const s: Seen = { finished: false, closed: false, errors: [], notes: {} };
    seen.push(s);
    res.on('finish', () => {
      s.finished = true;
      s.statusAtFinish = res.statusCode;
    });
    res.on('close', () => {
      s.closed = true;
    });
    s.notes['headersSentBefore'] = res.headersSent;
    filterListResponse(res, fullFilter(), (m) => logs.push(m));
    req.resume();
    Promise.resolve()
      .then(() => scenario(res, req))
      .catch((err: unknown) => s.errors.push(err));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
});

beforeEach(() => {
  filter = { kind: 'tools', requestId: 1 };
  onItemsSaw = [];
  logs = [];
  seen = [];
});

async function call(run: Scenario) {
  scenario = run;
  const response = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const bytes = Buffer.from(await response.arrayBuffer());
  // 'finish' fires once the last byte is handed to the socket: right around when the client has it.
  await waitFor(() => seen[0]?.finished === true || (seen[0]?.errors.length ?? 0) > 0);
  return { response, bytes, text: bytes.toString('utf8'), s: seen[0]! };
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function expectLength(response: Response, bytes: Buffer) {
  expect(response.headers.get('content-length')).toBe(String(bytes.length));
  expect(response.headers.get('transfer-encoding')).toBeNull();
}

async function expectFailClosed(run: Scenario, id: string | number = 1) {
  const { response, bytes, text, s } = await call(run);
  expect(response.status).toBe(500);
  expect(response.headers.get('content-type')).toBe('application/json');
  expectLength(response, bytes);
  expect(JSON.parse(text)).toEqual(failure(id));
  expect(text).not.toContain('secret');
  expect(s.statusAtFinish).toBe(500);
  expect(s.errors).toEqual([]);
  expect(logs.some((l) => l.includes('failed closed'))).toBe(true);
  return { response, text, s };
}

/** Splits a string's UTF-8 bytes at the given sizes (cycled), so boundaries fall mid-line and mid-character. */
function chunksOf(text: string, sizes: number[]): Buffer[] {
  const buf = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < buf.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** The Seen record of the request being handled. */
const current = () => seen[seen.length - 1]!;

const tick = () => new Promise((r) => setTimeout(r, 1));

const sseEvent = (id: string, message: unknown) => `event: message\nid: ${id}\ndata: ${JSON.stringify(message)}\n\n`;
const PRIMING = 'id: 0\nretry: 1000\ndata:\n\n';

describe('listKindOf', () => {
  it('names the filtered list methods only', () => {
    expect(listKindOf('tools/list')).toBe('tools');
    expect(listKindOf('prompts/list')).toBe('prompts');
    expect(listKindOf('resources/list')).toBe('resources');
    expect(listKindOf('resources/templates/list')).toBeUndefined();
    expect(listKindOf('tools/call')).toBeUndefined();
    expect(listKindOf('toString')).toBeUndefined();
  });
});

describe('filterListResponse', () => {
  it('filters a JSON answer with a stale content-length, keeps nextCursor, and shows onItems the whole list', async () => {
    const upstream = JSON.stringify(listResponse());
    const { response, bytes, text, s } = await call((res) => {
      res.setHeader('mcp-session-id', 'sess-1');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(upstream) });
      current().notes['headersSentAfterWriteHead'] = res.headersSent;
      current().notes['statusAfterWriteHead'] = res.statusCode;
      res.end(upstream);
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('mcp-session-id')).toBe('sess-1');
    expectLength(response, bytes);
    expect(text).toBe(JSON.stringify(filteredResponse()));
    expect(onItemsSaw).toEqual([TOOLS.slice(0, 5)]);
    expect(s.notes).toMatchObject({ headersSentBefore: false, headersSentAfterWriteHead: true, statusAfterWriteHead: 200 });
    expect(s.finished).toBe(true);
    expect(s.statusAtFinish).toBe(200);
    expect(logs).toEqual([]);
  });

  it('filters an SSE answer written in odd chunks, passing the priming event and a notification through as they were', async () => {
    const before = PRIMING + sseEvent('1', notification) + ': keep-alive\n\n';
    const stream = before + sseEvent('2', listResponse());
    const writes: string[] = [];
    const { response, bytes, text, s } = await call(async (res) => {
      res.setHeader('content-type', 'text/event-stream');
      res.setHeader('cache-control', 'no-cache');
      res.writeHead(200);
      const parts = chunksOf(stream, [1, 7, 13, 3, 29, 2, 101]);
      for (const [i, part] of parts.entries()) {
        // Every form of write: Buffer, string with and without encoding, with a callback.
        if (i % 4 === 0) res.write(part);
        else if (i % 4 === 1) res.write(part, () => writes.push('cb'));
        else if (i % 4 === 2) res.write(part.toString('latin1'), 'latin1');
        else res.write(part.toString('latin1'), 'latin1', () => writes.push('cb'));
        if (i % 5 === 0) await tick();
      }
      res.end();
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expectLength(response, bytes);
    expect(text).toBe(before + sseEvent('2', filteredResponse()));
    expect(text.startsWith(before)).toBe(true);
    expect(writes.length).toBeGreaterThan(0);
    expect(onItemsSaw).toHaveLength(1);
    expect(s.finished).toBe(true);
  });

  it('reads CRLF events and a response split over several data lines', async () => {
    const json = JSON.stringify(listResponse(1));
    const cut = json.indexOf('"result"');
    const stream = `event: message\r\nid: n1\r\ndata: ${JSON.stringify(notification)}\r\n\r\nevent: message\r\nid: r1\r\ndata: ${json.slice(0, cut)}\r\ndata: ${json.slice(cut)}\r\n\r\n`;
    const { text } = await call((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const part of chunksOf(stream, [5, 11])) res.write(part);
      res.end();
    });
    // Newlines between data lines are JSON whitespace, so the split response still parses.
    expect(text).toBe(`event: message\r\nid: n1\r\ndata: ${JSON.stringify(notification)}\r\n\r\nevent: message\r\nid: r1\r\ndata: ${JSON.stringify(filteredResponse())}\r\n\r\n`);
  });

  it('holds back flushHeaders: nothing reaches the client before end', async () => {
    let endedAt = 0;
    scenario = async (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      current().notes['headersSent'] = res.headersSent;
      res.socket?.setNoDelay(true);
      res.write(sseEvent('1', notification));
      await new Promise((r) => setTimeout(r, 60));
      endedAt = performance.now();
      res.end(sseEvent('2', listResponse()));
    };
    const response = await fetch(base, { method: 'POST', body: '{}' });
    const headersAt = performance.now();
    const bytes = Buffer.from(await response.arrayBuffer());
    const text = bytes.toString('utf8');
    await waitFor(() => seen[0]?.finished === true);
    const s = seen[0]!;
    expect(endedAt).toBeGreaterThan(0);
    expect(headersAt).toBeGreaterThanOrEqual(endedAt);
    // Had the headers left at flushHeaders, they would have no content-length (chunked).
    expectLength(response, bytes);
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(text).toBe(sseEvent('1', notification) + sseEvent('2', filteredResponse()));
    expect(s.notes['headersSent']).toBe(true);
  });

  it('handles the reverse proxy\'s cork/uncork and stale upstream content-length', async () => {
    const upstream = JSON.stringify(listResponse());
    const { response, bytes, text, s } = await call(async (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(upstream)) });
      const parts = chunksOf(upstream, [64, 3, 200]);
      for (let i = 0; i < parts.length; i++) {
        res.cork();
        res.write(parts[i]!);
        // The last uncork runs after end, as in src/proxy/reverse.ts.
        process.nextTick(() => res.uncork());
        if (i < parts.length - 1) await tick();
      }
      res.end();
    });
    expectLength(response, bytes);
    expect(text).toBe(JSON.stringify(filteredResponse()));
    expect(s.errors).toEqual([]);
  });

  it('takes writeHead headers as a flat array, as [name, value] pairs, and a reason phrase', async () => {
    const flat = await call((res) => {
      res.setHeader('x-early', 'kept');
      res.setHeader('content-type', 'text/plain');
      res.writeHead(200, 'Fine', ['content-type', 'application/json', 'x-upstream', 'a', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
      res.end(JSON.stringify(listResponse()));
    });
    expect(flat.response.statusText).toBe('Fine');
    expect(flat.response.headers.get('content-type')).toBe('application/json');
    expect(flat.response.headers.get('x-upstream')).toBe('a');
    expect(flat.response.headers.get('x-early')).toBe('kept');
    expect(flat.response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expectLength(flat.response, flat.bytes);
    expect(flat.text).toBe(JSON.stringify(filteredResponse()));

    seen = [];
    const pairs = await call((res) => {
      res.writeHead(200, [['content-type', 'application/json'], ['x-pair', '1']] as unknown as string[]).end(JSON.stringify(listResponse()));
    });
    expect(pairs.response.headers.get('x-pair')).toBe('1');
    expect(pairs.text).toBe(JSON.stringify(filteredResponse()));
  });

  it('filters the list response inside a JSON batch and leaves the others alone', async () => {
    const other = { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'secret is a word' }] } };
    const err = { jsonrpc: '2.0', id: 8, error: { code: -32601, message: 'Method not found' } };
    const { text } = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([other, listResponse(1), err]));
    });
    expect(JSON.parse(text)).toEqual([other, filteredResponse(1), err]);
  });

  it('matches the id as lenient clients do ("1" answers request 1)', async () => {
    const { text } = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(listResponse('1')));
    });
    expect(JSON.parse(text)).toEqual(filteredResponse('1'));
  });

  it('re-serialises other responses, so duplicate keys cannot show a lenient client another id', async () => {
    const { text } = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":1,"jsonrpc":"2.0","result":{"tools":[{"name":"secret"}]},"id":99}');
    });
    expect(text).toBe('{"id":99,"jsonrpc":"2.0","result":{"tools":[{"name":"secret"}]}}');
  });

  it('passes JSON-RPC errors through byte for byte', async () => {
    const body = '{ "jsonrpc": "2.0", "id": 1,\n  "error": {"code": -32601, "message": "Method not found"} }';
    const { response, text } = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    expect(response.status).toBe(200);
    expect(text).toBe(body);
    expect(onItemsSaw).toEqual([]);
  });

  it('answers end() without a body as it is', async () => {
    const accepted = await call((res) => {
      res.writeHead(202).end();
    });
    expect(accepted.response.status).toBe(202);
    expect(accepted.text).toBe('');
    expect(accepted.response.headers.get('content-length')).toBe('0');
    expect(accepted.s.finished).toBe(true);

    seen = [];
    const bare = await call((res) => {
      res.end();
    });
    expect(bare.response.status).toBe(200);
    expect(bare.text).toBe('');
  });

  it('filters prompts by name and resources by uri', async () => {
    filter = { kind: 'resources', requestId: 'r-1' };
    const resources = [{ uri: 'file:///ok.txt', name: 'ok' }, { uri: 'file:///secret.txt', name: 'allowed' }, { name: 'allowed' }];
    const r = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 'r-1', result: { resources } }));
    });
    expect(JSON.parse(r.text)).toEqual({ jsonrpc: '2.0', id: 'r-1', result: { resources: [resources[0]] } });

    seen = [];
    filter = { kind: 'prompts', requestId: 3 };
    const prompts = [{ name: 'allowed' }, { name: 'secret' }];
    const p = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 3, result: { prompts } }));
    });
    expect(JSON.parse(p.text)).toEqual({ jsonrpc: '2.0', id: 3, result: { prompts: [{ name: 'allowed' }] } });
  });

  it('keeps a list of thousands of tools linear', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ name: i % 2 === 0 ? `tool-${i}` : `secret-${i}`, description: 'x'.repeat(100), inputSchema: { type: 'object' } }));
    filter = { kind: 'tools', requestId: 1, keep: (item) => String(item['name']).startsWith('tool-') };
    const body = sseEvent('1', listResponse(1, many));
    const started = performance.now();
    const { response, bytes, text } = await call((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const part of chunksOf(body, [16 * 1024])) res.write(part);
      res.end();
    });
    const ms = performance.now() - started;
    expectLength(response, bytes);
    const data = JSON.parse(text.slice(text.indexOf('data: ') + 6)) as { result: { tools: { name: string }[] } };
    expect(data.result.tools).toHaveLength(10_000);
    expect(data.result.tools.every((t) => t.name.startsWith('tool-'))).toBe(true);
    expect(ms).toBeLessThan(3000);
  });

  it('survives a client that hangs up before the backend ends', async () => {
    let handlerReached!: () => void;
    const reached = new Promise<void>((r) => (handlerReached = r));
    scenario = async (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent('1', notification));
      handlerReached();
      await new Promise<void>((r) => res.once('close', () => r()));
      res.write(sseEvent('2', listResponse()));
      res.cork();
      res.uncork();
      res.end(() => {});
      seen[0]!.notes['ended'] = true;
    };
    const abort = new AbortController();
    const pending = fetch(base, { method: 'POST', body: '{}', signal: abort.signal }).catch((e: unknown) => e);
    await reached;
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(() => seen[0]?.notes['ended'] === true);
    expect(seen[0]!.errors).toEqual([]);
    expect(seen[0]!.closed).toBe(true);
    // The server still serves.
    seen = [];
    const after = await call((res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listResponse()));
    });
    expect(after.text).toBe(JSON.stringify(filteredResponse()));
  });

  it('composes: two filters on one response filter a batch of two list requests', async () => {
    const { text } = await call((res) => {
      filterListResponse(res, { kind: 'prompts', requestId: 2, keep: (p) => p['name'] === 'allowed' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([listResponse(1), { jsonrpc: '2.0', id: 2, result: { prompts: [{ name: 'allowed' }, { name: 'secret' }] } }]));
    });
    expect(JSON.parse(text)).toEqual([filteredResponse(1), { jsonrpc: '2.0', id: 2, result: { prompts: [{ name: 'allowed' }] } }]);
  });

  describe('fails closed', () => {
    it('on a body that is not JSON', async () => {
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's9' });
        res.end('{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}');
      });
    });

    it('on an SSE event whose data is not JSON, keeping the session header', async () => {
      const { response } = await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 's9' });
        res.write(sseEvent('1', notification));
        res.end(`event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}]\n\n`);
      });
      expect(response.headers.get('mcp-session-id')).toBe('s9');
    });

    it('on a result smuggled into a notification', async () => {
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(sseEvent('1', { ...notification, result: { tools: [{ name: 'secret' }] } }));
        res.end(sseEvent('2', listResponse()));
      });
    });

    it('on a response with a result and an error, or extra keys, or a null id', async () => {
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...listResponse(), error: { code: 1, message: 'x' } }));
      });
      seen = [];
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(sseEvent('1', { ...listResponse(), params: {} }));
      });
      seen = [];
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify([listResponse(1), { jsonrpc: '2.0', id: null, result: { tools: [{ name: 'secret' }] } }]));
      });
    });

    it('when tools is not an array, or the result not an object', async () => {
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(listResponse(1, { secret: { name: 'secret' } })));
      });
      seen = [];
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(sseEvent('1', { jsonrpc: '2.0', id: 1, result: ['secret'] }));
      });
    });

    it('on a compressed body', async () => {
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
      });
    });

    it('when the policy check throws', async () => {
      filter = { kind: 'tools', requestId: 'q', keep: () => { throw new Error('policy engine down'); } };
      await expectFailClosed((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(listResponse('q')));
      }, 'q');
      expect(logs.join('\n')).toContain('policy engine down');
    });
  });
});

describe('inside the proxy chain', () => {
  const listFilterLayer: Middleware = async (ctx, next) => {
    const first = ctx.messages?.length === 1 ? ctx.messages[0] : undefined;
    const kind = first && isRequest(first) ? listKindOf(first.method) : undefined;
    if (first && isRequest(first) && kind) {
      filterListResponse(ctx.res, { kind, requestId: first.id, keep: (item) => ALLOWED.has(String(item['name'])) });
    }
    return next();
  };

  const backend: McpBackend = {
    async handle(ctx) {
      const first = ctx.messages?.[0];
      if (!first || !isRequest(first)) {
        ctx.res.writeHead(202).end();
        return;
      }
      // Answers like the lean front: a notification first makes the POST an SSE stream.
      ctx.res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'abc' });
      ctx.res.flushHeaders();
      ctx.res.write(`event: message\ndata: ${JSON.stringify(notification)}\n\n`);
      await tick();
      ctx.res.write(`event: message\ndata: ${JSON.stringify(first.method === 'tools/list' ? listResponse(first.id) : { jsonrpc: '2.0', id: first.id, result: { content: [{ type: 'text', text: 'secret' }] } })}\n\n`);
      ctx.res.end();
    },
    health: () => ({}),
    close: async () => {},
  };

  it('filters tools/list and leaves tools/call alone, with the request log seeing the final status', async () => {
    const logged: { level: ProxyLogLevel; message: string }[] = [];
    const proxy = new ProxyServer({ serverName: 't', port: 0, transport: 'stdio', log: (level, message) => logged.push({ level, message }), layers: [listFilterLayer] });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
    try {
      const post = (body: unknown) =>
        fetch(`${proxy.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(body) });
      const list = await post({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: {} });
      const text = await list.text();
      expect(list.status).toBe(200);
      expect(list.headers.get('mcp-session-id')).toBe('abc');
      expect(list.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
      expect(text).toBe(`event: message\ndata: ${JSON.stringify(notification)}\n\nevent: message\ndata: ${JSON.stringify(filteredResponse(5))}\n\n`);

      const callRes = await post({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'allowed' } });
      expect(await callRes.text()).toContain('"text":"secret"');
      expect(callRes.headers.get('content-length')).toBeNull();

      await waitFor(() => logged.filter((l) => l.message.includes('→')).length >= 2);
      expect(logged.map((l) => l.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^tools\/list → 200 /), expect.stringMatching(/^tools\/call allowed → 200 /)]));
    } finally {
      await proxy.close();
    }
  });
});
