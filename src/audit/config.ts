import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { McpAuditType } from '../mcp/index.js';

// ---------------------------------------------------------------------------------------------------
// Event vocabulary
// ---------------------------------------------------------------------------------------------------

/**
 * Gatehouse's own: each step of a sign-in at the embedded authorization server (ToolHive's writes none).
 * Same event format; an audit config's eventTypes / excludeEventTypes name them like any other type.
 */
export const AUTH_SERVER_EVENT_TYPES = ['oauth_client_registration', 'oauth_consent', 'oauth_upstream_login', 'oauth_authorization', 'oauth_token', 'oauth_revocation'] as const;
export type AuthServerEventType = (typeof AUTH_SERVER_EVENT_TYPES)[number];

/** ToolHive's event types: one per MCP method kind (the method table says which), plus HTTP-level ones. */
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
  ...AUTH_SERVER_EVENT_TYPES,
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

// The method table's audit types are ToolHive's: a method cannot name a type this vocabulary lacks.
type Covers<T extends AuditEventType> = T;
export type MethodAuditTypes = Covers<McpAuditType>;
