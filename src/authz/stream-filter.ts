import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { LIST_FILTER_FAILURE_MESSAGE, type ListKind } from './list-filter.js';

const KINDS: readonly ListKind[] = ['tools', 'prompts', 'resources'];
/** An event larger than this is not buffered further: it is dropped (fail closed) and the stream ends. */
const MAX_EVENT_BYTES = 32 * 1024 * 1024;

type Keep = (kind: ListKind, item: Record<string, unknown>) => boolean;

/** A JSON-RPC answer carrying a list (tools/prompts/resources), filtered; other messages unchanged. */
function filterMessage(message: unknown, keep: Keep): unknown {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return message;
  const m = message as Record<string, unknown>;
  const result = m['result'];
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return message;
  const r = result as Record<string, unknown>;
  const kind = KINDS.find((k) => k in r);
  if (!kind) return message;
  const items = r[kind];
  if (!Array.isArray(items) || !items.every((i) => typeof i === 'object' && i !== null && !Array.isArray(i))) {
    return { jsonrpc: '2.0', id: m['id'] ?? null, error: { code: -32603, message: LIST_FILTER_FAILURE_MESSAGE } };
  }
  return { ...m, result: { ...r, [kind]: (items as Record<string, unknown>[]).filter((i) => keep(kind, i)) } };
}

/** Rewrites one SSE event (its lines, without the blank line ending it). */
function rewriteEvent(event: string, keep: Keep): string {
  const lines = event.split(/\r\n|\r|\n/);
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5));
  if (data.length === 0) return event;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.join('\n'));
  } catch {
    return event; // not JSON-RPC (the legacy endpoint event, say): nothing to filter
  }
  const filtered = Array.isArray(parsed) ? parsed.map((m) => filterMessage(m, keep)) : filterMessage(parsed, keep);
  if (filtered === parsed || (Array.isArray(parsed) && (filtered as unknown[]).every((m, i) => m === parsed[i]))) return event;
  const others = lines.filter((l) => !l.startsWith('data:'));
  return [...others, `data: ${JSON.stringify(filtered)}`].join('\n');
}

/**
 * Filters list answers on a long-lived event stream (GET streams: legacy SSE answers, Last-Event-ID
 * replays of cut POST streams), whatever request they answer: any JSON-RPC result holding a tools,
 * prompts or resources array is cut to what the caller may use. Streams as it goes: only an
 * incomplete event is held back until its end arrives.
 */
export function filterEventStream(res: ServerResponse, keep: Keep): void {
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  let pending = '';
  let isStream: boolean | undefined;
  // Chunks may split a UTF-8 character: decode across chunk boundaries.
  const decoder = new StringDecoder('utf8');
  const text = (chunk: unknown): string => (typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk as Uint8Array)));

  const streaming = () => {
    isStream ??= /text\/event-stream/i.test(String(res.getHeader('content-type') ?? ''));
    return isStream;
  };
  const process = (chunk: string): string => {
    pending += chunk;
    if (pending.length > MAX_EVENT_BYTES) {
      pending = '';
      res.destroy(new Error('an event on the stream is too large to be checked'));
      return '';
    }
    let out = '';
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(pending);
      if (!m) break;
      out += rewriteEvent(pending.slice(0, m.index), keep) + m[0];
      pending = pending.slice(m.index + m[0].length);
    }
    return out;
  };

  // writeHead(status, headers) does not put its headers where getHeader finds them: look at them here.
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((...args: unknown[]) => {
    const headers = args.find((a) => typeof a === 'object' && a !== null);
    if (headers) {
      const pairs = Array.isArray(headers) ? (headers as unknown[]) : Object.entries(headers as Record<string, unknown>);
      const flat = pairs.every((p) => typeof p === 'string') ? (pairs as string[]) : undefined;
      const find = flat
        ? flat.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'content-type')
        : -1;
      const value = flat ? (find >= 0 ? flat[find + 1] : undefined) : (pairs as [string, unknown][]).find(([k]) => String(k).toLowerCase() === 'content-type')?.[1];
      if (value !== undefined) isStream = /text\/event-stream/i.test(String(value));
    }
    return writeHead(...args);
  }) as typeof res.writeHead;

  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!streaming() || chunk === undefined || chunk === null) return write(chunk, ...rest);
    const out = process(text(chunk));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (out.length === 0) {
      if (cb) queueMicrotask(cb);
      return true;
    }
    return cb ? write(out, cb) : write(out);
  }) as typeof res.write;

  res.end = ((...args: unknown[]) => {
    if (!streaming()) return end(...args);
    const first = args[0];
    const tail = typeof first === 'string' || first instanceof Uint8Array ? process(text(first)) : '';
    // An event cut off by the end of the stream is dropped rather than passed unchecked.
    pending = '';
    const cb = args.find((a) => typeof a === 'function');
    return tail ? end(tail, cb) : cb ? end(cb) : end();
  }) as typeof res.end;
}
