import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { AuthState } from '../../src/auth/index.js';
import { authorizationLayer, McpAuthorizer } from '../../src/authz/index.js';
import { ProxyServer, ReverseProxyBackend, StdioBackend, type ProxyLog } from '../../src/proxy/index.js';
import { goLikeMember, startRecordingServer, type RecordingServer } from '../support/recording-server.js';
import { openLegacyStream, rawSend, type RawAnswer } from '../support/raw-http.js';
import { startToolsServer } from '../support/tools-server.js';

/**
 * The reproductions of the security review (../shared/reference/security-repros), rerun against the
 * real proxy with real MCP SDK servers behind it: each is refused, or harmless.
 */

const user = os.userInfo().username;
const log: ProxyLog = () => {};
const iconv = createRequire(import.meta.url)('iconv-lite') as { decode(b: Buffer, enc: string): string };

const waitFor = async (cond: () => boolean, ms = 3000) => {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
};

const onlyEcho = () => new McpAuthorizer({ version: '1.0', type: 'cedarv1', cedar: { policies: [`permit(principal == Client::"${user}", action == Action::"call_tool", resource == Tool::"echo");`] } }, 'up');

// UTF-7: the JSON punctuation of a hidden member turns into string content for a UTF-8 reader.
const utf7 = (s: string) => s.replace(/["{}]+/g, (run) => `+${Buffer.from(run, 'utf16le').swap16().toString('base64').replace(/=+$/, '')}-`);
const SMUGGLED_CALL = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"},"x":"${utf7('","name":"delete_repo","y":"')}"}}`;
const SMUGGLED_BEHIND_LIST = `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"x":"${utf7('"},"method":"tools/call","params":{"name":"get_env","arguments":{},"y":"')}"}}`;

describe('reverse proxy in front of an SDK legacy SSE server (the UTF-7 reproduction)', () => {
  let upstream: RecordingServer;
  let proxy: ProxyServer;
  let stream: Awaited<ReturnType<typeof openLegacyStream>>;

  beforeAll(async () => {
    upstream = await startRecordingServer('sse');
    const az = onlyEcho();
    proxy = new ProxyServer({ serverName: 'up', port: 0, transport: 'sse', log, layers: [authorizationLayer(() => az, log)] });
    await proxy.listen();
    await proxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: upstream.port }, { log }), 'running');
    stream = await openLegacyStream(proxy.port);
    const post = (body: string) => rawSend(proxy.port, 'POST', stream.endpoint, { 'content-type': 'application/json' }, body);
    expect((await post('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}')).status).toBe(202);
    await post('{"jsonrpc":"2.0","method":"notifications/initialized"}');
  });
  afterAll(async () => {
    stream?.close();
    await proxy?.close();
    await upstream?.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
    upstream.ran.length = 0;
  });

  const post = (body: string | Buffer, contentType = 'application/json', path = stream.endpoint) => rawSend(proxy.port, 'POST', path, { 'content-type': contentType }, body);

  it('the upstream really reads UTF-7 (the control): the smuggled text names delete_repo and get_env', () => {
    expect(iconv.decode(Buffer.from(SMUGGLED_CALL), 'utf-7')).toContain('"name":"delete_repo"');
    expect(iconv.decode(Buffer.from(SMUGGLED_BEHIND_LIST), 'utf-7')).toContain('"method":"tools/call","params":{"name":"get_env"');
  });

  it('refuses a body that declares another charset (415): nothing reaches the server, nothing runs', async () => {
    for (const charset of ['utf-7', 'UTF-7', 'utf-16le', 'utf-16be', 'latin1', 'iso-8859-1', 'windows-1252']) {
      for (const body of [SMUGGLED_CALL, SMUGGLED_BEHIND_LIST]) {
        const r = await post(body, `application/json; charset=${charset}`);
        expect(r.status, charset).toBe(415);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.received.filter((x) => x.method === 'POST')).toEqual([]);
    expect(upstream.ran).toEqual([]);
    expect(stream.events.join('\n')).not.toContain('canary');
  });

  it('forwards a declared utf-8 body as the canonical JSON it authorized, labelled application/json', async () => {
    const spaced = '{ "jsonrpc" : "2.0", "id" : 5, "method" : "tools/call", "params" : { "name" : "\\u0065cho", "arguments" : { "message" : "hi" } } }';
    const r = await post(spaced, 'application/json; charset=UTF-8');
    expect(r.status).toBe(202);
    await waitFor(() => upstream.ran.length > 0);
    expect(upstream.ran).toEqual(['echo']);
    const got = upstream.received.find((x) => x.method === 'POST')!;
    expect(got.body.toString('utf8')).toBe(JSON.stringify(JSON.parse(spaced)));
    expect(got.headers['content-type']).toBe('application/json');
  });

  it('a plain denied call (the control of the repro) is 403 and never reaches the server', async () => {
    const r = await post('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_repo","arguments":{}}}');
    expect(r.status).toBe(403);
    expect(upstream.received).toEqual([]);
  });

  it('never forwards the query string or cookies, and binds the legacy session to its caller', async () => {
    const r = await post('{"jsonrpc":"2.0","id":6,"method":"ping"}', 'application/json', `${stream.endpoint}&access_token=SECRET-IN-QUERY`);
    expect(r.status).toBe(202);
    const got = upstream.received.find((x) => x.method === 'POST')!;
    expect(got.url).toMatch(/^\/messages\?sessionId=[0-9a-f-]+$/);
    expect(got.url).not.toContain('SECRET');
    // The caller's endpoint names the proxy's own session id, never the upstream's.
    expect(stream.endpoint).not.toContain(new URL(got.url, 'http://x').searchParams.get('sessionId')!);
    const unknown = await post('{"jsonrpc":"2.0","id":7,"method":"ping"}', 'application/json', '/messages?sessionId=00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
  });

  it('refuses PUT, PATCH and the other methods MCP does not define (405), bodies or not', async () => {
    const body = '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"delete_repo","arguments":{}}}';
    for (const method of ['PUT', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND']) {
      const r = await rawSend(proxy.port, method, stream.endpoint, { 'content-type': 'application/json' }, body);
      expect(r.status, method).toBe(405);
    }
    // A GET or DELETE carrying a body is refused too: only POST bodies are read, and every one of them is authorized.
    const length = String(Buffer.byteLength(body));
    expect((await rawSend(proxy.port, 'GET', '/sse', { 'content-type': 'application/json', 'content-length': length }, body)).status).toBe(400);
    expect((await rawSend(proxy.port, 'DELETE', '/mcp', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body)).status).toBe(400);
    expect(upstream.received.map((x) => `${x.method} ${x.url}`)).toEqual([]);
  });
});

describe('ambiguous JSON never reaches a server (stdio and reverse proxy)', () => {
  let tools: Awaited<ReturnType<typeof startToolsServer>>;
  let stdioProxy: ProxyServer;
  let serverSaw: string[] = [];
  let upstream: RecordingServer;
  let reverseProxy: ProxyServer;

  beforeAll(async () => {
    tools = await startToolsServer();
    tools.stdin.on('data', (c: Buffer) => serverSaw.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const permitWeather = new McpAuthorizer({ version: '1.0', type: 'cedarv1', cedar: { policies: [`permit(principal == Client::"${user}", action == Action::"call_tool", resource == Tool::"weather");`] } }, 'tools');
    stdioProxy = new ProxyServer({ serverName: 'tools', port: 0, transport: 'stdio', log, layers: [authorizationLayer(() => permitWeather, log)] });
    await stdioProxy.listen();
    const backend = new StdioBackend({ stdout: tools.stdout, stdin: tools.stdin }, { log });
    await backend.start();
    await stdioProxy.setBackend(backend, 'running');

    upstream = await startRecordingServer('streamable-http');
    const az = onlyEcho();
    reverseProxy = new ProxyServer({ serverName: 'up', port: 0, transport: 'streamable-http', log, layers: [authorizationLayer(() => az, log)] });
    await reverseProxy.listen();
    await reverseProxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: upstream.port }, { log }), 'running');
  });
  afterAll(async () => {
    await stdioProxy?.close();
    await tools?.close();
    await reverseProxy?.close();
    await upstream?.close();
  });

  const AMBIGUOUS = [
    // Go's encoding/json takes the last case-insensitive match: these run delete_repo / admin_tool there.
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","Name":"DENIED","arguments":{}}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","arguments":{}},"paramſ":{"name":"DENIED"}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","arguments":{}},"Params":{"name":"DENIED"}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","METHOD":"tools/list","params":{"name":"ALLOWED"}}',
    '{"jsonrpc":"2.0","id":3,"Id":4,"method":"tools/call","params":{"name":"ALLOWED"}}',
    // Exact duplicates: JavaScript keeps the last, other readers the first.
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"DENIED","name":"ALLOWED","arguments":{}}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","arguments":{"city":"x","city":"y"}}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","arguments":{"o":{"deep":[{"k":1,"K":2}]}}}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","ARGUMENTS":{"x":1},"arguments":{}}}',
    '{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///public.txt","URI":"file:///secret.txt"}}',
    // Numbers a double cannot hold, and ids that would come back as another id.
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ALLOWED","arguments":{"n":1e400}}}',
    '{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"ALLOWED","arguments":{}}}',
    '{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"ALLOWED","arguments":{}}}',
  ];

  it('the Go reading of the case-variant body really is the denied tool (the control)', () => {
    const body = JSON.parse(AMBIGUOUS[0]!) as Record<string, unknown>;
    expect(goLikeMember(goLikeMember(body, 'params'), 'name')).toBe('DENIED');
    expect((body['params'] as Record<string, unknown>)['name']).toBe('ALLOWED');
  });

  it('stdio: each is refused with a JSON-RPC error (400) and the server receives nothing', async () => {
    const init = await rawSend(stdioProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }));
    const sid = String(init.headers['mcp-session-id']);
    serverSaw = [];
    for (const text of AMBIGUOUS) {
      const body = text.replaceAll('ALLOWED', 'weather').replaceAll('DENIED', 'admin_tool');
      const r = await rawSend(stdioProxy.port, 'POST', '/mcp', { 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body);
      expect(r.status, body).toBe(400);
      expect((JSON.parse(r.text) as { error: { code: number } }).error.code, body).toBeLessThan(0);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(serverSaw).toEqual([]);
  });

  it('reverse proxy: each is refused (400) and the server receives nothing', async () => {
    upstream.received.length = 0;
    for (const text of AMBIGUOUS) {
      const body = text.replaceAll('ALLOWED', 'echo').replaceAll('DENIED', 'delete_repo');
      const r = await rawSend(reverseProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, body);
      expect(r.status, body).toBe(400);
    }
    expect(upstream.received).toEqual([]);
    expect(upstream.ran).toEqual([]);
  });

  it('a batch cannot carry a denied call with an allowed one, in either order', async () => {
    upstream.received.length = 0;
    const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
    for (const batch of [[call(1, 'echo'), call(2, 'delete_repo')], [call(3, 'delete_repo'), call(4, 'echo')], [{ jsonrpc: '2.0', id: 5, method: 'tools/list' }, call(6, 'get_env')]]) {
      const r = await rawSend(reverseProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, JSON.stringify(batch));
      expect(r.status).toBe(403);
    }
    expect(upstream.received).toEqual([]);
  });
});

