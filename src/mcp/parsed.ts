import { classify, ErrorCodes, type JsonRpcId, type JsonRpcMessage, type MessageKind } from './jsonrpc.js';
import { methodSpec, type McpMethodSpec } from './methods.js';
import { decodeUtf8Strict, parseStrictJson, StrictJsonError } from './strict-json.js';

/**
 * One MCP message as every layer of the proxy reads it: parsed once, classified once, looked up once in
 * the method table. Authorization decides on these fields, audit records them, and the backend forwards
 * the canonical serialization of `message`, so the three can never disagree about what was sent.
 */
export interface ParsedMessage {
  readonly kind: MessageKind;
  readonly message: JsonRpcMessage;
  /** Requests and responses; null for an error response without an id. */
  readonly id: JsonRpcId | null | undefined;
  /** Requests and notifications. */
  readonly method: string | undefined;
  /** The method's entry in the method table; undefined for responses and unknown methods. */
  readonly spec: McpMethodSpec | undefined;
  readonly params: Readonly<Record<string, unknown>> | undefined;
  /** What the method acts on: a tool or prompt name, or a resource URI (string members only). */
  readonly target: string | undefined;
  /** `params.arguments` of tools/call and prompts/get (always an object when present). */
  readonly arguments: Readonly<Record<string, unknown>> | undefined;
  /** `params._meta`, when it is an object. */
  readonly meta: Readonly<Record<string, unknown>> | undefined;
}

/** A whole body or frame: one message, or a batch of them. */
export class ParsedFrame {
  private text: string | undefined;

  constructor(
    readonly batch: boolean,
    readonly messages: readonly ParsedMessage[],
    private readonly value: unknown,
  ) {}

  /** The canonical serialization of what was parsed: what the proxy forwards (computed once, when needed). */
  get canonical(): string {
    this.text ??= JSON.stringify(this.value);
    return this.text;
  }

  /** The request of this frame with this id (an answer's request; ids are unique within a frame). */
  requestWithId(id: JsonRpcId | null | undefined): ParsedMessage | undefined {
    if (id === null || id === undefined) return undefined;
    return this.messages.find((m) => m.kind === 'request' && m.id === id);
  }
}

/** Why a body or frame is refused, with the HTTP status and JSON-RPC error a client gets. */
export class McpFrameError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly id: JsonRpcId | null = null,
  ) {
    super(message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const ARGUMENT_METHODS = new Set(['tools/call', 'prompts/get']);

function parsedMessage(kind: MessageKind, message: JsonRpcMessage): ParsedMessage {
  if (kind === 'response') {
    return { kind, message, id: (message as { id: JsonRpcId | null }).id, method: undefined, spec: undefined, params: undefined, target: undefined, arguments: undefined, meta: undefined };
  }
  const m = message as { id?: JsonRpcId; method: string; params?: Record<string, unknown> };
  const spec = methodSpec(m.method);
  const params = m.params;
  const targetValue = spec?.target !== undefined ? params?.[spec.target] : undefined;
  const args = params?.['arguments'];
  const meta = params?.['_meta'];
  return {
    kind,
    message,
    id: kind === 'request' ? m.id : undefined,
    method: m.method,
    spec,
    params,
    target: typeof targetValue === 'string' ? targetValue : undefined,
    arguments: ARGUMENT_METHODS.has(m.method) && isRecord(args) ? args : undefined,
    meta: isRecord(meta) ? meta : undefined,
  };
}

function idOf(value: unknown): JsonRpcId | null {
  const id = isRecord(value) ? value['id'] : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)) ? id : null;
}

function invalid(message: string, id: JsonRpcId | null = null): McpFrameError {
  return new McpFrameError(400, ErrorCodes.InvalidRequest, `Invalid Request: ${message}.`, id);
}

/** Classifies an already parsed value (a message or a batch). Throws McpFrameError. */
export function frameOf(value: unknown): ParsedFrame {
  const batch = Array.isArray(value);
  const items: unknown[] = batch ? value : [value];
  if (items.length === 0) throw invalid('empty batch');
  const messages: ParsedMessage[] = [];
  const requestIds = new Set<string>();
  for (const item of items) {
    if (Array.isArray(item)) throw invalid('a batch cannot hold another batch');
    const c = classify(item);
    if ('invalid' in c) throw invalid(c.invalid, idOf(item));
    const parsed = parsedMessage(c.kind, c.message);
    if (parsed.kind === 'request') {
      // An answer must map back to exactly one request of the batch.
      const key = JSON.stringify(parsed.id);
      if (requestIds.has(key)) throw invalid(`two requests of one batch share the id ${key}`, parsed.id ?? null);
      requestIds.add(key);
    }
    const args = parsed.params?.['arguments'];
    if (parsed.method !== undefined && ARGUMENT_METHODS.has(parsed.method) && args !== undefined && !isRecord(args)) {
      throw new McpFrameError(400, ErrorCodes.InvalidParams, `Invalid params: ${parsed.method} arguments must be an object.`, parsed.id ?? null);
    }
    messages.push(parsed);
  }
  return new ParsedFrame(batch, messages, value);
}

/** Parses one frame of JSON text strictly (see strict-json.ts). Throws McpFrameError. */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = parseStrictJson(text);
  } catch (err) {
    if (!(err instanceof StrictJsonError)) throw err;
    if (err.problem === 'syntax') throw new McpFrameError(400, ErrorCodes.ParseError, `Parse error: ${err.message}.`);
    throw invalid(`ambiguous JSON (${err.message})`, null);
  }
  return frameOf(value);
}

/** A request body: UTF-8 bytes of one JSON-RPC message or batch. Throws McpFrameError. */
export function parseBody(bytes: Uint8Array): ParsedFrame {
  let text: string;
  try {
    text = decodeUtf8Strict(bytes);
  } catch (err) {
    if (err instanceof StrictJsonError) throw new McpFrameError(400, ErrorCodes.ParseError, `Parse error: ${err.message}.`);
    throw err;
  }
  return parseFrame(text);
}

/** A frame built by the proxy itself from message objects (no text to read). */
export function frameOfMessages(messages: readonly JsonRpcMessage[], batch = messages.length !== 1): ParsedFrame {
  return frameOf(batch ? messages : messages[0]);
}
