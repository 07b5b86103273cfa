import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { AuthServerSettingsError, parseAuthServerSettings, type AuthServerSettings } from '../../src/authserver/index.js';

// ToolHive's guide (../shared/reference/toolhive-docs/000_…txt, "Set up embedded authorization server
// authentication"), its two MCPExternalAuthConfig examples as written there.
const GUIDE_OIDC = `
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPExternalAuthConfig
metadata:
  name: embedded-auth-server
  namespace: toolhive-system
spec:
  type: embeddedAuthServer
  embeddedAuthServer:
    issuer: 'https://mcp.example.com'
    signingKeySecretRefs:
      - name: auth-server-signing-key
        key: signing-key
    hmacSecretRefs:
      - name: auth-server-hmac-secret
        key: hmac-key
    tokenLifespans:
      accessTokenLifespan: '1h'
      refreshTokenLifespan: '168h'
      authCodeLifespan: '10m'
    upstreamProviders:
      - name: okta
        type: oidc
        oidcConfig:
          issuerUrl: 'https://dev-123456.okta.com/oauth2/default'
          clientId: '<YOUR_OKTA_CLIENT_ID>'
          clientSecretRef:
            name: upstream-idp-secret
            key: client-secret
          scopes:
            - openid
            - offline_access
            - profile
            - email
`;

const GUIDE_OAUTH2 = `
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPExternalAuthConfig
metadata:
  name: embedded-auth-oauth2
  namespace: toolhive-system
spec:
  type: embeddedAuthServer
  embeddedAuthServer:
    issuer: 'https://mcp.example.com'
    signingKeySecretRefs:
      - name: auth-server-signing-key
        key: signing-key
    hmacSecretRefs:
      - name: auth-server-hmac-secret
        key: hmac-key
    upstreamProviders:
      - name: github
        type: oauth2
        oauth2Config:
          authorizationEndpoint: 'https://github.com/login/oauth/authorize'
          tokenEndpoint: 'https://github.com/login/oauth/access_token'
          userInfo:
            endpointUrl: 'https://api.github.com/user'
            httpMethod: GET
            additionalHeaders:
              Accept: 'application/vnd.github+json'
            fieldMapping:
              subjectFields:
                - id
                - login
              nameFields:
                - name
                - login
              emailFields:
                - email
          clientId: '<YOUR_GITHUB_CLIENT_ID>'
          clientSecretRef:
            name: upstream-idp-secret
            key: client-secret
          scopes:
            - user:email
            - read:user
`;

// The same two in the runner's spelling (a RunConfig's embedded_auth_server_config), files for secrets.
const RUNNER_OIDC = {
  embedded_auth_server_config: {
    issuer: 'https://mcp.example.com',
    signing_key_config: { key_dir: '/etc/toolhive/keys/', signing_key_file: 'signing-key.pem', fallback_key_files: ['old-key.pem'] },
    hmac_secret_files: ['/etc/toolhive/hmac-key'],
    token_lifespans: { access_token_lifespan: '1h', refresh_token_lifespan: '168h', auth_code_lifespan: '10m' },
    upstreams: [
      {
        name: 'okta',
        type: 'oidc',
        oidc_config: {
          issuer_url: 'https://dev-123456.okta.com/oauth2/default',
          client_id: '<YOUR_OKTA_CLIENT_ID>',
          client_secret_file: '/etc/toolhive/upstream-secret',
          scopes: ['openid', 'offline_access', 'profile', 'email'],
          additional_authorization_params: { access_type: 'offline' },
          allow_private_ips: true,
        },
      },
    ],
  },
};

const RUNNER_OAUTH2 = {
  issuer: 'https://mcp.example.com',
  upstreams: [
    {
      name: 'github',
      type: 'oauth2',
      oauth2_config: {
        authorization_endpoint: 'https://github.com/login/oauth/authorize',
        token_endpoint: 'https://github.com/login/oauth/access_token',
        client_id: '<YOUR_GITHUB_CLIENT_ID>',
        client_secret_env_var: 'GITHUB_CLIENT_SECRET',
        scopes: ['user:email', 'read:user'],
        userinfo: {
          endpoint_url: 'https://api.github.com/user',
          http_method: 'GET',
          additional_headers: { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' },
          field_mapping: { subject_fields: ['id', 'login'], name_fields: ['name', 'login'], email_fields: ['email'] },
        },
        token_response_mapping: { access_token_path: 'authed_user.access_token' },
      },
    },
  ],
};

const wrong = (input: unknown): string => {
  try {
    parseAuthServerSettings(input);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthServerSettingsError);
    return (err as Error).message;
  }
  throw new Error('expected the settings to be refused');
};