describe('reverse proxy sessions and the 2026-07-28 wire headers', () => {
  let upstream: RecordingServer;
  let proxy: ProxyServer;
  const identities: Record<string, { subject: string; groups: string[]; scopes: string[]; claims: Record<string, unknown> }> = {
    alice: { subject: 'alice', groups: [], scopes: [], claims: { sub: 'alice' } },
    bob: { subject: 'bob', groups: [], scopes: [], claims: { sub: 'bob' } },
  };

  beforeAll(async () => {
    upstream = await startRecordingServer('streamable-http');
    // A stand-in for a validated token (authentication has its own suites): the token names the caller.
    const authState = {
      config: { issuer: 'https://idp.example.com', scopes: [] },
      validator: {
        validate: async (t: string) => {
          const id = identities[t];
          if (!id) throw new Error('bad token');
          return { ...id, tokenType: 'jwt' };
        },
      },
      resourceUrls: ['http://127.0.0.1:1/mcp'],
      serverName: 'up',
    } as unknown as AuthState;
    const az = new McpAuthorizer(
      {
        version: '1.0',
        type: 'cedarv1',
        cedar: { policies: ['permit(principal, action == Action::"call_tool", resource == Tool::"echo");', 'permit(principal, action == Action::"read_resource", resource == Resource::"file:///public.txt");'] },
      },
      'up',
    );
    proxy = new ProxyServer({ serverName: 'up', port: 0, transport: 'streamable-http', log, auth: () => authState, layers: [authorizationLayer(() => az, log)] });
    await proxy.listen();
    await proxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: upstream.port }, { log }), 'running');
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const clientAs = async (token: string) => {
    const client = new Client({ name: token, version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    return { client, transport };
  };

  it("another caller's token with your session id gets 404 and never reaches the server; yours works", async () => {
    const alice = await clientAs('alice');
    const sid = alice.transport.sessionId!;
    expect(sid).toBeTruthy();
    // The SDK client opens its GET stream right after initializing: let it arrive before counting.
    await waitFor(() => upstream.received.some((x) => x.method === 'GET'));
    upstream.received.length = 0;
    const hijack = await rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json', authorization: 'Bearer bob', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: {} } }));
    expect(hijack.status).toBe(404);
    expect((await rawSend(proxy.port, 'GET', '/mcp', { authorization: 'Bearer bob', 'mcp-session-id': sid, accept: 'text/event-stream' })).status).toBe(404);
    expect((await rawSend(proxy.port, 'DELETE', '/mcp', { authorization: 'Bearer bob', 'mcp-session-id': sid })).status).toBe(404);
    expect(upstream.received).toEqual([]);
    const unknown = await rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json', authorization: 'Bearer alice', 'mcp-session-id': 'made-up', 'mcp-protocol-version': '2025-11-25' }, JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'ping' }));
    expect(unknown.status).toBe(404);
    const echoed = await alice.client.callTool({ name: 'echo', arguments: { message: 'mine' } });
    expect(JSON.stringify(echoed)).toContain('echo: mine');
    await alice.client.close();
  });

  const modern = (body: Record<string, unknown>, headers: Record<string, string>) =>
    rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json', authorization: 'Bearer alice', 'mcp-protocol-version': '2026-07-28', ...headers }, JSON.stringify(body));
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

  it('Mcp-Method and Mcp-Name must say what the body says (-32020), and are forwarded as the body says', async () => {
    upstream.received.length = 0;
    const call = { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: meta } };
    const wrong: Record<string, string>[] = [{ 'mcp-method': 'tools/call', 'mcp-name': 'delete_repo' }, { 'mcp-method': 'tools/list', 'mcp-name': 'echo' }, { 'mcp-method': 'tools/call' }, {}];
    for (const headers of wrong) {
      const r = await modern(call, headers);
      expect(r.status, JSON.stringify(headers)).toBe(400);
      expect((JSON.parse(r.text) as { error: { code: number } }).error.code).toBe(-32020);
    }
    expect(upstream.received).toEqual([]);
    // A matching pair passes, in its base64 spelling too; the server gets the body's own values.
    await modern(call, { 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` });
    const got = upstream.received.find((x) => x.method === 'POST')!;
    expect([got.headers['mcp-method'], got.headers['mcp-name']]).toEqual(['tools/call', 'echo']);
  });

  it('subscriptions/listen is read_resource on every URI it names: one the caller may not read denies it', async () => {
    upstream.received.length = 0;
    const listen = (uris: unknown) => modern({ jsonrpc: '2.0', id: 12, method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: uris }, _meta: meta } }, { 'mcp-method': 'subscriptions/listen' });
    expect((await listen(['file:///public.txt', 'file:///secret.txt'])).status).toBe(403);
    expect((await listen(['file:///secret.txt'])).status).toBe(403);
    expect((await listen([42])).status).toBe(403);
    expect(upstream.received).toEqual([]);
  });
});

describe('stdio: subscriptions/listen, per-session log levels, methods named like Object.prototype', () => {
  let tools: Awaited<ReturnType<typeof startToolsServer>>;
  let proxy: ProxyServer;
  let serverSaw: string[] = [];

  beforeAll(async () => {
    tools = await startToolsServer();
    tools.stdin.on('data', (c: Buffer) => serverSaw.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const az = new McpAuthorizer(
      {
        version: '1.0',
        type: 'cedarv1',
        cedar: {
          policies: [
            `permit(principal == Client::"${user}", action == Action::"call_tool", resource);`,
            `permit(principal == Client::"${user}", action == Action::"read_resource", resource == Resource::"file:///public.txt");`,
          ],
        },
      },
      'tools',
    );
    proxy = new ProxyServer({ serverName: 'tools', port: 0, transport: 'stdio', log, layers: [authorizationLayer(() => az, log)] });
    await proxy.listen();
    const backend = new StdioBackend({ stdout: tools.stdout, stdin: tools.stdin }, { log });
    await backend.start();
    await proxy.setBackend(backend, 'running');
  });
  afterAll(async () => {
    await proxy?.close();
    await tools?.close();
  });

  it('a denied URI in subscriptions/listen is 403 and the server is never asked to subscribe', async () => {
    serverSaw = [];
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const r = await rawSend(
      proxy.port,
      'POST',
      '/mcp',
      { 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      JSON.stringify({ jsonrpc: '2.0', id: 20, method: 'subscriptions/listen', params: { _meta: meta, notifications: { resourceSubscriptions: ['file:///secret.txt'] } } }),
    );
    expect(r.status).toBe(403);
    await new Promise((res) => setTimeout(res, 100));
    expect(serverSaw.filter((l) => l.includes('resources/subscribe'))).toEqual([]);
  });

  it('denies methods named like Object.prototype members (default deny holds)', async () => {
    const init = await rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }));
    const sid = String(init.headers['mcp-session-id']);
    for (const method of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      const r = await rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, JSON.stringify({ jsonrpc: '2.0', id: 2, method }));
      expect(r.status, method).toBe(403);
    }
  });

  it("one client's logging/setLevel filters only its own log lines", async () => {
    const connect = async (name: string) => {
      const client = new Client({ name, version: '1' });
      const lines: string[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(String(n.params.data)));
      await client.connect(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)));
      return { client, lines };
    };
    const quiet = await connect('quiet');
    const chatty = await connect('chatty');
    const plain = await connect('plain');
    await quiet.client.setLoggingLevel('error');
    await chatty.client.setLoggingLevel('debug');
    await quiet.client.callTool({ name: 'log_lines', arguments: {} });
    await waitFor(() => chatty.lines.length >= 4 && plain.lines.length >= 4 && quiet.lines.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(quiet.lines).toEqual(['error line']);
    expect(chatty.lines).toEqual(['debug line', 'info line', 'warning line', 'error line']);
    expect(plain.lines).toEqual(['debug line', 'info line', 'warning line', 'error line']);
    for (const c of [quiet, chatty, plain]) await c.client.close();
  });
});

describe('public routes stay behind the Host/Origin check', () => {
  it('/health and /.well-known answer a rebinding page with 403; /health never carries the status detail', async () => {
    const proxy = new ProxyServer({ serverName: 'github', port: 0, transport: 'stdio', log });
    await proxy.listen();
    try {
      proxy.setState('error', 'the container exited with code 1; last output: GITHUB_TOKEN=ghp_exampleSecretValue is invalid');
      const rebinding = { host: `attacker.example:${proxy.port}`, origin: `http://attacker.example:${proxy.port}` };
      for (const path of ['/health', '/.well-known/oauth-protected-resource', '/.well-known/oauth-authorization-server', '/mcp']) {
        expect((await rawSend(proxy.port, 'GET', path, rebinding)).status, path).toBe(403);
      }
      expect((await rawSend(proxy.port, 'GET', '/health', { origin: 'https://evil.example' })).status).toBe(403);
      const health = await rawSend(proxy.port, 'GET', '/health', {});
      expect(health.status).toBe(503);
      expect(JSON.parse(health.text)).toMatchObject({ server: 'github', status: 'error' });
      expect(health.text).not.toContain('ghp_');
      expect(health.text).not.toContain('last output');
      expect((await rawSend(proxy.port, 'POST', '/health', { 'content-type': 'application/json' }, '{}')).status).toBe(405);
    } finally {
      await proxy.close();
    }
  });
});
