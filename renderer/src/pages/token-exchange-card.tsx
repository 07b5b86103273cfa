import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ServerView, TokenExchangeSaved, TokenExchangeView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { Notice, useNotice } from '../ui.js';
import { FormProblem, headerText, KEEP, NAMED, NEW, SUBJECT_TYPES, subjectTypeName, tokenExchangeFromForm, type SubjectType } from './token-exchange-words.js';

/** Why this server cannot exchange tokens (none: it can). */
function cannotCarry(s: ServerView): string | undefined {
  if (s.transport === 'stdio') return 'It speaks stdio: there is no request header to carry an exchanged token. Token exchange needs a server that speaks streamable HTTP or SSE.';
  const type = typeof s.auth === 'object' && s.auth !== null ? (s.auth as { type?: unknown }).type : 'none';
  if (type === 'none' || type === undefined) return 'It takes callers without a token (local mode), so there is no token to exchange. Set up who may call it first.';
  return undefined;
}

/**
 * A server's token exchange (RFC 8693): what is set, as the core pushes the server's view (the token
 * URL, audience, scopes, client, where the exchanged token goes; of the client secret only that it is
 * in the keychain), and a form with the CLI's --token-exchange-* fields to set or replace it, or remove it.
 */
export function TokenExchangeCard({ server }: { server: ServerView }) {
  const name = server.name;
  const view = server.tokenExchange ?? null;
  const [editing, setEditing] = useState(false);
  const [notice, setNotice, act] = useNotice();
  const [formNotice, setFormNotice, formAct] = useNotice();
  const [keychain, setKeychain] = useState<string[]>([]);
  const [secretChoice, setSecretChoice] = useState('');
  const [headerKind, setHeaderKind] = useState<'authorization' | 'custom'>('authorization');
  const toggle = useRef<HTMLButtonElement>(null);
  const first = useRef<HTMLInputElement>(null);
  const why = cannotCarry(server);

  const open = () => {
    setNotice(undefined);
    setFormNotice(undefined);
    setSecretChoice(view?.clientSecretName ? KEEP : '');
    setHeaderKind(view && view.headerName !== 'authorization' ? 'custom' : 'authorization');
    setEditing(true);
    void api.secrets().then((s) => setKeychain(s.secrets.map((x) => x.name)), () => setKeychain([]));
  };
  const close = () => {
    setEditing(false);
    setFormNotice(undefined);
  };
  // Focus follows the form: into it when it opens, back to the button when it closes (not on the page's first render).
  const wasEditing = useRef(false);
  useEffect(() => {
    if (editing) first.current?.focus();
    else if (wasEditing.current && (document.activeElement === document.body || document.activeElement === null)) toggle.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    let built: ReturnType<typeof tokenExchangeFromForm>;
    try {
      built = tokenExchangeFromForm(new FormData(e.currentTarget), view);
    } catch (err) {
      if (!(err instanceof FormProblem)) throw err;
      setFormNotice({ kind: 'error', text: err.message });
      return;
    }
    let applies: TokenExchangeSaved['applies'] = 'restart';
    const ok = await formAct(async () => {
      let saved = await api.setTokenExchange({ name, settings: built.settings });
      if (built.then) saved = await api.setTokenExchange({ name, settings: built.then(saved) });
      applies = saved.applies;
    });
    if (ok) {
      setEditing(false);
      setNotice({ kind: 'info', text: `Token exchange saved. ${name} uses it ${{ 'next-request': 'from its next request', restart: 'from its next restart', start: 'when it starts' }[applies]}.` });
    }
  };
  const remove = async () => {
    if (!confirm(`Remove token exchange from ${name}? From its next restart, callers' tokens are no longer exchanged. A client secret Gatehouse stored for it is deleted from the keychain.`)) return;
    if (await act(() => api.removeTokenExchange({ name }), `Token exchange removed. ${name} stops exchanging tokens at its next restart.`)) setEditing(false);
  };

  return (
    <div className="card token-exchange" aria-labelledby={`token-exchange-${name}`}>
      <h2 id={`token-exchange-${name}`}>Token exchange</h2>
      {view ? (
        <>
          <p className="sub">
            {view.subjectProviderName ? `The user's ${view.subjectProviderName} token (from the embedded authorization server)` : "Each caller's token"} is exchanged (RFC 8693) for one the server accepts; the server never receives the caller's own token. Changed settings apply from the next request; adding or removing token exchange applies when the server restarts.
          </p>
          <TokenExchangeFacts view={view} />
        </>
      ) : (
        <p>{why ? `Not available for ${name}. ${why}` : `Not set up. With it, the proxy exchanges each caller's token at your token service (RFC 8693) and sends ${name} the token it gets back, never the caller's own.`}</p>
      )}
      <Notice notice={notice} />
      {!editing && (view || !why) && (
        <div className="buttons spaced">
          <button type="button" ref={toggle} onClick={open} className={view ? '' : 'primary'}>
            {view ? 'Change token exchange' : 'Set up token exchange'}
          </button>
          {view && (
            <button type="button" className="danger" onClick={() => void remove()}>
              Remove token exchange
            </button>
          )}
        </div>
      )}
      {editing && (
        <form className="form token-exchange-form" onSubmit={(e) => void save(e)} aria-label={`Token exchange settings of ${name}`}>
          <h3>{view ? 'Change the settings' : 'Set up token exchange'}</h3>
          <div className="grid">
            <label className="wide">
              Token URL
              <input ref={first} name="tokenUrl" type="url" required defaultValue={view?.tokenUrl ?? ''} placeholder="https://sts.example.com/token" spellCheck={false} />
            </label>
            <label>
              Audience <span className="sub">(optional)</span>
              <input name="audience" defaultValue={view?.audience ?? ''} placeholder="backend-api" spellCheck={false} />
            </label>
            <label>
              Scopes <span className="sub">(optional; spaces or commas between)</span>
              <input name="scopes" defaultValue={view?.scopes.join(' ') ?? ''} spellCheck={false} />
            </label>
            <label>
              Client ID <span className="sub">(optional: some token services take none)</span>
              <input name="clientId" defaultValue={view?.clientId ?? ''} autoComplete="off" spellCheck={false} />
            </label>
            <label>
              Client secret
              <select name="clientSecret" value={secretChoice} onChange={(e) => setSecretChoice(e.target.value)}>
                <option value="">None</option>
                {view?.clientSecretName && <option value={KEEP}>Keep the one in the keychain</option>}
                <option value={NEW}>Type a new one…</option>
                {keychain
                  .filter((k) => k !== view?.clientSecretName)
                  .map((k) => (
                    <option key={k} value={`${NAMED}${k}`}>
                      Keychain secret {k}
                    </option>
                  ))}
              </select>
            </label>
            {secretChoice === NEW && (
              <label>
                New client secret <span className="sub">(stored in the keychain, never shown again)</span>
                <input name="clientSecretValue" type="password" required autoComplete="new-password" />
              </label>
            )}
            <label>
              Subject token type
              <select name="subjectTokenType" defaultValue={view ? subjectTypeName(view.subjectTokenType) : 'access_token'}>
                {(Object.keys(SUBJECT_TYPES) as SubjectType[]).map((t) => (
                  <option key={t} value={t}>
                    {typeWords(SUBJECT_TYPES[t])}
                  </option>
                ))}
              </select>
            </label>
            <fieldset className="wide header-choice">
              <legend>Send the exchanged token to the server in</legend>
              <label className="check">
                <input type="radio" name="headerKind" value="authorization" checked={headerKind === 'authorization'} onChange={() => setHeaderKind('authorization')} /> the Authorization header
              </label>
              <label className="check">
                <input type="radio" name="headerKind" value="custom" checked={headerKind === 'custom'} onChange={() => setHeaderKind('custom')} /> a header of its own
              </label>
              {headerKind === 'custom' && (
                <label>
                  Header name
                  <input name="headerName" required defaultValue={view && view.headerName !== 'authorization' ? headerText(view) : ''} placeholder="X-Upstream-Token" spellCheck={false} />
                </label>
              )}
            </fieldset>
          </div>
          {view?.subjectProviderName && <p className="sub">The user's {view.subjectProviderName} token stays the one exchanged (set from a settings file).</p>}
          <Notice notice={formNotice} />
          <div className="buttons">
            <button type="button" onClick={close}>
              Cancel
            </button>
            <button type="submit" className="primary">
              Save
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

/** A token type as a person says it. */
function typeWords(urn: string): string {
  const short = subjectTypeName(urn);
  return short === 'access_token' ? 'access token' : short === 'id_token' ? 'ID token' : short === 'jwt' ? 'JWT' : short;
}

function TokenExchangeFacts({ view }: { view: TokenExchangeView }) {
  return (
    <dl className="facts">
      <dt>Token URL</dt>
      <dd>
        <code className="wrap">{view.tokenUrl}</code>
      </dd>
      <dt>Audience</dt>
      <dd>{view.audience ? <code>{view.audience}</code> : <span className="empty">none asked for</span>}</dd>
      <dt>Scopes</dt>
      <dd>{view.scopes.length ? <code>{view.scopes.join(' ')}</code> : <span className="empty">none asked for</span>}</dd>
      <dt>Client ID</dt>
      <dd>{view.clientId ? <code>{view.clientId}</code> : <span className="empty">none</span>}</dd>
      <dt>Client secret</dt>
      <dd>{view.clientSecretName ? <>Stored in the keychain <span className="sub">named {view.clientSecretName}</span></> : <span className="empty">none</span>}</dd>
      <dt>Exchanged token</dt>
      <dd>
        {view.subjectProviderName ? `the user's ${view.subjectProviderName}` : "the caller's"} {typeWords(view.subjectTokenType)}
      </dd>
      <dt>Sent to the server in</dt>
      <dd>
        <code>{headerText(view)}: Bearer …</code>
      </dd>
    </dl>
  );
}
