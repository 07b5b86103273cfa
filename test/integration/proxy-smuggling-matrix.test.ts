import http from 'node:http';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationLayer, McpAuthorizer } from '../../src/authz/index.js';
import { ProxyServer, ReverseProxyBackend, StdioBackend, type ProxyLog } from '../../src/proxy/index.js';
import { openLegacyStream, rawSend, type RawAnswer } from '../support/raw-http.js';
import { goLikeMember, startRecordingServer, startRecordingStdioServer, type RecordingServer, type RecordingStdioServer } from '../support/recording-server.js';

/**
 * The charset and smuggling matrix, against every transport Gatehouse serves, each with a real MCP SDK
 * server behind it: stdio servers on the session-era Streamable HTTP front, the 2026-07-28 stateless
 * front and the legacy SSE front; HTTP servers (SDK Streamable HTTP and SDK legacy SSE) behind the
 * reverse proxy. Only `echo` may be called. Every body is either refused before the server receives
 * anything, or the server receives exactly the canonical serialization of what was authorized, which
 * a case-insensitive (Go) reader and a JavaScript reader read the same way.
 */

const user = os.userInfo().username;
const log: ProxyLog = () => {};
const onlyEcho = () => new McpAuthorizer({ version: '1.0', type: 'cedarv1', cedar: { policies: [`permit(principal == Client::"${user}", action == Action::"call_tool", resource == Tool::"echo");`] } }, 'srv');
const META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

const INIT = (version: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'matrix', version: '1' } } });

/** One way a tools/call reaches a server, and what that server received. */
interface Transport {
  name: string;
  /** The tools/call message this transport carries (the stateless wire puts _meta in every request). */
  base(): Record<string, unknown>;
  post(body: Buffer, contentType: string, message?: Record<string, unknown>): Promise<RawAnswer>;
  accepted: number;
  /** JSON-RPC bodies the server received since the last mark (stdio: lines; HTTP: POST bodies). */
  since(): Buffer[];
  mark(): void;
  /** The server's copy, for the canonical form of what was authorized. */
  canonical(sent: Record<string, unknown>, got: Buffer): string;
}

/** What the multiplexer writes: the authorized message with its own request id. */
const stdioCanonical = (sent: Record<string, unknown>, got: Buffer) => JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(got.toString('utf8')) as { id: number }).id, method: sent['method'], params: sent['params'] });
const httpCanonical = (sent: Record<string, unknown>) => JSON.stringify(sent);

