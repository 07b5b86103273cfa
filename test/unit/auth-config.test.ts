import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AuthConfigFormatError, assertUrlAllowed, bearerChallenge, effectiveAuth, isNonPublic, parseAuthConfigDocument, parseIdpProfileDocument,
  resourceMetadataUrl, safeFetchJson, UnsafeUrlError,
} from '../../src/auth/index.js';
import { authConfigFromFlags, AuthFlagError, idpProfileFromFlags } from '../../src/cli/auth-flags.js';

const fixture = (name: string) => fs.readFileSync(path.join('test/fixtures/toolhive', name), 'utf8');

describe("ToolHive's documented oidcConfig blocks, as written", () => {
  it('reads the external-IdP MCPServer manifest', () => {
    expect(parseAuthConfigDocument(fixture('mcp-server-external-auth.yaml'))).toEqual({
      type: 'inline',
      inline: { issuer: 'https://your-oidc-issuer.com', audience: 'your-audience', clientId: 'your-client-id', jwksUrl: 'https://your-oidc-issuer.com/path/to/jwks' },
    });
  });

  it('reads the shared ConfigMap as a profile, and the manifest that references it', () => {
    expect(parseIdpProfileDocument(fixture('shared-oidc-config.yaml'))).toEqual({
      issuer: 'https://auth.example.com', audience: 'https://mcp.example.com', clientId: 'shared-client-id', jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
    });
    expect(parseAuthConfigDocument(fixture('mcp-server-with-configmap-oidc.yaml'))).toEqual({ type: 'configMap', configMap: { name: 'shared-oidc-config', key: 'oidc.json' } });
  });

  it('reads the Kubernetes service-account manifest and accepts only that subject', () => {
    const c = parseAuthConfigDocument(fixture('mcp-server-k8s-auth.yaml'));
    const eff = effectiveAuth(c, 'http://127.0.0.1:1/sse', () => undefined)!;
    expect(eff).toMatchObject({ issuer: 'https://kubernetes.default.svc', audience: 'toolhive', jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks', requiredSubject: 'system:serviceaccount:client-apps:mcp-client' });
  });

  it('names the field and the file when a block is wrong', () => {
    expect(() => parseAuthConfigDocument('oidcConfig:\n  type: inline\n  inline:\n    issuer: not-a-url\n', 'bad.yaml')).toThrow(/bad\.yaml.*inline\.issuer/);
    expect(() => parseAuthConfigDocument('{ this is: [broken', 'broken.yaml')).toThrow(AuthConfigFormatError);
    expect(() => parseIdpProfileDocument(fixture('shared-oidc-config.yaml'), 'cm.yaml', 'other.json')).toThrow(/no data key "other.json"/);
  });
});

describe('effective settings', () => {
  it('defaults the resource to the server URL and the audience to the resource, so each server has its own', () => {
    const a = effectiveAuth({ type: 'inline', inline: { issuer: 'https://idp.example' } }, 'http://127.0.0.1:1000/mcp', () => undefined)!;
    const b = effectiveAuth({ type: 'inline', inline: { issuer: 'https://idp.example' } }, 'http://127.0.0.1:2000/mcp', () => undefined)!;
    expect(a.audience).toBe('http://127.0.0.1:1000/mcp');
    expect(a.audience).not.toBe(b.audience);
    expect(a.clockToleranceSeconds).toBe(30);
  });

  it('resolves a shared profile by name, and says clearly when it is missing', () => {
    const profiles = (n: string) => (n === 'corp' ? { issuer: 'https://corp.example', audience: 'aud' } : undefined);
    expect(effectiveAuth({ type: 'configMap', configMap: { name: 'corp' } }, 'http://127.0.0.1:1/mcp', profiles)!.issuer).toBe('https://corp.example');
    expect(() => effectiveAuth({ type: 'configMap', configMap: { name: 'nope' } }, 'http://127.0.0.1:1/mcp', profiles)).toThrow(/profile "nope" does not exist/);
  });
});

describe('command-line flags', () => {
  it("maps ToolHive's --oidc-* flags to an inline block", () => {
    expect(authConfigFromFlags({ oidcIssuer: 'https://i', oidcAudience: 'a', oidcJwksUrl: 'https://i/jwks', oidcClientId: 'c', oidcScopes: 'openid, mcp:read' })).toEqual({
      type: 'inline',
      inline: { issuer: 'https://i', audience: 'a', jwksUrl: 'https://i/jwks', clientId: 'c', scopes: ['openid', 'mcp:read'] },
    });
    expect(authConfigFromFlags({})).toBeUndefined();
    expect(authConfigFromFlags({ idp: 'corp' })).toEqual({ type: 'configMap', configMap: { name: 'corp' } });
    expect(authConfigFromFlags({ k8sServiceAccount: 'sa', k8sNamespace: 'ns', oidcIssuer: 'http://127.0.0.1:9' })).toEqual({
      type: 'kubernetes',
      kubernetes: { serviceAccount: 'sa', namespace: 'ns', issuer: 'http://127.0.0.1:9' },
    });
  });

  it('refuses contradictory or incomplete flags', () => {
    expect(() => authConfigFromFlags({ idp: 'x', oidcIssuer: 'https://i' })).toThrow(AuthFlagError);
    expect(() => authConfigFromFlags({ oidcAudience: 'a' })).toThrow(/--oidc-issuer is required/);
    expect(() => authConfigFromFlags({ k8sServiceAccount: 'sa' })).toThrow(/--k8s-namespace/);
    expect(() => idpProfileFromFlags({})).toThrow(/--from-file/);
    expect(idpProfileFromFlags({ fromFile: 'cm.yaml' }, () => fixture('shared-oidc-config.yaml'))).toMatchObject({ issuer: 'https://auth.example.com' });
  });
});

describe('challenge and metadata URL', () => {
  it('builds the Bearer challenge: resource_metadata always, error only with a token, values quoted and escaped', () => {
    expect(bearerChallenge({ realm: 'https://i', resourceMetadata: 'http://127.0.0.1:5/.well-known/oauth-protected-resource/mcp', scopes: [] })).toBe(
      'Bearer realm="https://i", resource_metadata="http://127.0.0.1:5/.well-known/oauth-protected-resource/mcp"',
    );
    expect(bearerChallenge({ resourceMetadata: 'm', scopes: ['a', 'b'], error: 'invalid_token', description: 'bad "x"\\' })).toBe(
      'Bearer resource_metadata="m", scope="a b", error="invalid_token", error_description="bad \\"x\\"\\\\"',
    );
    expect(resourceMetadataUrl('http://127.0.0.1:5/mcp')).toBe('http://127.0.0.1:5/.well-known/oauth-protected-resource/mcp');
    expect(resourceMetadataUrl('https://mcp.example.com/')).toBe('https://mcp.example.com/.well-known/oauth-protected-resource');
  });
});

describe('outbound URL policy (SSRF)', () => {
  const strict = { insecureAllowHttp: false, allowPrivateIp: false };

  it('classifies addresses', () => {
    for (const ip of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1']) expect(isNonPublic(ip)).toBe(true);
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111']) expect(isNonPublic(ip)).toBe(false);
  });

  it('sees the IPv4 address inside every IPv6 form that connects to it (mapped, translated, compatible, NAT64, 6to4)', () => {
    for (const ip of [
      '::ffff:a9fe:a9fe', '::ffff:169.254.169.254', '::ffff:0:a9fe:a9fe', '::a9fe:a9fe', '::169.254.169.254', '64:ff9b::a9fe:a9fe',
      '64:ff9b:1::a00:1', '2002:a9fe:a9fe::1', '2002:0a00:0001::', '::ffff:7f00:1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '::', 'fec0::1',
    ]) expect(isNonPublic(ip), ip).toBe(true);
    for (const ip of ['::ffff:808:808', '64:ff9b::808:808', '2002:808:808::1']) expect(isNonPublic(ip), ip).toBe(false);
    for (const u of ['https://[::ffff:169.254.169.254]/latest/meta-data', 'https://[::ffff:10.0.0.1]/jwks', 'https://[64:ff9b::a9fe:a9fe]/x', 'https://[::a9fe:a9fe]/x', 'https://[2002:a9fe:a9fe::]/x']) {
      expect(() => assertUrlAllowed(u, strict), u).toThrow(UnsafeUrlError);
    }
  });

  it('refuses private and link-local literals, http to other hosts, and credentials in URLs; allows loopback', () => {
    expect(() => assertUrlAllowed('http://169.254.169.254/latest/meta-data', strict)).toThrow(/link-local|private/);
    expect(() => assertUrlAllowed('https://10.0.0.1/jwks', strict)).toThrow(UnsafeUrlError);
    expect(() => assertUrlAllowed('http://idp.example.com/jwks', strict)).toThrow(/plain http/);
    expect(() => assertUrlAllowed('https://user:pw@idp.example.com/jwks', strict)).toThrow(/credentials/);
    expect(() => assertUrlAllowed('file:///etc/passwd', strict)).toThrow(/only https/);
    expect(assertUrlAllowed('http://127.0.0.1:8080/jwks', strict).port).toBe('8080');
    expect(assertUrlAllowed('http://localhost:8080/jwks', strict).hostname).toBe('localhost');
    expect(assertUrlAllowed('https://10.0.0.1/jwks', { insecureAllowHttp: false, allowPrivateIp: true }).hostname).toBe('10.0.0.1');
  });

  it('refuses before any connection is attempted', async () => {
    const attempts: unknown[] = [];
    const spy = ((...args: unknown[]) => {
      attempts.push(args);
      throw new Error('must not be called');
    }) as unknown as typeof http.request;
    await expect(safeFetchJson('http://169.254.169.254/jwks', { policy: strict, request: { http: spy, https: spy } })).rejects.toThrow(UnsafeUrlError);
    await expect(safeFetchJson('https://[fe80::1]/jwks', { policy: strict, request: { http: spy, https: spy } })).rejects.toThrow(UnsafeUrlError);
    expect(attempts).toHaveLength(0);
  });
});

describe('validated-token reuse', () => {
  it('validates a token once and reuses the identity, but never past its exp', async () => {
    const { generateKeyPair, exportJWK, SignJWT } = await import('jose');
    const { TokenValidator } = await import('../../src/auth/index.js');
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    let fetches = 0;
    const server = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const v = new TokenValidator({ issuer, audience: 'aud', jwksUrl: `${issuer}/jwks`, resourceUrl: 'aud', scopes: [], clockToleranceSeconds: 0, insecureAllowHttp: false, allowPrivateIp: false });
    try {
      const now = Math.floor(Date.now() / 1000);
      const short = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience('aud').setSubject('s').setIssuedAt(now).setExpirationTime(now + 2).sign(privateKey);
      expect((await v.validate(short)).subject).toBe('s');
      expect((await v.validate(short)).subject).toBe('s');
      expect(fetches).toBe(1);
      await new Promise((r) => setTimeout(r, 2100));
      await expect(v.validate(short)).rejects.toThrow(/expired/);
    } finally {
      v.close();
      server.close();
    }
  });
});

describe('token subjects and an identity provider that is down', () => {
  it('refuses a token whose sub is a number, an object or empty: callers never share the empty subject', async () => {
    const { generateKeyPair, exportJWK, SignJWT } = await import('jose');
    const { TokenValidator } = await import('../../src/auth/index.js');
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const v = new TokenValidator({ issuer, audience: 'aud', jwksUrl: `${issuer}/jwks`, resourceUrl: 'aud', scopes: [], clockToleranceSeconds: 0, insecureAllowHttp: false, allowPrivateIp: false });
    try {
      const token = (sub: unknown) => new SignJWT({ sub } as never).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(issuer).setAudience('aud').setExpirationTime('5m').sign(privateKey);
      for (const sub of [12345, '', { a: 1 }, ['x']]) await expect(v.validate(await token(sub)), JSON.stringify(sub)).rejects.toThrow(/subject/);
      expect((await v.validate(await token('u-1'))).subject).toBe('u-1');
    } finally {
      v.close();
      server.close();
    }
  });

  it('while no key was ever fetched, forged tokens do not each cost a discovery or JWKS fetch (backoff)', async () => {
    const { TokenValidator } = await import('../../src/auth/index.js');
    // A port nobody listens on: the identity provider is down, for real.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const issuer = `http://127.0.0.1:${port}`;
    const v = new TokenValidator({ issuer, audience: 'aud', resourceUrl: 'aud', scopes: [], clockToleranceSeconds: 0, insecureAllowHttp: false, allowPrivateIp: false });
    v.close(); // no background refresh: only requests cause fetches
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const statuses = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const forged = `${b64({ alg: 'RS256', kid: `x${i}` })}.${b64({ sub: 'x', iss: issuer, exp: 9e9 })}.AAAA`;
      await v.validate(forged).catch((err: { status?: number }) => statuses.add(err.status ?? 0));
    }
    expect([...statuses]).toEqual([503]);
    expect(v.jwks?.fetches).toBe(1);
  });
});

describe('identity from claims', () => {
  it('collects subject, names, groups and roles, and scopes from scope or scp in either form', async () => {
    const { identityFromClaims } = await import('../../src/auth/index.js');
    const a = identityFromClaims({ sub: 'u1', preferred_username: 'ana', email: 'a@x', groups: ['dev'], roles: 'admin', scope: 'mcp:read mcp:write' }, 'jwt');
    expect(a).toMatchObject({ subject: 'u1', name: 'ana', email: 'a@x', groups: ['dev', 'admin'], scopes: ['mcp:read', 'mcp:write'] });
    expect(identityFromClaims({ sub: 'u2', scp: ['files.read', 'mail.send'] }, 'jwt').scopes).toEqual(['files.read', 'mail.send']);
    expect(identityFromClaims({ sub: 'u3', scp: 'a b' }, 'jwt').scopes).toEqual(['a', 'b']);
  });
});
