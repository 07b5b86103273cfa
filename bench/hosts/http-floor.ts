// The HTTP floor: the least a Streamable HTTP endpoint can do for the SDK client. node:http, no MCP
// SDK, no session store, no validation: initialize gets a session id, notifications get 202, and
// `tools/call echo` is answered at once with a JSON body (or, with `sse`, as one SSE event).
// What an SDK client pays to reach it is the cost of HTTP + the client transport, which any proxy in
// front of a stdio server has to add on top of the stdio floor.
//
//   node http-floor.js <port> [sse]
import { randomUUID } from 'node:crypto';
import http from 'node:http';

const port = Number(process.argv[2]);
/** `sse` as second argument: answer as one SSE event instead of a JSON body (what SDK servers do). */
const SSE = process.argv[3] === 'sse';
if (!Number.isInteger(port)) {
  process.stderr.write('usage: http-floor.js <port>\n');
  process.exit(2);
}

interface Message {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: { protocolVersion?: string; name?: string; arguments?: { message?: string } };
}

function answer(m: Message): unknown {
  if (m.method === 'initialize') {
    return {
      jsonrpc: '2.0',
      id: m.id,
      result: {
        protocolVersion: m.params?.protocolVersion ?? '2025-11-25',
        capabilities: { tools: {} },
        serverInfo: { name: 'http-floor', version: '1.0.0' },
      },
    };
  }
  if (m.method === 'tools/call' && m.params?.name === 'echo') {
    return { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: `Echo: ${m.params.arguments?.message ?? ''}` }] } };
  }
  if (m.method === 'ping') return { jsonrpc: '2.0', id: m.id, result: {} };
  return { jsonrpc: '2.0', id: m.id, error: { code: -32601, message: `not here: ${m.method}` } };
}

const server = http.createServer((req, res) => {
  if (req.method === 'DELETE') {
    res.writeHead(200).end();
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST, DELETE' }).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let m: Message;
    try {
      m = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message;
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (m.id === undefined) {
      res.writeHead(202).end();
      return;
    }
    const sessionId = typeof req.headers['mcp-session-id'] === 'string' ? req.headers['mcp-session-id'] : randomUUID();
    if (SSE) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': sessionId });
      res.end(`event: message\ndata: ${JSON.stringify(answer(m))}\n\n`);
    } else {
      const body = JSON.stringify(answer(m));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'mcp-session-id': sessionId });
      res.end(body);
    }
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
