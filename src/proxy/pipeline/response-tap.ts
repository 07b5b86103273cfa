import type { ServerResponse } from 'node:http';
import type { JsonRpcMessage } from '../../mcp/index.js';

/** One JSON-RPC message on its way to the client. */
export interface OutgoingMessage {
  readonly message: JsonRpcMessage;
  /** For a response: the method of the request it answers, when the writer knows it (undefined: unknown). */
  readonly answers?: string;
}

/**
 * Rewrites a message before it is written (authorization's list filter), replaces it (a list that cannot
 * be checked becomes an error), or drops it (undefined: a notification the caller may not see).
 */
export type MessageTransform = (out: OutgoingMessage) => JsonRpcMessage | undefined;
/** Sees every message as it is written, after all transforms (audit: application errors). */
export type MessageObserver = (message: JsonRpcMessage) => void;

/**
 * The one interceptor of a request's response. Writers (the stdio fronts, the reverse proxy) hand every
 * JSON-RPC message they send to {@link outgoing} before serializing it, on POST answers and on long-lived
 * event streams alike; layers plug in message transforms (authorization) and observers (audit). Below
 * that, it notes what audit needs of the HTTP response itself: the headers that went out, the body size,
 * and its first bytes when asked. Nothing else patches the response.
 */
export class ResponseTap {
  private readonly transforms: MessageTransform[] = [];
  private readonly observers: MessageObserver[] = [];
  private readonly headerListeners: (() => void)[] = [];
  private captureLimit = 0;
  private readonly captured: Buffer[] = [];
  private capturedBytes = 0;
  /** Body bytes written so far. */
  bytes = 0;
  /** The response's Content-Type and Mcp-Session-Id, once its headers went out. */
  contentType: string | undefined;
  sessionId: string | undefined;
  headersOut = false;

  constructor(private readonly res: ServerResponse) {
    this.install();
  }

  addTransform(t: MessageTransform): void {
    this.transforms.push(t);
  }

  addObserver(o: MessageObserver): void {
    this.observers.push(o);
  }

  /** Called once, when the response's headers go out. */
  onHeaders(listener: () => void): void {
    this.headerListeners.push(listener);
  }

  /** Keeps the first `bytes` bytes of the body (audit's `includeResponseData`). */
  capture(bytes: number): void {
    this.captureLimit = Math.max(this.captureLimit, bytes);
  }

  capturedBody(): Buffer {
    return Buffer.concat(this.captured, this.capturedBytes);
  }

  /** What to write for one message: the result of every transform (undefined: write nothing). */
  outgoing(message: JsonRpcMessage, answers?: string): JsonRpcMessage | undefined {
    let current: JsonRpcMessage | undefined = message;
    for (const t of this.transforms) {
      if (current === undefined) break;
      current = t(answers === undefined ? { message: current } : { message: current, answers });
    }
    if (current !== undefined) for (const o of this.observers) o(current);
    return current;
  }

  private install(): void {
    const res = this.res;
    const writeHead = res.writeHead as (...a: unknown[]) => ServerResponse;
    const write = res.write as (...a: unknown[]) => boolean;
    const end = res.end as (...a: unknown[]) => ServerResponse;
    // Node sends implicit headers through this.writeHead too (ServerResponse._implicitHeader), so a
    // response that never calls writeHead itself is still seen here.
    res.writeHead = ((...args: unknown[]) => {
      const out = writeHead.apply(res, args);
      if (!this.headersOut) {
        this.headersOut = true;
        this.contentType = headerFromArgs(args, 'content-type') ?? stringHeader(res.getHeader('content-type'));
        this.sessionId = headerFromArgs(args, 'mcp-session-id') ?? stringHeader(res.getHeader('mcp-session-id'));
        for (const l of this.headerListeners) l();
      }
      return out;
    }) as ServerResponse['writeHead'];
    res.write = ((...args: unknown[]) => {
      this.see(args[0], args[1]);
      return write.apply(res, args);
    }) as ServerResponse['write'];
    res.end = ((...args: unknown[]) => {
      if (!res.writableEnded) this.see(args[0], args[1]);
      return end.apply(res, args);
    }) as ServerResponse['end'];
  }

  private see(chunk: unknown, encoding: unknown): void {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const enc = typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8';
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk, enc) : chunk instanceof Uint8Array ? chunk.byteLength : 0;
    this.bytes += size;
    const room = this.captureLimit - this.capturedBytes;
    if (room <= 0) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk.length > room ? chunk.slice(0, room) : chunk, enc) : chunk instanceof Uint8Array ? Buffer.from(chunk) : undefined;
    if (!buf) return;
    const part = buf.subarray(0, room);
    this.captured.push(part);
    this.capturedBytes += part.length;
  }
}

function stringHeader(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? String(v[0]) : String(v);
}

function headerFromArgs(args: unknown[], name: string): string | undefined {
  const headers = typeof args[1] === 'string' ? args[2] : args[1];
  if (Array.isArray(headers)) {
    // [k, v, k, v] or [[k, v], ...]
    const flat: unknown[] = headers.every((h) => Array.isArray(h)) ? (headers as unknown[][]).flat() : headers;
    for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === name) return String(flat[i + 1]);
    return undefined;
  }
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return stringHeader(v);
  return undefined;
}
