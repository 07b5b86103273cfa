// The least an HTTP hop costs: a bare node:http reverse proxy with a keep-alive agent, no checks, no
// logging, no MCP awareness. The reverse-proxy row is compared with it to separate what any extra
// HTTP hop costs on this machine from what Gatehouse's own layers add.
//
//   node http-relay.js <port> <targetPort>
import http from 'node:http';

const port = Number(process.argv[2]);
const target = Number(process.argv[3]);
if (!Number.isInteger(port) || !Number.isInteger(target)) {
  process.stderr.write('usage: http-relay.js <port> <targetPort>\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${target}` }, agent },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}` }) + '\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
