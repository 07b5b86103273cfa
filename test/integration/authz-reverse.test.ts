import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpAuthorizer } from '../../src/authz/authorizer.js';
import { authorizationLayer } from '../../src/authz/layer.js';
import { ProxyServer, ReverseProxyBackend, type ProxyLog } from '../../src/proxy/index.js';
import { everythingEntry } from '../support/everything-local.js';
import { textOf } from '../support/mcp-client.js';
import { freePort } from '../support/ports.js';

/** server-everything speaking HTTP itself (legacy SSE or Streamable HTTP), as a local process. */
async function startEverything(mode: 'sse' | 'streamableHttp'): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [everythingEntry(), mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything (${mode}) did not listen within 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/listening on port|running on/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
  return { child, port };
}

/**
 * Authorization in front of servers that speak HTTP themselves (the reverse proxy): list answers must
 * be filtered whether they come back on the POST (Streamable HTTP) or on the GET stream (legacy SSE).
 * Local mode: the principal is the OS user.
 */
describe.each([
  { mode: 'sse' as const, path: '/sse' },
  { mode: 'streamableHttp' as const, path: '/mcp' },
])('authorization through the reverse proxy: server-everything over $mode', ({ mode, path }) => {
  let server: { child: ChildProcess; port: number };
  let proxy: ProxyServer;
  const user = os.userInfo().username;
  const log: ProxyLog = () => {};

  beforeAll(async () => {
    server = await startEverything(mode);
    const authorizer = new McpAuthorizer(
      { version: '1.0', type: 'cedarv1', cedar: { policies: [`permit(principal == Client::"${user}", action == Action::"call_tool", resource == Tool::"echo");`] } },
      'everything',
    );
    proxy = new ProxyServer({ serverName: 'everything', port: 0, transport: mode === 'sse' ? 'sse' : 'streamable-http', log, layers: [authorizationLayer(() => authorizer, log)] });
    await proxy.listen();
    await proxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: server.port }, { log }), 'running');
  });

  afterAll(async () => {
    await proxy?.close();
    server?.child.kill();
  });

  it('lists only the permitted tool, calls it, and refuses the others', async () => {
    const client = new Client({ name: 'reverse-authz', version: '1' });
    const url = new URL(`${proxy.url}${path}`);
    await client.connect(mode === 'sse' ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'through' } }))).toContain('through');
    await expect(client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })).rejects.toThrow(/403|Unauthorized/);
    // Prompts and resources: no policy permits any, so the lists come back empty.
    expect((await client.listPrompts()).prompts).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
    await client.close();
  });
});
