import { STATUS_CODES, type OutgoingHttpHeader, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { ErrorCodes, errorResponse, type JsonRpcId } from '../proxy/jsonrpc.js';

/**
 * Filtering of list responses by the authorization policies, as ToolHive does it: `tools/list`,
 * `prompts/list` and `resources/list` are never blocked, but the caller only sees the items it may use
 * (`call_tool` on the tool, `get_prompt` on the prompt, `read_resource` on the URI).
 *
 * The answer is intercepted on the `ServerResponse` itself, so it works whatever the backend behind the
 * chain does: `writeHead` + `end(json)`, an SSE stream written in arbitrary chunks, `flushHeaders()`,
 * `cork()`/`uncork()`, reverse-proxied bytes. Nothing reaches the socket until the backend calls `end`;
 * then the body is rewritten and sent at once with a correct `content-length`. Whatever cannot be checked
 * fails closed: HTTP 500 with a JSON-RPC internal error, never an unfiltered list.
 */

export type ListKind = 'tools' | 'prompts' | 'resources';

const LIST_METHODS: Readonly<Record<string, ListKind>> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
};

/** The list a method returns when its answer must be filtered (`resources/templates/list` is not). */
export function listKindOf(method: string): ListKind | undefined {
  return Object.hasOwn(LIST_METHODS, method) ? LIST_METHODS[method] : undefined;
}

export interface ListFilter {
  kind: ListKind;
  /** The id of the list request: the response with this id is filtered. */
  requestId: string | number;
  /** Whether the caller may see this item (tools and prompts have a string `name`, resources a string `uri`). */
  keep(item: Record<string, unknown>): boolean;
  /** Sees the server's whole list (its object items) before filtering, e.g. to learn tool annotations. */
  onItems?(items: Record<string, unknown>[]): void;
}

export const LIST_FILTER_FAILURE_MESSAGE = "The server's list response could not be checked against the authorization policies.";

/** A list answer larger than this is not buffered further and fails closed. */
export const MAX_LIST_RESPONSE_BYTES = 32 * 1024 * 1024;

const ITEM_KEY: Readonly<Record<ListKind, string>> = { tools: 'name', prompts: 'name', resources: 'uri' };
const RESPONSE_KEYS = new Set(['jsonrpc', 'id', 'result']);
const BOM = '\uFEFF';

class FailClosed extends Error {}

type Callback = (err?: Error | null) => void;
type AnyFn = (...args: unknown[]) => unknown;

/**
 * Installs the interception on `res`; call it before the backend writes anything. The backend then
 * writes as usual; `res.headersSent` and `res.statusCode` read as the backend expects, and once it calls
 * `end` the filtered answer goes out through the response's own methods ('finish' and 'close' fire as usual).
 */
