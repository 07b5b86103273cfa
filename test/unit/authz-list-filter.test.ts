import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationLayer, filterListAnswer, LIST_FILTER_FAILURE_MESSAGE, McpAuthorizer } from '../../src/authz/index.js';
import type { JsonRpcMessage } from '../../src/mcp/index.js';
import { sendMessages, writeMessageEvent, type ProxyContext } from '../../src/proxy/pipeline/index.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import type { McpBackend } from '../../src/proxy/types.js';

/**
 * List filtering on message objects (filterListAnswer), and the authorization layer's response
 * transform inside a real ProxyServer, with a backend that writes as the real ones do: every message
 * through the request's tap, naming the method it answers when it knows it.
 */

const ALLOWED = new Set(['allowed', 'also-allowed', 'file:///ok.txt']);
const keep = (item: Record<string, unknown>) => ALLOWED.has(String(item['name'] ?? item['uri']));

const TOOLS: unknown[] = [
  { name: 'allowed', description: 'héllo ✓ 🚀', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
  { name: 'secret', description: 'must not leak', inputSchema: { type: 'object' } },
  { name: 'also-allowed', inputSchema: { type: 'object', properties: { a: { type: 'string' } } } },
  { description: 'no name' },
  { name: 42 },
  'not an object',
];
const list = (id: number, result: Record<string, unknown>): JsonRpcMessage => ({ jsonrpc: '2.0', id, result });
const failure = (id: number) => ({ jsonrpc: '2.0', id, error: { code: -32603, message: LIST_FILTER_FAILURE_MESSAGE } });

describe('filterListAnswer', () => {
  it('keeps the permitted items and the rest of the result, and shows onItems every object item', () => {
    const seen: Record<string, unknown>[][] = [];
    const out = filterListAnswer(list(1, { tools: TOOLS, nextCursor: 'c2' }), 'tools', { keep, onItems: (items) => seen.push(items) });
    expect(out).toEqual(list(1, { tools: [TOOLS[0], TOOLS[2]], nextCursor: 'c2' }));
    expect(seen).toEqual([[TOOLS[0], TOOLS[1], TOOLS[2], TOOLS[3], TOOLS[4]]]);
  });

  it('filters prompts by name and resources by uri', () => {
    expect(filterListAnswer(list(2, { prompts: [{ name: 'allowed' }, { name: 'secret' }] }), 'prompts', { keep })).toEqual(list(2, { prompts: [{ name: 'allowed' }] }));
    expect(filterListAnswer(list(3, { resources: [{ uri: 'file:///ok.txt' }, { uri: 'file:///secret.txt' }, { name: 'allowed' }] }), 'resources', { keep })).toEqual(list(3, { resources: [{ uri: 'file:///ok.txt' }] }));
  });

  it('passes errors, and fails closed on an answer without its list', () => {
    const err: JsonRpcMessage = { jsonrpc: '2.0', id: 4, error: { code: -1, message: 'no' } };
    expect(filterListAnswer(err, 'tools', { keep })).toBe(err);
    const why: string[] = [];
    expect(filterListAnswer(list(5, {}), 'tools', { keep }, (w) => why.push(w))).toEqual(failure(5));
    expect(filterListAnswer(list(6, { tools: { name: 'allowed' } }), 'tools', { keep }, (w) => why.push(w))).toEqual(failure(6));
    expect(filterListAnswer(list(7, { prompts: [] }), 'tools', { keep }, (w) => why.push(w))).toEqual(failure(7));
    expect(why).toEqual(['the answer has no tools list', 'result.tools is not an array', 'the answer has no tools list']);
  });

  it('keeps thousands of items linear', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => ({ name: i % 2 === 0 ? 'allowed' : `t${i}` }));
    const out = filterListAnswer(list(8, { tools: many }), 'tools', { keep });
    expect(('result' in out ? (out.result['tools'] as unknown[]) : []).length).toBe(25_000);
  });
});

