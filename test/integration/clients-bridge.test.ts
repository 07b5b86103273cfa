import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { httpTransport, Relay, ServerUnavailableError, UpstreamTransientError } from '../../src/clients/bridge/index.js';
import { useDockerCore } from '../support/core-harness.js';
import { TEST_IMAGE } from '../support/docker.js';
import { connectBridge, spawnBridge, type BridgeClient } from '../support/bridge-client.js';
import { textOf } from '../support/mcp-client.js';
import { waitFor } from '../support/wait.js';

const SERVER = 'everything';

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('gatehouse bridge: stdio to the proxy (real core, real container, real SDK client)', () => {
  const env = useDockerCore();
  const open: BridgeClient[] = [];
  const bridge = async (opts: Parameters<typeof connectBridge>[2] = {}) => {
    const b = await connectBridge(env.t.home, SERVER, opts);
    open.push(b);
    return b;
  };
  const sessions = async () => {
    const health = (await env.t.api.getServer({ name: SERVER })).health as { sessions?: { streamableHttp?: number } } | undefined;
    return health?.sessions?.streamableHttp ?? -1;
  };

  beforeAll(async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: SERVER, permissionProfile: 'none' });
    expect(s.status).toBe('running');
  });

  afterEach(async () => {
    const bridges = open.splice(0);
    await Promise.all(bridges.map((b) => b.close()));
    // Whatever a test did, the client never saw a line on stdout that was not JSON-RPC.
    for (const b of bridges) expect(b.errors.map((e) => e.message).filter((m) => /JSON|parse/i.test(m))).toEqual([]);
  });

  it('initializes and relays tools, prompts and resources, declaring listChanged for each list', async () => {
    const b = await bridge();
    expect(b.client.getServerVersion()?.name).toMatch(/everything/i);
    const caps = b.client.getServerCapabilities();
    expect(caps?.tools?.listChanged).toBe(true);
    expect(caps?.prompts?.listChanged).toBe(true);
    expect(caps?.resources?.listChanged).toBe(true);

    const tools = (await b.client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-long-running-operation']));
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'through the bridge' } }))).toContain('through the bridge');
    expect(textOf(await b.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }))).toContain('42');

    const prompts = (await b.client.listPrompts()).prompts;
    const simple = prompts.find((p) => !(p.arguments ?? []).some((a) => a.required));
    expect(simple).toBeDefined();
    const prompt = await b.client.getPrompt({ name: simple!.name });
    expect(prompt.messages.length).toBeGreaterThan(0);

    const resources = (await b.client.listResources()).resources;
    expect(resources.length).toBeGreaterThan(0);
    const read = await b.client.readResource({ uri: resources[0]!.uri });
    expect(read.contents[0]?.uri).toBe(resources[0]!.uri);
  });

  it('delivers the progress notifications of a long-running tool', async () => {
    const b = await bridge();
    const seen: number[] = [];
    const result = await b.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(textOf(result)).toContain('completed');
    expect(seen).toEqual([1, 2, 3]);
    expect(b.errors.map((e) => e.message).filter((m) => /progress/i.test(m))).toEqual([]);
  });

  it('keeps many concurrent calls apart, without warnings on stderr', async () => {
    const b = await bridge();
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => b.client.callTool({ name: 'echo', arguments: { message: `call-${i}` } }).then((r) => ({ i, text: textOf(r) }))),
    );
    for (const r of results) expect(r.text).toContain(`call-${r.i}`);
    // Streamed answers hold their POST open: a dozen at once.
    const progress = new Map<number, number[]>();
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        b.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } }, undefined, {
          onprogress: (p) => progress.set(i, [...(progress.get(i) ?? []), p.progress]),
        }),
      ),
    );
    expect([...progress.values()].every((p) => p.join() === '1,2')).toBe(true);
    expect(progress.size).toBe(12);
    expect(b.stderr()).not.toMatch(/warning|leak/i);
  });

  it('relays server-to-client requests: sampling and elicitation', async () => {
    const b = await bridge({ capabilities: { sampling: {}, elicitation: {} } });
    let sampled = 0;
    b.client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      sampled++;
      expect(JSON.stringify(req.params.messages)).toContain('from the bridge test');
      return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled-through-the-bridge' } };
    });
    b.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Ada Lovelace', check: true } }));

    const tools = (await b.client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['trigger-sampling-request', 'trigger-elicitation-request']));
    const sampling = await b.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'from the bridge test', maxTokens: 10 } });
    expect(textOf(sampling)).toContain('sampled-through-the-bridge');
    expect(sampled).toBe(1);

    const elicited = await b.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(textOf(elicited)).toContain('Name: Ada Lovelace');
  });

  it('forwards a cancellation: the aborted call rejects at once and the bridge keeps serving', async () => {
    const b = await bridge();
    const ac = new AbortController();
    const started = Date.now();
    const call = b.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 } }, undefined, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('cancelled by the test')), 300);
    await expect(call).rejects.toThrow(/cancelled by the test/);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'still here' } }))).toContain('still here');
    // The cancellation reached the proxy (it logs every message it is sent).
    await waitFor(async () => {
      const lines = await env.t.api.logs({ server: SERVER, sources: ['proxy'], limit: 1000 });
      return lines.some((l) => l.message.startsWith('notifications/cancelled')) ? true : undefined;
    }, 'the proxy logging notifications/cancelled', 10_000);
  });

  it('writes only JSON-RPC to stdout, diagnostics to stderr, and ends the session when stdin closes', async () => {
    const before = await sessions();
    const raw = spawnBridge(env.t.home, SERVER);
    raw.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const init = (await raw.response(1)) as { result?: { capabilities?: { tools?: { listChanged?: boolean } } } };
    expect(init.result?.capabilities?.tools?.listChanged).toBe(true);
    raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    raw.send({ jsonrpc: '2.0', id: 'two', method: 'tools/call', params: { name: 'echo', arguments: { message: 'raw' } } });
    raw.send({ jsonrpc: '2.0', id: 3, method: 'no/such-method' });
    expect(JSON.stringify(await raw.response('two'))).toContain('raw');
    const unknown = (await raw.response(3)) as { error?: { code: number } };
    expect(unknown.error?.code).toBe(-32601);
    expect(await sessions()).toBe(before + 1);

    expect(await raw.end()).toBe(0);
    expect(raw.lines.length).toBeGreaterThanOrEqual(3);
    for (const line of raw.lines) expect((JSON.parse(line) as { jsonrpc?: string }).jsonrpc).toBe('2.0');
    expect(raw.stderr()).toMatch(/gatehouse bridge everything: connected to MCP server "everything" at http:\/\/127\.0\.0\.1:\d+\/mcp/);
    expect(raw.stderr()).not.toMatch(/Bearer|token/i);
    // The upstream session was deleted (HTTP DELETE), not left to expire.
    await waitFor(async () => ((await sessions()) === before ? true : undefined), 'the session to be deleted', 5_000);
  });

  it('needs nothing from the environment but GATEHOUSE_HOME, and ends the session on SIGTERM', async () => {
    const before = await sessions();
    const raw = spawnBridge(env.t.home, SERVER, { env: { GATEHOUSE_HOME: env.t.home } });
    raw.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bare', version: '1' } } });
    expect(((await raw.response(1)) as { result?: unknown }).result).toBeDefined();
    raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    raw.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get-sum', arguments: { a: 1, b: 2 } } });
    expect(JSON.stringify(await raw.response(2))).toContain('3');
    raw.child.kill('SIGTERM');
    expect(await raw.exited).toBe(0);
    expect(raw.stderr()).toMatch(/SIGTERM: closing/);
    await waitFor(async () => ((await sessions()) === before ? true : undefined), 'the session to be deleted', 5_000);
  });

  it('exits with code 3 and a clear message on stderr for an unknown server', async () => {
    const raw = spawnBridge(env.t.home, 'no-such-server');
    expect(await raw.exited).toBe(3);
    expect(raw.stderr()).toMatch(/No MCP server named "no-such-server"/);
    expect(raw.stderr()).toMatch(/gatehouse ls/);
    expect(raw.lines).toEqual([]);
  });

  it('tells the client to start a stopped server, then serves again once it runs', async () => {
    const b = await bridge();
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'running' } }))).toContain('running');
    await env.t.api.stop({ name: SERVER });
    try {
      await expect(b.client.callTool({ name: 'echo', arguments: { message: 'stopped' } })).rejects.toThrow(
        `MCP server "${SERVER}" is stopped. Start it with: gatehouse start ${SERVER}`,
      );
      // A bridge started while the server is stopped answers initialize with the same advice.
      const late = await bridge({ connect: false });
      await expect(late.client.connect(late.transport)).rejects.toThrow(`Start it with: gatehouse start ${SERVER}`);
    } finally {
      await env.t.api.start({ name: SERVER });
    }
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'started again' } }))).toContain('started again');
    await waitFor(async () => (b.notifications.includes('notifications/tools/list_changed') ? true : undefined), 'tools/list_changed', 5_000);
  });

  it('reconnects when the core restarts: an in-flight call fails, later calls work and the lists are announced as changed', async () => {
    const b = await bridge();
    const before = await env.t.api.getServer({ name: SERVER });
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'before' } }))).toContain('before');
    const resource = (await b.client.listResources()).resources[0]!;
    await b.client.subscribeResource({ uri: resource.uri });
    const subscribes = async () => (await env.t.api.logs({ server: SERVER, sources: ['proxy'], limit: 5000 })).filter((l) => l.message.startsWith(`resources/subscribe ${resource.uri} → 200`)).length;
    const subscribedBefore = await subscribes();
    const inFlight = b.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } });
    const inFlightOutcome = inFlight.then(
      () => 'completed',
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 300));

    const restarting = env.t.restart();
    // The call the server had when its proxy went away fails: it may have run, so it is not sent again.
    expect(await inFlightOutcome).toMatch(/was lost while this request was in progress.*may already have run/);
    // A call made while the bridge reconnects waits for the new session, then goes through.
    const during = b.client.callTool({ name: 'echo', arguments: { message: 'sent while reconnecting' } });
    await restarting;
    const after = await env.t.api.getServer({ name: SERVER });
    expect(after.status).toBe('running');
    expect(after.proxyPort).toBe(before.proxyPort);
    expect(after.containerId).toBe(before.containerId); // adopted, not recreated
    expect(textOf(await during)).toContain('sent while reconnecting');
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'after the restart' } }))).toContain('after the restart');
    await waitFor(
      async () => (['tools', 'prompts', 'resources'].every((k) => b.notifications.includes(`notifications/${k}/list_changed`)) ? true : undefined),
      'list_changed notifications for tools, prompts and resources',
      5_000,
    );
    expect(b.stderr()).toMatch(/reconnected to MCP server "everything"/);
    // The new session got the client's subscription again.
    await waitFor(async () => ((await subscribes()) > subscribedBefore ? true : undefined), 'the subscription restored upstream', 5_000);
    expect(textOf(await b.client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } }))).toContain('42');
  });

  it('relays to a server that speaks legacy SSE', async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: 'everything-sse', transport: 'sse', args: ['sse'] });
    expect(s.status).toBe('running');
    const b = await connectBridge(env.t.home, 'everything-sse');
    open.push(b);
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'over legacy sse' } }))).toContain('over legacy sse');
    const seen: number[] = [];
    await b.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } }, undefined, { onprogress: (p) => seen.push(p.progress) });
    expect(seen).toEqual([1, 2]);
    expect(b.stderr()).toMatch(/\/sse\b/);
    // The legacy session is its event stream: when the core restarts, the bridge opens and initializes a new one.
    await env.t.restart();
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'sse after restart' } }))).toContain('sse after restart');
    await waitFor(async () => (b.notifications.includes('notifications/tools/list_changed') ? true : undefined), 'tools/list_changed', 5_000);
  });
});

