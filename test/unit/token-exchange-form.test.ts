import { describe, expect, it } from 'vitest';
import { parseTokenExchangeSettings } from '../../src/oauth/index.js';
import type { TokenExchangeView } from '../../src/api/index.js';
import { FormProblem, tokenExchangeFromForm } from '../../renderer/src/pages/token-exchange-words.js';

/** The app's token exchange form → the settings PUT sends (the core's parser reads them). E2E: test/e2e/app-token-exchange.test.ts. */
const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};
const current: TokenExchangeView = {
  tokenUrl: 'https://sts.example.com/token',
  clientId: 'gh',
  clientSecretName: 'srv-token-exchange',
  audience: 'api',
  scopes: [],
  subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
  headerName: 'authorization',
  subjectProviderName: 'corp',
};

describe('tokenExchangeFromForm', () => {
  it('builds the operator spelling, keeping the stored secret and a subjectProviderName the form has no field for', () => {
    const { settings, then } = tokenExchangeFromForm(form({ tokenUrl: 'https://sts.example.com/token', clientId: 'gh', clientSecret: 'keep:', audience: 'api2', scopes: 'a, b c', subjectTokenType: 'jwt', headerKind: 'custom', headerName: 'X-Up' }), current);
    expect(then).toBeUndefined();
    expect(parseTokenExchangeSettings(settings)).toEqual({
      tokenUrl: 'https://sts.example.com/token',
      clientId: 'gh',
      clientSecret: { keychain: ['srv-token-exchange'] },
      audience: 'api2',
      scopes: ['a', 'b', 'c'],
      subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      headerName: 'x-up',
      subjectProviderName: 'corp',
    });
  });

  it("sends a typed secret in the runner's spelling, then the settings that keep subjectProviderName", () => {
    const { settings, then } = tokenExchangeFromForm(form({ tokenUrl: 'https://sts.example.com/token', clientId: 'gh', clientSecret: 'new:', clientSecretValue: 's3cret', headerKind: 'authorization' }), current);
    expect(parseTokenExchangeSettings(settings)).toMatchObject({ clientSecret: { clear: 's3cret' }, headerName: 'authorization' });
    const second = then!({ ...current, clientSecretName: 'srv-token-exchange' });
    expect(JSON.stringify(second)).not.toContain('s3cret');
    expect(parseTokenExchangeSettings(second)).toMatchObject({ clientSecret: { keychain: ['srv-token-exchange'] }, subjectProviderName: 'corp' });
  });

  it('names a keychain secret, or none', () => {
    expect(parseTokenExchangeSettings(tokenExchangeFromForm(form({ tokenUrl: 'https://s/t', clientId: 'c', clientSecret: 'named:corp-sts' }), null).settings).clientSecret).toEqual({ keychain: ['corp-sts'] });
    expect(parseTokenExchangeSettings(tokenExchangeFromForm(form({ tokenUrl: 'https://s/t', clientSecret: '' }), null).settings).clientSecret).toBeUndefined();
  });

  it('says what is missing', () => {
    expect(() => tokenExchangeFromForm(form({}), null)).toThrow(FormProblem);
    expect(() => tokenExchangeFromForm(form({ tokenUrl: 'https://s/t', clientSecret: 'named:x' }), null)).toThrow(/needs the client ID/);
    expect(() => tokenExchangeFromForm(form({ tokenUrl: 'https://s/t', clientId: 'c', clientSecret: 'new:' }), null)).toThrow(/Type the new client secret/);
    expect(() => tokenExchangeFromForm(form({ tokenUrl: 'https://s/t', headerKind: 'custom' }), null)).toThrow(/Name the header/);
  });
});
