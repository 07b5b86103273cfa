import { UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { pathValue } from '../../src/authserver/index.js';

describe("ToolHive's token response paths", () => {
  it('reads dot paths into nested token responses (GovSlack, Slack) and nothing else', () => {
    const slack = { ok: true, authed_user: { id: 'U123', access_token: 'xoxp-1', scope: 'chat:write' }, team: { name: 'Acme' } };
    expect(pathValue(slack, 'authed_user.access_token')).toBe('xoxp-1');
    expect(pathValue(slack, 'authed_user.id')).toBe('U123');
    expect(pathValue(slack, 'authed_user.missing')).toBeUndefined();
    expect(pathValue(slack, 'ok.deeper')).toBeUndefined();
    expect(pathValue({ list: [{ a: 1 }] }, 'list.0.a')).toBeUndefined(); // arrays are not indexed, as gjson paths here are keys
  });

  it('decodes a JWT field with @upstreamjwt (Snowflake), without verifying it', () => {
    const jwt = new UnsecuredJWT({ sub: 'ALICE', name: 'Alice' }).encode();
    expect(pathValue({ access_token: jwt }, 'access_token|@upstreamjwt|sub')).toBe('ALICE');
    expect(pathValue({ access_token: 'not-a-jwt' }, 'access_token|@upstreamjwt|sub')).toBeUndefined();
  });
});
