import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditConfigError, AuditFileWriter, auditLayer, buildAuditEvent, defaultAuditConfig, formatAuditLine,
  parseAuditConfig, type AuditConfig, type AuditConfigInput, type AuditEvent,
} from '../../src/audit/index.js';
import { frameOfMessages, type JsonRpcMessage, type JsonRpcRequest, type ParsedMessage } from '../../src/mcp/index.js';
import { sendJson, sendJsonRpcError } from '../../src/proxy/http-util.js';
import { compose, requestGuard, ResponseTap, sendMessages, writeMessageEvent, type Middleware, type ProxyContext } from '../../src/proxy/pipeline/index.js';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import type { McpBackend } from '../../src/proxy/types.js';

const TOKEN = 'tok-9f3b2c71-never-in-audit';
const SECRET_ARG = 'sk-live-ARGUMENT-VALUE-4711';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------------------------------------------
// A tiny MCP backend answering JSON and SSE, and fake authentication / authorization layers
// ---------------------------------------------------------------------------------------------------

const result = (id: unknown, r: Record<string, unknown>) => ({ jsonrpc: '2.0', id, result: r }) as JsonRpcMessage;
const error = (id: unknown, code: number, message: string, data?: unknown) => ({ jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } }) as JsonRpcMessage;

/** A backend that writes as the real ones do: every JSON-RPC message through the request's tap. */
function testBackend(): McpBackend {
  return {
    health: () => ({}),
    probe: () => Promise.resolve(true),
    close: async () => undefined,
    async handle(ctx) {
      const { req, res } = ctx;
      if (req.method === 'DELETE') {
        res.writeHead(req.headers['mcp-session-id'] === 'sess-1' ? 200 : 404).end();
        return;
      }
      if (req.method === 'GET') {
        if (!/text\/event-stream/.test(String(req.headers.accept))) return sendJson(res, 405, { error: 'method not allowed' });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(': stream open\n\n');
        return; // stays open until the client leaves
      }
      const { tap } = ctx;
      const json = (status: number, m: JsonRpcMessage | JsonRpcMessage[], headers?: Record<string, string>) =>
        sendMessages(res, tap, status, Array.isArray(m) ? m : [m], { batch: Array.isArray(m), ...(headers ? { headers } : {}) });
      const event = (m: JsonRpcMessage) => writeMessageEvent(res, tap, m);
      const msgs = (ctx.request?.messages ?? []).map((m) => m.message);
      const requests = msgs.filter((m): m is JsonRpcRequest => 'method' in m && 'id' in m);
      if (requests.length === 0) {
        res.writeHead(202).end();
        return;
      }
      if (msgs.length > 1) return json(200, requests.map((r) => result(r.id, { ok: true })));
      const r = requests[0]!;
      const p = (r.params ?? {}) as Record<string, unknown>;
      const args = (p['arguments'] ?? {}) as Record<string, unknown>;
      if (r.method === 'initialize') {
        return json(200, result(r.id, { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'test', version: '1' } }), { 'mcp-session-id': 'sess-1' });
      }
      if (r.method !== 'tools/call') return json(200, result(r.id, { items: [] }));
      switch (p['name']) {
        case 'fails':
          return json(200, error(r.id, -32602, `Invalid api_key ${String(args['apiKey'])} for echo`));
        case 'boom':
          return sendJsonRpcError(res, 500, -32603, 'backend exploded', r.id);
        case 'stream':
        case 'stream_ok': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          event({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } });
          event(p['name'] === 'stream' ? error(r.id, -32001, 'upstream timed out') : result(r.id, { content: [] }));
          res.end();
          return;
        }
        case 'big':
          return json(200, result(r.id, { content: [{ type: 'text', text: 'x'.repeat(200_000) }] }));
        case 'big_then_error': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const pad: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'y'.repeat(10_000) } };
          for (let i = 0; i < 10; i++) event(pad);
          event(error(r.id, -32000, 'seen however late'));
          res.end();
          return;
        }
        case 'slow':
          await new Promise<void>((resolve) => res.once('close', () => resolve()));
          return;
        default:
          return json(200, result(r.id, { content: [{ type: 'text', text: String(args['text'] ?? '') }] }));
      }
    },
  };
}

