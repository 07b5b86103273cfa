import type { ServerResponse } from 'node:http';
import type { JsonRpcMessage } from '../../mcp/index.js';
import type { ResponseTap } from './response-tap.js';

/** For a response: the method of the request it answers, if the writer knows it. */
export type AnswersOf = (message: JsonRpcMessage) => string | undefined;

/**
 * Writes JSON-RPC messages as one JSON body (a message, or a batch when `batch`), each through the tap
 * first. A batch whose every message was dropped becomes 202, as JSON-RPC has nothing left to answer.
 */
export function sendMessages(
  res: ServerResponse,
  tap: ResponseTap,
  status: number,
  messages: readonly JsonRpcMessage[],
  opts: { batch: boolean; answers?: AnswersOf; headers?: Record<string, string> },
): void {
  const out: JsonRpcMessage[] = [];
  for (const m of messages) {
    const kept = tap.outgoing(m, opts.answers?.(m));
    if (kept !== undefined) out.push(kept);
  }
  if (res.headersSent) {
    res.end();
    return;
  }
  if (out.length === 0) {
    res.writeHead(202, opts.headers ?? {}).end();
    return;
  }
  const text = JSON.stringify(opts.batch ? out : out[0]);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...opts.headers });
  res.end(text);
}

/** One SSE `message` event for a message, after the tap; false when the tap dropped it. */
export function writeMessageEvent(res: ServerResponse, tap: ResponseTap, message: JsonRpcMessage, answers?: string, eventId?: number | string): boolean {
  const kept = tap.outgoing(message, answers);
  if (kept === undefined) return false;
  res.write(`event: message\n${eventId !== undefined ? `id: ${eventId}\n` : ''}data: ${JSON.stringify(kept)}\n\n`);
  return true;
}
