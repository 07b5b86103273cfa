import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { effectiveAuth, TokenValidator, type AuthState } from '../../src/auth/index.js';
import { McpAuthorizer } from '../../src/authz/authorizer.js';
import { parseAuthzConfigDocument, type AuthzConfig } from '../../src/authz/config.js';
import { authorizationLayer } from '../../src/authz/layer.js';
import { ProxyServer, StdioBackend, type ProxyLog } from '../../src/proxy/index.js';
import { textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { startToolsServer } from '../support/tools-server.js';

/** ToolHive's authorization guide, verbatim (the JSON example of "Set up authorization"). */
const GUIDE_CONFIG = `{
"version": "1.0",
"type": "cedarv1",
"cedar": {
"policies": [
"permit(principal, action == Action::\\"call_tool\\", resource == Tool::\\"weather\\");",
"permit(principal == Client::\\"alice123\\", action == Action::\\"call_tool\\", resource == Tool::\\"admin_tool\\");",
"permit(principal, action == Action::\\"call_tool\\", resource) when { principal.claim_roles.contains(\\"premium\\") };",
"permit(principal, action == Action::\\"call_tool\\", resource == Tool::\\"calculator\\") when { resource.arg_operation == \\"add\\" || resource.arg_operation == \\"subtract\\" };"
],
"entities_json": "[]"
}
}`;

const WITH_FORBIDS: AuthzConfig = (() => {
  const c = parseAuthzConfigDocument(GUIDE_CONFIG);
  c.cedar.policies.push(
    // Annotations come from the server's own tools/list: destructive tools are off for everyone.
    'forbid(principal, action == Action::"call_tool", resource) when { resource has destructiveHint && resource.destructiveHint };',
    'permit(principal, action == Action::"get_prompt", resource == Prompt::"greeting");',
    'permit(principal, action == Action::"read_resource", resource == Resource::"file:///public.txt");',
  );
  return c;
})();

describe('Cedar authorization at the proxy (ToolHive guide policies, real IdP tokens, real SDK clients)', () => {
  let idp: TestIdp;
  let proxy: ProxyServer;
  let tools: Awaited<ReturnType<typeof startToolsServer>>;
  let authState: AuthState | undefined;
  let authorizer: McpAuthorizer | undefined;
  let url: string;
  const logs: { level: string; message: string }[] = [];
  const log: ProxyLog = (level, message) => logs.push({ level, message });
  const tokens = new Map<string, string>();

  async function tokenFor(sub: string): Promise<string> {
    if (!tokens.has(sub)) tokens.set(sub, (await idp.userToken({ sub, resource: url })).accessToken);
    return tokens.get(sub)!;
  }

  async function clientFor(sub: string, transport: 'http' | 'sse' = 'http'): Promise<Client> {
    const headers = { authorization: `Bearer ${await tokenFor(sub)}` };
    const client = new Client({ name: `authz-${sub}`, version: '1' });
    await client.connect(
      transport === 'http'
        ? new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } })
        : new SSEClientTransport(new URL(url.replace(/\/mcp$/, '/sse')), { requestInit: { headers }, eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) } }),
    );
    return client;
  }

  async function rawCall(sub: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${await tokenFor(sub)}` },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // an SSE answer: left as text
    }
    return { status: res.status, json };
  }

  const useConfig = (config: AuthzConfig | undefined) => {
    authorizer = config ? new McpAuthorizer(config, 'tools') : undefined;
  };

  beforeAll(async () => {
    // carol's IdP sends an empty roles claim; dave's sends none at all (see the evaluation-error test).
    idp = await startTestIdp({ userClaims: { alice123: { roles: ['user'] }, bob: { roles: ['premium'] }, carol: { roles: [], groups: ['eng'] } } });
    tools = await startToolsServer();
    const backend = new StdioBackend({ stdout: tools.stdout, stdin: tools.stdin }, { log, requestTimeoutMs: 5_000 });
    await backend.start();
    proxy = new ProxyServer({
      serverName: 'tools',
      port: 0,
      transport: 'stdio',
      log,
      auth: () => authState,
      layers: [authorizationLayer(() => authorizer, log)],
    });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
    url = `${proxy.url}/mcp`;
    const eff = effectiveAuth({ type: 'inline', inline: { issuer: idp.issuer } }, url, () => undefined)!;
    authState = { config: eff, validator: new TokenValidator({ ...eff, audiences: [url] }), resourceUrls: [url], serverName: 'tools' };
    useConfig(parseAuthzConfigDocument(GUIDE_CONFIG));
  });

  afterAll(async () => {
    await proxy?.close();
    await tools?.close();
    await idp?.stop();
  });

  const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => textOf(await client.callTool({ name, arguments: args }));

  it('everyone may call weather; only alice123 may call admin_tool; calculator only for add/subtract', async () => {
    const alice = await clientFor('alice123');
    const carol = await clientFor('carol');
    expect(await call(alice, 'weather', { city: 'Oslo' })).toBe('Sunny in Oslo');
    expect(await call(carol, 'weather', { city: 'Lima' })).toBe('Sunny in Lima');
    expect(await call(alice, 'admin_tool')).toBe('admin done');
    await expect(call(carol, 'admin_tool')).rejects.toThrow(/403/);
    expect(await call(carol, 'calculator', { operation: 'add', a: 2, b: 3 })).toBe('5');
    expect(await call(carol, 'calculator', { operation: 'subtract', a: 2, b: 3 })).toBe('-1');
    await expect(call(carol, 'calculator', { operation: 'multiply', a: 2, b: 3 })).rejects.toThrow(/403/);
    await alice.close();
    await carol.close();
  });

  it('any tool for the premium role', async () => {
    const bob = await clientFor('bob');
    expect(await call(bob, 'admin_tool')).toBe('admin done');
    expect(await call(bob, 'calculator', { operation: 'multiply', a: 6, b: 7 })).toBe('42');
    expect(await call(bob, 'read_notes')).toBe('notes');
    await bob.close();
  });

  it("a denial is HTTP 403 with ToolHive's JSON-RPC error, naming nothing", async () => {
    const denied = await rawCall('carol', { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'admin_tool', arguments: {} } });
    expect(denied).toEqual({ status: 403, json: { jsonrpc: '2.0', id: 7, error: { code: 403, message: 'Unauthorized' } } });
    expect(logs.some((l) => l.level === 'warn' && l.message.includes('authorization denied') && l.message.includes('no policy permits it'))).toBe(true);
  });

  it('tools/list shows each caller exactly what it may call (Streamable HTTP and legacy SSE)', async () => {
    const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();
    const alice = await clientFor('alice123');
    const bob = await clientFor('bob');
    const carol = await clientFor('carol', 'sse');
    // A list check has no arguments, so the calculator policy (resource.arg_operation) errors, and an
    // evaluation error denies in ToolHive: the calculator is listed for nobody, premium included, though
    // callable with the right arguments. Gatehouse keeps that rule (and `policy check` warns about it).
    expect(await names(alice)).toEqual(['admin_tool', 'weather']);
    expect(await names(bob)).toEqual(['admin_tool', 'delete_notes', 'log_lines', 'read_notes', 'weather']);
    expect(await names(carol)).toEqual(['weather']);
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });

  it('a forbid overrides a permit (here through annotations learned from tools/list), and prompts and resources are filtered', async () => {
    useConfig(WITH_FORBIDS);
    const bob = await clientFor('bob');
    const listed = (await bob.listTools()).tools.map((t) => t.name);
    expect(listed).not.toContain('delete_notes');
    expect(listed).toContain('admin_tool');
    await expect(call(bob, 'delete_notes')).rejects.toThrow(/403/);
    expect((await bob.listPrompts()).prompts.map((p) => p.name)).toEqual(['greeting']);
    expect((await bob.listResources()).resources.map((r) => r.uri)).toEqual(['file:///public.txt']);
    expect((await bob.readResource({ uri: 'file:///public.txt' })).contents[0]).toMatchObject({ text: 'public' });
    await expect(bob.readResource({ uri: 'file:///secret.txt' })).rejects.toThrow(/403/);
    await bob.close();
    useConfig(parseAuthzConfigDocument(GUIDE_CONFIG));
  });

  it('a policy change applies to the next request of a running session', async () => {
    const carol = await clientFor('carol');
    await expect(call(carol, 'read_notes')).rejects.toThrow(/403/);
    const edited = parseAuthzConfigDocument(GUIDE_CONFIG);
    edited.cedar.policies.push('permit(principal in THVGroup::"eng", action == Action::"call_tool", resource == Tool::"read_notes");');
    useConfig(edited);
    expect(await call(carol, 'read_notes')).toBe('notes');
    useConfig(parseAuthzConfigDocument(GUIDE_CONFIG));
    await expect(call(carol, 'read_notes')).rejects.toThrow(/403/);
    await carol.close();
  });

  it('hostile inputs never crash the proxy and never allow', async () => {
    const huge = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'x'.repeat(50)]));
    const attempts: unknown[] = [
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'admin_tool', arguments: huge } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'admin_tool\u0000', arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'Tool::"admin_tool"', arguments: {} } },
      { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'calculator', arguments: { operation: ['add'] } } },
      { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'calculator', arguments: { operation: 'add"||true' } } },
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { arguments: {} } },
      { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 42 } },
      { jsonrpc: '2.0', id: 9, method: 'sampling/createMessage', params: {} },
      { jsonrpc: '2.0', id: 10, method: 'admin/anything', params: {} },
      // A batch: one allowed call cannot carry a denied one through.
      [
        { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'weather', arguments: { city: 'x' } } },
        { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'admin_tool', arguments: {} } },
      ],
    ];
    for (const body of attempts) {
      const r = await rawCall('carol', body);
      expect(r.status, JSON.stringify(body).slice(0, 120)).toBe(403);
    }
    // Two list requests in one batch: each answer is filtered as the list it answers.
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${await tokenFor('carol')}` };
    const init = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'batch', version: '1' } } }),
    });
    await init.text();
    const lists = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') ?? '' },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 13, method: 'tools/list' },
        { jsonrpc: '2.0', id: 14, method: 'prompts/list' },
      ]),
    });
    expect(lists.status).toBe(200);
    const answers = (await lists.json()) as { id: number; result: { tools?: { name: string }[]; prompts?: unknown[] } }[];
    expect(answers.find((x) => x.id === 13)?.result.tools?.map((t) => t.name)).toEqual(['weather']);
    expect(answers.find((x) => x.id === 14)?.result.prompts).toEqual([]);
    // Nesting deeper than any reader after the parser should have to follow: refused before anything reads it.
    const deep = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin_tool","arguments":{"a":${'{"n":'.repeat(5_000)}1${'}'.repeat(5_000)}}}}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${await tokenFor('carol')}` },
      body: deep,
    });
    expect(res.status).toBe(400);
    // Still serving.
    const carol = await clientFor('carol');
    expect(await call(carol, 'weather', { city: 'Rome' })).toBe('Sunny in Rome');
    await carol.close();
  });

  it('always-allowed methods pass without a policy; unknown methods are denied', async () => {
    const carol = await clientFor('carol');
    await expect(carol.ping()).resolves.toBeDefined();
    await carol.close();
    expect((await rawCall('carol', { jsonrpc: '2.0', id: 2, method: 'tasks/list' })).status).toBe(403);
    expect((await rawCall('carol', { jsonrpc: '2.0', id: 3, method: 'resources/templates/list' })).status).not.toBe(403);
  });

  it("a caller whose token lacks a claim a policy reads is denied everything (ToolHive's evaluation-error rule)", async () => {
    // The premium policy reads principal.claim_roles for every tool; dave's token has no roles claim, so
    // it errors for every request, and ToolHive denies on any evaluation error, weather included.
    const denied = await rawCall('dave', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'weather', arguments: { city: 'x' } } });
    expect(denied.status).toBe(403);
    expect(logs.some((l) => l.message.includes('evaluation error in policy2'))).toBe(true);
  });

  it('local mode still authorizes, with the OS user as principal', async () => {
    const user = os.userInfo().username;
    authState = undefined;
    try {
      useConfig(parseAuthzConfigDocument(JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: [`permit(principal == Client::"${user}", action == Action::"call_tool", resource == Tool::"weather");`] } })));
      const client = new Client({ name: 'local', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      expect(await call(client, 'weather', { city: 'Home' })).toBe('Sunny in Home');
      await expect(call(client, 'admin_tool')).rejects.toThrow(/403/);
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['weather']);
      await client.close();
    } finally {
      const eff = effectiveAuth({ type: 'inline', inline: { issuer: idp.issuer } }, url, () => undefined)!;
      authState = { config: eff, validator: new TokenValidator({ ...eff, audiences: [url] }), resourceUrls: [url], serverName: 'tools' };
      useConfig(parseAuthzConfigDocument(GUIDE_CONFIG));
    }
  });
});