/** Authentication: the one good token is Alice; anything else is a 401. */
const fakeAuthn: Middleware = async (ctx, next) => {
  if (ctx.req.headers.authorization === `Bearer ${TOKEN}`) {
    ctx.identity = { subject: 'user-123', name: 'Alice', email: 'alice@example.com', groups: [], scopes: [], claims: { sub: 'user-123' }, local: false };
    return next();
  }
  ctx.res.writeHead(401, { 'www-authenticate': 'Bearer realm="test"', 'content-type': 'application/json' });
  ctx.res.end(JSON.stringify({ error: 'unauthorized' }));
};

/** Authorization: `secret_tool` is forbidden (403, marked), the rest allowed. */
const fakeAuthz: Middleware = async (ctx, next) => {
  const first = ctx.request?.messages[0];
  if (first?.method === 'tools/call' && first.target === 'secret_tool') {
    ctx.authz = { decision: 'deny', policies: ['forbid-secret-tool'], reason: 'forbidden by forbid-secret-tool' };
    sendJsonRpcError(ctx.res, 403, 403, 'Unauthorized', first.id ?? null);
    return;
  }
  ctx.authz = { decision: 'allow', policies: ['permit-all'] };
  return next();
};

interface Harness {
  url: string;
  events: AuditEvent[];
  close(): Promise<void>;
}

