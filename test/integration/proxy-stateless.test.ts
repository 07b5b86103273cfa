import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyServer, StdioBackend, type ProxyLog } from '../../src/proxy/index.js';
import { spawnEverythingStdio } from '../support/everything-local.js';

const V = '2026-07-28';

function meta(extra: Record<string, unknown> = {}) {
  return { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' }, ...extra };
}

/** The stateless (2026-07-28) wire in front of a session-era stdio server (the real server-everything). */
describe('stateless Streamable HTTP (2026-07-28) at the stdio proxy', () => {
  let child: ChildProcess;
  let proxy: ProxyServer;
  let backend: StdioBackend;
  const log: ProxyLog = () => {};

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    child = spawnEverythingStdio();
    backend = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log, requestTimeoutMs: 10_000 });
    await backend.start();
    proxy = new ProxyServer({ serverName: 'modern', port: 0, transport: 'stdio', log });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
  });

  afterAll(async () => {
    await proxy.close();
    child.kill();
  });

  it('answers server/discover with the supported versions, capabilities and server info', async () => {
    const res = await post({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta() } }, { 'mcp-method': 'server/discover' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { supportedVersions: string[]; capabilities: Record<string, unknown>; serverInfo: { name: string }; resultType: string } };
    expect(body.result.supportedVersions).toContain(V);
    expect(body.result.supportedVersions).toContain('2025-11-25');
    expect(body.result.capabilities['tools']).toBeDefined();
    expect(body.result.serverInfo.name).toMatch(/everything/i);
    expect(body.result.resultType).toBe('complete');
    expect(res.headers.get('mcp-session-id')).toBeNull();
  });

  it('calls a tool without initialize or session, answering JSON', async () => {
    const res = await post(
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { message: 'stateless' }, _meta: meta() } },
      { 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as { id: string; result: { content: { text: string }[]; resultType: string } };
    expect(body.id).toBe('a');
    expect(body.result.content[0]?.text).toContain('stateless');
    expect(body.result.resultType).toBe('complete');
  });

  it('streams progress as SSE before the result', async () => {
    const res = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 2 }, _meta: meta({ progressToken: 'p1' }) } },
      { 'mcp-method': 'tools/call', 'mcp-name': 'trigger-long-running-operation' },
    );
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e.startsWith('event: message')).map((e) => JSON.parse(e.split('data: ')[1]!) as Record<string, any>);
    expect(events.filter((e) => e['method'] === 'notifications/progress').map((e) => [e['params'].progressToken, e['params'].progress])).toEqual([
      ['p1', 1],
      ['p1', 2],
    ]);
    expect(events.at(-1)?.['id']).toBe(2);
  });

  it('refuses header/body mismatches with 400 HeaderMismatch (a policy must judge the body, not the header)', async () => {
    const res = await post(
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'get-env', arguments: {}, _meta: meta() } },
      { 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32020);
    const noMethod = await post({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: meta() } });
    expect(noMethod.status).toBe(400);
  });

  it('accepts base64-encoded header values', async () => {
    const name = Buffer.from('echo').toString('base64');
    const res = await post(
      { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'echo', arguments: { message: 'b64' }, _meta: meta() } },
      { 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${name}?=` },
    );
    expect(res.status).toBe(200);
  });

  it('names its supported versions for an unknown one', async () => {
    const res = await post({ jsonrpc: '2.0', id: 6, method: 'tools/list', params: { _meta: { ...meta(), 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } }, { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: number; data: { supported: string[]; requested: string } } };
    expect(body.error.code).toBe(-32022);
    expect(body.error.data.supported).toContain(V);
    expect(body.error.data.requested).toBe('2099-01-01');
  });

  it('answers an unknown method with 404 and -32601', async () => {
    const res = await post({ jsonrpc: '2.0', id: 7, method: 'no/such', params: { _meta: meta() } }, { 'mcp-method': 'no/such' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32601);
  });

  it('treats a closed stream as cancellation: nothing stays pending', async () => {
    const ac = new AbortController();
    const p = fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      signal: ac.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': 'trigger-long-running-operation' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 }, _meta: meta() } }),
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(backend.mux.pendingCount).toBe(1);
    ac.abort();
    await p;
    await new Promise((r) => setTimeout(r, 100));
    expect(backend.mux.pendingCount).toBe(0);
  });

  it('requires _meta with version and client capabilities (400, -32602), and keeps the request id in version errors', async () => {
    const noCaps = await post({ jsonrpc: '2.0', id: 10, method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': V } } }, { 'mcp-method': 'server/discover' });
    expect(noCaps.status).toBe(400);
    expect(((await noCaps.json()) as { error: { code: number } }).error.code).toBe(-32602);
    const noMeta = await post({ jsonrpc: '2.0', id: 11, method: 'tools/list', params: {} }, { 'mcp-method': 'tools/list' });
    expect(((await noMeta.json()) as { error: { code: number } }).error.code).toBe(-32602);
    const badVersion = await post({ jsonrpc: '2.0', id: 301, method: 'tools/list', params: { _meta: meta() } }, { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' });
    expect(((await badVersion.json()) as { id: unknown }).id).toBe(301);
  });

  it('answers methods the stateless wire removed with 404', async () => {
    for (const method of ['resources/subscribe', 'ping', 'logging/setLevel']) {
      const res = await post({ jsonrpc: '2.0', id: 12, method, params: { uri: 'x', _meta: meta() } }, { 'mcp-method': method });
      expect(res.status).toBe(404);
    }
  });

  it('marks list results with caching hints', async () => {
    const res = await post({ jsonrpc: '2.0', id: 13, method: 'tools/list', params: { _meta: meta() } }, { 'mcp-method': 'tools/list' });
    const body = (await res.json()) as { result: { ttlMs: number; cacheScope: string; tools: unknown[] } };
    expect(body.result.ttlMs).toBe(0);
    expect(body.result.cacheScope).toBe('private');
    expect(body.result.tools.length).toBeGreaterThan(0);
  });

  it('opens a subscriptions/listen stream: acknowledgement first, then only the opted-in notifications, tagged', async () => {
    const ac = new AbortController();
    const res = await fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      signal: ac.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'sub-1', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: meta() } }),
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const events: Record<string, any>[] = [];
    let buf = '';
    const next = async () => {
      while (!buf.includes('\n\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += new TextDecoder().decode(value);
      }
      const cut = buf.indexOf('\n\n');
      const ev = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      return ev;
    };
    const ack = JSON.parse((await next()).split('data: ')[1]!) as Record<string, any>;
    events.push(ack);
    expect(ack['method']).toBe('notifications/subscriptions/acknowledged');
    expect(ack['params']['_meta']['io.modelcontextprotocol/subscriptionId']).toBe('sub-1');
    // A prompts change (not asked for) and a tools change (asked for) from the server.
    backend.mux.onUpstreamMessage({ jsonrpc: '2.0', method: 'notifications/prompts/list_changed' });
    backend.mux.onUpstreamMessage({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    const changed = JSON.parse((await next()).split('data: ')[1]!) as Record<string, any>;
    expect(changed['method']).toBe('notifications/tools/list_changed');
    expect(changed['params']['_meta']['io.modelcontextprotocol/subscriptionId']).toBe('sub-1');
    ac.abort();
  });

  it('still serves session-era clients on the same endpoint', async () => {
    const res = await fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBeTruthy();
    await res.body?.cancel();
  });
});
