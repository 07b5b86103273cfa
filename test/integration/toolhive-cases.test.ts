import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { effectiveAuth, TokenValidator, type AuthState } from '../../src/auth/index.js';
import { authorizationLayer, AuthzConfigError, checkAuthzConfig, McpAuthorizer, parseAuthzConfigDocument, PolicyEngine, type AuthzConfig } from '../../src/authz/index.js';
import { ProxyServer, StdioBackend, type ProxyLog } from '../../src/proxy/index.js';
import { baseClaims, signedByIdp } from '../support/forge.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

/**
 * ToolHive's own authorization test cases (../shared/reference/toolhive-cedar-cases), each run the way a
 * request really goes through Gatehouse: the authz-config loaded as `gatehouse run --authz-config` loads it,
 * a JWT signed by a real identity provider's key carrying the case's claims, validated by the proxy, an
 * MCP SDK client's request (tools/call, prompts/get, resources/read, a list, or any method) through the
 * real stdio proxy to a real MCP SDK server that declares the case's tools and annotations. Every case
 * must give ToolHive's answer, or be listed in DELIBERATE_DIFFERENCES (and in the README) with its reason.
 */

const CASES_FILE = path.resolve(import.meta.dirname, '../../../shared/reference/toolhive-cedar-cases/cases.json');

interface Case {
  id: string;
  kind: 'decision' | 'config' | 'list' | 'method' | 'feature_list';
  policies?: string[];
  entities_json?: string;
  group_claim_name?: string;
  role_claim_name?: string;
  group_entity_type?: string;
  multi_valued_claims?: string[];
  server_name?: string;
  claims?: Record<string, unknown>;
  request?: { method: string; tool?: string; prompt?: string; resource?: string; arguments?: Record<string, unknown>; params?: Record<string, unknown> };
  annotations?: Record<string, unknown>;
  expect: 'allow' | 'deny' | 'load' | 'refuse' | 'filtered';
  list_items?: Record<string, unknown>[];
  expect_items?: string[];
  config_raw?: string;
  config_format?: string;
  notes?: string;
}

/** Cases where Gatehouse answers otherwise on purpose (the README lists each, with this reason). */
export const DELIBERATE_DIFFERENCES: Readonly<Record<string, string>> = {
  'record/TestConvertMapToCedarRecord/Integer_values':
    'The Go test hands the claim over as a Go int (a Long); a JSON number in a real token always reaches ToolHive as a float, a decimal, as it does in Gatehouse.',
  'core/TestAuthorizeWithJWTClaims/User_can_list_prompts':
    "Action::\"list_prompts\" on FeatureType::\"prompt\" is asked only by ToolHive's Go API, never by an MCP request: Gatehouse has no such call.",
};

function configOf(c: Case): AuthzConfig | { refused: string } {
  try {
    if (c.config_raw !== undefined) return parseAuthzConfigDocument(c.config_raw, c.id);
    return parseAuthzConfigDocument(
      JSON.stringify({
        version: '1.0',
        type: 'cedarv1',
        cedar: {
          policies: c.policies,
          entities_json: c.entities_json,
          ...(c.group_claim_name !== undefined ? { group_claim_name: c.group_claim_name } : {}),
          ...(c.role_claim_name !== undefined ? { role_claim_name: c.role_claim_name } : {}),
          ...(c.group_entity_type !== undefined ? { group_entity_type: c.group_entity_type } : {}),
          ...(c.multi_valued_claims !== undefined ? { multi_valued_claims: c.multi_valued_claims } : {}),
        },
      }),
      c.id,
    );
  } catch (err) {
    if (err instanceof AuthzConfigError) return { refused: err.message };
    throw err;
  }
}

/** What `gatehouse run --authz-config` does with a file: check it (errors refuse), then compile it. */
function load(c: Case): McpAuthorizer | { refused: string } {
  const config = configOf(c);
  if ('refused' in config) return config;
  const check = checkAuthzConfig(config);
  if (!check.ok) return { refused: check.errors.map((e) => e.message).join('; ') };
  try {
    return new McpAuthorizer(new PolicyEngine(config), c.server_name ?? 'cases');
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

/** A real MCP SDK server that says whatever the current case needs: its tools (with annotations) and lists. */
function caseServer(current: () => Case) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const server = new Server({ name: 'toolhive-cases', version: '1' }, { capabilities: { tools: {}, prompts: {}, resources: { subscribe: true }, completions: {} } });
  const ok = { content: [{ type: 'text' as const, text: 'ran' }] };
  server.setRequestHandler(ListToolsRequestSchema, () => {
    const c = current();
    if (c.kind === 'list' && c.request?.method === 'tools/list') return { tools: (c.list_items ?? []).map((i) => ({ inputSchema: { type: 'object' as const }, ...i })) as never };
    const tool = c.request?.tool ?? 'tool';
    return { tools: [{ name: tool, inputSchema: { type: 'object' as const }, ...(c.annotations ? { annotations: c.annotations } : {}) }] };
  });
  server.setRequestHandler(CallToolRequestSchema, () => ok);
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: (current().list_items ?? []) as never }));
  server.setRequestHandler(GetPromptRequestSchema, () => ({ messages: [] }));
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: (current().list_items ?? []).map((i) => ({ name: String(i['uri']), ...i })) as never }));
  server.setRequestHandler(ReadResourceRequestSchema, (r) => ({ contents: [{ uri: r.params.uri, text: 'data' }] }));
  server.setRequestHandler(SubscribeRequestSchema, () => ({}));
  server.setRequestHandler(CompleteRequestSchema, () => ({ completion: { values: [] } }));
  return { stdin, stdout, start: () => server.connect(new StdioServerTransport(stdin, stdout)), close: () => server.close() };
}

