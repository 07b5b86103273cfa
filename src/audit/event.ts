import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { auditNameOf, auditTypeOf, type ParsedMessage } from '../mcp/index.js';
import type { AuthzMark, CallerIdentity } from '../proxy/pipeline/index.js';
import { DEFAULT_AUDIT_COMPONENT, shouldAuditEventType, type AuditConfig, type AuditEventType, type AuditOutcome, type AuditTargetType } from './config.js';

/**
 * Audit log, in ToolHive's format (`pkg/audit`): one event per HTTP request that reaches the proxy's
 * MCP endpoint, written as a JSON line `{"time","level":"AUDIT","msg":"audit_event", ...event}`.
 *
 * Event type and target (the method table in src/mcp says which method is which):
 * - one JSON-RPC message: its method decides (`tools/call` → `mcp_tool_call`, ...); unknown methods are
 *   `mcp_request`; every `notifications/*` other than `notifications/roots/list_changed` is `mcp_notification`.
 * - a batch: if every message maps to the same type, that type (target of the first message, `name` only if
 *   all names agree, all names in `metadata.extra.batch_targets`); otherwise `mcp_request` with
 *   `target.method = "batch"`. Either way `batch_size` and `batch_event_types` are in `metadata.extra`,
 *   and the event/exclude filters apply to the member types (a batch is audited if any member type passes),
 *   so a tool call cannot hide from `eventTypes: ["mcp_tool_call"]` by being batched with a ping.
 * - a POST whose JSON-RPC messages are all responses (a client answering sampling/elicitation): `mcp_request`.
 * - a GET that opens an event stream (`Accept: text/event-stream`): `sse_connection`, logged as soon as the
 *   response headers go out (the stream may last hours), as ToolHive does.
 * - anything else: `http_request` (`sse_connection` / `mcp_request` for GET / POST on the SSE transport, as ToolHive).
 *
 * Outcome: `denied` for 401/403 or an authorization mark `deny`; `error` for 5xx; `failure` for other 4xx
 * and for a client that left before any response was sent (`metadata.extra.client_disconnected`);
 * `application_error` for a 2xx whose answer (a message the proxy wrote back) is a JSON-RPC error;
 * `success` otherwise. On the legacy SSE transport a POST is answered 202 and the reply travels on the
 * stream, so application errors are not seen there.
 *
 * Secrets: no header other than User-Agent and X-Request-ID is read (X-Forwarded-For is not trusted);
 * request bodies (tool arguments) appear only with `includeRequestData`, and then only up to
 * `maxDataSize`; a JSON-RPC error message has the request's string parameter values blanked out unless
 * `includeRequestData` is on; the MCP session id is never written.
 */

/** ToolHive caps the JSON-RPC error message it copies into an event at 256 bytes. */
const MAX_ERROR_MESSAGE_CHARS = 256;

/**
 * One audit event, with the JSON field names of ToolHive's log line (`AuditEvent.LogTo`: `audit_id`,
 * `logged_at`, ... at the top level, `metadata.extra`). Keys are created in ToolHive's order.
 */
export interface AuditEvent {
  audit_id: string;
  type: AuditEventType;
  /** UTC, ISO 8601. */
  logged_at: string;
  outcome: AuditOutcome;
  component: string;
  source: { type: 'network' | 'local'; value: string; extra: { user_agent?: string; request_id?: string } };
  subjects: { user_id?: string; user: string; client_name?: string; client_version?: string };
  target?: { endpoint: string; method: string; name?: string; type: AuditTargetType };
  metadata?: { extra: Record<string, unknown> };
  data?: { request?: unknown; response?: unknown; request_truncated?: true; response_truncated?: true };
}

/** A JSON-RPC error found in a 2xx response. */
export interface ApplicationError {
  code: number;
  message: string;
}

