/**
 * An MCP server (Streamable HTTP, JSON answers; run with `node -e` in the test node image) with two
 * tools: `authorization` says which Authorization header reached it, `headers` gives the credential
 * headers it received as JSON (authorization and x-upstream-token), so a test sees exactly what the
 * proxy sent on. It listens on 127.0.0.1:$MCP_PORT.
 */
export const ECHO_HEADERS_SERVER = `
require('http').createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.method !== 'POST') return res.writeHead(405).end();
    const m = JSON.parse(body);
    if (m.id === undefined) return res.writeHead(202).end();
    const answer = (result) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result })); };
    const text = (t) => answer({ content: [{ type: 'text', text: t }] });
    if (m.method === 'initialize') return answer({ protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'echo-headers', version: '1' } });
    if (m.method === 'tools/list') return answer({ tools: [{ name: 'authorization', inputSchema: { type: 'object' } }, { name: 'headers', inputSchema: { type: 'object' } }] });
    if (m.method === 'tools/call' && m.params.name === 'headers') return text(JSON.stringify({ authorization: req.headers.authorization || null, 'x-upstream-token': req.headers['x-upstream-token'] || null }));
    if (m.method === 'tools/call') return text(String(req.headers.authorization || 'none'));
    answer({});
  });
}).listen(Number(process.env.MCP_PORT), '127.0.0.1');
`;
