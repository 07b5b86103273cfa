import { useState } from 'react';
import type { IdpProfileView } from '../../../src/api/browser.js';

/** How a server's stored authentication reads to a person. */
export function describeAuth(auth: unknown): string {
  const a = auth as { type?: string; configMap?: { name?: string }; inline?: { issuer?: string; audience?: string } } | null;
  if (!a || a.type === 'none') return 'Local mode: no token needed; only programs on this computer can reach it.';
  if (a.type === 'configMap') return `Callers need a token from the identity provider "${a.configMap?.name}".`;
  if (a.type === 'inline') return `Callers need a token from ${a.inline?.issuer ?? 'an OIDC issuer'}${a.inline?.audience ? ` for the audience ${a.inline.audience}` : ''}.`;
  return 'Custom authentication settings.';
}

/** The form's fields → ToolHive's oidcConfig shape, as `gatehouse run --idp` / `--oidc-*` build it. */
export function authFromForm(f: FormData): unknown {
  const v = (k: string) => String(f.get(k) ?? '').trim();
  switch (v('authKind')) {
    case 'idp':
      if (!v('idp')) throw new Error('Pick an identity provider.');
      return { type: 'configMap', configMap: { name: v('idp') } };
    case 'oidc': {
      if (!v('issuer')) throw new Error('The OIDC issuer URL is needed.');
      const inline: Record<string, string> = { issuer: v('issuer') };
      for (const k of ['audience', 'jwksUrl', 'clientId'] as const) if (v(k)) inline[k] = v(k);
      return { type: 'inline', inline };
    }
    default:
      return { type: 'none' };
  }
}

/** Authentication as the add form and the detail page ask for it: none, a shared IdP profile, or OIDC settings. */
export function AuthFields({ idps }: { idps: IdpProfileView[] }) {
  const [kind, setKind] = useState<'none' | 'idp' | 'oidc'>('none');
  return (
    <fieldset className="auth-fields">
      <legend>Authentication</legend>
      <label className="check">
        <input type="radio" name="authKind" value="none" checked={kind === 'none'} onChange={() => setKind('none')} /> None (local mode)
      </label>
      <label className="check">
        <input type="radio" name="authKind" value="idp" checked={kind === 'idp'} onChange={() => setKind('idp')} disabled={idps.length === 0} /> An identity provider profile
        {idps.length === 0 ? <span className="sub"> (none yet: add one on the Identity page)</span> : null}
      </label>
      <label className="check">
        <input type="radio" name="authKind" value="oidc" checked={kind === 'oidc'} onChange={() => setKind('oidc')} /> OIDC settings
      </label>
      {kind === 'idp' && (
        <label>
          Profile
          <select name="idp" required>
            {idps.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {kind === 'oidc' && (
        <div className="grid">
          <label>
            Issuer URL
            <input name="issuer" type="url" required placeholder="https://id.example.com" />
          </label>
          <label>
            Audience
            <input name="audience" />
          </label>
          <label>
            JWKS URL <span className="sub">(optional: from discovery)</span>
            <input name="jwksUrl" type="url" />
          </label>
          <label>
            Client ID <span className="sub">(optional)</span>
            <input name="clientId" />
          </label>
        </div>
      )}
    </fieldset>
  );
}