describe('bridge relay in-process', () => {
  it('answers a request with an error after the bounded wait when the proxy never comes back', async () => {
    const port = await closedPort();
    const [clientSide, relaySide] = InMemoryTransport.createLinkedPair();
    const lines: string[] = [];
    const relay = new Relay(
      relaySide,
      {
        // Nothing listens there: every connection is refused.
        locate: async () => ({ url: new URL(`http://127.0.0.1:${port}/mcp`), kind: 'streamable-http' }),
        connect: httpTransport,
      },
      { serverName: 'gone', log: (l) => lines.push(l), queueTimeoutMs: 1_500, initialRetryDelayMs: 50, maxRetryDelayMs: 200 },
    );
    await relay.start();
    const client = new Client({ name: 'in-process', version: '1' });
    const started = Date.now();
    await expect(client.connect(clientSide)).rejects.toThrow(/MCP server "gone" does not answer at http:\/\/127\.0\.0\.1:\d+\/mcp \(the proxy refused the connection\)\. Gave up on this request after 2 s/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await relay.close();
    expect(lines.join('\n')).not.toMatch(/^connected/m);
  });

  it('keeps requests waiting while the core restarts, then answers them with what to do if the server is stopped', async () => {
    const [clientSide, relaySide] = InMemoryTransport.createLinkedPair();
    let state: 'restarting' | 'stopped' = 'restarting';
    const relay = new Relay(
      relaySide,
      {
        locate: async () => {
          if (state === 'restarting') throw new UpstreamTransientError('The Gatehouse core is not reachable (it may be restarting).');
          throw new ServerUnavailableError('MCP server "x" is stopped. Start it with: gatehouse start x');
        },
        connect: httpTransport,
      },
      { serverName: 'x', log: () => {}, queueTimeoutMs: 10_000, initialRetryDelayMs: 50, maxRetryDelayMs: 100 },
    );
    await relay.start();
    const client = new Client({ name: 'in-process', version: '1' });
    const connecting = client.connect(clientSide).then(
      () => 'connected',
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 500));
    state = 'stopped';
    const started = Date.now();
    expect(await connecting).toContain('MCP server "x" is stopped. Start it with: gatehouse start x');
    expect(Date.now() - started).toBeLessThan(1_000);
    await relay.close();
  });
});
