import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { errorResponse, ErrorCodes, McpFrameError, parseFrame, type JsonRpcId, type JsonRpcMessage } from '../../mcp/index.js';
import type { ProxyContext } from '../pipeline/index.js';
import type { ProxyLog } from '../types.js';

/** A JSON answer (or one SSE event) larger than this is not buffered further: it fails closed. */
export const MAX_RELAYED_MESSAGE_BYTES = 32 * 1024 * 1024;

/** What the relay needs to know about the exchange it relays. */
export interface RelayExchange {
  ctx: ProxyContext;
  log: ProxyLog;
  /** For a response: the method of the request it answers, if the proxy knows. */
  answersOf(id: JsonRpcId | null): string | undefined;
  /** Ids of this POST's requests still waiting for an answer (a stream that fails closed answers them with an error). */
  unanswered: Set<JsonRpcId>;
  /** A legacy `endpoint` event: the endpoint the caller is told instead (undefined: the event is refused). */
  endpoint?(upstreamData: string): string | undefined;
}

export const UNCHECKABLE_ANSWER = "The MCP server's answer could not be read exactly one way, so it was not passed on.";

/** Runs a frame's messages through the tap; the JSON text to send, or undefined when nothing is left. */
function relayFrame(text: string, x: RelayExchange): string | undefined {
  const frame = parseFrame(text);
  const out: JsonRpcMessage[] = [];
  for (const m of frame.messages) {
    const answers = m.kind === 'response' ? x.answersOf(m.id ?? null) : undefined;
    if (m.kind === 'response' && m.id !== null && m.id !== undefined) x.unanswered.delete(m.id);
    const kept = x.ctx.tap.outgoing(m.message, answers);
    if (kept !== undefined) out.push(kept);
  }
  if (out.length === 0) return undefined;
  return JSON.stringify(frame.batch ? out : out[0]);
}

function failedAnswers(x: RelayExchange): JsonRpcMessage[] {
  const out = [...x.unanswered].map((id) => errorResponse(id, ErrorCodes.InternalError, UNCHECKABLE_ANSWER));
  x.unanswered.clear();
  return out;
}

/**
 * A JSON answer: read whole (bounded), parsed strictly, every message through the tap, sent as the
 * canonical serialization. An answer that cannot be read that way fails closed (502), never passes.
 */
export function relayJson(upRes: IncomingMessage, status: number, headers: Record<string, string | string[]>, x: RelayExchange, done: () => void): void {
  const { res } = x.ctx;
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  upRes.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_RELAYED_MESSAGE_BYTES) {
      tooLarge = true;
      chunks.length = 0;
      upRes.destroy();
      return;
    }
    chunks.push(c);
  });
  const finish = (errored: boolean) => {
    const text = new StringDecoder('utf8').end(Buffer.concat(chunks));
    let body: string | undefined;
    let failure: string | undefined;
    if (tooLarge) failure = `larger than ${MAX_RELAYED_MESSAGE_BYTES / (1024 * 1024)} MB`;
    else if (errored) failure = 'the connection broke';
    else if (text.trim() !== '') {
      try {
        body = relayFrame(text, x);
      } catch (err) {
        if (!(err instanceof McpFrameError)) throw err;
        failure = err.message;
      }
    }
    if (failure !== undefined && status >= 400 && !tooLarge && !errored) {
      // An error page of the server (a 404 for an expired session, a 401 of its own): no answer to check.
      const raw = Buffer.from(text, 'utf8');
      res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': raw.length });
      res.end(raw);
    } else if (failure !== undefined) {
      x.log('error', `An answer of the MCP server failed closed: ${failure}.`, { path: x.ctx.url.pathname });
      const errors = failedAnswers(x);
      const fallback = errors.length > 0 ? errors : [errorResponse(null, ErrorCodes.InternalError, UNCHECKABLE_ANSWER)];
      const text502 = JSON.stringify(fallback.length === 1 ? fallback[0] : fallback);
      res.writeHead(502, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text502) });
      res.end(text502);
    } else if (body === undefined) {
      res.writeHead(status === 200 ? 202 : status, headers);
      res.end();
    } else {
      res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
    done();
  };
  upRes.on('end', () => finish(false));
  upRes.on('error', () => finish(true));
  upRes.on('close', () => {
    if (!upRes.readableEnded) finish(true);
  });
}