/** The chain in the order Gatehouse needs: request guard, audit, authentication, authorization, backend. */
async function startChain(config: AuditConfig, transport = 'http'): Promise<Harness> {
  const events: AuditEvent[] = [];
  const backend = testBackend();
  const chain = compose([requestGuard(), auditLayer({ config, transport, emit: (e) => events.push(e) }), fakeAuthn, fakeAuthz, (ctx) => backend.handle(ctx)]);
  const server = http.createServer((req, res) => {
    const ctx: ProxyContext = { req, res, url: new URL(req.url ?? '/', 'http://127.0.0.1'), serverName: 'demo', receivedAt: Date.now(), tap: new ResponseTap(res) };
    chain(ctx).catch(() => {
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, 'Internal proxy error.');
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Headers = Record<string, string | undefined>;

function headersOf(extra: Headers): Record<string, string> {
  const h: Headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${TOKEN}`, 'user-agent': 'audit-test/1.0', ...extra };
  return Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined));
}

async function post(h: Harness, body: unknown, extra: Headers = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(`${h.url}/mcp`, { method: 'POST', headers: headersOf(extra), body: JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
}

async function nextEvent(h: Harness, count = 1): Promise<AuditEvent> {
  const deadline = Date.now() + 3000;
  while (h.events.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(h.events.length).toBe(count);
  return h.events[count - 1]!;
}

let id = 0;
const call = (method: string, params?: Record<string, unknown>): JsonRpcMessage => ({ jsonrpc: '2.0', id: ++id, method, ...(params ? { params } : {}) });
const note = (method: string, params?: Record<string, unknown>): JsonRpcMessage => ({ jsonrpc: '2.0', method, ...(params ? { params } : {}) });
const cfg = (c: AuditConfigInput = {}) => defaultAuditConfig(c);

// ---------------------------------------------------------------------------------------------------

describe('audit layer in front of authentication and authorization', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startChain(cfg());
  });
  afterAll(() => h.close());
  afterEach(() => {
    h.events.length = 0;
  });

  it('writes one event per request, in ToolHive\'s shape, without the token or the arguments', async () => {
    const r = await post(h, call('tools/call', { name: 'echo', arguments: { text: SECRET_ARG } }));
    expect(r.status).toBe(200);
    const e = await nextEvent(h);
    expect(Object.keys(e)).toEqual(['audit_id', 'type', 'logged_at', 'outcome', 'component', 'source', 'subjects', 'target', 'metadata']);
    expect(e.audit_id).toMatch(UUID);
    expect(e.logged_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(e).toMatchObject({
      type: 'mcp_tool_call',
      outcome: 'success',
      component: 'gatehouse',
      source: { type: 'network', value: '127.0.0.1', extra: { user_agent: 'audit-test/1.0' } },
      subjects: { user_id: 'user-123', user: 'Alice' },
      target: { endpoint: '/mcp', method: 'tools/call', name: 'echo', type: 'tool' },
      metadata: { extra: { transport: 'http', response_size_bytes: Buffer.byteLength(r.text), status_code: 200, server_name: 'demo' } },
    });
    expect(typeof e.metadata?.extra['duration_ms']).toBe('number');
    expect(e.data).toBeUndefined();
    const text = JSON.stringify(e);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SECRET_ARG);
    // One request, one event: nothing more arrives.
    await new Promise((r) => setTimeout(r, 30));
    expect(h.events).toHaveLength(1);
  });

  it('names the type and target of prompts, resources, lists and the small methods', async () => {
    const cases: [JsonRpcMessage, Partial<NonNullable<AuditEvent['target']>> & { eventType: string }][] = [
      [call('prompts/get', { name: 'summarize', arguments: { topic: SECRET_ARG } }), { eventType: 'mcp_prompt_get', method: 'prompts/get', name: 'summarize', type: 'prompt' }],
      [call('resources/read', { uri: 'file:///notes/today.md' }), { eventType: 'mcp_resource_read', name: 'file:///notes/today.md', type: 'resource' }],
      [call('tools/list', { cursor: 'abc' }), { eventType: 'mcp_tools_list', method: 'tools/list', type: 'endpoint' }],
      [call('prompts/list'), { eventType: 'mcp_prompts_list', type: 'endpoint' }],
      [call('resources/list'), { eventType: 'mcp_resources_list', type: 'endpoint' }],
      [call('ping'), { eventType: 'mcp_ping', name: 'ping' }],
      [call('logging/setLevel', { level: 'debug' }), { eventType: 'mcp_logging', name: 'debug' }],
      [call('completion/complete', { ref: { type: 'ref/prompt', name: 'summarize' }, argument: { name: 'topic', value: 'x' } }), { eventType: 'mcp_completion', name: 'summarize' }],
      [call('resources/templates/list'), { eventType: 'mcp_request', method: 'resources/templates/list' }],
    ];
    for (const [i, [msg, want]] of cases.entries()) {
      await post(h, msg);
      const e = await nextEvent(h, i + 1);
      const { eventType, ...target } = want;
      expect(e.type, JSON.stringify(msg)).toBe(eventType);
      expect(e.target, JSON.stringify(msg)).toMatchObject(target);
      if (!('name' in want)) expect(e.target?.name).toBeUndefined();
    }
    expect(JSON.stringify(h.events)).not.toContain(SECRET_ARG);
  });

  it('blanks credentials in resource URIs', async () => {
    await post(h, call('resources/read', { uri: 'https://bob:hunter2@api.example/doc?id=7&access_token=abc123' }));
    expect((await nextEvent(h)).target?.name).toBe('https://[redacted]@api.example/doc?id=7&access_token=[redacted]');
  });

  it('takes client name and version from initialize and carries them for the rest of that session', async () => {
    await post(h, call('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'claude-code', version: '1.2.3' } }));
    const init = await nextEvent(h, 1);
    expect(init).toMatchObject({ type: 'mcp_initialize', target: { method: 'initialize', name: 'claude-code', type: 'endpoint' } });
    expect(init.subjects).toEqual({ user_id: 'user-123', user: 'Alice', client_name: 'claude-code', client_version: '1.2.3' });

    await post(h, note('notifications/initialized'), { 'mcp-session-id': 'sess-1' });
    expect((await nextEvent(h, 2)).subjects).toMatchObject({ client_name: 'claude-code', client_version: '1.2.3' });
    await post(h, call('tools/call', { name: 'echo', arguments: {} }), { 'mcp-session-id': 'sess-1' });
    expect((await nextEvent(h, 3)).subjects).toMatchObject({ client_name: 'claude-code' });
    await post(h, call('tools/call', { name: 'echo', arguments: {} }), { 'mcp-session-id': 'another-session' });
    expect((await nextEvent(h, 4)).subjects.client_name).toBeUndefined();

    // Ending the session (DELETE) is audited with the client, then the client is forgotten.
    const del = await fetch(`${h.url}/mcp`, { method: 'DELETE', headers: headersOf({ 'mcp-session-id': 'sess-1' }) });
    expect(del.status).toBe(200);
    expect(await nextEvent(h, 5)).toMatchObject({ type: 'http_request', outcome: 'success', target: { method: 'DELETE', type: 'endpoint' }, subjects: { client_name: 'claude-code' } });
    await post(h, call('ping'), { 'mcp-session-id': 'sess-1' });
    expect((await nextEvent(h, 6)).subjects.client_name).toBeUndefined();
    // The session id itself is never written.
    expect(JSON.stringify(h.events)).not.toContain('sess-1');
  });

  it('audits notifications', async () => {
    expect((await post(h, note('notifications/initialized'))).status).toBe(202);
    expect(await nextEvent(h, 1)).toMatchObject({ type: 'mcp_notification', outcome: 'success', target: { method: 'notifications/initialized', name: 'initialized' } });
    await post(h, note('notifications/roots/list_changed'));
    expect(await nextEvent(h, 2)).toMatchObject({ type: 'mcp_roots_list_changed', target: { name: 'roots' } });
    await post(h, note('notifications/cancelled', { requestId: 42, reason: 'user' }));
    expect(await nextEvent(h, 3)).toMatchObject({ type: 'mcp_notification', target: { method: 'notifications/cancelled', name: '42' } });
  });

  it('records a missing token as denied and anonymous', async () => {
    const r = await post(h, call('tools/call', { name: 'echo', arguments: { text: SECRET_ARG } }), { authorization: undefined });
    expect(r.status).toBe(401);
    const e = await nextEvent(h);
    expect(e).toMatchObject({ type: 'mcp_tool_call', outcome: 'denied', subjects: { user: 'anonymous' }, target: { name: 'echo' }, metadata: { extra: { status_code: 401 } } });
    expect(e.subjects.user_id).toBeUndefined();
  });

  it('records an authorization denial with the deciding policies, never the arguments', async () => {
    const r = await post(h, call('tools/call', { name: 'secret_tool', arguments: { key: SECRET_ARG } }));
    expect(r.status).toBe(403);
    const e = await nextEvent(h);
    expect(e).toMatchObject({ type: 'mcp_tool_call', outcome: 'denied', target: { name: 'secret_tool', type: 'tool' } });
    expect(e.metadata?.extra).toMatchObject({ authz_reason: 'forbidden by forbid-secret-tool', authz_policies: ['forbid-secret-tool'] });
    expect(JSON.stringify(e)).not.toContain(SECRET_ARG);
    // An allowed request carries no authorization details.
    await post(h, call('tools/call', { name: 'echo', arguments: {} }));
    expect((await nextEvent(h, 2)).metadata?.extra['authz_policies']).toBeUndefined();
  });

  it('maps 5xx to error and other 4xx to failure', async () => {
    expect((await post(h, call('tools/call', { name: 'boom' }))).status).toBe(500);
    expect(await nextEvent(h, 1)).toMatchObject({ outcome: 'error', metadata: { extra: { status_code: 500 } } });
    const del = await fetch(`${h.url}/mcp`, { method: 'DELETE', headers: headersOf({ 'mcp-session-id': 'unknown' }) });
    expect(del.status).toBe(404);
    expect(await nextEvent(h, 2)).toMatchObject({ type: 'http_request', outcome: 'failure' });
  });

  it('finds JSON-RPC errors in 2xx JSON and SSE responses, with the argument values blanked from the message', async () => {
    await post(h, call('tools/call', { name: 'fails', arguments: { apiKey: SECRET_ARG } }));
    const e = await nextEvent(h, 1);
    expect(e.outcome).toBe('application_error');
    expect(e.metadata?.extra).toMatchObject({ jsonrpc_error_code: -32602, jsonrpc_error_message: 'Invalid api_key [redacted] for echo' });
    expect(JSON.stringify(e)).not.toContain(SECRET_ARG);

    const sse = await post(h, call('tools/call', { name: 'stream' }));
    expect(sse.text).toContain('upstream timed out');
    expect(await nextEvent(h, 2)).toMatchObject({ outcome: 'application_error', metadata: { extra: { jsonrpc_error_code: -32001, jsonrpc_error_message: 'upstream timed out' } } });

    await post(h, call('tools/call', { name: 'stream_ok' }));
    expect((await nextEvent(h, 3)).outcome).toBe('success');
  });

  it('counts big responses without holding them, and sees an error however late it comes on a stream', async () => {
    const big = await post(h, call('tools/call', { name: 'big' }));
    const e = await nextEvent(h, 1);
    expect(e.outcome).toBe('success');
    expect(e.metadata?.extra['response_size_bytes']).toBe(Buffer.byteLength(big.text));
    expect(Buffer.byteLength(big.text)).toBeGreaterThan(200_000);

    // Messages are observed as they are written, not peeked from the first bytes: 100 KB in, still seen.
    const late = await post(h, call('tools/call', { name: 'big_then_error' }));
    expect(late.text).toContain('seen however late');
    expect(await nextEvent(h, 2)).toMatchObject({ outcome: 'application_error', metadata: { extra: { jsonrpc_error_message: 'seen however late' } } });
  });

  it('records the peer address, never what X-Forwarded-For or X-Real-IP claim, and the request id from X-Request-ID', async () => {
    await post(h, call('ping'), { 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'x-real-ip': '198.51.100.2', 'x-request-id': 'req-77' });
    expect((await nextEvent(h, 1)).source).toEqual({ type: 'network', value: '127.0.0.1', extra: { user_agent: 'audit-test/1.0', request_id: 'req-77' } });
    await post(h, call('ping'), { 'x-real-ip': '198.51.100.2', 'user-agent': 'other-agent/2' });
    expect((await nextEvent(h, 2)).source).toEqual({ type: 'network', value: '127.0.0.1', extra: { user_agent: 'other-agent/2' } });
  });

  it('logs an event stream as sse_connection as soon as it opens, and a refused one as denied', async () => {
    const ac = new AbortController();
    const r = await fetch(`${h.url}/mcp`, { headers: headersOf({ accept: 'text/event-stream', 'content-type': undefined }), signal: ac.signal });
    expect(r.status).toBe(200);
    const e = await nextEvent(h, 1); // while the stream is still open
    expect(e).toMatchObject({ type: 'sse_connection', outcome: 'success', target: { endpoint: '/mcp', method: 'GET', type: 'sse_endpoint' }, subjects: { user: 'Alice' } });
    expect(e.metadata?.extra).toMatchObject({ transport: 'http', user_agent: 'audit-test/1.0' });
    ac.abort();
    await new Promise((res) => setTimeout(res, 30));
    expect(h.events).toHaveLength(1);

    const refused = await fetch(`${h.url}/mcp`, { headers: headersOf({ accept: 'text/event-stream', authorization: undefined, 'content-type': undefined }) });
    expect(refused.status).toBe(401);
    await refused.text();
    expect(await nextEvent(h, 2)).toMatchObject({ type: 'sse_connection', outcome: 'denied', subjects: { user: 'anonymous' } });
  });

  it('records a client that left before the answer', async () => {
    const ac = new AbortController();
    const pending = fetch(`${h.url}/mcp`, { method: 'POST', headers: headersOf({}), body: JSON.stringify(call('tools/call', { name: 'slow' })), signal: ac.signal }).catch(() => undefined);
    await new Promise((res) => setTimeout(res, 50));
    ac.abort();
    await pending;
    const e = await nextEvent(h, 1);
    expect(e).toMatchObject({ type: 'mcp_tool_call', outcome: 'failure', target: { name: 'slow' }, metadata: { extra: { client_disconnected: true } } });
  });
});

describe('audit filters and data', () => {
  const harnesses: Harness[] = [];
  const start = async (c: AuditConfigInput) => {
    const h = await startChain(cfg(c));
    harnesses.push(h);
    return h;
  };
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  it('honours excludeEventTypes', async () => {
    const h = await start({ excludeEventTypes: ['mcp_ping', 'mcp_tools_list'] });
    await post(h, call('ping'));
    await post(h, call('tools/list'));
    await post(h, call('tools/call', { name: 'echo' }));
    const e = await nextEvent(h, 1);
    expect(e.type).toBe('mcp_tool_call');
    await new Promise((r) => setTimeout(r, 30));
    expect(h.events.map((x) => x.type)).toEqual(['mcp_tool_call']);
  });

  it('honours eventTypes, and a batch cannot hide a tool call from it', async () => {
    const h = await start({ eventTypes: ['mcp_tool_call'] });
    await post(h, call('ping'));
    await post(h, [call('ping'), call('tools/call', { name: 'echo' })]);
    const mixed = await nextEvent(h, 1);
    expect(mixed).toMatchObject({ type: 'mcp_request', target: { method: 'batch', type: 'endpoint' } });
    expect(mixed.metadata?.extra).toMatchObject({ batch_size: 2, batch_event_types: ['mcp_ping', 'mcp_tool_call'], batch_targets: ['ping', 'echo'] });

    await post(h, [call('tools/call', { name: 'echo' }), call('tools/call', { name: 'fetch' })]);
    const uniform = await nextEvent(h, 2);
    expect(uniform).toMatchObject({ type: 'mcp_tool_call', target: { method: 'tools/call', type: 'tool' }, metadata: { extra: { batch_size: 2, batch_targets: ['echo', 'fetch'] } } });
    expect(uniform.target?.name).toBeUndefined();
    expect(h.events).toHaveLength(2);
  });

  it('includes request data only when asked, cut at maxDataSize', async () => {
    const h = await start({ includeRequestData: true, includeResponseData: true, maxDataSize: 200 });
    const small = call('tools/call', { name: 'echo', arguments: { text: 'hi' } });
    const r = await post(h, small);
    const e = await nextEvent(h, 1);
    expect(e.data).toEqual({ request: small, response: JSON.parse(r.text) });

    await post(h, call('tools/call', { name: 'echo', arguments: { text: 'z'.repeat(1000) } }));
    const cut = await nextEvent(h, 2);
    expect(cut.data?.request_truncated).toBe(true);
    expect(cut.data?.response_truncated).toBe(true);
    expect(typeof cut.data?.request).toBe('string');
    expect(Buffer.byteLength(cut.data?.request as string)).toBeLessThanOrEqual(200);
    expect(Buffer.byteLength(cut.data?.response as string)).toBeLessThanOrEqual(200);
    expect(cut.data?.request as string).toMatch(/^\{"jsonrpc":"2\.0"/);
    // With request data on, the error message is left as the server wrote it.
    await post(h, call('tools/call', { name: 'fails', arguments: { apiKey: 'visible-now' } }));
    expect((await nextEvent(h, 3)).metadata?.extra['jsonrpc_error_message']).toBe('Invalid api_key visible-now for echo');
  });

  it('writes the configured component and the sse transport, and stays silent when disabled', async () => {
    const h = await startChain(cfg({ component: 'my-laptop' }), 'sse');
    harnesses.push(h);
    await post(h, call('ping'));
    expect(await nextEvent(h, 1)).toMatchObject({ component: 'my-laptop', metadata: { extra: { transport: 'sse' } } });

    const off = await start({ enabled: false });
    await post(off, call('ping'));
    await new Promise((r) => setTimeout(r, 30));
    expect(off.events).toEqual([]);
  });

  it('leaves application errors alone when detectApplicationErrors is off', async () => {
    const h = await start({ detectApplicationErrors: false });
    await post(h, call('tools/call', { name: 'fails', arguments: { apiKey: 'x' } }));
    const e = await nextEvent(h, 1);
    expect(e.outcome).toBe('success');
    expect(e.metadata?.extra['jsonrpc_error_code']).toBeUndefined();
  });
});

describe('audit layer inside the real ProxyServer', () => {
  it('audits requests to a backend, with the local identity (layers slot: after authentication)', async () => {
    const events: AuditEvent[] = [];
    const proxy = new ProxyServer({ serverName: 'demo', port: 0, transport: 'stdio', log: () => undefined, layers: [auditLayer({ config: cfg(), transport: 'http', emit: (e) => events.push(e) })] });
    await proxy.listen();
    try {
      await proxy.setBackend(testBackend(), 'running');
      const r = await fetch(`${proxy.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(call('tools/call', { name: 'echo', arguments: { text: 'hi' } })) });
      expect(r.status).toBe(200);
      await r.text();
      const deadline = Date.now() + 3000;
      while (events.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'mcp_tool_call', outcome: 'success', subjects: { user: os.userInfo().username }, metadata: { extra: { server_name: 'demo' } } });
    } finally {
      await proxy.close();
    }
  });
});