describe('the smuggling matrix, on every transport, with real SDK servers', () => {
  let stdioServer: RecordingStdioServer;
  let stdioProxy: ProxyServer;
  let streamable: RecordingServer;
  let streamableProxy: ProxyServer;
  let sse: RecordingServer;
  let sseProxy: ProxyServer;
  let remote: RecordingServer;
  let remoteProxy: ProxyServer;
  let remoteSse: RecordingServer;
  let remoteSseProxy: ProxyServer;
  let upstreamTokens: RecordingServer;
  let upstreamTokensProxy: ProxyServer;
  const closers: (() => void)[] = [];
  const transports: Transport[] = [];

  beforeAll(async () => {
    stdioServer = await startRecordingStdioServer();
    const az = onlyEcho();
    stdioProxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'stdio', log, layers: [authorizationLayer(() => az, log)] });
    await stdioProxy.listen();
    const backend = new StdioBackend({ stdout: stdioServer.stdout, stdin: stdioServer.stdin }, { log });
    await backend.start();
    await stdioProxy.setBackend(backend, 'running');

    streamable = await startRecordingServer('streamable-http');
    streamableProxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'streamable-http', log, layers: [authorizationLayer(() => az, log)] });
    await streamableProxy.listen();
    await streamableProxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: streamable.port }, { log }), 'running');

    sse = await startRecordingServer('sse');
    sseProxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'sse', log, layers: [authorizationLayer(() => az, log)] });
    await sseProxy.listen();
    await sseProxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: sse.port }, { log }), 'running');

    // Remote servers: the same backend with the remote path mapping and credentials added to each request.
    const credentials = { headers: async () => ({ authorization: 'Bearer remote-token' }), refused: async () => {}, refusedMessage: () => 'refused' };
    remote = await startRecordingServer('streamable-http');
    remoteProxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'streamable-http', log, layers: [authorizationLayer(() => az, log)] });
    await remoteProxy.listen();
    await remoteProxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: remote.port, remote: { tls: false, path: '/mcp', localPath: '/mcp' }, credentials }, { log }), 'running');
    remoteSse = await startRecordingServer('sse');
    remoteSseProxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'sse', log, layers: [authorizationLayer(() => az, log)] });
    await remoteSseProxy.listen();
    await remoteSseProxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: remoteSse.port, remote: { tls: false, path: '/sse', localPath: '/sse' }, credentials }, { log }), 'running');

    // A server in a container behind the embedded authorization server: a credential per caller (their upstream token).
    const perCaller = { headers: async (caller: { subject: string } | undefined) => ({ authorization: `Bearer upstream-of-${caller?.subject ?? 'nobody'}` }), refused: async () => {}, refusedMessage: () => 'refused' };
    upstreamTokens = await startRecordingServer('streamable-http');
    upstreamTokensProxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'streamable-http', log, layers: [authorizationLayer(() => az, log)] });
    await upstreamTokensProxy.listen();
    await upstreamTokensProxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: upstreamTokens.port, credentials: perCaller }, { log }), 'running');

    let stdioMark = 0;
    const stdioCommon = { since: () => stdioServer.lines.slice(stdioMark), mark: () => void (stdioMark = stdioServer.lines.length), canonical: stdioCanonical };
    const plain = () => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } });

    const init = await rawSend(stdioProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, INIT('2025-11-25'));
    const sid = String(init.headers['mcp-session-id']);
    transports.push({
      name: 'stdio, Streamable HTTP (session era)',
      base: plain,
      post: (body, ct) => rawSend(stdioProxy.port, 'POST', '/mcp', { 'content-type': ct, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body),
      accepted: 200,
      ...stdioCommon,
    });
    transports.push({
      name: 'stdio, Streamable HTTP (2026-07-28, stateless)',
      base: () => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' }, _meta: META } }),
      post: (body, ct) => rawSend(stdioProxy.port, 'POST', '/mcp', { 'content-type': ct, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, body),
      accepted: 200,
      ...stdioCommon,
    });
    const stdioLegacy = await openLegacyStream(stdioProxy.port);
    closers.push(stdioLegacy.close);
    await rawSend(stdioProxy.port, 'POST', stdioLegacy.endpoint, { 'content-type': 'application/json' }, INIT('2024-11-05'));
    transports.push({
      name: 'stdio, legacy HTTP+SSE',
      base: plain,
      post: (body, ct) => rawSend(stdioProxy.port, 'POST', stdioLegacy.endpoint, { 'content-type': ct }, body),
      accepted: 202,
      ...stdioCommon,
    });

    const httpRecorder = (r: RecordingServer) => {
      let m = 0;
      return { since: () => r.received.slice(m).filter((x) => x.method === 'POST').map((x) => x.body), mark: () => void (m = r.received.length), canonical: httpCanonical };
    };
    const rinit = await rawSend(streamableProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, INIT('2025-11-25'));
    const rsid = String(rinit.headers['mcp-session-id']);
    await rawSend(streamableProxy.port, 'POST', '/mcp', { 'content-type': 'application/json', 'mcp-session-id': rsid, 'mcp-protocol-version': '2025-11-25' }, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    transports.push({
      name: 'reverse proxy, SDK Streamable HTTP server',
      base: plain,
      post: (body, ct) => rawSend(streamableProxy.port, 'POST', '/mcp', { 'content-type': ct, 'mcp-session-id': rsid, 'mcp-protocol-version': '2025-11-25' }, body),
      accepted: 200,
      ...httpRecorder(streamable),
    });
    const reverseLegacy = await openLegacyStream(sseProxy.port);
    closers.push(reverseLegacy.close);
    await rawSend(sseProxy.port, 'POST', reverseLegacy.endpoint, { 'content-type': 'application/json' }, INIT('2024-11-05'));
    await rawSend(sseProxy.port, 'POST', reverseLegacy.endpoint, { 'content-type': 'application/json' }, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    transports.push({
      name: 'reverse proxy, SDK legacy SSE server',
      base: plain,
      post: (body, ct) => rawSend(sseProxy.port, 'POST', reverseLegacy.endpoint, { 'content-type': ct }, body),
      accepted: 202,
      ...httpRecorder(sse),
    });

    const minit = await rawSend(remoteProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, INIT('2025-11-25'));
    const msid = String(minit.headers['mcp-session-id']);
    await rawSend(remoteProxy.port, 'POST', '/mcp', { 'content-type': 'application/json', 'mcp-session-id': msid, 'mcp-protocol-version': '2025-11-25' }, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    transports.push({
      name: 'remote server with injected credentials, Streamable HTTP',
      base: plain,
      post: (body, ct) => rawSend(remoteProxy.port, 'POST', '/mcp', { 'content-type': ct, 'mcp-session-id': msid, 'mcp-protocol-version': '2025-11-25' }, body),
      accepted: 200,
      ...httpRecorder(remote),
    });
    const uinit = await rawSend(upstreamTokensProxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, INIT('2025-11-25'));
    const usid = String(uinit.headers['mcp-session-id']);
    await rawSend(upstreamTokensProxy.port, 'POST', '/mcp', { 'content-type': 'application/json', 'mcp-session-id': usid, 'mcp-protocol-version': '2025-11-25' }, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    transports.push({
      name: "container server with the caller's upstream token injected (the caller sends one of its own too)",
      base: plain,
      post: (body, ct) => rawSend(upstreamTokensProxy.port, 'POST', '/mcp', { 'content-type': ct, 'mcp-session-id': usid, 'mcp-protocol-version': '2025-11-25', authorization: 'Bearer caller-own-token' }, body),
      accepted: 200,
      ...httpRecorder(upstreamTokens),
    });
    const remoteLegacy = await openLegacyStream(remoteSseProxy.port);
    closers.push(remoteLegacy.close);
    await rawSend(remoteSseProxy.port, 'POST', remoteLegacy.endpoint, { 'content-type': 'application/json' }, INIT('2024-11-05'));
    await rawSend(remoteSseProxy.port, 'POST', remoteLegacy.endpoint, { 'content-type': 'application/json' }, '{"jsonrpc":"2.0","method":"notifications/initialized"}');
    transports.push({
      name: 'remote server with injected credentials, legacy SSE',
      base: plain,
      post: (body, ct) => rawSend(remoteSseProxy.port, 'POST', remoteLegacy.endpoint, { 'content-type': ct }, body),
      accepted: 202,
      ...httpRecorder(remoteSse),
    });
  });

  afterAll(async () => {
    for (const c of closers) c();
    for (const p of [stdioProxy, streamableProxy, sseProxy, remoteProxy, remoteSseProxy, upstreamTokensProxy]) await p?.close();
    await upstreamTokens?.close();
    await stdioServer?.close();
    await streamable?.close();
    await sse?.close();
    await remote?.close();
    await remoteSse?.close();
  });

  const settle = () => new Promise((r) => setTimeout(r, 60));
  const utf7 = (s: string) => s.replace(/["{}]+/g, (run) => `+${Buffer.from(run, 'utf16le').swap16().toString('base64').replace(/=+$/, '')}-`);

  /** Bodies the proxy must refuse, built from the transport's own tools/call: [label, bytes, content type, status]. */
  function refused(t: Transport): [string, Buffer, string, number][] {
    const b = t.base();
    const text = JSON.stringify(b);
    const json = 'application/json';
    const out: [string, Buffer, string, number][] = [];
    // Charsets: a server that honours the label would read other bytes than the ones the proxy read.
    const smuggled = text.replace('"arguments"', `"x":"${utf7('","name":"delete_repo","y":"')}","arguments"`);
    for (const cs of ['utf-7', 'UTF-7', 'utf-16le', 'utf-16be', 'utf-16', 'latin1', 'iso-8859-1', 'windows-1252', 'us-ascii', 'shift_jis']) out.push([`charset=${cs}`, Buffer.from(smuggled), `${json}; charset=${cs}`, 415]);
    out.push(['UTF-16LE bytes', Buffer.from(text, 'utf16le'), json, 400]);
    out.push(['UTF-16BE bytes', Buffer.from(text, 'utf16le').swap16(), json, 400]);
    out.push(['a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), json, 400]);
    out.push(['Latin-1 bytes', Buffer.from(text.replace('"hi"', '"h\xe9"'), 'latin1'), json, 400]);
    for (const ct of ['text/plain', 'application/json-seq', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) out.push([`Content-Type ${ct}`, Buffer.from(text), ct, 415]);
    // Duplicate names at every depth.
    const dup = (label: string, from: string, to: string) => out.push([label, Buffer.from(text.replace(from, to)), json, 400]);
    dup('method twice', '"method":"tools/call"', '"method":"tools/call","method":"tools/call"');
    dup('id twice', '"id":7', '"id":7,"id":8');
    dup('jsonrpc twice', '"jsonrpc":"2.0"', '"jsonrpc":"2.0","jsonrpc":"2.0"');
    dup('params twice', '"params":{', '"params":{"name":"delete_repo"},"params":{');
    dup('name twice', '"name":"echo"', '"name":"delete_repo","name":"echo"');
    dup('arguments twice', '"arguments":{', '"arguments":{},"arguments":{');
    dup('an argument twice', '"message":"hi"', '"message":"hi","message":"rm -rf"');
    dup('a name twice deep in an argument', '"message":"hi"', '"message":"hi","o":{"a":[{"k":1,"k":2}]}');
    // Case and Unicode-fold variants: Go's encoding/json would take the last of each pair.
    for (const [from, to] of [
      ['"method":"tools/call"', '"method":"tools/call","Method":"tools/list"'],
      ['"method":"tools/call"', '"method":"tools/call","METHOD":"tools/list"'],
      ['"params":{', '"Params":{"name":"delete_repo"},"params":{'],
      ['"params":{', '"paramſ":{"name":"delete_repo"},"params":{'],
      ['"name":"echo"', '"name":"echo","Name":"delete_repo"'],
      ['"name":"echo"', '"name":"echo","NAME":"get_env"'],
      ['"arguments":{', '"Arguments":{"message":"x"},"arguments":{'],
      ['"arguments":{', '"argumentſ":{"message":"x"},"arguments":{'],
      ['"id":7', '"id":7,"ID":8'],
      ['"jsonrpc":"2.0"', '"jsonrpc":"2.0","Jsonrpc":"1.0"'],
    ] as const) dup(`${to.slice(0, 24)}...`, from, to);
    // Numbers that would reach the server as something else than what was read.
    dup('an argument of 1e400', '"message":"hi"', '"message":"hi","n":1e400');
    dup('an argument of -1e309', '"message":"hi"', '"message":"hi","n":-1e309');
    dup('id 2^53+1', '"id":7', '"id":9007199254740993');
    dup('a fractional id', '"id":7', '"id":7.5');
    dup('a lone surrogate', '"name":"echo"', '"name":"echo\\ud800"');
    dup('nesting 100 deep', '"message":"hi"', `"message":"hi","d":${'['.repeat(100)}${']'.repeat(100)}`);
    // Shapes JSON-RPC does not have.
    dup('a result beside the method', '"jsonrpc":"2.0"', '"jsonrpc":"2.0","result":{}');
    dup('array params', '"params":{"name":"echo","arguments":{"message":"hi"}', '"params":["echo"],"x":{"name":"echo","arguments":{"message":"hi"}');
    return out;
  }

  it('refuses every ambiguous, mislabelled or unreadable body before the server receives anything', async () => {
    const failures: string[] = [];
    for (const t of transports) {
      for (const [label, body, ct, status] of refused(t)) {
        t.mark();
        const r = await t.post(body, ct);
        await settle();
        const got = t.since();
        if (r.status !== status || got.length > 0) failures.push(`${t.name}, ${label}: HTTP ${r.status} (want ${status}), server received ${got.length} message(s) ${got.map((g) => g.toString()).join(' ')}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('a batch cannot carry a denied call with an allowed one (403, nothing received)', async () => {
    const failures: string[] = [];
    for (const t of transports) {
      const allowed = t.base();
      const denied = { ...allowed, id: 8, params: { ...(allowed['params'] as object), name: 'delete_repo' } };
      for (const batch of [[allowed, denied], [denied, allowed]]) {
        t.mark();
        const r = await t.post(Buffer.from(JSON.stringify(batch)), 'application/json');
        await settle();
        if (r.status !== 403 || t.since().length > 0) failures.push(`${t.name}: HTTP ${r.status}, server received ${t.since().length}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('what the server receives of an accepted body is byte for byte the canonical form of what was authorized', async () => {
    const failures: string[] = [];
    for (const t of transports) {
      const b = t.base();
      const text = JSON.stringify(b);
      const spellings: [string, string, string][] = [
        ['canonical', text, 'application/json'],
        ['charset=utf-8', text, 'application/json; charset=utf-8'],
        ['charset="UTF-8"', text, 'application/json; charset="UTF-8"'],
        ['spaced and escaped', text.replace('"name":"echo"', ' "name" : "\\u0065cho" ').replace('"method":"tools/call"', '"method" :\n"tools\\/call"'), 'application/json'],
        ['other key order', JSON.stringify({ params: b['params'], method: b['method'], id: b['id'], jsonrpc: '2.0' }), 'application/json'],
      ];
      for (const [label, body, ct] of spellings) {
        t.mark();
        const r = await t.post(Buffer.from(body), ct);
        await settle();
        const got = t.since();
        const authorized = JSON.parse(body) as Record<string, unknown>;
        const ok = r.status === t.accepted && got.length === 1 && got[0]!.toString('utf8') === t.canonical(authorized, got[0]!);
        const goReads = got[0] ? goLikeMember(goLikeMember(JSON.parse(got[0].toString('utf8')), 'params'), 'name') : undefined;
        if (!ok || goReads !== 'echo') failures.push(`${t.name}, ${label}: HTTP ${r.status}, received ${got.map((g) => g.toString()).join(' | ')}`);
      }
    }
    expect(failures).toEqual([]);
    // And the server ran exactly the authorized tool each time.
    expect(new Set([...stdioServer.ran, ...streamable.ran, ...sse.ran, ...remote.ran, ...remoteSse.ran, ...upstreamTokens.ran])).toEqual(new Set(['echo']));
    // The remote servers got the injected credential on every POST, never one of the caller's.
    const posts = [...remote.received, ...remoteSse.received].filter((x) => x.method === 'POST');
    expect(posts.length).toBeGreaterThan(0);
    expect(posts.every((x) => x.headers.authorization === 'Bearer remote-token')).toBe(true);
    // The container server got the caller's upstream token (chosen by the caller's identity), never the caller's own header.
    const perCallerPosts = upstreamTokens.received.filter((x) => x.method === 'POST');
    expect(perCallerPosts.length).toBeGreaterThan(0);
    expect(new Set(perCallerPosts.map((x) => x.headers.authorization))).toEqual(new Set([`Bearer upstream-of-${user}`]));
  });
});

describe('answers a client could read otherwise than the proxy checked them', () => {
  /** A hand-written upstream (the attacker's server): it answers every POST with `answer`, as given. */
  async function hostileUpstream(answer: (id: unknown) => { type: string; body: string }) {
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const msg = JSON.parse(body) as { id?: unknown; method?: string };
        if (msg.method === 'initialize') {
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'h', version: '1' } } }));
          return;
        }
        const a = answer(msg.id);
        res.writeHead(200, { 'content-type': a.type }).end(a.body);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const az = onlyEcho();
    const proxy = new ProxyServer({ serverName: 'srv', port: 0, transport: 'streamable-http', log, layers: [authorizationLayer(() => az, log)] });
    await proxy.listen();
    await proxy.setBackend(new ReverseProxyBackend({ host: '127.0.0.1', port: (srv.address() as { port: number }).port }, { log }), 'running');
    const init = await rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json' }, INIT('2025-11-25'));
    const list = () => rawSend(proxy.port, 'POST', '/mcp', { 'content-type': 'application/json', 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25' }, '{"jsonrpc":"2.0","id":5,"method":"tools/list"}');
    return { list, close: async () => (await proxy.close(), srv.close()) };
  }
  const tools = '[{"name":"echo"},{"name":"delete_repo"},{"name":"get_env"}]';

  it('lists at odd SSE event boundaries, with case-variant or duplicate members, or unreadable, are filtered or fail closed', async () => {
    const cases: [string, (id: unknown) => { type: string; body: string }][] = [
      ['an SSE event ended by LF CRLF', (id) => ({ type: 'text/event-stream', body: `event: message\ndata: {"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":${tools}}}\n\r\n` })],
      ['an SSE event ended by CR CR', (id) => ({ type: 'text/event-stream', body: `event: message\rdata: {"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":${tools}}}\r\r` })],
      ['data split over lines', (id) => ({ type: 'text/event-stream', body: `data: {"jsonrpc":"2.0","id":${JSON.stringify(id)},\ndata: "result":{"tools":${tools}}}\n\n` })],
      ['a Tools beside tools', (id) => ({ type: 'application/json', body: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":[{"name":"echo"}],"Tools":${tools}}}` })],
      ['two result members', (id) => ({ type: 'application/json', body: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":${tools}},"result":{"tools":[]}}` })],
      ['an event that is not JSON', () => ({ type: 'text/event-stream', body: `event: message\ndata: {"jsonrpc":"2.0","id":5,"result":{"tools":${tools}}\n\n` })],
      ['a list under another event type', (id) => ({ type: 'text/event-stream', body: `event: other\ndata: {"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":${tools}}}\n\n` })],
      ['a list as text/plain', (id) => ({ type: 'text/plain', body: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"tools":${tools}}}` })],
    ];
    const filteredCases = new Set(['an SSE event ended by LF CRLF', 'an SSE event ended by CR CR', 'data split over lines']);
    for (const [label, answer] of cases) {
      const h = await hostileUpstream(answer);
      try {
        const r = await h.list();
        expect(r.text, label).not.toContain('delete_repo');
        expect(r.text, label).not.toContain('get_env');
        // Read one way (eventsource-parser, as SDK clients read it): filtered. Ambiguous: an error, never silence.
        if (filteredCases.has(label)) expect(r.text, label).toContain('"tools":[{"name":"echo"}]');
        else expect(r.text, label).toMatch(/"error":\{"code":-32603/);
      } finally {
        await h.close();
      }
    }
  });
});
