import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { SecretsInfo, ServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable, Notice, useNotice } from '../ui.js';

export function SecretsPage({ servers }: { servers: ServerView[] | undefined }) {
  const [info, setInfo] = useState<SecretsInfo>();
  const [result, setResult, act] = useNotice();
  const load = useCallback(async () => setInfo(await api.secrets()), []);
  const serverNames = servers?.map((s) => `${s.name}:${s.secrets.map((r) => r.name).join('+')}`).join(',');
  useEffect(() => {
    void load().catch((err: unknown) => setResult({ kind: 'error', text: errorText(err) }));
  }, [load, serverNames]);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const name = String(f.get('name') ?? '').trim();
    if (await act(() => api.setSecret({ name, value: String(f.get('value') ?? '') }), `Saved ${name} in ${info?.description ?? 'the keychain'}.`)) {
      form.reset();
      await load();
    }
  };
  const remove = async (name: string, inUse: boolean) => {
    if (inUse && !confirm(`${name} is used by servers that will not start without it. Remove it anyway?`)) return;
    if (await act(() => api.removeSecret({ name, force: inUse }), `Removed ${name}.`)) await load();
  };
  return (
    <section aria-labelledby="secrets-title">
      <div className="page-head">
        <h1 id="secrets-title">Secrets</h1>
      </div>
      <p className="lead">
        Secrets live in {info?.description ?? 'the OS keychain'} and reach a server only as an environment variable when its container starts. Their values are never shown again.
      </p>
      <Notice notice={result} />
      {info?.writable && (
        <form className="card form inline" onSubmit={(e) => void submit(e)} aria-labelledby="set-secret-title">
          <h2 id="set-secret-title">Set a secret</h2>
          <label>
            Name
            <input name="name" required pattern="[A-Za-z0-9_.-]+" autoComplete="off" spellCheck={false} />
          </label>
          <label>
            Value
            <input name="value" type="password" required autoComplete="new-password" />
          </label>
          <button type="submit" className="primary">
            Save
          </button>
        </form>
      )}
      {info && (
        <DataTable caption="Secrets and where they are used" columns={['Name', 'Used by']} actions>
          <tbody>
            {info.secrets.map((s) => (
              <tr key={s.name}>
                <th scope="row">
                  <code>{s.name}</code>
                </th>
                <td>{s.usedBy.length ? s.usedBy.map((u) => `${u.server} (${u.target})`).join(', ') : <span className="sub">not used</span>}</td>
                <td className="actions">
                  {info.writable && (
                    <button type="button" className="danger" onClick={() => void remove(s.name, s.usedBy.length > 0)} aria-label={`Remove the secret ${s.name}`}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {info.missing.map((m) => (
              <tr key={`missing-${m.name}`}>
                <th scope="row">
                  <code>{m.name}</code>
                </th>
                <td>
                  <span className="status error">Missing</span> needed by {m.usedBy.map((u) => u.server).join(', ')}
                </td>
                <td />
              </tr>
            ))}
            {info.secrets.length === 0 && info.missing.length === 0 && (
              <tr>
                <td colSpan={3} className="empty">
                  No secrets yet.
                </td>
              </tr>
            )}
          </tbody>
        </DataTable>
      )}
    </section>
  );
}
