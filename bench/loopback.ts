// Preload (`node --import ./loopback.js server.js`) for third-party servers that can only listen on
// every interface (server-everything's streamableHttp mode, supergateway): a TCP listen on a port is
// bound to 127.0.0.1 instead, so the benchmark never opens a port beyond loopback.
import net from 'node:net';

type Listen = (this: net.Server, ...args: unknown[]) => net.Server;
const original = net.Server.prototype.listen as unknown as Listen;

function isPort(v: unknown): boolean {
  return typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v));
}

(net.Server.prototype as unknown as { listen: Listen }).listen = function listen(this: net.Server, ...args: unknown[]): net.Server {
  const first = args[0];
  if (isPort(first)) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  } else if (first !== null && typeof first === 'object' && 'port' in first && !('path' in first)) {
    args[0] = { ...(first as net.ListenOptions), host: '127.0.0.1' };
  } else if (first === undefined || typeof first === 'function') {
    // listen() or listen(cb): a random port on every interface; keep it on loopback too.
    args.unshift(0, '127.0.0.1');
  }
  return original.apply(this, args);
};