describe('the authorization layer on the way back', () => {
  const user = os.userInfo().username;
  const policy = (tools: string[]) =>
    new McpAuthorizer(
      {
        version: '1.0',
        type: 'cedarv1',
        cedar: {
          policies: [
            ...tools.map((t) => `permit(principal == Client::"${user}", action == Action::"call_tool", resource == Tool::"${t}");`),
            `permit(principal == Client::"${user}", action == Action::"read_resource", resource == Resource::"file:///ok.txt");`,
          ],
        },
      },
      't',
    );
  let current: McpAuthorizer | { failure: string } | undefined = policy(['allowed']);
  let proxy: ProxyServer;
  /** The open GET stream of the test, to write events on later. */
  let stream: ProxyContext | undefined;

  const toolsList = (id: number): JsonRpcMessage => list(id, { tools: TOOLS, nextCursor: 'c2' });
  const backend: McpBackend = {
    async handle(ctx) {
      if (ctx.req.method === 'GET') {
        ctx.res.writeHead(200, { 'content-type': 'text/event-stream' });
        ctx.res.flushHeaders();
        stream = ctx;
        return;
      }
      const first = ctx.request?.messages[0];
      if (!first || first.kind !== 'request') {
        ctx.res.writeHead(202).end();
        return;
      }
      const id = first.id as number;
      if (first.method === 'tools/list') return sendMessages(ctx.res, ctx.tap, 200, [toolsList(id)], { batch: false, answers: () => 'tools/list' });
      // A tools/call whose result happens to carry a "tools" member: it answers a call, not a list.
      sendMessages(ctx.res, ctx.tap, 200, [list(id, { content: [{ type: 'text', text: 'secret' }], tools: ['secret'] })], { batch: false, answers: () => 'tools/call' });
    },
    health: () => ({}),
    probe: () => Promise.resolve(true),
    close: async () => {},
  };

  beforeAll(async () => {
    proxy = new ProxyServer({ serverName: 't', port: 0, transport: 'stdio', log: () => {}, layers: [authorizationLayer(() => current, () => {})] });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
  });
  afterAll(() => proxy.close());

  const post = async (body: unknown) => {
    const r = await fetch(`${proxy.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(body) });
    return { status: r.status, body: JSON.parse(await r.text()) as unknown };
  };

  it('filters an answer by the method it answers, and leaves a call result alone', async () => {
    current = policy(['allowed']);
    expect(await post({ jsonrpc: '2.0', id: 1, method: 'tools/list' })).toEqual({ status: 200, body: list(1, { tools: [TOOLS[0]], nextCursor: 'c2' }) });
    const call = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'allowed' } });
    expect(call.body).toEqual(list(2, { content: [{ type: 'text', text: 'secret' }], tools: ['secret'] }));
  });

  it('filters every event of a long-lived stream with the policies in force when it is written', async () => {
    current = policy(['allowed']);
    const ac = new AbortController();
    const r = await fetch(`${proxy.url}/mcp`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
    const reader = r.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (pred: () => boolean) => {
      while (!pred()) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += decoder.decode(value);
      }
    };
    const waitStream = async () => {
      for (let i = 0; i < 200 && !stream; i++) await new Promise((res) => setTimeout(res, 5));
      return stream!;
    };
    const s = await waitStream();
    // An answer whose request the writer cannot name: whatever list it carries is filtered.
    writeMessageEvent(s.res, s.tap, toolsList(10));
    await until(() => text.includes('"id":10'));
    expect(text).toContain('"name":"allowed"');
    expect(text).not.toContain('"name":"secret"');
    // The operator widens the policy while the stream is open: the next event follows it.
    current = policy(['allowed', 'secret']);
    writeMessageEvent(s.res, s.tap, toolsList(11));
    await until(() => text.includes('"id":11'));
    expect(text.slice(text.indexOf('"id":11'))).toContain('"name":"secret"');
    // An update of a resource the caller may not read never reaches it; one it may read does.
    writeMessageEvent(s.res, s.tap, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'file:///secret.txt' } });
    writeMessageEvent(s.res, s.tap, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'file:///ok.txt' } });
    await until(() => text.includes('file:///ok.txt'));
    expect(text).not.toContain('file:///secret.txt');
    // Broken settings close the server: results become errors, notifications stop.
    current = { failure: 'the policy set cannot be applied' };
    writeMessageEvent(s.res, s.tap, toolsList(12));
    await until(() => text.includes('"id":12'));
    expect(text.slice(text.indexOf('"id":12'))).not.toContain('"tools"');
    ac.abort();
  });
});
