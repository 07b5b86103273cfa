import http from 'node:http';

/** One raw HTTP exchange with a proxy, bytes as given (no client library in between to tidy them up). */
export interface RawAnswer {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * Sends exactly these headers and bytes to 127.0.0.1:port. A connection per request: Node's client
 * mishandles a HEAD after an OPTIONS with a body on one kept-alive socket.
 */
export function rawSend(port: number, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a legacy SSE stream (GET /sse): the endpoint it names, and the data of every later event. */
export async function openLegacyStream(port: number, headers: Record<string, string> = {}): Promise<{ endpoint: string; events: string[]; close(): void }> {
  const events: string[] = [];
  let endpoint = '';
  let req!: http.ClientRequest;
  await new Promise<void>((resolve, reject) => {
    req = http.get({ host: '127.0.0.1', port, path: '/sse', headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (ev.includes('event: endpoint')) {
            endpoint = data;
            resolve();
          } else if (data) events.push(data);
        }
      });
    });
    req.on('error', reject);
  });
  return { endpoint, events, close: () => req.destroy() };
}
