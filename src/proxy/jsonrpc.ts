/**
 * Minimal JSON-RPC 2.0 shapes for forwarding. The proxy parses each frame once and only looks at
 * the envelope (id, method, a few params); bodies pass through untouched.
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
} as const;

export type MessageKind = 'request' | 'notification' | 'response';

function isId(v: unknown): v is JsonRpcId {
  return (typeof v === 'string') || (typeof v === 'number' && Number.isFinite(v));
}

/** Classifies a parsed value as one JSON-RPC message, or returns why it is not one. */
export function classify(value: unknown): { kind: MessageKind; message: JsonRpcMessage } | { invalid: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { invalid: 'a JSON-RPC message must be an object' };
  const v = value as Record<string, unknown>;
  if (v['jsonrpc'] !== '2.0') return { invalid: 'jsonrpc must be "2.0"' };
  const params = v['params'];
  if (params !== undefined && (typeof params !== 'object' || params === null)) return { invalid: 'params must be an object or array' };
  if (typeof v['method'] === 'string') {
    if ('id' in v) {
      if (!isId(v['id'])) return { invalid: 'id must be a string or a number' };
      return { kind: 'request', message: value as JsonRpcRequest };
    }
    return { kind: 'notification', message: value as JsonRpcNotification };
  }
  if ('method' in v) return { invalid: 'method must be a string' };
  if ('result' in v || 'error' in v) {
    if (!(isId(v['id']) || v['id'] === null)) return { invalid: 'response id must be a string, a number or null' };
    if ('error' in v) {
      const e = v['error'] as Record<string, unknown> | null;
      if (typeof e !== 'object' || e === null || typeof e['code'] !== 'number' || typeof e['message'] !== 'string') {
        return { invalid: 'error must have a numeric code and a message' };
      }
    }
    return { kind: 'response', message: value as JsonRpcResponse };
  }
  return { invalid: 'not a request, notification or response' };
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
