import { useEffect, useState, type FormEvent } from 'react';
import type { IdpProfileView, PolicySetView, RunRequestBody, ServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { Notice, DataTable } from '../ui.js';
import { AuthFields, authFromForm } from './auth-fields.js';

const STATUS_TEXT: Record<ServerView['status'], string> = {
  running: 'Running',
  unhealthy: 'Not answering',
  'needs-sign-in': 'Sign-in needed',
  'auth-retrying': 'Retrying sign-in',
  starting: 'Starting',
  stopping: 'Stopping',
  stopped: 'Stopped',
  error: 'Error',
  unknown: 'Unknown',
};

export function ServersPage({ servers }: { servers: ServerView[] | undefined }) {
  const [adding, setAdding] = useState(false);
  const [message, setMessage] = useState<{ kind: 'error' | 'info'; text: string }>();
  const act = async (what: string, op: () => Promise<unknown>) => {
    setMessage(undefined);
    try {
      await op();
    } catch (err) {
      setMessage({ kind: 'error', text: `${what}: ${errorText(err)}` });
    }
  };
  return (
    <section aria-labelledby="servers-title">
      <div className="page-head">
        <h1 id="servers-title">Servers</h1>
        <button type="button" className="primary" onClick={() => setAdding((a) => !a)} aria-expanded={adding} aria-controls="add-server">
          {adding ? 'Close' : 'Add server'}
        </button>
      </div>
      <Notice notice={message} />
      {adding && <AddServerForm onDone={(name) => (setAdding(false), setMessage({ kind: 'info', text: `Added ${name}.` }))} />}
      {servers === undefined ? (
        <p>Loading…</p>
      ) : servers.length === 0 ? (
        <p className="empty">No servers yet. Add one to run an MCP server in a container behind its own local proxy.</p>
      ) : (
        <DataTable className="servers" caption="Servers and their state" columns={['Name', 'Status', 'Transport', 'URL for MCP clients', 'Policies']} actions>
          <tbody>
            {servers.map((s) => (
              <tr key={s.name} data-server={s.name}>
                <th scope="row">
                  <a className="name" href={`#/servers/${encodeURIComponent(s.name)}`}>
                    {s.name}
                  </a>
                  <span className="sub">{s.kind === 'remote' ? s.remoteUrl : s.image}</span>
                </th>
                <td>
                  <span className={`status ${s.status}`}>{STATUS_TEXT[s.status]}</span>
                  {s.statusDetail && (s.status === 'error' || s.status === 'unhealthy' || s.status === 'auth-retrying') && <span className="sub">{s.statusDetail}</span>}
                  {s.status === 'needs-sign-in' && (
                    <a className="button small primary" href={`#/servers/${encodeURIComponent(s.name)}`} aria-label={`Sign in to ${s.name}`}>
                      Sign in
                    </a>
                  )}
                </td>
                <td>{s.transport}</td>
                <td>
                  <code>{s.url}</code>{' '}
                  <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(s.url)} aria-label={`Copy the URL of ${s.name}`}>
                    Copy
                  </button>
                </td>
                <td>{s.policySet ?? <span className="sub">none</span>}</td>
                <td className="actions">
                  {s.desiredState === 'running' ? (
                    <button type="button" onClick={() => void act(`Stop ${s.name}`, () => api.stop({ name: s.name }))} aria-label={`Stop ${s.name}`}>
                      Stop
                    </button>
                  ) : (
                    <button type="button" onClick={() => void act(`Start ${s.name}`, () => api.start({ name: s.name }))} aria-label={`Start ${s.name}`}>
                      Start
                    </button>
                  )}
                  <button type="button" onClick={() => void act(`Restart ${s.name}`, () => api.restart({ name: s.name }))} aria-label={`Restart ${s.name}`} disabled={s.desiredState !== 'running'}>
                    Restart
                  </button>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => {
                      if (confirm(`Remove ${s.name}? Its container stops and its URL is released.`)) void act(`Remove ${s.name}`, () => api.remove({ name: s.name, force: true }));
                    }}
                    aria-label={`Remove ${s.name}`}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </section>
  );
}

/** KEY=VALUE lines → a record; the first line that is not KEY=VALUE is the error. */
function pairs(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${what}, line ${i + 1}: write NAME=VALUE.`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

/** A remote server's credential settings from the form (ToolHive's --remote-auth-* flags). */
function remoteFromForm(text: (k: string) => string): Record<string, unknown> | undefined {
  const credential = text('remoteCredential');
  if (credential === 'bearer') return { bearerToken: text('remoteBearer') };
  if (credential !== 'oauth') return undefined;
  const scopes = text('remoteScopes').split(/[\s,]+/).filter(Boolean);
  return {
    oauth: true,
    ...(text('remoteIssuer') ? { issuer: text('remoteIssuer') } : {}),
    ...(text('remoteClientId') ? { clientId: text('remoteClientId') } : {}),
    ...(scopes.length ? { scopes } : {}),
  };
}

function AddServerForm({ onDone }: { onDone: (name: string) => void }) {
  const [where, setWhere] = useState<'container' | 'remote'>('container');
  const [credential, setCredential] = useState<'none' | 'oauth' | 'bearer'>('oauth');
  const [transport, setTransport] = useState<'stdio' | 'sse' | 'streamable-http'>('stdio');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [policies, setPolicies] = useState<PolicySetView[]>([]);
  const [idps, setIdps] = useState<IdpProfileView[]>([]);
  useEffect(() => {
    void Promise.all([api.policies(), api.idps()]).then(([p, i]) => (setPolicies(p), setIdps(i)));
  }, []);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    setError(undefined);
    let body: RunRequestBody;
    try {
      const env = pairs(text('env'), 'Environment');
      const secrets = Object.entries(pairs(text('secrets'), 'Secrets')).map(([target, name]) => ({ name: name.trim(), target }));
      const targetPort = text('targetPort');
      const proxyPort = text('proxyPort');
      const profile = text('profile') === 'file' ? text('profileFile') : text('profile');
      const auth = authFromForm(f);
      const remote = where === 'remote' ? remoteFromForm(text) : undefined;
      body = {
        ...(where === 'remote' ? { url: text('url'), ...(remote ? { remote } : {}), ...(transport !== 'stdio' ? { transport } : {}) } : { image: text('image'), transport }),
        ...(text('name') ? { name: text('name') } : {}),
        ...(Object.keys(env).length ? { env } : {}),
        ...(secrets.length ? { secrets } : {}),
        ...(where === 'container' && transport !== 'stdio' && targetPort ? { targetPort: Number(targetPort) } : {}),
        ...(proxyPort ? { proxyPort: Number(proxyPort) } : {}),
        ...(where === 'container' && profile ? { permissionProfile: profile } : {}),
        ...(where === 'container' && text('network') !== 'default' ? { network: text('network') as 'none' | 'host' } : {}),
        ...((auth as { type: string }).type !== 'none' ? { auth } : {}),
        ...(text('policySet') ? { policySet: text('policySet') } : {}),
      };
    } catch (err) {
      setError(errorText(err));
      return;
    }
    setBusy(true);
    try {
      const s = await api.run(body);
      onDone(s.name);
      // A remote server that needs a sign-in: its page has the Sign in button.
      if (s.status === 'needs-sign-in') location.hash = `#/servers/${encodeURIComponent(s.name)}`;
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form id="add-server" className="card form" onSubmit={(e) => void submit(e)} aria-labelledby="add-title" aria-busy={busy}>
      <h2 id="add-title">Add a server</h2>
      <fieldset className="choice">
        <legend>Where it runs</legend>
        <label className="check">
          <input type="radio" name="where" value="container" checked={where === 'container'} onChange={() => (setWhere('container'), setTransport('stdio'))} /> In a local container
        </label>
        <label className="check">
          <input type="radio" name="where" value="remote" checked={where === 'remote'} onChange={() => (setWhere('remote'), setTransport('streamable-http'))} /> A remote server (URL)
        </label>
      </fieldset>
      <div className="grid">
        {where === 'container' ? (
          <label>
            Image
            <input name="image" required placeholder="ghcr.io/org/mcp-server:latest" autoComplete="off" spellCheck={false} />
          </label>
        ) : (
          <>
            <label>
              Server URL <span className="sub">(https; http only on this computer)</span>
              <input name="url" type="url" required placeholder="https://mcp.example.com/mcp" autoComplete="off" spellCheck={false} />
            </label>
            <label>
              Credentials toward it <span className="sub">(Gatehouse signs in for your clients)</span>
              <select name="remoteCredential" value={credential} onChange={(e) => setCredential(e.target.value as typeof credential)}>
                <option value="oauth">OAuth sign-in</option>
                <option value="bearer">a bearer token from the keychain</option>
                <option value="none">none</option>
              </select>
            </label>
            {credential === 'bearer' && (
              <label>
                Secret holding the token
                <input name="remoteBearer" required autoComplete="off" spellCheck={false} />
              </label>
            )}
            {credential === 'oauth' && (
              <>
                <label>
                  Issuer <span className="sub">(optional: found from the server)</span>
                  <input name="remoteIssuer" type="url" autoComplete="off" spellCheck={false} />
                </label>
                <label>
                  Client ID <span className="sub">(optional: Gatehouse registers itself)</span>
                  <input name="remoteClientId" autoComplete="off" spellCheck={false} />
                </label>
                <label>
                  Scopes <span className="sub">(optional: what the server asks for)</span>
                  <input name="remoteScopes" autoComplete="off" spellCheck={false} />
                </label>
              </>
            )}
          </>
        )}
        <label>
          Name <span className="sub">(optional: from the image or the host)</span>
          <input name="name" pattern="[a-z0-9][a-z0-9_.-]*" autoComplete="off" spellCheck={false} />
        </label>
        <label>
          Transport
          <select name="transport" value={transport} onChange={(e) => setTransport(e.target.value as typeof transport)}>
            {where === 'container' && <option value="stdio">stdio</option>}
            <option value="streamable-http">streamable-http</option>
            <option value="sse">sse</option>
          </select>
        </label>
        {where === 'container' && transport !== 'stdio' && (
          <label>
            Port in the container
            <input name="targetPort" type="number" min={1} max={65535} required />
          </label>
        )}
        <label>
          Local port <span className="sub">(optional: chosen once, kept for life)</span>
          <input name="proxyPort" type="number" min={1024} max={65535} />
        </label>
        {where === 'container' && (
          <>
            <ProfileField />
            <label>
              Network
              <select name="network" defaultValue="default">
                <option value="default">default (the permission profile decides)</option>
                <option value="none">none</option>
                <option value="host">host</option>
              </select>
            </label>
            <label className="wide">
              Environment <span className="sub">(one NAME=VALUE per line; for secrets use the next field)</span>
              <textarea name="env" rows={2} spellCheck={false} />
            </label>
            <label className="wide">
              Secrets from the keychain <span className="sub">(one ENV_VAR=SECRET_NAME per line; values are never shown)</span>
              <textarea name="secrets" rows={2} spellCheck={false} />
            </label>
          </>
        )}
        <label>
          Policies
          <select name="policySet" defaultValue="">
            <option value="">none (no authorization)</option>
            {policies.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <div className="wide">
          <AuthFields idps={idps} />
        </div>
      </div>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Starting…' : 'Add and start'}
        </button>
      </div>
    </form>
  );
}

/** ToolHive's permission profiles: the built-in ones, or a JSON file of the user's. */
function ProfileField() {
  const [kind, setKind] = useState('network');
  return (
    <>
      <label>
        Permission profile
        <select name="profile" value={kind} onChange={(e) => setKind(e.target.value)}>
          <option value="network">network (may reach the network)</option>
          <option value="none">none (no network, no files)</option>
          <option value="file">a profile file…</option>
        </select>
      </label>
      {kind === 'file' && (
        <label>
          Profile file <span className="sub">(JSON, on this computer)</span>
          <input name="profileFile" required placeholder="/path/to/profile.json" spellCheck={false} />
        </label>
      )}
    </>
  );
}