/** Everything {@link buildAuditEvent} needs; all of it plain data, so events can be built in tests. */
export interface AuditEventInput {
  config: AuditConfig;
  /** The proxy's client-facing transport: `sse` is written as `sse`, anything else as `http`. */
  transport: string;
  httpMethod: string;
  path: string;
  headers: IncomingHttpHeaders;
  remoteAddress?: string;
  status: number;
  /** The request's parsed messages: the same ones authorization decided on. */
  messages?: readonly ParsedMessage[];
  identity?: CallerIdentity;
  authz?: AuthzMark;
  /** `clientInfo` remembered for the request's MCP session (the `initialize` request's own is read from `messages`). */
  client?: { name?: string; version?: string };
  durationMs: number;
  responseBytes: number;
  /** A GET that opened an event stream: the event is `sse_connection`, logged when the headers went out. */
  streamOpen?: boolean;
  applicationError?: ApplicationError;
  /** The request body as forwarded (its canonical form; only read when includeRequestData is on). */
  requestBody?: Buffer;
  /** The first bytes of the response body (only read when includeResponseData is on). */
  responseBody?: Buffer;
  /** The client went away before the response was complete. */
  clientDisconnected?: boolean;
  serverName?: string;
  /** For tests: a fixed id and clock. */
  id?: string;
  now?: Date;
}

/** The MCP method's event type (ToolHive's `mapMCPMethodToEventType`, from the method table). */
export function eventTypeForMethod(method: string): AuditEventType {
  return auditTypeOf(method);
}