export function filterListResponse(res: ServerResponse, filter: ListFilter, log?: (message: string) => void): void {
  // What the methods were before us (the prototype's, or an outer layer's wrapper, or an earlier filter).
  const orig = {
    writeHead: res.writeHead as unknown as AnyFn,
    write: res.write as unknown as AnyFn,
    end: res.end as unknown as AnyFn,
    flushHeaders: res.flushHeaders as unknown as AnyFn,
    cork: res.cork as unknown as AnyFn,
    uncork: res.uncork as unknown as AnyFn,
  };
  const realHeadersSent = headersSentGetter(res);

  let mode: 'capture' | 'aborted' | 'passthrough' = 'capture';
  let headersWritten = false; // as far as the backend knows
  let chunks: Buffer[] = [];
  let size = 0;
  // cork() calls swallowed while capturing: their uncork() must be swallowed too, even after the end.
  let swallowedCorks = 0;

  const define = (name: string, value: unknown) => Object.defineProperty(res, name, { value, writable: true, configurable: true, enumerable: false });

  Object.defineProperty(res, 'headersSent', {
    configurable: true,
    enumerable: false,
    get: () => (mode === 'capture' ? headersWritten : realHeadersSent()),
  });

  define('writeHead', function writeHead(...args: unknown[]): unknown {
    if (mode !== 'capture') return orig.writeHead.apply(res, args);
    const [statusCode, reason] = args;
    let headers = args[2];
    if (headersWritten) throw nodeError('ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
    const code = Number(statusCode) | 0;
    if (code < 100 || code > 999) throw nodeError('ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(statusCode)}`, RangeError);
    if (typeof reason === 'string') res.statusMessage = reason;
    else headers ??= reason;
    applyHeaders(res, headers);
    res.statusCode = code;
    headersWritten = true;
    return res;
  });

  define('flushHeaders', function flushHeaders(...args: unknown[]): unknown {
    if (mode !== 'capture') return orig.flushHeaders.apply(res, args);
    headersWritten = true;
    return undefined;
  });

  define('cork', function cork(...args: unknown[]): unknown {
    if (mode !== 'capture') return orig.cork.apply(res, args);
    swallowedCorks++;
    return undefined;
  });

  define('uncork', function uncork(...args: unknown[]): unknown {
    if (swallowedCorks > 0) {
      swallowedCorks--;
      return undefined;
    }
    return mode === 'capture' ? undefined : orig.uncork.apply(res, args);
  });

  define('write', function write(...args: unknown[]): unknown {
    if (mode === 'passthrough') return orig.write.apply(res, args);
    let [chunk, encoding, cb] = args;
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    capture(chunk, encoding);
    if (typeof cb === 'function') process.nextTick(cb as Callback);
    return true;
  });

  define('end', function end(...args: unknown[]): unknown {
    if (mode === 'passthrough') return orig.end.apply(res, args);
    let [chunk, encoding, cb] = args;
    if (typeof chunk === 'function') [cb, chunk] = [chunk, undefined];
    else if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    const callback = typeof cb === 'function' ? (cb as () => void) : undefined;
    if (mode === 'aborted') {
      // The client is gone: nothing to check, nothing to send. Node ends the dead response as it would.
      mode = 'passthrough';
      return callback ? orig.end.call(res, callback) : orig.end.call(res);
    }
    if (chunk !== undefined && chunk !== null) capture(chunk, encoding);
    headersWritten = true;
    mode = 'passthrough';
    const body = size > MAX_LIST_RESPONSE_BYTES ? undefined : Buffer.concat(chunks, size);
    chunks = [];
    send(body, callback);
    return res;
  });

  res.once('close', () => {
    if (mode !== 'capture') return;
    mode = 'aborted';
    chunks = [];
  });

  function capture(chunk: unknown, encoding: unknown): void {
    let buf: Buffer;
    if (typeof chunk === 'string') buf = Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (Buffer.isBuffer(chunk)) buf = chunk;
    else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else throw nodeError('ERR_INVALID_ARG_TYPE', 'The "chunk" argument must be of type string or an instance of Buffer or Uint8Array', TypeError);
    headersWritten = true;
    if (mode !== 'capture') return;
    size += buf.length;
    if (size > MAX_LIST_RESPONSE_BYTES) chunks = [];
    else if (buf.length > 0) chunks.push(buf);
  }

  function send(body: Buffer | undefined, callback: (() => void) | undefined): void {
    if (realHeadersSent()) {
      // Someone wrote around the interception: the answer is already partly out, unchecked. Cut it.
      log?.(`${filter.kind}/list response to request ${JSON.stringify(filter.requestId)} was cut: its headers left without the filter.`);
      res.destroy();
      return;
    }
    let out: Buffer;
    try {
      if (body === undefined) throw new FailClosed(`the response is larger than ${MAX_LIST_RESPONSE_BYTES / (1024 * 1024)} MB`);
      out = rewrite(res, body, filter, log);
    } catch (err) {
      const why = err instanceof FailClosed ? err.message : `filtering failed: ${err instanceof Error ? err.message : String(err)}`;
      log?.(`${filter.kind}/list response to request ${JSON.stringify(filter.requestId)} failed closed: ${why}.`);
      out = Buffer.from(JSON.stringify(errorResponse(filter.requestId, ErrorCodes.InternalError, LIST_FILTER_FAILURE_MESSAGE)));
      for (const name of res.getHeaderNames()) {
        if (name.startsWith('content-') || name === 'transfer-encoding' || name === 'etag' || name === 'last-modified') res.removeHeader(name);
      }
      res.setHeader('content-type', 'application/json');
      res.statusCode = 500;
      res.statusMessage = STATUS_CODES[500] ?? 'Internal Server Error';
    }
    res.removeHeader('transfer-encoding');
    const status = res.statusCode;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) res.removeHeader('content-length');
    else res.setHeader('content-length', out.length);
    orig.writeHead.call(res, status);
    const endArgs: unknown[] = out.length > 0 ? [out] : [];
    if (callback) endArgs.push(callback);
    orig.end.apply(res, endArgs);
  }
}

/** The filtered body, or the original bytes when nothing needed changing. Throws FailClosed. */
function rewrite(res: ServerResponse, body: Buffer, filter: ListFilter, log: ((message: string) => void) | undefined): Buffer {
  if (body.length === 0) return body;
  // 202 Accepted: the answer travels on the event stream (legacy SSE), which is filtered there; clients
  // do not read a 202's body ("Accepted").
  if (res.statusCode === 202) return body;
  const encoding = String(res.getHeader('content-encoding') ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') throw new FailClosed(`the body is compressed (content-encoding: ${encoding})`);
  const checker = new MessageChecker(filter, log);
  const contentType = String(res.getHeader('content-type') ?? '').trim().toLowerCase();
  const text = body.toString('utf8');
  if (contentType.startsWith('text/event-stream')) {
    const out = rewriteSse(text, checker);
    return out === undefined ? body : Buffer.from(out, 'utf8');
  }
  const json = text.startsWith(BOM) ? text.slice(1) : text;
  if (json.trim() === '') return body;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new FailClosed('the body is not valid JSON');
  }
  const checked = checker.check(value);
  return checked.rewrite ? Buffer.from(JSON.stringify(checked.value), 'utf8') : body;
}

interface Line {
  /** The line's text, without its terminator. */
  content: string;
  /** Its terminator ("\n", "\r\n", "\r", or "" at the end of the stream). */
  eol: string;
}

/**
 * Rewrites an SSE stream: every event is parsed (data lines joined with "\n" as the spec says); the ones
 * carrying a response are re-serialised (with a single data line, other lines as they were), all others
 * are copied as they were. Undefined when nothing changed. A last event without its blank line is checked
 * too (strict clients drop it, lax ones may not).
 */
function rewriteSse(text: string, checker: MessageChecker): string | undefined {
  const out: string[] = [];
  let start = 0;
  if (text.startsWith(BOM)) {
    out.push(BOM);
    start = 1;
  }
  let changed = false;
  let event: Line[] = [];
  let eventStart = start;
  const flushEvent = (end: number) => {
    if (event.length === 0) return;
    const rebuilt = rewriteEvent(event, checker);
    if (rebuilt === undefined) out.push(text.slice(eventStart, end));
    else {
      out.push(rebuilt);
      changed = true;
    }
    event = [];
    eventStart = end;
  };
  const eolRe = /\r\n|\r|\n/g;
  let pos = start;
  while (pos < text.length) {
    eolRe.lastIndex = pos;
    const m = eolRe.exec(text);
    const contentEnd = m ? m.index : text.length;
    const next = m ? m.index + m[0].length : text.length;
    const content = text.slice(pos, contentEnd);
    event.push({ content, eol: m ? m[0] : '' });
    pos = next;
    if (content === '') flushEvent(next);
  }
  flushEvent(text.length);
  return changed ? out.join('') : undefined;
}

/** The event rebuilt when its data had to change, undefined when it passes as it was. */
function rewriteEvent(lines: Line[], checker: MessageChecker): string | undefined {
  const data: string[] = [];
  for (const line of lines) {
    const field = fieldOf(line.content);
    if (field?.name === 'data') data.push(field.value);
  }
  if (data.length === 0) return undefined;
  const joined = data.join('\n');
  if (joined.trim() === '') return undefined; // a priming event: nothing is dispatched
  let value: unknown;
  try {
    value = JSON.parse(joined);
  } catch {
    throw new FailClosed('an SSE event carries data that is not JSON');
  }
  const checked = checker.check(value);
  if (!checked.rewrite) return undefined;
  const parts: string[] = [];
  let dataWritten = false;
  for (const line of lines) {
    if (fieldOf(line.content)?.name !== 'data') parts.push(line.content, line.eol);
    else if (!dataWritten) {
      dataWritten = true;
      parts.push(`data: ${JSON.stringify(checked.value)}`, line.eol);
    }
  }
  return parts.join('');
}

function fieldOf(line: string): { name: string; value: string } | undefined {
  if (line === '' || line.startsWith(':')) return undefined;
  const colon = line.indexOf(':');
  if (colon < 0) return { name: line, value: '' };
  const value = line.slice(colon + 1);
  return { name: line.slice(0, colon), value: value.startsWith(' ') ? value.slice(1) : value };
}

/**
 * Checks the JSON-RPC messages of one frame (a message or a batch). Every message carrying a `result`
 * must be a clean response (exactly jsonrpc, id, result); the ones answering the list request get their
 * list filtered. Frames with a response are re-serialised from the parsed value, so duplicate keys
 * cannot show a lenient client a different message than the one checked here.
 */
class MessageChecker {
  constructor(
    private readonly filter: ListFilter,
    private readonly log: ((message: string) => void) | undefined,
  ) {}

  check(value: unknown): { value: unknown; rewrite: boolean } {
    if (!Array.isArray(value)) return this.message(value);
    let rewrite = false;
    const out = value.map((item: unknown) => {
      if (Array.isArray(item)) throw new FailClosed('a batch nests another array');
      const checked = this.message(item);
      rewrite ||= checked.rewrite;
      return checked.value;
    });
    return rewrite ? { value: out, rewrite } : { value, rewrite };
  }

  private message(m: unknown): { value: unknown; rewrite: boolean } {
    if (!isObject(m) || !Object.hasOwn(m, 'result')) return { value: m, rewrite: false };
    if (!isCleanResponse(m)) throw new FailClosed('a message carries a "result" outside a clean JSON-RPC response');
    if (!sameId(m['id'] as JsonRpcId, this.filter.requestId)) return { value: m, rewrite: true };
    return { value: { ...m, result: this.filterResult(m['result']) }, rewrite: true };
  }

  private filterResult(result: unknown): Record<string, unknown> {
    const kind = this.filter.kind;
    if (!isObject(result)) throw new FailClosed('the result is not an object');
    if (!Object.hasOwn(result, kind)) return result;
    const items = result[kind];
    if (!Array.isArray(items)) throw new FailClosed(`result.${kind} is not an array`);
    const objects = items.filter(isObject);
    if (this.filter.onItems) {
      try {
        this.filter.onItems(objects);
      } catch (err) {
        this.log?.(`Reading the ${kind} of a list response failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const key = ITEM_KEY[kind];
    const kept = objects.filter((item) => typeof item[key] === 'string' && this.filter.keep(item));
    return { ...result, [kind]: kept };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCleanResponse(m: Record<string, unknown>): boolean {
  for (const key of Object.keys(m)) if (!RESPONSE_KEYS.has(key)) return false;
  const id = m['id'];
  return m['jsonrpc'] === '2.0' && (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)));
}

/** Ids as lenient clients match them (the TypeScript SDK compares Number(id)): 1, "1" and "1.0" are one. */
function sameId(a: JsonRpcId, b: JsonRpcId): boolean {
  if (a === b || String(a) === String(b)) return true;
  const na = toNumber(a);
  return Number.isFinite(na) && na === toNumber(b);
}

function toNumber(id: JsonRpcId): number {
  return typeof id === 'number' ? id : id.trim() === '' ? NaN : Number(id);
}

/** Puts writeHead's headers (object, flat [k, v, ...] array, or [[k, v], ...]) into the header map, as Node merges them. */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (headers === undefined || headers === null) return;
  if (!Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (name) res.setHeader(name, value as OutgoingHttpHeader);
    }
    return;
  }
  const pairs: [string, OutgoingHttpHeader][] = [];
  if (headers.length > 0 && Array.isArray(headers[0])) {
    for (const pair of headers as unknown[]) {
      if (!Array.isArray(pair)) throw nodeError('ERR_INVALID_ARG_VALUE', 'The argument \'headers\' is invalid', TypeError);
      pairs.push([String(pair[0]), pair[1] as OutgoingHttpHeader]);
    }
  } else {
    if (headers.length % 2 !== 0) throw nodeError('ERR_INVALID_ARG_VALUE', 'The argument \'headers\' is invalid', TypeError);
    for (let i = 0; i < headers.length; i += 2) pairs.push([String(headers[i]), headers[i + 1] as OutgoingHttpHeader]);
  }
  // Repeated names are kept as repeated header lines (an array value), as Node sends them.
  const merged = new Map<string, { name: string; values: (string | number)[] }>();
  for (const [name, value] of pairs) {
    if (!name) continue;
    const key = name.toLowerCase();
    const entry = merged.get(key) ?? { name, values: [] };
    if (Array.isArray(value)) entry.values.push(...(value as string[]));
    else entry.values.push(value as string | number);
    merged.set(key, entry);
  }
  for (const { name, values } of merged.values()) {
    res.setHeader(name, values.length === 1 ? (values[0] as string | number) : values.map(String));
  }
}

/** The getter of `headersSent` as it was before us (the prototype's, or an earlier filter's). */
function headersSentGetter(res: ServerResponse): () => boolean {
  for (let o: object | null = res; o; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, 'headersSent');
    if (!d) continue;
    if (d.get) {
      const get = d.get;
      return () => Boolean(get.call(res));
    }
    return () => Boolean(d.value);
  }
  return () => false;
}

function nodeError(code: string, message: string, Ctor: new (message: string) => Error = Error): Error {
  return Object.assign(new Ctor(message), { code });
}