const parsed = (m: JsonRpcMessage): ParsedMessage[] => [...frameOfMessages([m]).messages];

describe('buildAuditEvent', () => {
  it('builds a deterministic event from plain data', () => {
    const e = buildAuditEvent({
      config: cfg(),
      transport: 'http',
      httpMethod: 'POST',
      path: '/mcp',
      headers: { 'user-agent': 'ua', authorization: `Bearer ${TOKEN}`, cookie: 'c=1' },
      remoteAddress: '::ffff:127.0.0.1',
      status: 200,
      messages: parsed(call('tools/call', { name: 'echo', arguments: { a: SECRET_ARG } })),
      identity: { subject: 's', groups: [], scopes: [], claims: { preferred_username: 'pu', client_name: 'from-token' }, local: false },
      client: { name: 'from-session', version: '9' },
      durationMs: 12.9,
      responseBytes: 40,
      id: '00000000-0000-4000-8000-000000000000',
      now: new Date('2025-01-02T03:04:05.678Z'),
    });
    expect(JSON.stringify(e)).toBe(
      JSON.stringify({
        audit_id: '00000000-0000-4000-8000-000000000000',
        type: 'mcp_tool_call',
        logged_at: '2025-01-02T03:04:05.678Z',
        outcome: 'success',
        component: 'gatehouse',
        source: { type: 'network', value: '127.0.0.1', extra: { user_agent: 'ua' } },
        subjects: { user_id: 's', user: 'pu', client_name: 'from-token', client_version: '9' },
        target: { endpoint: '/mcp', method: 'tools/call', name: 'echo', type: 'tool' },
        metadata: { extra: { duration_ms: 12, transport: 'http', response_size_bytes: 40, status_code: 200 } },
      }),
    );
  });
});

