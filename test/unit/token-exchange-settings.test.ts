import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseTokenExchangeSettings, storedTokenExchange } from '../../src/oauth/index.js';

/** ToolHive's token exchange settings in both of its spellings, and what Gatehouse keeps of them. */
describe('token exchange settings', () => {
  it("reads the operator's MCPExternalAuthConfig of type tokenExchange", () => {
    const manifest = parse(`
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPExternalAuthConfig
metadata:
  name: github-token-exchange
spec:
  type: tokenExchange
  tokenExchange:
    tokenUrl: https://keycloak.example.com/realms/mcp/protocol/openid-connect/token
    clientId: toolhive-exchanger
    clientSecretRef:
      name: exchange-secret
      key: client-secret
    audience: backend-api
    scopes: [read, write]
    subjectTokenType: id_token
    externalTokenHeaderName: X-Upstream-Token
`) as unknown;
    const s = parseTokenExchangeSettings(manifest);
    expect(s).toEqual({
      tokenUrl: 'https://keycloak.example.com/realms/mcp/protocol/openid-connect/token',
      clientId: 'toolhive-exchanger',
      clientSecret: { keychain: ['exchange-secret.client-secret', 'exchange-secret'] },
      audience: 'backend-api',
      scopes: ['read', 'write'],
      subjectTokenType: 'urn:ietf:params:oauth:token-type:id_token',
      headerName: 'x-upstream-token',
    });
    // The stored form reads back the same.
    expect(parseTokenExchangeSettings(storedTokenExchange(s))).toEqual(s);
  });

  it("reads the runner's token_exchange_config, whose clear secret is stored only as a keychain name", () => {
    const s = parseTokenExchangeSettings({ token_exchange_config: { token_url: 'https://sts.example.com/token', client_id: 'c', client_secret: 's3cret', audience: 'a', scopes: null, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', header_strategy: 'replace' } });
    expect(s).toMatchObject({ clientSecret: { clear: 's3cret' }, scopes: [], subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt', headerName: 'authorization' });
    const stored = storedTokenExchange(s, 'srv-token-exchange');
    expect(JSON.stringify(stored)).not.toContain('s3cret');
    expect(parseTokenExchangeSettings(stored).clientSecret).toEqual({ keychain: ['srv-token-exchange'] });
  });

  it('defaults as ToolHive does: access_token subjects, Authorization replaced', () => {
    expect(parseTokenExchangeSettings({ tokenUrl: 'http://127.0.0.1:9/token' })).toEqual({ tokenUrl: 'http://127.0.0.1:9/token', scopes: [], subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token', headerName: 'authorization' });
  });

  it.each([
    [{ tokenUrl: 'http://sts.example.com/token' }, /must be https/],
    [{ tokenUrl: 'https://u:p@sts.example.com/token' }, /user name or password/],
    [{ tokenUrl: 'https://sts.example.com/token', subjectTokenType: 'saml1' }, /subjectTokenType/],
    [{ tokenUrl: 'https://sts.example.com/token', externalTokenHeaderName: 'Host' }, /cannot be Host/],
    [{ tokenUrl: 'https://sts.example.com/token', clientSecret: 'x' }, /clientSecret/],
    [{ token_url: 'https://sts.example.com/token', header_strategy: 'custom' }, /external_token_header_name must be given/],
    [{ spec: { type: 'embeddedAuthServer', embeddedAuthServer: {} } }, /not tokenExchange/],
    [{ kind: 'MCPServer' }, /holds no token exchange settings/],
    ['tokenUrl: x', /must be an object/],
  ])('refuses %j with a clear reason', (input, message) => {
    expect(() => parseTokenExchangeSettings(input)).toThrow(message);
  });
});
