import crypto from 'node:crypto';
import { GenerationalCache } from '../common/index.js';
import fs from 'node:fs';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { JsonRpcMessage } from '../proxy/jsonrpc.js';
import type { AuthzMark, CallerIdentity, Middleware, ProxyContext } from '../proxy/middleware.js';

/**
 * Audit log, in ToolHive's format (`pkg/audit`): one event per HTTP request that reaches the proxy's
 * MCP endpoint, written as a JSON line `{"time","level":"AUDIT","msg":"audit_event", ...event}`.
 *
 * Placement: after the guard layer (Host/Origin check, body limit, JSON-RPC parsing) and BEFORE
 * authentication, so 401s from authentication and 403s from authorization are audited as `denied`.
 * The layer only reads `ctx` once the response is done, so the identity and the authorization mark set
 * by inner layers are visible to it.
 *
 * Event type and target (see {@link eventTypeForMethod}):
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
 * `application_error` for a 2xx whose JSON body or SSE `data:` frames carry a JSON-RPC error within the
 * first {@link APPLICATION_ERROR_PEEK_BYTES} bytes; `success` otherwise. On the legacy SSE transport a
 * POST is answered 202 and the reply travels on the stream, so application errors are not seen there.
 *
 * Secrets: no header other than User-Agent, X-Request-ID, X-Forwarded-For and X-Real-IP is read; request
 * bodies (tool arguments) appear only with `includeRequestData`, and then only up to `maxDataSize`; a JSON-RPC
 * error message has the request's string parameter values blanked out unless `includeRequestData` is on; the
 * MCP session id is never written.
 */

// ---------------------------------------------------------------------------------------------------
// Event vocabulary
// ---------------------------------------------------------------------------------------------------

export const AUDIT_EVENT_TYPES = [
  'mcp_initialize',
  'mcp_tool_call',
  'mcp_tools_list',
  'mcp_resource_read',
  'mcp_resources_list',
  'mcp_prompt_get',
  'mcp_prompts_list',
  'mcp_notification',
  'mcp_ping',
  'mcp_logging',
  'mcp_completion',
  'mcp_roots_list_changed',
  'mcp_request',
  'http_request',
  'sse_connection',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** ToolHive's vMCP workflow types: accepted in a config file (so vMCP configs load) but never emitted here. */
const WORKFLOW_EVENT_TYPES = [
  'vmcp_workflow_started',
  'vmcp_workflow_completed',
  'vmcp_workflow_failed',
  'vmcp_workflow_timed_out',
  'vmcp_workflow_step_started',
  'vmcp_workflow_step_completed',
  'vmcp_workflow_step_failed',
  'vmcp_workflow_step_skipped',
] as const;

export type AuditOutcome = 'success' | 'denied' | 'failure' | 'error' | 'application_error';
export type AuditTargetType = 'tool' | 'resource' | 'prompt' | 'endpoint' | 'sse_endpoint';

/** The component written when the config names none (ToolHive writes `toolhive-api`). */
export const DEFAULT_AUDIT_COMPONENT = 'gatehouse';
/** How many response bytes are looked at, at most, to find a JSON-RPC error in a 2xx response. */
export const APPLICATION_ERROR_PEEK_BYTES = 64 * 1024;
/** ToolHive caps the JSON-RPC error message it copies into an event at 256 bytes. */
const MAX_ERROR_MESSAGE_CHARS = 256;
const MAX_SESSIONS_REMEMBERED = 1024;

// ---------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------

const EventTypeName = z.enum([...AUDIT_EVENT_TYPES, ...WORKFLOW_EVENT_TYPES], {
  error: (iss) => `unknown event type ${JSON.stringify(iss.input)} (known: ${AUDIT_EVENT_TYPES.join(', ')})`,
});

/**
 * ToolHive's audit config file (`--audit-config`), with the camelCase keys of current ToolHive. The
 * snake_case keys of older ToolHive releases (`event_types`, `max_data_size`, `log_file`, ...) are
 * accepted by {@link parseAuditConfig} and renamed before this schema runs.
 */
export const AuditConfigSchema = z.strictObject({
  /** Kept for file compatibility. Only an explicit `false` turns the audit layer into a pass-through. */
  enabled: z.boolean().optional(),
  component: z.string().optional(),
  eventTypes: z.array(EventTypeName).default([]),
  excludeEventTypes: z.array(EventTypeName).default([]),
  includeRequestData: z.boolean().default(false),
  includeResponseData: z.boolean().default(false),
  detectApplicationErrors: z.boolean().default(true),
  /** Bytes of request/response body kept in `data`; 0 means the default (1024), as in ToolHive. */
  maxDataSize: z
    .number({ error: 'must be a number of bytes' })
    .int('must be a whole number of bytes')
    .min(0, 'cannot be negative')
    .default(1024)
    .transform((v) => (v === 0 ? 1024 : v)),
  /** RFC 8693 delegation depth (ToolHive). Accepted; Gatehouse does not record delegation chains yet. */
  maxDelegationDepth: z.number().int().positive('must be positive').optional(),
  /** Append events to this file (created 0600); empty or absent: the proxy's own output. */
  logFile: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v)),
});

