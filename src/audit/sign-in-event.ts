import crypto from 'node:crypto';
import type { SignInStep, SignInStepKind } from '../authserver/steps.js';
import { DEFAULT_AUDIT_COMPONENT, shouldAuditEventType, type AuditConfig, type AuthServerEventType } from './config.js';
import { clientIp, type AuditEvent } from './event.js';

const TYPE_OF: Record<SignInStepKind, AuthServerEventType> = {
  client_registration: 'oauth_client_registration',
  consent: 'oauth_consent',
  upstream_login: 'oauth_upstream_login',
  authorization: 'oauth_authorization',
  token: 'oauth_token',
  revocation: 'oauth_revocation',
};

export interface SignInEventInput {
  config: AuditConfig;
  step: SignInStep;
  /** The local server the step is for (its URL was the resource), when there is one. */
  serverName?: string;
  id?: string;
  now?: Date;
}

/**
 * A step of a sign-in at the embedded authorization server as an audit event in ToolHive's format:
 * `subjects` is the user (once known) and the OAuth client, `target` the endpoint, `metadata.extra` the
 * client id, resource, scopes, grant type and the OAuth error. Undefined when the config filters the type out.
 */
export function buildSignInEvent(input: SignInEventInput): AuditEvent | undefined {
  const { step, config } = input;
  const type = TYPE_OF[step.kind];
  if (config.enabled === false || !shouldAuditEventType(config, type)) return undefined;
  const subjects: AuditEvent['subjects'] = {
    ...(step.subject ? { user_id: step.subject } : {}),
    user: step.by === 'app' ? 'gatehouse-app' : (step.subjectName ?? step.subject ?? 'anonymous'),
    ...(step.clientName ?? step.clientId ? { client_name: step.clientName ?? step.clientId } : {}),
  };
  const extra: Record<string, unknown> = {};
  if (step.clientId) extra['client_id'] = step.clientId;
  if (step.resource) extra['resource'] = step.resource;
  if (step.scopes) extra['scopes'] = step.scopes;
  if (step.grantType) extra['grant_type'] = step.grantType;
  if (step.grantId) extra['grant_id'] = step.grantId;
  if (step.error) extra['oauth_error'] = step.error;
  if (step.reason) extra['reason'] = step.reason;
  if (step.by) extra['initiated_by'] = step.by;
  if (input.serverName) extra['server_name'] = input.serverName;
  return {
    audit_id: input.id ?? crypto.randomUUID(),
    type,
    logged_at: (input.now ?? new Date()).toISOString(),
    outcome: step.outcome,
    component: config.component ?? DEFAULT_AUDIT_COMPONENT,
    source: {
      type: step.by === 'app' ? 'local' : 'network',
      value: step.by === 'app' ? 'gatehouse' : clientIp({}, step.remoteAddress),
      extra: step.userAgent ? { user_agent: step.userAgent } : {},
    },
    subjects,
    target: { endpoint: step.endpoint, method: step.httpMethod, type: 'endpoint' },
    metadata: { extra },
  };
}

/** A line for the log viewer: what happened, for whom, and how it ended. */
export function signInEventMessage(step: SignInStep): string {
  const client = step.clientName ?? step.clientId ?? 'a client';
  const who = step.subjectName ?? step.subject;
  const what: Record<SignInStepKind, string> = {
    client_registration: `registration of ${client}`,
    consent: `consent for ${client}`,
    upstream_login: `sign-in at the identity provider${who ? ` as ${who}` : ''} for ${client}`,
    authorization: `authorization code for ${client}`,
    token: `token (${step.grantType ?? 'grant'}) for ${client}`,
    revocation: step.clientId || step.clientName || !who ? `revocation of ${step.grantId ? `grant ${step.grantId.slice(0, 8)}… of ` : ''}${client}` : `sign-out of ${who} everywhere`,
  };
  const signOut = step.kind === 'revocation' && !step.clientId && !step.clientName && who;
  const by = step.by === 'app' ? ' by the Gatehouse app' : who && step.kind !== 'upstream_login' && !signOut ? ` by ${who}` : '';
  const why = step.outcome === 'success' ? '' : ` (${step.reason ?? step.error ?? 'no reason given'})`;
  return `${what[step.kind]}${by}: ${step.outcome}${why}`;
}
