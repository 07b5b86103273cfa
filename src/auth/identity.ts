/** Who called, as every later layer (authorization, audit, the embedded AS) sees it. */
export interface Identity {
  subject: string;
  name?: string;
  email?: string;
  groups: string[];
  /** Granted scopes, from `scope` (space-separated, RFC 9068) or `scp` (string or array, Entra/Okta). */
  scopes: string[];
  claims: Record<string, unknown>;
  tokenType: 'jwt' | 'opaque' | 'local';
  issuer?: string;
}

export function identityFromClaims(claims: Record<string, unknown>, tokenType: Identity['tokenType']): Identity {
  const str = (k: string) => (typeof claims[k] === 'string' ? (claims[k] as string) : undefined);
  const list = (k: string): string[] => {
    const v = claims[k];
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
    return typeof v === 'string' ? [v] : [];
  };
  return {
    subject: str('sub') ?? '',
    name: str('name') ?? str('preferred_username') ?? str('email'),
    email: str('email'),
    groups: [...new Set([...list('groups'), ...list('roles')])],
    scopes: [...new Set([...list('scope'), ...list('scp')].flatMap((v) => v.split(' ')).filter(Boolean))],
    claims,
    tokenType,
    issuer: str('iss'),
  };
}