/**
 * An event stream: parsed with eventsource-parser (the parser the MCP SDK's own client uses), each
 * event's data read strictly as JSON-RPC and passed through the tap, and re-written as one canonical
 * event (`event`, `id`, one `data` line). Events whose data cannot be read that way are dropped (and on
 * a POST stream, the requests still waiting get an error instead), keep-alive comments and `retry` pass.
 */
export function relaySse(upRes: IncomingMessage, status: number, headers: Record<string, string | string[]>, x: RelayExchange, done: () => void): void {
  const { res, req } = x.ctx;
  res.writeHead(status, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
  // A GET stream may stay silent for minutes: the client must see its headers at once. A POST stream
  // answers right away, so its headers leave with the first event in one packet.
  if (req.method === 'GET') res.flushHeaders();
  let ended = false;
  let corked = false;
  const write = (text: string) => {
    if (ended || res.writableEnded) return;
    // Events that arrive together (an answer and the stream's end, typically) leave together.
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(() => {
        corked = false;
        res.uncork();
      });
    }
    res.write(text);
  };
  const refuse = (why: string) => {
    x.log('error', `An event of the MCP server's stream was dropped: ${why}.`, { path: x.ctx.url.pathname });
    for (const e of failedAnswers(x)) write(`event: message\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const onEvent = (e: EventSourceMessage) => {
    const idLine = e.id !== undefined ? `id: ${e.id}\n` : '';
    if (e.event === 'endpoint' && x.endpoint) {
      const mapped = x.endpoint(e.data);
      if (mapped === undefined) return refuse('a legacy endpoint event naming another server');
      write(`event: endpoint\n${idLine}data: ${mapped}\n\n`);
      return;
    }
    if (e.event !== undefined && e.event !== 'message') return refuse(`an event of type ${JSON.stringify(e.event.slice(0, 40))}`);
    // A priming event (an id and empty data) carries nothing to check; it keeps resumption working.
    if (e.data.trim() === '') {
      write(`${idLine}data: \n\n`);
      return;
    }
    let text: string | undefined;
    try {
      text = relayFrame(e.data, x);
    } catch (err) {
      if (!(err instanceof McpFrameError)) throw err;
      return refuse(err.message);
    }
    if (text !== undefined) write(`event: message\n${idLine}data: ${text}\n\n`);
  };
  const parser = createParser({
    onEvent,
    onRetry: (ms) => write(`retry: ${ms}\n\n`),
    onComment: () => write(':\n\n'),
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') {
        refuse('an event larger than the relay buffers');
        upRes.destroy();
      }
    },
    maxBufferSize: MAX_RELAYED_MESSAGE_BYTES,
  });
  const decoder = new StringDecoder('utf8');
  let lastChar = '';
  upRes.on('data', (chunk: Buffer) => {
    try {
      const text = decoder.write(chunk);
      if (text.length > 0) lastChar = text[text.length - 1]!;
      parser.feed(text);
    } catch (err) {
      x.log('error', `The MCP server's event stream could not be relayed: ${(err as Error).message}`);
      upRes.destroy();
    }
  });
  const finish = (broken: boolean) => {
    if (ended) return;
    // The server died mid-stream: a waiting request is told so instead of left hanging.
    if (broken && x.unanswered.size > 0) {
      for (const id of x.unanswered) write(`event: message\ndata: ${JSON.stringify(errorResponse(id, ErrorCodes.ConnectionClosed, 'The MCP server closed the connection before answering.'))}\n\n`);
      x.unanswered.clear();
    }
    ended = true;
    res.end();
    done();
  };
  upRes.on('end', () => {
    // A CR that ends the stream ends its line (the parser waits to see whether an LF follows).
    if (lastChar === '\r') parser.feed('\n');
    // An event cut off by the end of the stream is dropped rather than passed unchecked.
    parser.reset();
    finish(false);
  });
  upRes.on('error', () => finish(true));
  upRes.on('close', () => {
    if (!upRes.readableEnded) finish(true);
  });
}