type Outcome = 'allow' | 'deny' | 'load' | 'refuse' | { items: string[] } | { error: string };

describe("ToolHive's authorization cases through the real proxy", () => {
  const cases = JSON.parse(fs.readFileSync(CASES_FILE, 'utf8')) as Case[];
  const log: ProxyLog = () => {};
  let idp: TestIdp;
  let proxy: ProxyServer;
  let server: ReturnType<typeof caseServer>;
  let url: string;
  let current: Case = cases[0]!;
  let authorizer: McpAuthorizer | { failure: string } | undefined;
  let authState: AuthState;

  beforeAll(async () => {
    idp = await startTestIdp();
    server = caseServer(() => current);
    await server.start();
    const backend = new StdioBackend({ stdout: server.stdout, stdin: server.stdin }, { log, requestTimeoutMs: 5_000 });
    proxy = new ProxyServer({ serverName: 'cases', port: 0, transport: 'stdio', log, auth: () => authState, layers: [authorizationLayer(() => authorizer, log)] });
    await proxy.listen();
    await backend.start();
    await proxy.setBackend(backend, 'running');
    url = `${proxy.url}/mcp`;
    const eff = effectiveAuth({ type: 'inline', inline: { issuer: idp.issuer } }, url, () => undefined)!;
    authState = { config: eff, validator: new TokenValidator({ ...eff, audiences: [url] }), resourceUrls: [url], serverName: 'cases' };
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await idp?.stop();
  });

  async function post(token: string, body: unknown, session?: string): Promise<{ status: number; json: unknown; session: string | null }> {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}),
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // an SSE answer: kept as text
    }
    return { status: res.status, json, session: res.headers.get('mcp-session-id') };
  }

  async function run(c: Case): Promise<Outcome> {
    const loaded = load(c);
    if (c.kind === 'config') return 'refused' in loaded ? 'refuse' : 'load';
    if ('refused' in loaded) return { error: `the config does not load: ${loaded.refused}` };
    authorizer = loaded;
    current = c;
    // The case's claims in a token the identity provider could have issued (its key, its issuer, this audience).
    const claims = { ...baseClaims(idp, url, { sub: undefined, client_id: undefined, scope: undefined, jti: undefined }), ...c.claims };
    const token = signedByIdp(idp, claims);
    const init = await post(token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cases', version: '1' } } });
    if (init.status === 401) return 'deny'; // no usable subject: ToolHive denies too (ErrMissingPrincipal)
    if (init.status !== 200 || !init.session) return { error: `initialize answered ${init.status}` };
    const session = init.session;
    const r = c.request!;
    // Tool annotations come from the server's tools/list, as in ToolHive (its annotation cache).
    if (c.annotations) await post(token, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
    let params: Record<string, unknown>;
    if (r.method === 'tools/call') params = { name: r.tool, arguments: r.arguments ?? {} };
    else if (r.method === 'prompts/get') params = { name: r.prompt, arguments: r.arguments ?? {} };
    else if (r.method === 'resources/read' || r.method === 'resources/subscribe' || r.method === 'resources/unsubscribe') params = { uri: r.resource ?? r.params?.['uri'] };
    else params = r.params ?? {};
    const answer = await post(token, { jsonrpc: '2.0', id: 3, method: r.method, params }, session);
    if (c.kind === 'list') {
      if (answer.status !== 200) return { error: `${r.method} answered ${answer.status}` };
      const result = (answer.json as { result?: Record<string, { name?: string; uri?: string }[]> }).result ?? {};
      const list = result['tools'] ?? result['prompts'] ?? result['resources'] ?? [];
      return { items: list.map((i) => i.name ?? i.uri ?? '') };
    }
    if (answer.status === 403 || answer.status === 401) return 'deny';
    if (answer.status === 200) return 'allow';
    return { error: `${r.method} answered ${answer.status}: ${JSON.stringify(answer.json).slice(0, 200)}` };
  }

  it('every case gives ToolHive answer, or is a listed deliberate difference', async () => {
    const mismatches: string[] = [];
    let agree = 0;
    for (const c of cases) {
      const expected: Outcome = c.kind === 'list' ? { items: c.expect_items ?? [] } : (c.expect as Exclude<Case['expect'], 'filtered'>);
      let got: Outcome;
      try {
        got = await run(c);
      } catch (err) {
        got = { error: (err as Error).message };
      }
      const same = JSON.stringify(got) === JSON.stringify(expected);
      if (same) agree++;
      if (same === (c.id in DELIBERATE_DIFFERENCES)) mismatches.push(`${c.id}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}${same ? ' (listed as a difference, but agrees)' : ''}`);
    }
    console.log(`ToolHive cases: ${agree} of ${cases.length} give ToolHive's answer through the proxy; ${Object.keys(DELIBERATE_DIFFERENCES).length} deliberate differences`);
    expect(mismatches).toEqual([]);
  });
});