export type AuditConfig = z.output<typeof AuditConfigSchema>;
export type AuditConfigInput = z.input<typeof AuditConfigSchema>;

export class AuditConfigError extends Error {}

const SNAKE_CASE_KEYS: Record<string, string> = {
  event_types: 'eventTypes',
  exclude_event_types: 'excludeEventTypes',
  include_request_data: 'includeRequestData',
  include_response_data: 'includeResponseData',
  detect_application_errors: 'detectApplicationErrors',
  max_data_size: 'maxDataSize',
  max_delegation_depth: 'maxDelegationDepth',
  log_file: 'logFile',
};

/** ToolHive's defaults (`audit.DefaultConfig()`), as `--enable-audit` uses them. */
export function defaultAuditConfig(overrides: AuditConfigInput = {}): AuditConfig {
  return AuditConfigSchema.parse(overrides);
}

/** Reads an audit config file (JSON, or YAML for convenience), with errors that name the file and the field. */
export function parseAuditConfig(text: string, source = 'the audit config'): AuditConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new AuditConfigError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new AuditConfigError(`${source} must hold a JSON object such as {"includeRequestData": false, "maxDataSize": 1024}.`);
  }
  const normalized: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const camel = SNAKE_CASE_KEYS[key];
    if (camel !== undefined && camel in (doc as Record<string, unknown>)) {
      throw new AuditConfigError(`${source} sets both "${key}" and "${camel}"; keep one (current ToolHive writes "${camel}").`);
    }
    normalized[camel ?? key] = value;
  }
  const parsed = AuditConfigSchema.safeParse(normalized);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') {
        return `unknown setting${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (known: ${Object.keys(AuditConfigSchema.shape).join(', ')})`;
      }
      return `${i.path.join('.') || '(top level)'}: ${i.message}`;
    });
    throw new AuditConfigError(`${source} is not a valid audit config: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** ToolHive's `ShouldAuditEvent`: the exclude list wins; a non-empty include list must name the type. */
export function shouldAuditEventType(config: Pick<AuditConfig, 'eventTypes' | 'excludeEventTypes'>, type: string): boolean {
  if (config.excludeEventTypes.includes(type as never)) return false;
  return config.eventTypes.length === 0 || config.eventTypes.includes(type as never);
}

// ---------------------------------------------------------------------------------------------------
// The event
// ---------------------------------------------------------------------------------------------------

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
  messages?: readonly JsonRpcMessage[];
  identity?: CallerIdentity;
  authz?: AuthzMark;
  /** `clientInfo` remembered for the request's MCP session (the `initialize` request's own is read from `messages`). */
  client?: { name?: string; version?: string };
  durationMs: number;
  responseBytes: number;
  /** A GET that opened an event stream: the event is `sse_connection`, logged when the headers went out. */
  streamOpen?: boolean;
  applicationError?: ApplicationError;
  /** The raw request body (only read when includeRequestData is on). */
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

/** The MCP method's event type (ToolHive's `mapMCPMethodToEventType`, plus every `notifications/*`). */
export function eventTypeForMethod(method: string): AuditEventType {
  switch (method) {
    case 'initialize':
      return 'mcp_initialize';
    case 'tools/call':
      return 'mcp_tool_call';
    case 'tools/list':
      return 'mcp_tools_list';
    case 'resources/read':
      return 'mcp_resource_read';
    case 'resources/list':
      return 'mcp_resources_list';
    case 'prompts/get':
      return 'mcp_prompt_get';
    case 'prompts/list':
      return 'mcp_prompts_list';
    case 'ping':
      return 'mcp_ping';
    case 'logging/setLevel':
      return 'mcp_logging';
    case 'completion/complete':
      return 'mcp_completion';
    case 'notifications/roots/list_changed':
      return 'mcp_roots_list_changed';
    default:
      return method.startsWith('notifications/') ? 'mcp_notification' : 'mcp_request';
  }
}

function targetTypeFor(type: AuditEventType): AuditTargetType {
  return type === 'mcp_tool_call' ? 'tool' : type === 'mcp_resource_read' ? 'resource' : type === 'mcp_prompt_get' ? 'prompt' : 'endpoint';
}

const STATIC_NAMES: Record<string, string> = {
  ping: 'ping',
  'notifications/roots/list_changed': 'roots',
  'notifications/initialized': 'initialized',
  'notifications/prompts/list_changed': 'prompts',
  'notifications/resources/list_changed': 'resources',
  'notifications/resources/updated': 'resources',
  'notifications/tools/list_changed': 'tools',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** What the request acts on (ToolHive's parser "resource ID"): never an argument value. List cursors are left out. */
function targetNameOf(method: string, params: Record<string, unknown> | undefined): string | undefined {
  const p = params ?? {};
  switch (method) {
    case 'initialize':
      return str(rec(p['clientInfo'])?.['name']);
    case 'tools/call':
    case 'prompts/get':
      return str(p['name']);
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return str(p['uri']);
    case 'logging/setLevel':
      return str(p['level']);
    case 'completion/complete': {
      const ref = rec(p['ref']);
      return str(ref?.['name']) ?? str(ref?.['uri']);
    }
    case 'notifications/progress':
    case 'notifications/cancelled': {
      const v = method === 'notifications/progress' ? p['progressToken'] : p['requestId'];
      return typeof v === 'number' ? String(v) : str(v);
    }
    default:
      return STATIC_NAMES[method];
  }
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

/** ToolHive's `getClientIP`: first X-Forwarded-For entry, then X-Real-IP, then the peer address. */
export function clientIp(headers: IncomingHttpHeaders, remoteAddress: string | undefined): string {
  const xff = header(headers, 'x-forwarded-for');
  const first = xff?.split(',')[0]?.trim();
  if (first) return cap(first, 128)!;
  const real = header(headers, 'x-real-ip')?.trim();
  if (real) return cap(real, 128)!;
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
  const calls = (input.messages ?? []).flatMap((m) => ('method' in m ? [{ method: m.method, params: rec(m.params) }] : []));
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
  const names = calls.map((c) => targetNameOf(c.method, c.params));
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

function clientInfoOf(messages: readonly JsonRpcMessage[] | undefined): { name?: string; version?: string } | undefined {
  const init = messages?.find((m) => 'method' in m && m.method === 'initialize');
  const info = init && 'method' in init ? rec(rec(init.params)?.['clientInfo']) : undefined;
  if (!info) return undefined;
  return { name: cap(str(info['name']), 256), version: cap(str(info['version']), 128) };
}

/** Params that name what is acted on (already in `target`), not what is passed to it. */
const NAMING_PARAMS = new Set(['name', 'uri', 'cursor', 'level', '_meta', 'clientInfo', 'protocolVersion', 'capabilities']);

/** Every string value in the requests' params (tool arguments among them), longest first. */
function paramStrings(messages: readonly JsonRpcMessage[] | undefined): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (out.size >= 256 || depth > 8) return;
    if (typeof v === 'string') {
      if (v.length >= 4) out.add(v);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, depth + 1));
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach((x) => walk(x, depth + 1));
  };
  for (const m of messages ?? []) {
    if (!('method' in m)) continue;
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

// ---------------------------------------------------------------------------------------------------
// Finding JSON-RPC errors in response bytes
// ---------------------------------------------------------------------------------------------------

function asApplicationError(v: unknown): ApplicationError | undefined {
  const o = rec(v);
  if (!o || 'method' in o) return undefined;
  const e = rec(o['error']);
  if (!e || typeof e['code'] !== 'number') return undefined;
  return { code: e['code'], message: typeof e['message'] === 'string' ? e['message'] : '' };
}

function firstError(v: unknown): ApplicationError | undefined {
  if (Array.isArray(v)) {
    for (const item of v) {
      const e = asApplicationError(item);
      if (e) return e;
    }
    return undefined;
  }
  return asApplicationError(v);
}

function skipWs(t: string, i: number): number {
  while (i < t.length && (t[i] === ' ' || t[i] === '\n' || t[i] === '\r' || t[i] === '\t')) i++;
  return i;
}

/** Index just past the JSON string starting at i, or -1 if it does not end within t. */
function stringEnd(t: string, i: number): number {
  for (let j = i + 1; j < t.length; j++) {
    if (t[j] === '\\') j++;
    else if (t[j] === '"') return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at i, or -1 if it does not end within t. */
function valueEnd(t: string, i: number): number {
  const c = t[i];
  if (c === '"') return stringEnd(t, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < t.length; j++) {
      const ch = t[j];
      if (ch === '"') {
        const e = stringEnd(t, j);
        if (e < 0) return -1;
        j = e - 1;
      } else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < t.length && !',}] \n\r\t'.includes(t[j]!)) j++;
  return j < t.length ? j : -1;
}

/**
 * Walks the top-level keys of a (possibly cut) JSON-RPC message and stops at `result` (no error) or
 * `error` (reads code and message, even when the error's `data` runs past the cut).
 */
function errorInJsonPrefix(t: string): ApplicationError | undefined {
  let i = skipWs(t, 0);
  if (t[i] !== '{') return undefined;
  i++;
  for (;;) {
    i = skipWs(t, i);
    if (t[i] !== '"') return undefined;
    const keyEnd = stringEnd(t, i);
    if (keyEnd < 0) return undefined;
    let key: unknown;
    try {
      key = JSON.parse(t.slice(i, keyEnd));
    } catch {
      return undefined;
    }
    i = skipWs(t, keyEnd);
    if (t[i] !== ':') return undefined;
    i = skipWs(t, i + 1);
    if (key === 'result' || key === 'method') return undefined;
    const end = valueEnd(t, i);
    if (key === 'error') {
      if (end > 0) {
        try {
          return asApplicationError({ error: JSON.parse(t.slice(i, end)) });
        } catch {
          return undefined;
        }
      }
      const code = /"code"\s*:\s*(-?\d+)/.exec(t.slice(i, i + 512));
      const msg = /"message"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(t.slice(i, i + 4096));
      if (!code) return undefined;
      let message = '';
      try {
        message = msg ? (JSON.parse(msg[1]!) as string) : '';
      } catch {
        /* keep empty */
      }
      return { code: Number(code[1]), message };
    }
    if (end < 0) return undefined;
    i = skipWs(t, end);
    if (t[i] !== ',') return undefined;
    i++;
  }
}

/**
 * The JSON-RPC error in the first bytes of a response, for a JSON body (a message or a batch) or an SSE
 * stream (each complete `data:` event). `complete` says whether `peek` is the whole body.
 */
export function findApplicationError(peek: Buffer, complete: boolean, contentType?: string): ApplicationError | undefined {
  if (peek.length === 0) return undefined;
  const text = peek.toString('utf8');
  const start = text[skipWs(text, 0)];
  const isSse = /text\/event-stream/i.test(contentType ?? '') || /^(data|event|id|retry)?:/.test(text.trimStart());
  // A single message: walk its top-level keys only (stops at "result"), so a big result is never parsed.
  if (!isSse && start === '{') return errorInJsonPrefix(text);
  if (!isSse && start === '[') {
    if (!complete) return undefined;
    try {
      return firstError(JSON.parse(text));
    } catch {
      return undefined;
    }
  }
  if (!isSse) return undefined;
  const events = text.split(/\r?\n\r?\n/);
  if (!complete || !/\r?\n\r?\n$/.test(text)) events.pop(); // the last event may be cut: only whole events count
  for (const ev of events) {
    const data = ev
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    try {
      const e = firstError(JSON.parse(data));
      if (e) return e;
    } catch {
      /* not JSON: not a JSON-RPC frame */
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// The layer
// ---------------------------------------------------------------------------------------------------

interface ResponseTap {
  bytes: number;
  peek: Buffer[];
  peekBytes: number;
  capture: Buffer[];
  captureBytes: number;
  contentType?: string;
  sessionId?: string;
}

function headerFromArgs(args: unknown[], name: string): string | undefined {
  const headers = typeof args[1] === 'string' ? args[2] : args[1];
  if (Array.isArray(headers)) {
    // [k, v, k, v] or [[k, v], ...]
    const flat: unknown[] = headers.every((h) => Array.isArray(h)) ? (headers as unknown[][]).flat() : headers;
    for (let i = 0; i + 1 < flat.length; i += 2) if (String(flat[i]).toLowerCase() === name) return String(flat[i + 1]);
    return undefined;
  }
  const o = rec(headers);
  if (!o) return undefined;
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : String(v);
  return undefined;
}

/**
 * Counts the bytes a response writes, keeps the first `peekLimit` bytes of a 2xx response (to find a
 * JSON-RPC error) and the first `captureLimit` bytes (for `data.response`), and notes the headers the
 * audit needs. Node sends headers through `writeHead` (implicitly too), so that is where they are seen.
 */
function tapResponse(res: ServerResponse, peekLimit: number, captureLimit: number, onHeaders: () => void): ResponseTap {
  const tap: ResponseTap = { bytes: 0, peek: [], peekBytes: 0, capture: [], captureBytes: 0 };
  const origWrite = res.write as (...a: unknown[]) => boolean;
  const origEnd = res.end as (...a: unknown[]) => ServerResponse;
  const origWriteHead = res.writeHead as (...a: unknown[]) => ServerResponse;

  const see = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const enc = typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8';
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk, enc) : (chunk as Uint8Array).byteLength ?? 0;
    tap.bytes += size;
    const wantPeek = peekLimit - tap.peekBytes > 0 && res.statusCode >= 200 && res.statusCode < 300;
    const wantCapture = captureLimit - tap.captureBytes > 0;
    if (!wantPeek && !wantCapture) return;
    const need = Math.max(wantPeek ? peekLimit - tap.peekBytes : 0, wantCapture ? captureLimit - tap.captureBytes : 0);
    let buf: Buffer;
    if (typeof chunk === 'string') buf = Buffer.from(chunk.length > need ? chunk.slice(0, need) : chunk, enc).subarray(0, need);
    else if (chunk instanceof Uint8Array) buf = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.byteLength, need));
    else return;
    if (wantPeek) {
      const part = Buffer.from(buf.subarray(0, peekLimit - tap.peekBytes));
      tap.peek.push(part);
      tap.peekBytes += part.length;
    }
    if (wantCapture) {
      const part = Buffer.from(buf.subarray(0, captureLimit - tap.captureBytes));
      tap.capture.push(part);
      tap.captureBytes += part.length;
    }
  };

  res.writeHead = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    const out = origWriteHead.apply(this, args);
    tap.contentType = headerFromArgs(args, 'content-type') ?? (this.getHeader('content-type') as string | undefined);
    tap.sessionId = headerFromArgs(args, 'mcp-session-id') ?? (this.getHeader('mcp-session-id') as string | undefined);
    onHeaders();
    return out;
  } as ServerResponse['writeHead'];
  // Node sends implicit headers through this.writeHead too (ServerResponse._implicitHeader), so a
  // response that never calls writeHead itself is still seen there.
  res.write = function (this: ServerResponse, ...args: unknown[]): boolean {
    see(args[0], args[1]);
    return origWrite.apply(this, args);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (!this.writableEnded) see(args[0], args[1]);
    return origEnd.apply(this, args);
  } as ServerResponse['end'];
  return tap;
}

/** A small LRU of `clientInfo` per MCP session, so later events of the session carry the client's name. */
class SessionClients {
  private readonly map: GenerationalCache<string, { name?: string; version?: string }>;
  constructor(max: number) {
    this.map = new GenerationalCache(max);
  }
  get(id: string | undefined): { name?: string; version?: string } | undefined {
    return id ? this.map.get(id) : undefined;
  }
  set(id: string, v: { name?: string; version?: string }): void {
    this.map.set(id, v);
  }
  delete(id: string): void {
    this.map.delete(id);
  }
  get size(): number {
    return this.map.size;
  }
}

export interface AuditLayerOptions {
  config: AuditConfig;
  /** The proxy's client-facing transport (`sse` for the legacy SSE front, anything else is `http`). */
  transport: 'http' | 'sse' | string;
  emit: (event: AuditEvent) => void;
  /** Called if building or emitting an event throws (the request itself is never affected). */
  onError?: (err: unknown) => void;
}

function isStreamOpen(ctx: ProxyContext): boolean {
  return ctx.req.method === 'GET' && /text\/event-stream/i.test(String(ctx.req.headers.accept ?? ''));
}

/**
 * The audit layer: one event per HTTP request, emitted when the response finishes (or when the client
 * leaves), or, for a GET that opens an event stream, when the response headers go out.
 */
export function auditLayer(opts: AuditLayerOptions): Middleware {
  const { config } = opts;
  if (config.enabled === false) return (_ctx, next) => next();
  const sessions = new SessionClients(MAX_SESSIONS_REMEMBERED);

  return async (ctx, next) => {
    const started = performance.now();
    const streamOpen = isStreamOpen(ctx);
    const sessionHeader = ctx.req.headers['mcp-session-id'];
    const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;
    let done = false;

    const finish = (disconnected: boolean): void => {
      if (done) return;
      done = true;
      try {
        const status = ctx.res.headersSent ? ctx.res.statusCode : disconnected ? 499 : ctx.res.statusCode;
        const classified = classifyRequest({ httpMethod: ctx.req.method ?? 'GET', path: ctx.url.pathname, messages: ctx.messages, transport: opts.transport, streamOpen });
        const first = ctx.messages?.[0];
        const ok = status >= 200 && status < 300;
        const client = sessions.get(sessionId);
        // Remember the client of a new session, forget it when the session ends.
        if (ok && first && 'method' in first && first.method === 'initialize') {
          const info = clientInfoOf(ctx.messages);
          const sid = tap.sessionId ?? sessionId;
          if (info && sid) sessions.set(sid, info);
        } else if (ok && ctx.req.method === 'DELETE' && sessionId) {
          sessions.delete(sessionId);
        }
        if (!shouldAuditRequest(config, classified)) return;
        const complete = tap.bytes <= APPLICATION_ERROR_PEEK_BYTES;
        const applicationError =
          !streamOpen && config.detectApplicationErrors && ok && tap.peekBytes > 0 ? findApplicationError(Buffer.concat(tap.peek), complete, tap.contentType) : undefined;
        const event = buildAuditEvent({
          config,
          transport: opts.transport,
          httpMethod: ctx.req.method ?? 'GET',
          path: ctx.url.pathname,
          headers: ctx.req.headers,
          remoteAddress: ctx.req.socket?.remoteAddress,
          status,
          messages: ctx.messages,
          identity: ctx.identity,
          authz: ctx.authz,
          client,
          durationMs: performance.now() - started,
          responseBytes: tap.bytes,
          streamOpen,
          applicationError,
          requestBody: config.includeRequestData ? ctx.rawBody : undefined,
          responseBody: config.includeResponseData ? Buffer.concat(tap.capture) : undefined,
          clientDisconnected: disconnected && !streamOpen,
          serverName: ctx.serverName,
        });
        opts.emit(event);
      } catch (err) {
        opts.onError?.(err);
      }
    };

    const peekLimit = !streamOpen && config.detectApplicationErrors ? APPLICATION_ERROR_PEEK_BYTES : 0;
    const captureLimit = !streamOpen && config.includeResponseData ? config.maxDataSize + 1 : 0;
    const tap = tapResponse(ctx.res, peekLimit, captureLimit, () => {
      if (streamOpen) finish(false);
    });
    ctx.res.once('finish', () => finish(false));
    ctx.res.once('close', () => finish(!ctx.res.writableFinished));
    return next();
  };
}

// ---------------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------------

/** ToolHive's slog line: `{"time":...,"level":"AUDIT","msg":"audit_event", ...event}` (no trailing newline). */
export function formatAuditLine(event: AuditEvent, time: Date = new Date()): string {
  return JSON.stringify({ time: time.toISOString(), level: 'AUDIT', msg: 'audit_event', ...event });
}

export interface AuditFileWriterOptions {
  /** Lines waiting to be written, in bytes, beyond which new events are dropped (counted in `dropped`). */
  maxQueueBytes?: number;
  onError?: (err: Error) => void;
}

/**
 * Appends audit lines to a file, created 0600 (an existing file with wider permissions is tightened to
 * 0600). `write` never blocks the request path: lines queue and are written in order by one writer.
 */
export class AuditFileWriter {
  private handle: fs.promises.FileHandle | undefined;
  private opening: Promise<fs.promises.FileHandle> | undefined;
  private queue: string[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | undefined;
  private closed = false;
  private overflowReported = false;
  /** Events dropped because the queue was full or a write failed. */
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly opts: AuditFileWriterOptions = {},
  ) {}

  /** Opens (creating) the file now, so a bad path is reported at start-up rather than on the first event. */
  async open(): Promise<void> {
    await this.fileHandle();
  }

  write(event: AuditEvent): void {
    this.writeLine(formatAuditLine(event));
  }

  writeLine(line: string): void {
    if (this.closed) {
      this.dropped++;
      return;
    }
    const bytes = Buffer.byteLength(line) + 1;
    if (this.queuedBytes + bytes > (this.opts.maxQueueBytes ?? 4 * 1024 * 1024)) {
      this.dropped++;
      if (!this.overflowReported) {
        this.overflowReported = true;
        this.opts.onError?.(new Error(`Audit log ${this.path} cannot keep up: dropping events.`));
      }
      return;
    }
    this.queue.push(line + '\n');
    this.queuedBytes += bytes;
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Resolves when every line queued so far is written. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    const h = this.handle ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.handle = undefined;
    this.opening = undefined;
    await h?.close();
  }

  private fileHandle(): Promise<fs.promises.FileHandle> {
    if (this.handle) return Promise.resolve(this.handle);
    this.opening ??= (async () => {
      const h = await fs.promises.open(this.path, 'a', 0o600);
      try {
        const st = await h.stat();
        if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) await h.chmod(0o600);
      } catch (err) {
        await h.close();
        throw err;
      }
      this.handle = h;
      return h;
    })();
    this.opening.catch(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.queuedBytes = 0;
      this.overflowReported = false;
      try {
        const h = await this.fileHandle();
        await h.appendFile(batch.join(''));
      } catch (err) {
        this.dropped += batch.length;
        this.opts.onError?.(new Error(`Cannot write the audit log ${this.path}: ${(err as Error).message}`));
      }
    }
  }
}
