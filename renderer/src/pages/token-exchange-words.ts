import type { TokenExchangeView } from '../../../src/api/browser.js';

/** RFC 8693 token type URNs by the short names ToolHive's flags take. */
export const SUBJECT_TYPES = {
  access_token: 'urn:ietf:params:oauth:token-type:access_token',
  id_token: 'urn:ietf:params:oauth:token-type:id_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
} as const;
export type SubjectType = keyof typeof SUBJECT_TYPES;

/** The short name of a token type (the URN itself for one without). */
export function subjectTypeName(urn: string): string {
  return (Object.keys(SUBJECT_TYPES) as SubjectType[]).find((k) => SUBJECT_TYPES[k] === urn) ?? urn;
}

/** The header the exchanged token goes in, as a person writes it. */
export function headerText(v: Pick<TokenExchangeView, 'headerName'>): string {
  return v.headerName === 'authorization' ? 'Authorization' : v.headerName.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => `${dash}${c.toUpperCase()}`);
}

/** The client secret choice of the form: none, the current one, a named keychain secret, or a new value. */
export const KEEP = 'keep:';
export const NEW = 'new:';
export const NAMED = 'named:';

export class FormProblem extends Error {}

/**
 * The form's fields → what PUT /v1/servers/:name/token-exchange takes, as the CLI's flags build it:
 * ToolHive's operator spelling (a keychain secret by name), or the runner's spelling when a new secret
 * value is typed (the core moves it into the keychain, as with --token-exchange-client-secret-file).
 * `then`: the runner's spelling has no subjectProviderName; the settings that keep it, sent after.
 */
export function tokenExchangeFromForm(f: FormData, current: TokenExchangeView | null): { settings: Record<string, unknown>; then?: (saved: TokenExchangeView) => Record<string, unknown> } {
  const v = (k: string) => String(f.get(k) ?? '').trim();
  const tokenUrl = v('tokenUrl');
  if (!tokenUrl) throw new FormProblem('The token URL is needed.');
  const clientId = v('clientId');
  const audience = v('audience');
  const scopes = v('scopes').split(/[,\s]+/).filter(Boolean);
  const type = v('subjectTokenType') || 'access_token';
  const header = v('headerKind') === 'custom' ? v('headerName') : '';
  if (v('headerKind') === 'custom' && !header) throw new FormProblem('Name the header the exchanged token goes in, or choose Authorization.');
  const secret = v('clientSecret');
  const value = String(f.get('clientSecretValue') ?? '');
  if (secret.startsWith(NEW) && !value) throw new FormProblem('Type the new client secret, or choose another option for it.');
  if (secret && !clientId) throw new FormProblem('A client secret needs the client ID it belongs to.');
  const provider = current?.subjectProviderName ?? null;
  const operator = (secretName: string | null): Record<string, unknown> => ({
    tokenUrl,
    ...(clientId ? { clientId } : {}),
    ...(secretName ? { clientSecretRef: { name: secretName } } : {}),
    ...(audience ? { audience } : {}),
    ...(scopes.length ? { scopes } : {}),
    subjectTokenType: type,
    ...(header ? { externalTokenHeaderName: header } : {}),
    ...(provider ? { subjectProviderName: provider } : {}),
  });
  if (!secret.startsWith(NEW)) {
    const name = secret.startsWith(KEEP) ? (current?.clientSecretName ?? null) : secret.startsWith(NAMED) ? secret.slice(NAMED.length) : null;
    return { settings: operator(name) };
  }
  const runner = {
    token_url: tokenUrl,
    client_id: clientId,
    client_secret: value,
    ...(audience ? { audience } : {}),
    ...(scopes.length ? { scopes } : {}),
    subject_token_type: type,
    ...(header ? { header_strategy: 'custom', external_token_header_name: header } : { header_strategy: 'replace' }),
  };
  return { settings: { token_exchange_config: runner }, ...(provider ? { then: (saved: TokenExchangeView) => operator(saved.clientSecretName) } : {}) };
}