function targetTypeFor(type: AuditEventType): AuditTargetType {
  return type === 'mcp_tool_call' ? 'tool' : type === 'mcp_resource_read' ? 'resource' : type === 'mcp_prompt_get' ? 'prompt' : 'endpoint';
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const SECRET_QUERY = /([?&;][^=&#;]*(?:token|key|secret|passw|pwd|auth|sig|credential)[^=&#;]*=)[^&#;]*/gi;

/** Resource URIs may carry credentials: userinfo and secret-looking query values are blanked. */
function safeName(name: string): string {
  const s = name.length > 512 ? name.slice(0, 512) : name;
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, '$1[redacted]@').replace(SECRET_QUERY, '$1[redacted]');
}

function cap(v: string | undefined, max: number): string | undefined {
  if (v === undefined || v === '') return undefined;
  return v.length > max ? v.slice(0, max) : v;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Where the request came from: the connection's peer address. ToolHive reads X-Forwarded-For and
 * X-Real-IP first, but nothing stands in front of a proxy on 127.0.0.1 that could be trusted to set
 * them: any local caller could write any address into the audit log.
 */
export function clientIp(_headers: IncomingHttpHeaders, remoteAddress: string | undefined): string {
  const addr = remoteAddress ?? '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** ToolHive's outcome rules, with the authorization mark and application errors. */
export function auditOutcome(status: number, authz?: AuthzMark, applicationError?: ApplicationError): AuditOutcome {
  if (authz?.decision === 'deny' || status === 401 || status === 403) return 'denied';
  if (status >= 500) return 'error';
  if (status >= 400) return 'failure';
  if (status >= 200 && status < 300 && applicationError) return 'application_error';
  return 'success';
}

interface Classified {
  type: AuditEventType;
  /** Every type the request stands for (one, or each member's for a batch): what the filters look at. */
  memberTypes: AuditEventType[];
  target: NonNullable<AuditEvent['target']>;
  batch?: { size: number; targets: string[] };
}

/** Event type(s) and target of a request. */
export function classifyRequest(input: Pick<AuditEventInput, 'httpMethod' | 'path' | 'messages' | 'transport' | 'streamOpen'>): Classified {
  const endpoint = input.path;
  if (input.streamOpen) {
    return { type: 'sse_connection', memberTypes: ['sse_connection'], target: { endpoint, method: input.httpMethod, type: 'sse_endpoint' } };
  }
  const calls = (input.messages ?? []).flatMap((m) => (m.method !== undefined ? [{ method: m.method, params: m.params }] : []));
  const first = calls[0];
  if (!first) {
    const sse = input.transport === 'sse';
    const type: AuditEventType =
      input.messages && input.messages.length > 0
        ? 'mcp_request'
        : sse && input.httpMethod === 'GET'
          ? 'sse_connection'
          : sse && input.httpMethod === 'POST'
            ? 'mcp_request'
            : 'http_request';
    return { type, memberTypes: [type], target: { endpoint, method: input.httpMethod, type: 'endpoint' } };
  }
  const memberTypes = calls.map((c) => eventTypeForMethod(c.method));
  const names = calls.map((c) => auditNameOf(c.method, c.params));
  const firstName = names[0];
  if ((input.messages?.length ?? 0) <= 1) {
    const type = memberTypes[0]!;
    return { type, memberTypes, target: { endpoint, method: first.method, ...(firstName ? { name: safeName(firstName) } : {}), type: targetTypeFor(type) } };
  }
  const size = input.messages!.length;
  const targets = [...new Set(names.filter((n): n is string => n !== undefined).map(safeName))].slice(0, 32);
  const uniform = memberTypes.every((t) => t === memberTypes[0]);
  if (uniform) {
    const type = memberTypes[0]!;
    const sameName = firstName !== undefined && names.every((n) => n === firstName);
    return {
      type,
      memberTypes,
      target: { endpoint, method: first.method, ...(sameName ? { name: safeName(firstName) } : {}), type: targetTypeFor(type) },
      batch: { size, targets },
    };
  }
  return { type: 'mcp_request', memberTypes, target: { endpoint, method: 'batch', type: 'endpoint' }, batch: { size, targets } };
}

/** Whether the request is audited at all under the config's include/exclude lists. */
export function shouldAuditRequest(config: AuditConfig, classified: Pick<Classified, 'memberTypes'>): boolean {
  return classified.memberTypes.some((t) => shouldAuditEventType(config, t));
}

export function clientInfoOf(messages: readonly ParsedMessage[] | undefined): { name?: string; version?: string } | undefined {
  const init = messages?.find((m) => m.method === 'initialize');
  const info = rec(init?.params?.['clientInfo']);
  if (!info) return undefined;
  return { name: cap(str(info['name']), 256), version: cap(str(info['version']), 128) };
}

/** Params that name what is acted on (already in `target`), not what is passed to it. */
const NAMING_PARAMS = new Set(['name', 'uri', 'cursor', 'level', '_meta', 'clientInfo', 'protocolVersion', 'capabilities']);

/** Every string value in the requests' params (tool arguments among them), longest first. */
function paramStrings(messages: readonly ParsedMessage[] | undefined): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (out.size >= 256 || depth > 8) return;
    if (typeof v === 'string') {
      if (v.length >= 4) out.add(v);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, depth + 1));
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach((x) => walk(x, depth + 1));
  };
  for (const m of messages ?? []) {
    if (m.method === undefined) continue;
    for (const [k, v] of Object.entries(m.params ?? {})) if (!NAMING_PARAMS.has(k)) walk(v, 1);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * A server's error message may quote what it was given ("invalid api_key sk-..."): unless the config lets
 * request data into the log, the request's string parameter values are blanked out of it.
 */
function safeErrorMessage(message: string, input: AuditEventInput): string {
  let m = message;
  if (!input.config.includeRequestData) {
    for (const s of paramStrings(input.messages)) if (m.includes(s)) m = m.split(s).join('[redacted]');
  }
  return m.length > MAX_ERROR_MESSAGE_CHARS ? m.slice(0, MAX_ERROR_MESSAGE_CHARS) : m;
}

function truncatedText(buf: Buffer, max: number): string {
  return buf.subarray(0, max).toString('utf8').replace(/\uFFFD$/, '');
}

/** Body bytes for `data`: parsed JSON when whole and JSON, a string otherwise, cut at maxDataSize. */
function dataValue(buf: Buffer, totalBytes: number, max: number): { value: unknown; truncated: boolean } {
  if (totalBytes > max || buf.length > max) return { value: truncatedText(buf, max), truncated: true };
  const text = buf.toString('utf8');
  try {
    return { value: JSON.parse(text), truncated: false };
  } catch {
    return { value: text, truncated: false };
  }
}

/** Builds one audit event. Pure apart from the id and the clock, which the input may fix. */
export function buildAuditEvent(input: AuditEventInput): AuditEvent {
  const { config } = input;
  const classified = classifyRequest(input);
  const outcome = input.streamOpen ? auditOutcome(input.status, input.authz) : auditOutcome(input.status, input.authz, input.applicationError);
  const transport = input.transport === 'sse' ? 'sse' : 'http';

  const sourceExtra: AuditEvent['source']['extra'] = {};
  const ua = cap(header(input.headers, 'user-agent'), 512);
  if (ua) sourceExtra.user_agent = ua;
  const requestId = cap(header(input.headers, 'x-request-id'), 128);
  if (requestId) sourceExtra.request_id = requestId;

  const id = input.identity;
  const claims = id?.claims ?? {};
  const subjects: AuditEvent['subjects'] = { user: 'anonymous' };
  if (id?.subject) subjects.user_id = id.subject;
  subjects.user = str(id?.name) ?? str(claims['preferred_username']) ?? str(id?.email) ?? 'anonymous';
  const client = { ...clientInfoOf(input.messages), ...stripUndefined(input.client ?? {}) };
  const clientName = cap(str(claims['client_name']), 256) ?? client.name;
  const clientVersion = cap(str(claims['client_version']), 128) ?? client.version;
  if (clientName) subjects.client_name = clientName;
  if (clientVersion) subjects.client_version = clientVersion;
  // Key order as ToolHive writes them: user_id, user, client_name, client_version.
  const orderedSubjects: AuditEvent['subjects'] = {
    ...(subjects.user_id ? { user_id: subjects.user_id } : {}),
    user: subjects.user,
    ...(subjects.client_name ? { client_name: subjects.client_name } : {}),
    ...(subjects.client_version ? { client_version: subjects.client_version } : {}),
  };

  const extra: Record<string, unknown> = {};
  if (input.streamOpen) {
    extra['transport'] = transport;
    if (ua) extra['user_agent'] = ua;
    extra['status_code'] = input.status;
  } else {
    extra['duration_ms'] = Math.max(0, Math.floor(input.durationMs));
    extra['transport'] = transport;
    extra['response_size_bytes'] = input.responseBytes;
    extra['status_code'] = input.status;
    if (outcome === 'application_error' && input.applicationError) {
      extra['jsonrpc_error_code'] = input.applicationError.code;
      extra['jsonrpc_error_message'] = safeErrorMessage(input.applicationError.message, input);
    }
    if (classified.batch) {
      extra['batch_size'] = classified.batch.size;
      extra['batch_event_types'] = [...new Set(classified.memberTypes)];
      if (classified.batch.targets.length > 0) extra['batch_targets'] = classified.batch.targets;
    }
    if (input.clientDisconnected) extra['client_disconnected'] = true;
  }
  if (input.authz?.decision === 'deny') {
    if (input.authz.reason) extra['authz_reason'] = input.authz.reason;
    extra['authz_policies'] = [...input.authz.policies];
  }
  if (input.serverName) extra['server_name'] = input.serverName;

  let data: AuditEvent['data'];
  if (!input.streamOpen && (config.includeRequestData || config.includeResponseData)) {
    const d: NonNullable<AuditEvent['data']> = {};
    if (config.includeRequestData && input.requestBody && input.requestBody.length > 0) {
      const r = dataValue(input.requestBody, input.requestBody.length, config.maxDataSize);
      d.request = r.value;
      if (r.truncated) d.request_truncated = true;
    }
    if (config.includeResponseData && input.responseBody && input.responseBody.length > 0) {
      const r = dataValue(input.responseBody, input.responseBytes, config.maxDataSize);
      d.response = r.value;
      if (r.truncated) d.response_truncated = true;
    }
    if (Object.keys(d).length > 0) data = d;
  }

  const event: AuditEvent = {
    audit_id: input.id ?? crypto.randomUUID(),
    type: classified.type,
    logged_at: (input.now ?? new Date()).toISOString(),
    outcome,
    component: config.component || DEFAULT_AUDIT_COMPONENT,
    source: { type: 'network', value: clientIp(input.headers, input.remoteAddress), extra: sourceExtra },
    subjects: orderedSubjects,
    target: classified.target,
    metadata: { extra },
  };
  if (data) event.data = data;
  return event;
}

function stripUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}