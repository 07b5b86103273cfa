/**
 * The one table of MCP methods in the code: what each method acts on, how authorization treats it, and how
 * the audit log names it. Every layer asks this table (through {@link methodSpec}, own properties only),
 * so "which method is this and what does it target" is written once. A method missing here is unknown:
 * authorization denies it by default.
 */

export type McpFeature = 'tool' | 'prompt' | 'resource';
export type ListKind = 'tools' | 'prompts' | 'resources';

/** How authorization treats a method (ToolHive's MCPMethodToFeatureOperation, plus subscriptions/listen per URI). */
export type MethodAuthorization =
  /** Protocol plumbing: passes without a policy decision. */
  | { kind: 'protocol' }
  /** Decided by the policies: call_tool, get_prompt or read_resource on the request's target. */
  | { kind: 'feature'; feature: McpFeature }
  /** Passes; the answer's items are filtered to what the caller may use. */
  | { kind: 'list'; feature: McpFeature; list: ListKind }
  /** Passes with its answer as it is (ToolHive: resources/templates/list, features/list). */
  | { kind: 'unfiltered-list' }
  /** subscriptions/listen (2026-07-28): read_resource on every URI it subscribes to. */
  | { kind: 'listen' };

/** The audit event type of a method (ToolHive's mapMCPMethodToEventType). */
export type McpAuditType =
  | 'mcp_initialize'
  | 'mcp_tool_call'
  | 'mcp_tools_list'
  | 'mcp_resource_read'
  | 'mcp_resources_list'
  | 'mcp_prompt_get'
  | 'mcp_prompts_list'
  | 'mcp_notification'
  | 'mcp_ping'
  | 'mcp_logging'
  | 'mcp_completion'
  | 'mcp_roots_list_changed'
  | 'mcp_request';

