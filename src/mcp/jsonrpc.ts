/**
 * JSON-RPC 2.0 as MCP uses it. The envelope is read strictly (only the members JSON-RPC defines, params an
 * object), as the MCP SDK's own schemas read it: a message a lenient reader could take for two kinds
 * (a `result` beside a `method`, say) is refused rather than guessed at.
 */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}
export interface JsonRpcResult {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: Record<string, unknown>;
}
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}
export interface JsonRpcError {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}
export type JsonRpcResponse = JsonRpcResult | JsonRpcError;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined server errors (-32000..-32099). */
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  ServerUnavailable: -32002,
  /** 2026-07-28: a request header does not match the body. */
  HeaderMismatch: -32020,
} as const;

export type MessageKind = 'request' | 'notification' | 'response';

const REQUEST_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);
const NOTIFICATION_MEMBERS = new Set(['jsonrpc', 'method', 'params']);
const RESULT_MEMBERS = new Set(['jsonrpc', 'id', 'result']);
const ERROR_MEMBERS = new Set(['jsonrpc', 'id', 'error']);
const ERROR_OBJECT_MEMBERS = new Set(['code', 'message', 'data']);

/** Strings, and numbers that are exact integers (a fraction or a huge number would come back as another id). */
export function isJsonRpcId(v: unknown): v is JsonRpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyMembers(v: Record<string, unknown>, allowed: ReadonlySet<string>): string | undefined {
  for (const key of Object.keys(v)) if (!allowed.has(key)) return key;
  return undefined;
}

/** Classifies a parsed value as one JSON-RPC message, or says why it is not one. */
export function classify(value: unknown): { kind: MessageKind; message: JsonRpcMessage } | { invalid: string } {
  if (!isRecord(value)) return { invalid: 'a JSON-RPC message must be an object' };
  if (value['jsonrpc'] !== '2.0') return { invalid: 'jsonrpc must be "2.0"' };
  if (Object.hasOwn(value, 'method')) {
    if (typeof value['method'] !== 'string') return { invalid: 'method must be a string' };
    if (Object.hasOwn(value, 'params') && !isRecord(value['params'])) return { invalid: 'params must be an object' };
    if (Object.hasOwn(value, 'id')) {
      const extra = onlyMembers(value, REQUEST_MEMBERS);
      if (extra !== undefined) return { invalid: `a request has no member ${JSON.stringify(extra)}` };
      if (!isJsonRpcId(value['id'])) return { invalid: 'id must be a string or an integer' };
      return { kind: 'request', message: value as unknown as JsonRpcRequest };
    }
    const extra = onlyMembers(value, NOTIFICATION_MEMBERS);
    if (extra !== undefined) return { invalid: `a notification has no member ${JSON.stringify(extra)}` };
    return { kind: 'notification', message: value as unknown as JsonRpcNotification };
  }
  const hasResult = Object.hasOwn(value, 'result');
  const hasError = Object.hasOwn(value, 'error');
  if (hasResult === hasError) return { invalid: hasResult ? 'a response carries either result or error, not both' : 'not a request, notification or response' };
  if (!Object.hasOwn(value, 'id')) return { invalid: 'a response must have an id' };
  const id = value['id'];
  if (hasResult) {
    const extra = onlyMembers(value, RESULT_MEMBERS);
    if (extra !== undefined) return { invalid: `a response has no member ${JSON.stringify(extra)}` };
    if (!isJsonRpcId(id)) return { invalid: 'a result response needs a string or integer id' };
    if (!isRecord(value['result'])) return { invalid: 'result must be an object' };
    return { kind: 'response', message: value as unknown as JsonRpcResult };
  }
  const extra = onlyMembers(value, ERROR_MEMBERS);
  if (extra !== undefined) return { invalid: `a response has no member ${JSON.stringify(extra)}` };
  if (!(isJsonRpcId(id) || id === null)) return { invalid: 'response id must be a string, an integer or null' };
  const e = value['error'];
  if (!isRecord(e) || !Number.isSafeInteger(e['code']) || typeof e['message'] !== 'string' || onlyMembers(e, ERROR_OBJECT_MEMBERS) !== undefined) {
    return { invalid: 'error must be an object with an integer code and a message' };
  }
  return { kind: 'response', message: value as unknown as JsonRpcError };
}

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m;
}
export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m);
}
export function isResponse(m: JsonRpcMessage): m is JsonRpcResponse {
  return !('method' in m);
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcError {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

export function resultResponse(id: JsonRpcId, result: Record<string, unknown>): JsonRpcResult {
  return { jsonrpc: '2.0', id, result };
}
