import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { IdpProfileView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable, Notice, useNotice } from '../ui.js';
import { AuthServerSection } from './auth-server-section.js';

const EXAMPLE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: company-idp
data:
  oidc.json: |
    {
      "issuer": "https://id.example.com",
      "audience": "mcp-servers",
      "clientId": "gatehouse"
    }`;

/**
 * Shared identity-provider profiles (ToolHive's shared OIDC configuration): written once, used by many
 * servers. Added from a ToolHive ConfigMap manifest or the profile's JSON, exactly as the cluster has it.
 * Below them, the embedded authorization server (its own section).
 */
export function IdentityPage() {
  const [profiles, setProfiles] = useState<IdpProfileView[]>();
  const [editing, setEditing] = useState<{ name: string; text: string } | undefined>();
  const [result, setResult, act] = useNotice();
  const load = useCallback(async () => setProfiles(await api.idps()), []);
  useEffect(() => {
    void load().catch((err: unknown) => setResult({ kind: 'error', text: errorText(err) }));
  }, [load]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const name = String(f.get('name') ?? '').trim();
    const document = String(f.get('document') ?? '');
    if (await act(() => api.putIdp({ name, document }), `Saved ${name}. Servers that use it apply it at once.`)) {
      setEditing(undefined);
      await load();
    }
  };
  const remove = async (p: IdpProfileView) => {
    if (!confirm(`Remove the profile ${p.name}?`)) return;
    if (await act(() => api.removeIdp({ name: p.name }), `Removed ${p.name}.`)) await load();
  };

  return (
    <section aria-labelledby="identity-title">
      <div className="page-head">
        <h1 id="identity-title">Identity</h1>
        <button type="button" className="primary" onClick={() => setEditing(editing ? undefined : { name: '', text: '' })} aria-expanded={editing !== undefined}>
          {editing ? 'Close' : 'Add a profile'}
        </button>
      </div>
      <p className="lead">Identity-provider profiles say whose tokens a server accepts. One profile serves many servers; changing it changes them all.</p>
      <Notice notice={result} />
      {editing && (
        <form className="card form" onSubmit={(e) => void save(e)} aria-labelledby="idp-form-title">
          <h2 id="idp-form-title">{editing.name ? `Edit ${editing.name}` : 'Add a profile'}</h2>
          <div className="grid">
            <label>
              Name
              <input name="name" required defaultValue={editing.name} readOnly={editing.name !== ''} pattern="[a-z0-9][a-z0-9_.-]*" spellCheck={false} />
            </label>
            <label className="wide">
              A ToolHive ConfigMap, or the profile as JSON or YAML
              <textarea name="document" rows={12} required defaultValue={editing.text} placeholder={EXAMPLE} spellCheck={false} className="code" />
            </label>
          </div>
          <div className="buttons">
            <button type="submit" className="primary">
              Save
            </button>
          </div>
        </form>
      )}
      {profiles === undefined ? (
        <p>Loading…</p>
      ) : profiles.length === 0 ? (
        <p className="empty">No profiles yet. Servers can still use OIDC settings of their own, or run in local mode.</p>
      ) : (
        <DataTable caption="Identity-provider profiles" columns={['Name', 'Issuer', 'Audience', 'Used by']} actions>
          <tbody>
            {profiles.map((p) => (
              <tr key={p.name}>
                <th scope="row">{p.name}</th>
                <td>
                  <code>{String(p.config['issuer'] ?? '')}</code>
                </td>
                <td>{String(p.config['audience'] ?? "each server's URL")}</td>
                <td>{p.usedBy.length ? p.usedBy.join(', ') : <span className="sub">no server</span>}</td>
                <td className="actions">
                  <button type="button" onClick={() => setEditing({ name: p.name, text: JSON.stringify(p.config, null, 2) })} aria-label={`Edit ${p.name}`}>
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => void remove(p)} aria-label={`Remove ${p.name}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      <AuthServerSection />
    </section>
  );
}
