// A Gatehouse proxy in a process of its own, built like test/integration/proxy-stdio.test.ts does
// (ProxyServer + StdioBackend, server-everything as a local child process), or in reverse-proxy mode
// (ProxyServer + ReverseProxyBackend in front of a server that speaks Streamable HTTP itself).
//
//   node gatehouse-host.js stdio   <proxyPort>
//   node gatehouse-host.js reverse <proxyPort> <targetPort>
//
// Runs until SIGTERM or SIGINT, then closes cleanly (so `node --cpu-prof` writes its profile).
// The proxy log goes nowhere: request log lines are still built (that cost is measured), but not
// stored; the core row of the benchmark measures the product with its SQLite log sink.
import { spawn, type ChildProcess } from 'node:child_process';
import { ProxyServer, ReverseProxyBackend, StdioBackend, type McpBackend, type ProxyLog } from '../../src/proxy/index.js';
import { everythingEntry } from '../lib/paths.js';

const [mode, portArg, targetArg] = process.argv.slice(2);
const port = Number(portArg);
if ((mode !== 'stdio' && mode !== 'reverse') || !Number.isInteger(port) || (mode === 'reverse' && !Number.isInteger(Number(targetArg)))) {
  process.stderr.write('usage: gatehouse-host.js stdio <proxyPort> | reverse <proxyPort> <targetPort>\n');
  process.exit(2);
}

let warnings = 0;
const log: ProxyLog = (level, message) => {
  if (level === 'warn' || level === 'error') {
    // A handful is worth seeing; a flood would slow the measurement down.
    if (++warnings <= 20) process.stderr.write(`[gatehouse ${level}] ${message}\n`);
  }
};

let child: ChildProcess | undefined;
let backend: McpBackend;
if (mode === 'stdio') {
  child = spawn(process.execPath, [everythingEntry(), 'stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr!.resume(); // the server's stderr: a container's log in the product, dropped here
  const stdio = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log, requestTimeoutMs: 30_000 });
  await stdio.start();
  backend = stdio;
} else {
  backend = new ReverseProxyBackend({ host: '127.0.0.1', port: Number(targetArg) }, { log, responseTimeoutMs: 30_000 });
}

const proxy = new ProxyServer({ serverName: 'everything', port, transport: mode === 'stdio' ? 'stdio' : 'streamable-http', log });
await proxy.listen();
await proxy.setBackend(backend, 'running');
process.stdout.write(JSON.stringify({ url: proxy.url }) + '\n');

let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  try {
    await proxy.close();
  } finally {
    child?.kill('SIGTERM');
    process.exit(0);
  }
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