describe('audit config', () => {
  it("has ToolHive's defaults", () => {
    expect(parseAuditConfig('{}')).toEqual({
      eventTypes: [],
      excludeEventTypes: [],
      includeRequestData: false,
      includeResponseData: false,
      detectApplicationErrors: true,
      maxDataSize: 1024,
    });
  });

  it('reads current (camelCase) and older (snake_case) ToolHive files', () => {
    const current = parseAuditConfig(
      JSON.stringify({ enabled: true, component: 'c', eventTypes: ['mcp_tool_call'], excludeEventTypes: ['mcp_ping'], includeRequestData: true, maxDataSize: 0, maxDelegationDepth: 5, logFile: '/tmp/a.log' }),
    );
    expect(current).toMatchObject({ enabled: true, component: 'c', eventTypes: ['mcp_tool_call'], excludeEventTypes: ['mcp_ping'], includeRequestData: true, maxDataSize: 1024, logFile: '/tmp/a.log' });
    const older = parseAuditConfig('{"event_types":["mcp_initialize"],"include_response_data":true,"max_data_size":2048,"log_file":""}');
    expect(older).toMatchObject({ eventTypes: ['mcp_initialize'], includeResponseData: true, maxDataSize: 2048 });
    expect(older.logFile).toBeUndefined();
  });

  it('says what is wrong, and where', () => {
    expect(() => parseAuditConfig('{"eventTypes":["mcp_tool_calls"]}', 'audit.json')).toThrow(/audit\.json.*eventTypes\.0: unknown event type "mcp_tool_calls"/);
    expect(() => parseAuditConfig('{"excludeEventType":["mcp_ping"]}', 'audit.json')).toThrow(/unknown setting "excludeEventType"/);
    expect(() => parseAuditConfig('{"maxDataSize":-1}')).toThrow(/maxDataSize: cannot be negative/);
    expect(() => parseAuditConfig('{"max_data_size":1,"maxDataSize":2}')).toThrow(/both "max_data_size" and "maxDataSize"/);
    expect(() => parseAuditConfig('{"includeRequestData":"yes"}')).toThrow(AuditConfigError);
    expect(() => parseAuditConfig('[1]')).toThrow(/must hold a JSON object/);
    expect(() => parseAuditConfig('{ "enabled": ', 'broken.json')).toThrow(/broken\.json is not valid JSON/);
  });
});

