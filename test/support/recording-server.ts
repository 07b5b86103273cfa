import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** One HTTP request as it reached the MCP server behind the proxy: the exact bytes. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RecordingServer {
  port: number;
  received: ReceivedRequest[];
  /** Tools the server ran, in order. */
  ran: string[];
  close(): Promise<void>;
}

export const CANARY_SECRET = 'canary-secret-value-4711';

function mcpServer(ran: string[]): McpServer {
  const server = new McpServer({ name: 'recording', version: '1.0.0' }, { capabilities: { logging: {} } });
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
  server.registerTool('echo', { description: 'Echoes', inputSchema: { message: z.string().optional() } }, ({ message }) => {
    ran.push('echo');
    return text(`echo: ${message ?? ''}`);
  });
  server.registerTool('delete_repo', { description: 'Deletes a repository', annotations: { destructiveHint: true } }, () => {
    ran.push('delete_repo');
    return text('deleted');
  });
  server.registerTool('get_env', { description: 'Returns the environment' }, () => {
    ran.push('get_env');
    return text(`SECRET=${CANARY_SECRET}`);
  });
  server.registerResource('public', 'file:///public.txt', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'public' }] }));
  server.registerResource('secret', 'file:///secret.txt', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: CANARY_SECRET }] }));
  return server;
}

/**
 * A real MCP SDK server speaking HTTP itself, as an `sse` or `streamable-http` container would: the SDK's
 * own transports, which decode bodies as they do (the legacy SSE transport honours the Content-Type
 * charset, as raw-body and iconv-lite do). Every request's bytes are recorded before the SDK reads them.
 */
export async function startRecordingServer(mode: 'sse' | 'streamable-http'): Promise<RecordingServer> {
  const received: ReceivedRequest[] = [];
  const ran: string[] = [];
  const legacy = new Map<string, SSEServerTransport>();
  const streamable = new Map<string, StreamableHTTPServerTransport>();

  const srv = http.createServer((req, res) => {
    const entry: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) };
    received.push(entry);
    const chunks: Buffer[] = [];
    // Recorded alongside the SDK's own reader (both listeners see every chunk).
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
    });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (mode === 'sse') {
      if (req.method === 'GET' && url.pathname === '/sse') {
        const t = new SSEServerTransport('/messages', res);
        legacy.set(t.sessionId, t);
        t.onclose = () => legacy.delete(t.sessionId);
        void mcpServer(ran).connect(t);
        return;
      }
      const t = legacy.get(url.searchParams.get('sessionId') ?? '');
      if (req.method === 'POST' && url.pathname === '/messages' && t) {
        void t.handlePostMessage(req, res);
        return;
      }
      res.writeHead(404).end();
      return;
    }
    // The SDK's Streamable HTTP transport reads a body as UTF-8 JSON (req.json()); it is handed that reading.
    req.on('end', () => {
      const text = entry.body.toString('utf8');
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const sid = req.headers['mcp-session-id'];
      const existing = typeof sid === 'string' ? streamable.get(sid) : undefined;
      if (existing) {
        void existing.handleRequest(req, res, parsed);
        return;
      }
      if (typeof sid === 'string') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
        return;
      }
      const t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void streamable.set(id, t) });
      void mcpServer(ran).connect(t).then(() => t.handleRequest(req, res, parsed));
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as AddressInfo).port,
    received,
    ran,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of legacy.values()) void t.close();
        for (const t of streamable.values()) void t.close();
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  };
}

/**
 * Reads a member as Go's encoding/json fills a struct field: names match case-insensitively (Unicode
 * simple folding), and the last match wins. What a Go MCP server (mcp-go, the Go SDK) would act on.
 */
export function goLikeMember(obj: unknown, name: string): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  let found: unknown;
  const want = name.toUpperCase().toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toUpperCase().toLowerCase() === want) found = v;
  return found;
}

export interface RecordingStdioServer {
  stdin: PassThrough;
  stdout: PassThrough;
  /** Every line the server read from its stdin, as bytes. */
  lines: Buffer[];
  ran: string[];
  close(): Promise<void>;
}

/** The same SDK server on stdio pipes (as a container's stdin/stdout), recording every line it reads. */
export async function startRecordingStdioServer(): Promise<RecordingStdioServer> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const lines: Buffer[] = [];
  let pending = Buffer.alloc(0);
  stdin.on('data', (c: Buffer) => {
    pending = Buffer.concat([pending, c]);
    let nl;
    while ((nl = pending.indexOf(0x0a)) >= 0) {
      lines.push(pending.subarray(0, nl));
      pending = pending.subarray(nl + 1);
    }
  });
  const ran: string[] = [];
  const server = mcpServer(ran);
  await server.connect(new StdioServerTransport(stdin, stdout));
  return { stdin, stdout, lines, ran, close: () => server.close() };
}