const bare = (yaml: string): Record<string, unknown> => (YAML.parse(yaml) as { spec: { embeddedAuthServer: Record<string, unknown> } }).spec.embeddedAuthServer;

describe('the embedded authorization server settings (ToolHive shapes)', () => {
  it("reads the guide's OIDC example as written, whole document or just the block", () => {
    const s = parseAuthServerSettings(YAML.parse(GUIDE_OIDC));
    expect(s).toMatchObject<Partial<AuthServerSettings>>({
      issuer: 'https://mcp.example.com',
      signingKeys: [{ keychain: ['auth-server-signing-key.signing-key', 'auth-server-signing-key'] }],
      hmacKeys: [{ keychain: ['auth-server-hmac-secret.hmac-key', 'auth-server-hmac-secret'] }],
      lifespans: { accessTokenMs: 3_600_000, refreshTokenMs: 168 * 3_600_000, authCodeMs: 600_000 },
      upstream: {
        type: 'oidc',
        name: 'okta',
        issuerUrl: 'https://dev-123456.okta.com/oauth2/default',
        clientId: '<YOUR_OKTA_CLIENT_ID>',
        clientSecret: { keychain: ['upstream-idp-secret.client-secret', 'upstream-idp-secret'] },
        scopes: ['openid', 'offline_access', 'profile', 'email'],
        subjectClaim: 'sub',
        additionalAuthorizationParams: {},
        insecureAllowHttp: false,
        allowPrivateIps: false,
      },
      scopesSupported: ['openid', 'profile', 'email', 'offline_access'],
      disableUpstreamTokenInjection: false,
      cimd: { enabled: false, cacheMaxSize: 256, cacheFallbackTtlMs: 300_000 },
      spelling: 'operator',
    });
    expect(parseAuthServerSettings(bare(GUIDE_OIDC))).toEqual(s);
  });

  it("reads the guide's OAuth 2.0 (GitHub) example: userInfo with the field mapping, first candidates first", () => {
    const s = parseAuthServerSettings(YAML.parse(GUIDE_OAUTH2));
    expect(s.upstream).toEqual({
      type: 'oauth2',
      name: 'github',
      authorizationEndpoint: 'https://github.com/login/oauth/authorize',
      tokenEndpoint: 'https://github.com/login/oauth/access_token',
      clientId: '<YOUR_GITHUB_CLIENT_ID>',
      clientSecret: { keychain: ['upstream-idp-secret.client-secret', 'upstream-idp-secret'] },
      scopes: ['user:email', 'read:user'],
      additionalAuthorizationParams: {},
      insecureAllowHttp: false,
      allowPrivateIps: false,
      userInfo: {
        endpointUrl: 'https://api.github.com/user',
        httpMethod: 'GET',
        additionalHeaders: { Accept: 'application/vnd.github+json' },
        fieldMapping: { subjectFields: ['id', 'login'], nameFields: ['name', 'login'], emailFields: ['email'] },
      },
    });
    // Defaults where the guide leaves them out (ToolHive's: 1h, 168h, 10m).
    expect(s.lifespans).toEqual({ accessTokenMs: 3_600_000, refreshTokenMs: 604_800_000, authCodeMs: 600_000 });
  });

  it("reads the runner's snake_case: key files in key_dir, file and env secrets, header and parameter names kept as written", () => {
    const s = parseAuthServerSettings(RUNNER_OIDC);
    expect(s.spelling).toBe('runner');
    expect(s.signingKeys).toEqual([{ file: '/etc/toolhive/keys/signing-key.pem' }, { file: '/etc/toolhive/keys/old-key.pem' }]);
    expect(s.hmacKeys).toEqual([{ file: '/etc/toolhive/hmac-key' }]);
    expect(s.upstream).toMatchObject({ type: 'oidc', clientSecret: { file: '/etc/toolhive/upstream-secret' }, additionalAuthorizationParams: { access_type: 'offline' }, allowPrivateIps: true });
    const g = parseAuthServerSettings(RUNNER_OAUTH2);
    expect(g.upstream).toMatchObject({
      type: 'oauth2',
      clientSecret: { env: 'GITHUB_CLIENT_SECRET' },
      userInfo: { additionalHeaders: { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' }, fieldMapping: { subjectFields: ['id', 'login'] } },
      tokenResponseMapping: { accessTokenPath: 'authed_user.access_token', scopePath: 'scope', refreshTokenPath: 'refresh_token', expiresInPath: 'expires_in' },
    });
    // The guide's GitHub example in the runner's spelling is the same settings (but where the secret comes from).
    const guideAsRunner = {
      issuer: 'https://mcp.example.com',
      upstreams: [{ ...RUNNER_OAUTH2.upstreams[0]!, oauth2_config: { ...RUNNER_OAUTH2.upstreams[0]!.oauth2_config, token_response_mapping: undefined, userinfo: { ...RUNNER_OAUTH2.upstreams[0]!.oauth2_config.userinfo, additional_headers: { Accept: 'application/vnd.github+json' } } } }],
    };
    const comparable = (x: AuthServerSettings) => ({ ...x, spelling: undefined, signingKeys: undefined, hmacKeys: undefined, upstream: { ...x.upstream, clientSecret: undefined } });
    expect(comparable(parseAuthServerSettings(JSON.parse(JSON.stringify(guideAsRunner)) as unknown))).toEqual(comparable(parseAuthServerSettings(YAML.parse(GUIDE_OAUTH2))));
  });

  it('refuses what ToolHive refuses, naming the field', () => {
    const base = bare(GUIDE_OIDC);
    const upstream = (base['upstreamProviders'] as Record<string, unknown>[])[0]!;
    const oidc = upstream['oidcConfig'] as Record<string, unknown>;
    expect(wrong({ ...base, issuer: 'https://mcp.example.com/' })).toMatch(/issuer.*trailing slash/);
    expect(wrong({ ...base, issuer: 'http://mcp.example.com' })).toMatch(/issuer must be https/);
    expect(wrong({ ...base, tokenLifespans: { accessTokenLifespan: '2d' } })).toMatch(/accessTokenLifespan.*Go duration/);
    expect(wrong({ ...base, tokenLifespans: { accessTokenLifespan: '25h' } })).toMatch(/accessTokenLifespan must be between 1m and 24h/);
    expect(wrong({ ...base, tokenLifespans: { authCodeLifespan: '1h' } })).toMatch(/authCodeLifespan must be between 30s and 10m/);
    expect(wrong({ ...base, upstreamProviders: [upstream, { ...upstream, name: 'second' }] })).toMatch(/one upstream identity provider/);
    expect(wrong({ ...base, upstreamProviders: [] })).toMatch(/upstreamProviders/);
    expect(wrong({ ...base, upstreamProviders: [{ ...upstream, name: 'Okta' }] })).toMatch(/upstreamProviders\.0\.name/);
    expect(wrong({ ...base, upstreamProviders: [{ ...upstream, type: 'oauth2' }] })).toMatch(/type 'oidc' takes oidcConfig/);
    expect(wrong({ ...base, upstreamProviders: [{ ...upstream, oidcConfig: { ...oidc, additionalAuthorizationParams: { redirect_uri: 'https://evil.example/cb' } } }] })).toMatch(/may not set .*redirect_uri/);
    expect(wrong({ ...base, upstreamProviders: [{ ...upstream, oidcConfig: { ...oidc, subjectClaim: 'user.id' } }] })).toMatch(/subjectClaim/);
    expect(wrong({ ...base, upstreamProviders: [{ ...upstream, oidcConfig: { ...oidc, clientSecretFile: '/tmp/x' } }] })).toMatch(/runner settings/);
    expect(wrong({ ...base, baselineClientScopes: ['admin'] })).toMatch(/baselineClientScopes.*admin/);
    expect(wrong({ ...base, forceConfidentialRedirectUris: ['https://app.example/cb'] })).toMatch(/requires allowConfidentialClientRegistration/);
    expect(wrong({ ...base, allowConfidentialClientRegistration: true, insecureAllowHTTP: true })).toMatch(/cleartext/);
    expect(wrong({ ...base, secret: 'oops' })).toMatch(/secret/);
    expect(wrong({ ...base, upstream_providers: [] })).toMatch(/upstream_providers/);
    expect(wrong({ issuer: 'https://mcp.example.com', upstreams: [], signingKeySecretRefs: [] })).toMatch(/mix ToolHive's two spellings/);
    expect(wrong('issuer: https://mcp.example.com')).toMatch(/must be an object/);
  });

  it('reads dcrConfig in both spellings: the initial access token from the keychain, or (runner) a file or a variable', () => {
    const oauth2 = { authorizationEndpoint: 'https://idp.example.com/authorize', tokenEndpoint: 'https://idp.example.com/token', userInfo: { endpointUrl: 'https://idp.example.com/userinfo' }, scopes: ['openid'] };
    const operator = (dcrConfig: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ issuer: 'https://mcp.example.com', upstreamProviders: [{ name: 'corp', type: 'oauth2', oauth2Config: { ...oauth2, ...extra, dcrConfig } }] });
    const u = parseAuthServerSettings(operator({ discoveryUrl: 'https://idp.example.com/tenants/acme/.well-known/openid-configuration', initialAccessTokenRef: { name: 'idp-iat', key: 'token' }, softwareId: 'gatehouse' })).upstream;
    expect(u).toMatchObject({ type: 'oauth2', dcr: { discoveryUrl: 'https://idp.example.com/tenants/acme/.well-known/openid-configuration', initialAccessToken: { keychain: ['idp-iat.token', 'idp-iat'] }, softwareId: 'gatehouse' } });
    expect(u.clientId).toBeUndefined();
    const runner = (dcr: Record<string, unknown>) => ({
      issuer: 'https://mcp.example.com',
      upstreams: [{ name: 'corp', type: 'oauth2', oauth2_config: { authorization_endpoint: oauth2.authorizationEndpoint, token_endpoint: oauth2.tokenEndpoint, userinfo: { endpoint_url: oauth2.userInfo.endpointUrl }, dcr_config: dcr } }],
    });
    expect(parseAuthServerSettings(runner({ registration_endpoint: 'https://idp.example.com/register', initial_access_token_file: '/etc/iat' })).upstream).toMatchObject({ dcr: { registrationEndpoint: 'https://idp.example.com/register', initialAccessToken: { file: '/etc/iat' } } });
    expect(parseAuthServerSettings(runner({ registration_endpoint: 'https://idp.example.com/register', initial_access_token_env_var: 'IDP_IAT' })).upstream).toMatchObject({ dcr: { initialAccessToken: { env: 'IDP_IAT' } } });
    // http only on this machine (or with insecureAllowHTTP), as for the upstream's other endpoints.
    expect(parseAuthServerSettings(operator({ registrationEndpoint: 'http://127.0.0.1:9000/reg' })).upstream).toMatchObject({ dcr: { registrationEndpoint: 'http://127.0.0.1:9000/reg' } });
    expect(wrong(operator({ registrationEndpoint: 'http://idp.example.com/reg' }))).toMatch(/dcrConfig.registrationEndpoint must be https/);
    expect(wrong(operator({ discoveryUrl: 'https://idp.example.com/.well-known/openid-configuration', registrationEndpoint: 'https://idp.example.com/reg' }))).toMatch(/exactly one of discoveryUrl or registrationEndpoint/);
    expect(wrong(operator({ registrationEndpoint: 'https://idp.example.com/reg' }, { clientId: 'abc' }))).toMatch(/exactly one of clientId or dcrConfig/);
    expect(wrong(operator({ registrationEndpoint: 'https://idp.example.com/reg' }, { clientSecretRef: { name: 'x' } }))).toMatch(/must not be set with dcrConfig/);
    expect(wrong(operator({ registrationEndpoint: 'https://idp.example.com/reg', initialAccessTokenFile: '/etc/iat' }))).toMatch(/runner settings/);
    expect(wrong(runner({ registration_endpoint: 'https://idp.example.com/register', initial_access_token_file: '/a', initial_access_token_env_var: 'B' }))).toMatch(/initial access token one way/);
  });

  it('takes http issuers on this machine, and elsewhere only with insecureAllowHTTP', () => {
    const base = bare(GUIDE_OIDC);
    expect(parseAuthServerSettings({ ...base, issuer: 'http://127.0.0.1:8080' }).issuer).toBe('http://127.0.0.1:8080');
    expect(parseAuthServerSettings({ ...base, issuer: 'http://mcp.internal', insecureAllowHTTP: true }).insecureAllowHttp).toBe(true);
    const cimd = parseAuthServerSettings({ ...base, cimd: { enabled: true, cacheFallbackTtl: '10m' } }).cimd;
    expect(cimd).toEqual({ enabled: true, cacheMaxSize: 256, cacheFallbackTtlMs: 600_000 });
  });
});
