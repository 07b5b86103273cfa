import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ProxyServer, StdioBackend, type ProxyLog } from '../../src/proxy/index.js';
import { connectClient, textOf } from '../support/mcp-client.js';
import { spawnEverythingStdio } from '../support/everything-local.js';

/**
 * The stdio proxy in front of the real server-everything (as a local child process, so these run
 * in seconds); the same paths through real containers are in runtime-*.test.ts.
 */
describe('stdio proxy (real server-everything, real SDK clients)', () => {
  let child: ChildProcess;
  let proxy: ProxyServer;
  let backend: StdioBackend;
  const logs: { level: string; message: string }[] = [];
  const log: ProxyLog = (level, message) => logs.push({ level, message });

  beforeAll(async () => {
    child = spawnEverythingStdio();
    backend = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log, requestTimeoutMs: 5_000 });
    await backend.start();
    proxy = new ProxyServer({ serverName: 'everything', port: 0, transport: 'stdio', log });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
  });

  afterAll(async () => {
    await proxy.close();
    child.kill();
  });

  it('initializes, lists and calls tools over Streamable HTTP', async () => {
    const client = await connectClient(proxy.url);
    expect(client.getServerVersion()?.name).toMatch(/everything/i);
    const tools = await client.listTools();
    const names = tools.tools.map((t) => t.name);
    expect(names).toContain('echo');
    expect(names).toContain('get-sum');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'hello' } }))).toContain('hello');
    expect(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }))).toContain('42');
    await client.close();
  });

  it('serves resources and prompts', async () => {
    const client = await connectClient(proxy.url);
    const resources = await client.listResources();
    expect(resources.resources.length).toBeGreaterThan(0);
    const first = resources.resources[0]!;
    const read = await client.readResource({ uri: first.uri });
    expect(read.contents[0]?.uri).toBe(first.uri);
    const prompts = await client.listPrompts();
    expect(prompts.prompts.length).toBeGreaterThan(0);
    await client.close();
  });

  it('works over the legacy SSE transport', async () => {
    const client = await connectClient(proxy.url, 'sse');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'via sse' } }))).toContain('via sse');
    await client.close();
  });

  it('delivers progress notifications of a long-running tool to the caller only', async () => {
    const caller = await connectClient(proxy.url);
    const bystander = await connectClient(proxy.url);
    const seen: number[] = [];
    const result = await caller.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
      undefined,
      { onprogress: (p) => seen.push(p.progress) },
    );
    expect(textOf(result)).toContain('completed');
    expect(seen).toEqual([1, 2, 3]);
    await caller.close();
    await bystander.close();
  });

  it('keeps ten concurrent sessions apart: every reply reaches the session that asked', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => connectClient(proxy.url)));
    const results = await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: 5 }, (_, j) =>
          c.callTool({ name: 'echo', arguments: { message: `s${i}-r${j}` } }).then((r) => ({ i, j, text: textOf(r) })),
        ),
      ),
    );
    for (const r of results) expect(r.text).toContain(`s${r.i}-r${r.j}`);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('routes a sampling request to the session whose tool call caused it', async () => {
    const caller = await connectClient(proxy.url, 'streamable-http', { sampling: {} }, 'caller');
    const other = await connectClient(proxy.url, 'streamable-http', { sampling: {} }, 'other');
    let callerSampled = 0;
    let otherSampled = 0;
    caller.setRequestHandler(CreateMessageRequestSchema, async () => {
      callerSampled++;
      return { model: 'test', role: 'assistant', content: { type: 'text', text: 'sampled-by-caller' } };
    });
    other.setRequestHandler(CreateMessageRequestSchema, async () => {
      otherSampled++;
      return { model: 'test', role: 'assistant', content: { type: 'text', text: 'sampled-by-other' } };
    });
    const result = await caller.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 10 } });
    expect(JSON.stringify(result)).toContain('sampled-by-caller');
    expect(callerSampled).toBe(1);
    expect(otherSampled).toBe(0);
    await caller.close();
    await other.close();
  });

  it('answers malformed JSON and invalid JSON-RPC with JSON-RPC errors', async () => {
    const post = (body: string) =>
      fetch(`${proxy.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
    const bad = await post('{not json');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const invalid = await post(JSON.stringify({ jsonrpc: '1.0', id: 7, method: 'x' }));
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { id: unknown; error: { code: number } };
    expect(body.error.code).toBe(-32600);
    expect(body.id).toBe(7);
  });

  it('refuses bodies over 8 MB with 413', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(8 * 1024 * 1024) } });
    const res = await fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: big,
    });
    expect(res.status).toBe(413);
  });

  it('refuses foreign origins and hosts (DNS rebinding) but accepts loopback ones', async () => {
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const evil = await fetch(`${proxy.url}/mcp`, { method: 'POST', headers: { ...headers, origin: 'https://evil.example' }, body: init });
    expect(evil.status).toBe(403);
    const ok = await fetch(`${proxy.url}/mcp`, { method: 'POST', headers: { ...headers, origin: `http://localhost:${proxy.port}` }, body: init });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });

  it('answers an unknown session with 404 so the client re-initializes', async () => {
    const res = await fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'nope', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
  });

  it('reports its state on /health', async () => {
    const res = await fetch(`${proxy.url}/health`);
    expect(res.status).toBe(200);
    const h = (await res.json()) as Record<string, unknown>;
    expect(h['status']).toBe('running');
    expect(h['upstream']).toBe('ready');
  });
});

describe('stdio proxy when the server dies', () => {
  it('turns a server that exits mid-request into an error for the waiting client', async () => {
    const child = spawnEverythingStdio();
    const log: ProxyLog = () => {};
    const backend = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log, requestTimeoutMs: 30_000 });
    await backend.start();
    const proxy = new ProxyServer({ serverName: 'dying', port: 0, transport: 'stdio', log });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
    try {
      const client = await connectClient(proxy.url);
      const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 20, steps: 2 } });
      setTimeout(() => child.kill('SIGKILL'), 300);
      await expect(call).rejects.toThrow(/closed|stopped/i);
    } finally {
      await proxy.close();
      child.kill();
    }
  });

  it('times out a request the server never answers', async () => {
    const child = spawnEverythingStdio();
    const log: ProxyLog = () => {};
    const backend = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log, requestTimeoutMs: 500 });
    await backend.start();
    const proxy = new ProxyServer({ serverName: 'slow', port: 0, transport: 'stdio', log });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
    try {
      const client = await connectClient(proxy.url);
      // Stop the process (SIGSTOP): it is alive but never answers.
      child.kill('SIGSTOP');
      await expect(client.callTool({ name: 'echo', arguments: { message: 'x' } })).rejects.toThrow(/did not answer/i);
    } finally {
      child.kill('SIGCONT');
      await proxy.close();
      child.kill();
    }
  });
});
