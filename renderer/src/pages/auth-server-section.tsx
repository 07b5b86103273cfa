import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AuthServerClientView, AuthServerTestView, AuthServerUserView, AuthServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable, Notice, useNotice } from '../ui.js';
import { ApprovedClients, SignedInUsers } from './auth-server-access.js';
import { ProviderTestCard } from './auth-server-test.js';
import { lifespanText, when } from './auth-server-words.js';

const EXAMPLE = `issuer: http://localhost:8666
upstreamProviders:
  - name: corp
    type: oidc
    oidcConfig:
      issuerUrl: https://id.example.com
      clientId: gatehouse
      clientSecretRef: { name: upstream-idp-secret, key: client-secret }
      scopes: [openid, offline_access]`;

/**
 * The authorization server's state as the core pushes it: its view and the provider test, each event
 * as it comes (no polling); after a lost connection everything is read again, since events were missed.
 */
function useAuthServerEvents(onView: (v: AuthServerView) => void, onTest: (t: AuthServerTestView) => void, reload: () => Promise<void>): void {
  useEffect(() => {
    const ac = new AbortController();
    let delay = 500;
    void (async () => {
      for (let first = true; !ac.signal.aborted; first = false) {
        try {
          if (!first) await reload();
          await api.follow(
            'events',
            {},
            (e) => {
              delay = 500;
              if (e.type === 'authserver') onView(e.authServer);
              else if (e.type === 'authserver-test') onTest(e.test);
            },
            ac.signal,
          );
        } catch {
          // reconnect below
        }
        if (ac.signal.aborted) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    })();
    return () => ac.abort();
  }, [onView, onTest, reload]);
}

/**
 * The embedded authorization server on the Identity page: what runs (issuer, upstream, the servers it
 * issues tokens for, keys, lifespans) or why not; set up or replaced from pasted ToolHive settings
 * (checked by the core, never replacing the running one when invalid); key rotation; a test of the
 * upstream login; the programs allowed and the users signed in, with revoke.
 */
export function AuthServerSection() {
  const [view, setView] = useState<AuthServerView>();
  const [test, setTest] = useState<AuthServerTestView>();
  const [clients, setClients] = useState<AuthServerClientView[]>();
  const [users, setUsers] = useState<AuthServerUserView[]>();
  const [editing, setEditing] = useState(false);
  const [notice, setNotice, act] = useNotice();
  const [formNotice, setFormNotice, formAct] = useNotice();

  const loadAccess = useCallback(async () => {
    const [c, u] = await Promise.all([api.authServerClients(), api.authServerUsers()]);
    setClients(c);
    setUsers(u);
  }, []);
  const reload = useCallback(async () => {
    const [v, t] = await Promise.all([api.authServer(), api.authServerTest()]);
    setView(v);
    setTest(t);
    await loadAccess();
  }, [loadAccess]);
  useEffect(() => {
    void reload().catch((err: unknown) => setNotice({ kind: 'error', text: errorText(err) }));
  }, [reload, setNotice]);
  const onView = useCallback(
    (v: AuthServerView) => {
      setView(v);
      // Revocations and new settings change who holds what.
      void loadAccess().catch(() => {});
    },
    [loadAccess],
  );
  const onTest = useCallback((t: AuthServerTestView) => setTest(t), []);
  useAuthServerEvents(onView, onTest, reload);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const document = String(form.get('settings') ?? '');
    const port = String(form.get('listenPort') ?? '').trim();
    let saved: AuthServerView | undefined;
    if (await formAct(async () => (saved = await api.setAuthServer({ document, ...(port ? { listenPort: Number(port) } : {}) })))) {
      setView(saved);
      setEditing(false);
      setNotice({ kind: 'info', text: `The authorization server runs at ${saved!.issuer ?? 'its issuer'}.` });
      await loadAccess();
    }
  };
  const remove = async () => {
    if (!confirm('Remove the authorization server? Servers that take its tokens refuse new sign-ins until one is set up again. Its keys stay in the keychain.')) return;
    let after: AuthServerView | undefined;
    if (await act(async () => (after = await api.removeAuthServer()), 'The authorization server is removed.')) setView(after);
  };
  const rotate = async () => {
    let after: AuthServerView | undefined;
    if (await act(async () => (after = await api.rotateAuthServerKey()))) {
      setView(after);
      const retired = after!.signingKeys[1];
      setNotice({ kind: 'info', text: `A new key signs from now on${retired && after!.lifespans ? `; the one before stays published until ${when(retired.retiredAt! + after!.lifespans.accessTokenMs)}, when its last token expires` : ''}.` });
    }
  };
  const revokeClient = async (c: AuthServerClientView) => {
    const name = c.clientName ?? c.clientId;
    if (!confirm(`Revoke ${name}? Its refresh tokens stop working now, and it must sign in and be allowed again. Access tokens it already has work until they expire.`)) return;
    if (await act(() => api.revokeAuthServerClient({ id: c.clientId }), `Revoked ${name}: it signs in, and asks you, again.`)) await loadAccess();
  };
  const revokeUser = async (u: AuthServerUserView) => {
    const name = u.name ?? u.subject;
    if (!confirm(`Sign ${name} out? Their refresh tokens and sessions end, and the tokens Gatehouse kept from ${u.upstream} are deleted.`)) return;
    if (await act(() => api.revokeAuthServerUser({ subject: u.subject }), `Signed ${name} out.`)) await loadAccess();
  };

  const state = !view ? undefined : !view.configured ? 'Not set up' : view.running ? 'Running' : 'Not running';
  const ownKeys = view?.signingKeys.every((k) => k.origin === 'own') ?? false;
  return (
    <section aria-labelledby="authserver-title" className="authserver">
      <div className="section-head">
        <h2 id="authserver-title">
          Authorization server {state && <span className={`status ${view?.running ? 'running' : view?.configured ? 'error' : ''}`}>{state}</span>}
        </h2>
        {view && (
          <div className="buttons">
            <button type="button" className={view.configured ? '' : 'primary'} onClick={() => setEditing(!editing)} aria-expanded={editing}>
              {editing ? 'Close the settings' : view.configured ? 'Replace settings' : 'Set up from ToolHive settings'}
            </button>
            {view.configured && (
              <button type="button" className="danger" onClick={() => void remove()}>
                Remove the authorization server
              </button>
            )}
          </div>
        )}
      </div>
      <p className="lead">MCP clients sign in through Gatehouse to your identity provider: Gatehouse asks you first, issues its own tokens for your servers, and sends the provider&apos;s token on to the MCP server.</p>
      <Notice notice={notice} />
      {editing && (
        <form className="card form" onSubmit={(e) => void save(e)} aria-labelledby="authserver-form-title">
          <h3 id="authserver-form-title">{view?.configured ? 'Replace the settings' : 'Set up the authorization server'}</h3>
          <p className="sub">ToolHive&apos;s embeddedAuthServer settings as the guide writes them (YAML or JSON, the operator&apos;s camelCase or the runner&apos;s snake_case, or a whole MCPExternalAuthConfig). Secrets are named, never pasted: a clientSecretRef names a secret on the Secrets page. Settings that do not work never replace the running ones.</p>
          <Notice notice={formNotice} />
          <label>
            embeddedAuthServer settings (YAML or JSON)
            <textarea name="settings" rows={14} required placeholder={EXAMPLE} spellCheck={false} className="code" onInput={() => setFormNotice(undefined)} />
          </label>
          <label>
            Local port <span className="sub">(only for an issuer that is not on this machine, such as https://mcp.example.com: the port on 127.0.0.1 its front, a TLS proxy or a tunnel, forwards to)</span>
            <input name="listenPort" type="number" min={1} max={65535} inputMode="numeric" defaultValue={view?.listensAt && view.issuer && new URL(view.issuer).port !== new URL(view.listensAt).port ? new URL(view.listensAt).port : ''} />
          </label>
          <div className="buttons">
            <button type="submit" className="primary">
              {view?.configured ? 'Check and replace' : 'Check and start'}
            </button>
          </div>
        </form>
      )}
      {view === undefined ? (
        <p>Loading…</p>
      ) : !view.configured ? (
        <p className="empty">No authorization server is set up. Servers can still take tokens from your identity provider directly.</p>
      ) : (
        <>
          {view.problem && <p className="notice error">It does not run: {view.problem}</p>}
          <div className="detail-grid">
            <div className="card" aria-labelledby="authserver-facts-title">
              <h3 id="authserver-facts-title">What runs</h3>
              <dl className="facts">
                <dt>Issuer</dt>
                <dd>{view.issuer ? <code>{view.issuer}</code> : <span className="sub">not running</span>}</dd>
                {view.issuer && view.listensAt && new URL(view.issuer).port !== new URL(view.listensAt).port && (
                  <>
                    <dt>Listens at</dt>
                    <dd>
                      <code>{view.listensAt}</code> <span className="sub">its front for {new URL(view.issuer).host} forwards here</span>
                    </dd>
                  </>
                )}
                <dt>Upstream provider</dt>
                <dd>
                  {view.upstream ? (
                    <>
                      {view.upstream.name} <span className="sub">{view.upstream.type === 'oidc' ? 'OpenID Connect' : 'OAuth 2.0'} at <code>{view.upstream.url}</code></span>
                    </>
                  ) : (
                    '-'
                  )}
                </dd>
                {view.upstream && (
                  <>
                    <dt>Gatehouse's client there</dt>
                    <dd>
                      {view.upstream.registration ? (
                        <>
                          <code>{view.upstream.registration.clientId}</code>{' '}
                          <span className="sub">
                            registered by Gatehouse at <code>{view.upstream.registration.endpoint}</code> on {new Date(view.upstream.registration.registeredAt).toLocaleString()}
                            {view.upstream.registration.expiresAt !== null && `; its secret expires ${new Date(view.upstream.registration.expiresAt).toLocaleString()} and Gatehouse registers again before`}. The secret is in the keychain.
                          </span>
                        </>
                      ) : view.upstream.clientId ? (
                        <code>{view.upstream.clientId}</code>
                      ) : (
                        <span className="sub">not registered yet: Gatehouse registers itself there at the first sign-in (dcrConfig)</span>
                      )}
                    </dd>
                  </>
                )}
                <dt>Issues tokens for</dt>
                <dd>
                  {view.audiences.length ? (
                    <ul className="plain">
                      {view.servers.map((srv) => (
                        <li key={srv.name}>
                          <a href={`#/servers/${encodeURIComponent(srv.name)}`}>{srv.name}</a> <code>{srv.urls[0]}</code>
                          {srv.urls.length > 1 && <span className="sub">and {srv.urls.length - 1} other spellings of that address (localhost, [::1], /sse)</span>}
                        </li>
                      ))}
                      {view.audiences
                        .filter((a) => !view.servers.some((srv) => srv.urls.includes(a)))
                        .map((a) => (
                          <li key={a}>
                            <code>{a}</code> <span className="sub">from allowedAudiences</span>
                          </li>
                        ))}
                    </ul>
                  ) : (
                    <span className="sub">No server yet: a server takes its tokens when its OIDC issuer is {view.issuer ?? "this one's"}.</span>
                  )}
                </dd>
                {view.lifespans && (
                  <>
                    <dt>Access tokens live</dt>
                    <dd>{lifespanText(view.lifespans.accessTokenMs)}</dd>
                    <dt>Refresh tokens live</dt>
                    <dd>{lifespanText(view.lifespans.refreshTokenMs)}</dd>
                    <dt>Authorization codes live</dt>
                    <dd>{lifespanText(view.lifespans.authCodeMs)}</dd>
                  </>
                )}
              </dl>
            </div>
            <div className="card" aria-labelledby="authserver-keys-title">
              <h3 id="authserver-keys-title">Signing keys</h3>
              {view.signingKeys.length === 0 ? (
                <p className="empty">None loaded (it is not running).</p>
              ) : (
                <DataTable caption="Signing keys, the one that signs first" columns={['Key ID', 'Algorithm', 'State']} className="keys">
                  <tbody>
                    {view.signingKeys.map((k) => (
                      <tr key={k.kid}>
                        <th scope="row">
                          <code className="wrap">{k.kid}</code>
                        </th>
                        <td>{k.alg}</td>
                        <td>
                          {k.retiredAt === null ? (
                            <>
                              <span className="status running">Signs</span>
                              <span className="sub">{k.origin === 'settings' ? 'from the settings' : k.createdAt !== null ? `since ${when(k.createdAt)}` : ''}</span>
                            </>
                          ) : (
                            <>
                              <span className="status">Retired</span>
                              <span className="sub">
                                since {when(k.retiredAt)}; still published until {view.lifespans ? `${when(k.retiredAt + view.lifespans.accessTokenMs)}, when its last token expires` : 'its tokens expire'}
                              </span>
                            </>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </DataTable>
              )}
              <div className="buttons spaced">
                <button type="button" onClick={() => void rotate()} disabled={!view.running || !ownKeys}>
                  Rotate signing key
                </button>
                {!ownKeys && <span className="sub">The settings name the keys: rotate them there.</span>}
              </div>
            </div>
          </div>
          {view.upstream && <ProviderTestCard test={test} upstream={view.upstream.name} running={view.running} />}
          <ApprovedClients clients={clients} onRevoke={(c) => void revokeClient(c)} />
          <SignedInUsers users={users} onRevoke={(u) => void revokeUser(u)} />
        </>
      )}
    </section>
  );
}