describe('AuditFileWriter', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-audit-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sample = (n: number): AuditEvent =>
    buildAuditEvent({ config: cfg(), transport: 'http', httpMethod: 'POST', path: '/mcp', headers: {}, remoteAddress: '127.0.0.1', status: 200, messages: parsed(call('tools/call', { name: `t${n}` })), durationMs: 1, responseBytes: 2 });

  it('appends slog-shaped JSON lines to a file it creates 0600', async () => {
    const file = path.join(dir, 'audit.log');
    const w = new AuditFileWriter(file);
    await w.open();
    for (let i = 0; i < 50; i++) w.write(sample(i));
    await w.close();
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(50);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(first).slice(0, 9)).toEqual(['time', 'level', 'msg', 'audit_id', 'type', 'logged_at', 'outcome', 'component', 'source']);
    expect(first).toMatchObject({ level: 'AUDIT', msg: 'audit_event', type: 'mcp_tool_call', target: { name: 't0' } });
    expect(lines.map((l) => (JSON.parse(l) as AuditEvent).target?.name)).toEqual(Array.from({ length: 50 }, (_, i) => `t${i}`));

    // A second writer appends.
    const again = new AuditFileWriter(file);
    again.write(sample(99));
    await again.close();
    expect(fs.readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(51);
  });

  it('tightens an existing file to 0600 and reports a path it cannot open', async () => {
    const file = path.join(dir, 'loose.log');
    fs.writeFileSync(file, '', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const w = new AuditFileWriter(file);
    w.write(sample(1));
    await w.close();
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const errors: Error[] = [];
    const bad = new AuditFileWriter(path.join(dir, 'no-such-dir', 'audit.log'), { onError: (e) => errors.push(e) });
    await expect(bad.open()).rejects.toThrow(/ENOENT/);
    bad.write(sample(2));
    await bad.flush();
    expect(errors[0]?.message).toMatch(/Cannot write the audit log/);
    expect(bad.dropped).toBe(1);
    await bad.close();
  });

  it('formats a line like ToolHive\'s slog handler', () => {
    const line = formatAuditLine(sample(3), new Date('2025-01-01T00:00:00.000Z'));
    expect(line.startsWith('{"time":"2025-01-01T00:00:00.000Z","level":"AUDIT","msg":"audit_event","audit_id":"')).toBe(true);
    expect(line).not.toContain('\n');
  });
});
