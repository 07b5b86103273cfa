import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { IdpProfileView, LogLine, PolicySetView, ServerDetail, ServerView, SignInView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { Notice } from '../ui.js';
import { AuthFields, authFromForm, describeAuth } from './auth-fields.js';
import { SignInCard } from './sign-in-card.js';
import { TokenExchangeCard } from './token-exchange-card.js';
import { signsInForCallers } from '../../../src/api/browser.js';

/** One server: status history (with why it stopped), who may call it, its policies, the clients it is set up in, its latest lines. */
export function ServerDetailPage({ name, live, signIn }: { name: string; live: ServerView | undefined; signIn?: SignInView | undefined }) {
  const [detail, setDetail] = useState<ServerDetail>();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [policies, setPolicies] = useState<PolicySetView[]>([]);
  const [idps, setIdps] = useState<IdpProfileView[]>([]);
  const [message, setMessage] = useState<{ kind: 'error' | 'info'; text: string }>();
  const [editingAuth, setEditingAuth] = useState(false);
  const load = useCallback(async () => {
    const [d, l] = await Promise.all([api.getServer({ name }), api.logs({ server: name, limit: 30 })]);
    setDetail(d);
    setLines(l);
  }, [name]);
  // The pushed view changes when the server does: reload the detail then, not on a timer.
  const stamp = live ? `${live.status}|${live.updatedAt}|${live.policySet}` : '';
  useEffect(() => {
    void load().catch((err: unknown) => setMessage({ kind: 'error', text: errorText(err) }));
  }, [load, stamp]);
  useEffect(() => {
    void Promise.all([api.policies(), api.idps()]).then(([p, i]) => (setPolicies(p), setIdps(i)));
  }, []);

  const act = async (what: string, op: () => Promise<unknown>, done?: string) => {
    setMessage(undefined);
    try {
      await op();
      if (done) setMessage({ kind: 'info', text: done });
      await load().catch(() => {});
    } catch (err) {
      setMessage({ kind: 'error', text: `${what}: ${errorText(err)}` });
    }
  };
  const rename = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const newName = String(new FormData(e.currentTarget).get('newName') ?? '').trim();
    if (!newName || newName === name) return;
    await act('Rename', async () => {
      await api.rename({ name, newName });
      location.hash = `#/servers/${encodeURIComponent(newName)}`;
    });
  };
  const saveAuth = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    let auth: unknown;
    try {
      auth = authFromForm(new FormData(e.currentTarget));
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
      return;
    }
    await act('Authentication', () => api.setAuth({ name, auth }), 'Authentication changed; the running proxy uses it at once.');
    setEditingAuth(false);
  };

  if (!detail) return message ? <p className={`notice ${message.kind}`}>{message.text}</p> : <p>Loading…</p>;
  const s = live ?? detail;
  return (
    <section aria-labelledby="server-title">
      <p className="crumbs">
        <a href="#/servers">Servers</a> ›
      </p>
      <div className="page-head">
        <h1 id="server-title">{name}</h1>
        <div className="buttons">
          {s.desiredState === 'running' ? (
            <button type="button" onClick={() => void act('Stop', () => api.stop({ name }))}>
              Stop
            </button>
          ) : (
            <button type="button" className="primary" onClick={() => void act('Start', () => api.start({ name }))}>
              Start
            </button>
          )}
          <button type="button" onClick={() => void act('Restart', () => api.restart({ name }))} disabled={s.desiredState !== 'running'}>
            Restart
          </button>
        </div>
      </div>
      <Notice notice={message} />
      <div className="detail-grid">
        <div className="card">
          <h2>Overview</h2>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={`status ${s.status}`}>{s.status}</span> {s.statusDetail && <span className="sub">{s.statusDetail}</span>}
            </dd>
            <dt>URL for MCP clients</dt>
            <dd>
              <code>{s.url}</code>
            </dd>
            {s.kind === 'remote' ? (
              <>
                <dt>Remote server</dt>
                <dd>
                  <code>{s.remoteUrl}</code>
                </dd>
              </>
            ) : (
              <>
                <dt>Image</dt>
                <dd>
                  <code>{s.image}</code>
                </dd>
              </>
            )}
            <dt>Transport</dt>
            <dd>
              {s.transport}
              {s.targetPort ? ` (port ${s.targetPort} in the container)` : ''}
            </dd>
            {s.kind === 'container' && (
              <>
                <dt>Permission profile</dt>
                <dd>{s.permissionProfile}</dd>
              </>
            )}
            <dt>Secrets</dt>
            <dd>{s.secrets.length ? s.secrets.map((r) => `${r.target} ← ${r.name}`).join(', ') : 'none'}</dd>
            <dt>Set up in</dt>
            <dd>{detail.clients.length ? detail.clients.join(', ') : <a href="#/clients">no client yet</a>}</dd>
          </dl>
        </div>
        {(s.kind === 'remote' || signsInForCallers({ remote: false, auth: s.auth })) && <SignInCard name={name} pushed={signIn} forCallers={s.kind !== 'remote'} />}
        <div className="card">
          <h2>Who may call it</h2>
          <p>{describeAuth(s.auth)}</p>
          {editingAuth ? (
            <form className="form" onSubmit={(e) => void saveAuth(e)} aria-label="Authentication">
              <AuthFields idps={idps} />
              <div className="buttons">
                <button type="button" onClick={() => setEditingAuth(false)}>
                  Cancel
                </button>
                <button type="submit" className="primary">
                  Save
                </button>
              </div>
            </form>
          ) : (
            <button type="button" onClick={() => setEditingAuth(true)}>
              Change authentication
            </button>
          )}
          <h2 className="spaced">Policies</h2>
          <label className="inline-field">
            Cedar policy set
            <select value={s.policySet ?? ''} onChange={(e) => void act('Policies', () => api.attachPolicy({ name, policySet: e.target.value || null }), e.target.value ? `Policy set ${e.target.value} now decides every request.` : 'No policy set: every authenticated call is allowed.')}>
              <option value="">none (no authorization)</option>
              {policies.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name} (v{p.currentVersion})
                </option>
              ))}
            </select>
          </label>
        </div>
        {s.kind === 'container' && <TokenExchangeCard server={s} />}
        <div className="card">
          <h2>Status history</h2>
          <ol className="history" tabIndex={0} aria-label={`Status history of ${name}`}>
            {[...detail.history].reverse().map((h, i) => (
              <li key={i}>
                <span className={`status ${h.status}`}>{h.status}</span> <time dateTime={h.at}>{new Date(h.at).toLocaleString()}</time>
                {h.detail ? <span className="sub">{h.detail}</span> : null}
                {h.exitCode !== null ? <span className="sub">exit code {h.exitCode}</span> : null}
              </li>
            ))}
          </ol>
        </div>
        <div className="card">
          <h2>Rename or remove</h2>
          <form className="form inline" onSubmit={(e) => void rename(e)}>
            <label>
              New name
              <input name="newName" defaultValue={name} pattern="[a-z0-9][a-z0-9_.-]*" required spellCheck={false} />
            </label>
            <button type="submit">Rename</button>
          </form>
          <p className="sub">Renaming keeps the URL; client entries follow.</p>
          <button
            type="button"
            className="danger"
            onClick={() => {
              if (confirm(`Remove ${name}? Its container stops and its URL is released.`))
                void act('Remove', async () => {
                  await api.remove({ name, force: true });
                  location.hash = '#/servers';
                });
            }}
          >
            Remove {name}
          </button>
        </div>
      </div>
      <div className="card">
        <div className="page-head">
          <h2>Latest lines</h2>
          <a href={`#/logs?server=${encodeURIComponent(name)}`}>All of {name}'s lines</a>
        </div>
        <pre className="tail" tabIndex={0} aria-label={`Latest log lines of ${name}`}>
          {lines.map((l) => `${new Date(l.ts).toLocaleTimeString([], { hour12: false })} ${l.source.padEnd(9)} ${l.message}`).join('\n') || 'No lines yet.'}
        </pre>
      </div>
    </section>
  );
}