export interface McpMethodSpec {
  readonly method: string;
  readonly authorization: MethodAuthorization;
  /** The params member naming what the method acts on (the Cedar resource id; Mcp-Name on the 2026-07-28 wire). */
  readonly target?: 'name' | 'uri';
  readonly audit: McpAuditType;
  /** What the audit event names as the target (ToolHive's parser "resource ID"), when it is not `target`. */
  readonly auditName?: (params: Readonly<Record<string, unknown>>) => string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const rec = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const fixed = (name: string) => () => name;
const idLike = (v: unknown): string | undefined => (typeof v === 'number' ? String(v) : str(v));

const PROTOCOL = { kind: 'protocol' } as const;

const SPECS: readonly McpMethodSpec[] = [
  { method: 'initialize', authorization: PROTOCOL, audit: 'mcp_initialize', auditName: (p) => str(rec(p['clientInfo'])?.['name']) },
  { method: 'ping', authorization: PROTOCOL, audit: 'mcp_ping', auditName: fixed('ping') },
  { method: 'tools/call', authorization: { kind: 'feature', feature: 'tool' }, target: 'name', audit: 'mcp_tool_call' },
  { method: 'tools/list', authorization: { kind: 'list', feature: 'tool', list: 'tools' }, audit: 'mcp_tools_list' },
  { method: 'prompts/get', authorization: { kind: 'feature', feature: 'prompt' }, target: 'name', audit: 'mcp_prompt_get' },
  { method: 'prompts/list', authorization: { kind: 'list', feature: 'prompt', list: 'prompts' }, audit: 'mcp_prompts_list' },
  { method: 'resources/read', authorization: { kind: 'feature', feature: 'resource' }, target: 'uri', audit: 'mcp_resource_read' },
  { method: 'resources/list', authorization: { kind: 'list', feature: 'resource', list: 'resources' }, audit: 'mcp_resources_list' },
  { method: 'resources/templates/list', authorization: { kind: 'unfiltered-list' }, audit: 'mcp_request' },
  { method: 'resources/subscribe', authorization: { kind: 'feature', feature: 'resource' }, target: 'uri', audit: 'mcp_request' },
  { method: 'resources/unsubscribe', authorization: { kind: 'feature', feature: 'resource' }, target: 'uri', audit: 'mcp_request' },
  { method: 'features/list', authorization: { kind: 'unfiltered-list' }, audit: 'mcp_request' },
  { method: 'roots/list', authorization: PROTOCOL, audit: 'mcp_request' },
  { method: 'server/discover', authorization: PROTOCOL, audit: 'mcp_request' },
  { method: 'subscriptions/listen', authorization: { kind: 'listen' }, audit: 'mcp_request' },
  { method: 'logging/setLevel', authorization: PROTOCOL, audit: 'mcp_logging', auditName: (p) => str(p['level']) },
  {
    method: 'completion/complete',
    authorization: PROTOCOL,
    audit: 'mcp_completion',
    auditName: (p) => {
      const ref = rec(p['ref']);
      return str(ref?.['name']) ?? str(ref?.['uri']);
    },
  },
  { method: 'notifications/message', authorization: PROTOCOL, audit: 'mcp_notification' },
  { method: 'notifications/initialized', authorization: PROTOCOL, audit: 'mcp_notification', auditName: fixed('initialized') },
  { method: 'notifications/progress', authorization: PROTOCOL, audit: 'mcp_notification', auditName: (p) => idLike(p['progressToken']) },
  { method: 'notifications/cancelled', authorization: PROTOCOL, audit: 'mcp_notification', auditName: (p) => idLike(p['requestId']) },
  { method: 'notifications/roots/list_changed', authorization: PROTOCOL, audit: 'mcp_roots_list_changed', auditName: fixed('roots') },
  { method: 'notifications/tools/list_changed', authorization: PROTOCOL, audit: 'mcp_notification', auditName: fixed('tools') },
  { method: 'notifications/prompts/list_changed', authorization: PROTOCOL, audit: 'mcp_notification', auditName: fixed('prompts') },
  { method: 'notifications/resources/list_changed', authorization: PROTOCOL, audit: 'mcp_notification', auditName: fixed('resources') },
  { method: 'notifications/resources/updated', authorization: PROTOCOL, audit: 'mcp_notification', auditName: fixed('resources') },
  { method: 'notifications/tasks/status', authorization: PROTOCOL, audit: 'mcp_notification' },
];

/** A Map, not a plain object: `constructor` or `__proto__` must never find a spec. */
const TABLE: ReadonlyMap<string, McpMethodSpec> = new Map(SPECS.map((s) => [s.method, s]));

/** The spec of a method, or undefined when it is unknown (and so denied by authorization). */
export function methodSpec(method: string): McpMethodSpec | undefined {
  return TABLE.get(method);
}

/** Every method the table knows, for tests and documentation. */
export function knownMethods(): readonly McpMethodSpec[] {
  return SPECS;
}

/** The list a method's answer carries, when authorization filters it. */
export function filteredListOf(method: string | undefined): { feature: McpFeature; list: ListKind } | undefined {
  const a = method === undefined ? undefined : TABLE.get(method)?.authorization;
  return a?.kind === 'list' ? { feature: a.feature, list: a.list } : undefined;
}

/** Which list a result member names (`tools`, `prompts`, `resources`), for answers whose request is unknown. */
export const LIST_FEATURES: Readonly<Record<ListKind, McpFeature>> = { tools: 'tool', prompts: 'prompt', resources: 'resource' };

/** The audit event type of any method: unknown notifications are notifications, anything else a request. */
export function auditTypeOf(method: string): McpAuditType {
  return TABLE.get(method)?.audit ?? (method.startsWith('notifications/') ? 'mcp_notification' : 'mcp_request');
}

/** What the audit event names as the target of a message (never an argument value). */
export function auditNameOf(method: string, params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const spec = TABLE.get(method);
  if (!spec) return undefined;
  const p = params ?? {};
  if (spec.auditName) return spec.auditName(p);
  return spec.target ? str(p[spec.target]) : undefined;
}
