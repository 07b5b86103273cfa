import { describe, expect, it } from 'vitest';
import { checkRemoteUrl } from '../../src/app/kinds/index.js';
import { nameFromUrl } from '../../src/app/names.js';
import { parseGoDuration, remoteSettingsFromFlags } from '../../src/cli/remote-flags.js';
import { RemoteSettingsSchema } from '../../src/remote/index.js';

describe("remote servers' settings", () => {
  it("reads ToolHive's remote flags into settings, secrets by name", () => {
    expect(
      remoteSettingsFromFlags({
        remoteAuth: true,
        remoteAuthIssuer: 'https://id.example.com',
        remoteAuthClientId: 'gh',
        remoteAuthClientSecret: 'GH_SECRET',
        remoteAuthScopes: 'openid,offline_access mcp:read',
        remoteAuthTimeout: '1m30s',
        remoteAuthCallbackPort: '8666',
        remoteForwardHeaders: ['X-Tenant=blue'],
        remoteForwardHeadersSecret: ['X-Api-Key=API_KEY'],
      }),
    ).toEqual({
      oauth: true,
      issuer: 'https://id.example.com',
      clientId: 'gh',
      clientSecret: 'GH_SECRET',
      scopes: ['openid', 'offline_access', 'mcp:read'],
      timeoutMs: 90_000,
      callbackPort: 8666,
      forwardHeaders: [
        { name: 'X-Tenant', value: 'blue' },
        { name: 'X-Api-Key', secret: 'API_KEY' },
      ],
    });
    // An issuer alone turns the sign-in on, as in ToolHive; no flag at all is no settings.
    expect(remoteSettingsFromFlags({ remoteAuthIssuer: 'https://id.example.com' })?.oauth).toBe(true);
    expect(remoteSettingsFromFlags({})).toBeUndefined();
    expect(() => remoteSettingsFromFlags({ remoteAuthCallbackPort: '80' })).toThrow(/1024-65535/);
    expect(() => remoteSettingsFromFlags({ remoteForwardHeaders: ['novalue'] })).toThrow(/Name=Value/);
  });

  it('reads Go durations and refuses anything else', () => {
    expect(parseGoDuration('30s')).toBe(30_000);
    expect(parseGoDuration('5m')).toBe(300_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('250ms')).toBe(250);
    for (const bad of ['', '30', 'five minutes', '5 m', '-5m']) expect(() => parseGoDuration(bad), bad).toThrow(/not a duration/);
  });

  it('refuses settings that contradict themselves or write headers that are the proxy\'s', () => {
    const bad = [
      { oauth: true, bearerToken: 'T' },
      { oauth: true, authorizeUrl: 'https://a.example/authorize' },
      { issuer: 'https://id.example.com' },
      { forwardHeaders: [{ name: 'Authorization', value: 'Bearer x' }] },
      { forwardHeaders: [{ name: 'Cookie', value: 'a=b' }] },
      { forwardHeaders: [{ name: 'Mcp-Param-Path', value: '/etc' }] },
      { forwardHeaders: [{ name: 'X-A', value: 'v', secret: 'S' }] },
      { forwardHeaders: [{ name: 'Bad Name', value: 'v' }] },
      { unknown: true },
    ];
    for (const b of bad) expect(RemoteSettingsSchema.safeParse(b).success, JSON.stringify(b)).toBe(false);
    expect(RemoteSettingsSchema.parse({})).toEqual({ oauth: false, skipBrowser: false, allowPrivateIp: false });
  });

  it('names a remote server after its host, and checks its URL', () => {
    expect(nameFromUrl('https://mcp.notion.com/mcp')).toBe('notion-com');
    expect(nameFromUrl('https://www.example.org/sse')).toBe('example-org');
    expect(nameFromUrl('http://127.0.0.1:8080/mcp')).toBe('127-0-0-1');
    expect(nameFromUrl('not a url')).toBe('remote');
    expect(checkRemoteUrl('https://mcp.example.com/mcp', false).href).toBe('https://mcp.example.com/mcp');
    expect(checkRemoteUrl('http://127.0.0.1:9/mcp', false).host).toBe('127.0.0.1:9');
    expect(checkRemoteUrl('https://10.0.0.1/mcp', true).host).toBe('10.0.0.1');
    for (const [url, why] of [
      ['ftp://mcp.example.com/', /only https/],
      ['http://mcp.example.com/mcp', /plain http/],
      ['https://169.254.169.254/', /link-local/],
      ['https://[::ffff:169.254.169.254]/', /link-local/],
      ['https://a:b@mcp.example.com/', /credentials/],
      ['https://mcp.example.com/mcp#x', /fragment/],
    ] as const) {
      expect(() => checkRemoteUrl(url, false), url).toThrow(why);
    }
  });
});
