import { describe, expect, it } from 'vitest';
import { buildSignInEvent, defaultAuditConfig, parseAuditConfig, signInEventMessage } from '../../src/audit/index.js';
import { signInStep } from '../../src/authserver/index.js';

const token = signInStep(
  { kind: 'token', outcome: 'success', endpoint: '/oauth/token', httpMethod: 'POST' },
  { remoteAddress: '::ffff:127.0.0.1', userAgent: 'vscode/1.107', clientId: 'c-1', clientName: 'VS Code', subject: 'alice', subjectName: 'Alice', resource: 'http://127.0.0.1:40001/mcp', scopes: ['openid', 'offline_access'], grantType: 'authorization_code', grantId: 'g-1', error: undefined },
);

describe('sign-in steps as audit events', () => {
  it("are ToolHive's event shape: the user, the client, the endpoint, and what the grant was for", () => {
    const event = buildSignInEvent({ config: defaultAuditConfig(), step: token, serverName: 'calc', id: 'id-1', now: new Date('2026-12-04T08:00:00Z') });
    expect(event).toEqual({
      audit_id: 'id-1',
      type: 'oauth_token',
      logged_at: '2026-12-04T08:00:00.000Z',
      outcome: 'success',
      component: 'gatehouse',
      source: { type: 'network', value: '127.0.0.1', extra: { user_agent: 'vscode/1.107' } },
      subjects: { user_id: 'alice', user: 'Alice', client_name: 'VS Code' },
      target: { endpoint: '/oauth/token', method: 'POST', type: 'endpoint' },
      metadata: { extra: { client_id: 'c-1', resource: 'http://127.0.0.1:40001/mcp', scopes: ['openid', 'offline_access'], grant_type: 'authorization_code', grant_id: 'g-1', server_name: 'calc' } },
    });
    expect(signInEventMessage(token)).toBe('token (authorization_code) for VS Code by Alice: success');
  });

  it('say why a step failed, and who revoked from the app', () => {
    const denied = signInStep({ kind: 'consent', outcome: 'denied', endpoint: '/oauth/interaction', httpMethod: 'POST' }, { clientId: 'c-2', error: 'access_denied', reason: 'The user denied access on the consent page.' });
    expect(signInEventMessage(denied)).toBe('consent for c-2: denied (The user denied access on the consent page.)');
    expect(buildSignInEvent({ config: defaultAuditConfig(), step: denied })).toMatchObject({ type: 'oauth_consent', outcome: 'denied', subjects: { user: 'anonymous', client_name: 'c-2' }, metadata: { extra: { oauth_error: 'access_denied' } } });
    const revoked = signInStep({ kind: 'revocation', outcome: 'success', endpoint: '/v1/authserver/users/alice', httpMethod: 'DELETE' }, { by: 'app', subject: 'alice' });
    expect(buildSignInEvent({ config: defaultAuditConfig(), step: revoked })).toMatchObject({ source: { type: 'local', value: 'gatehouse' }, subjects: { user_id: 'alice', user: 'gatehouse-app' }, metadata: { extra: { initiated_by: 'app' } } });
    expect(signInEventMessage(revoked)).toBe('sign-out of alice everywhere by the Gatehouse app: success');
    expect(signInEventMessage({ ...revoked, clientId: 'c-3', subject: undefined })).toBe('revocation of c-3 by the Gatehouse app: success');
  });

  it('follow the audit config: its event type lists name them, and a disabled log writes none', () => {
    expect(buildSignInEvent({ config: parseAuditConfig('{"eventTypes":["mcp_tool_call"]}'), step: token })).toBeUndefined();
    expect(buildSignInEvent({ config: parseAuditConfig('{"eventTypes":["oauth_token"]}'), step: token })).toMatchObject({ type: 'oauth_token' });
    expect(buildSignInEvent({ config: parseAuditConfig('{"excludeEventTypes":["oauth_token"]}'), step: token })).toBeUndefined();
    expect(buildSignInEvent({ config: parseAuditConfig('{"enabled":false}'), step: token })).toBeUndefined();
  });

  it('keep only short text, and drop empty fields', () => {
    const long = signInStep({ kind: 'client_registration', outcome: 'failure', endpoint: '/oauth/register', httpMethod: 'POST' }, { clientName: 'x'.repeat(5000), clientId: '', scopes: [], reason: null });
    expect(long.clientName).toHaveLength(256);
    expect(long).not.toHaveProperty('clientId');
    expect(long).not.toHaveProperty('scopes');
    expect(long).not.toHaveProperty('reason');
  });
});
