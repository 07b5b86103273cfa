import net from 'node:net';

/** True when nothing listens on host:port right now (a bind test, then released). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Picks a random free port in [min, max] that is not in `taken`. */
export async function pickFreePort(taken: Set<number>, min = 10000, max = 65535, host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (taken.has(port)) continue;
    if (await isPortFree(port, host)) return port;
  }
  throw new Error(`No free port found between ${min} and ${max}.`);
}

/** Waits until something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host: string, timeoutMs: number, isAlive: () => Promise<boolean> = async () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!(await isAlive())) throw new Error('the container stopped before it started listening');
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listened on port ${port} within ${Math.round(timeoutMs / 1000)} s`);
}
