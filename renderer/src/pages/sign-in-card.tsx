import { useEffect, useState } from 'react';
import type { SignInView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';

const STATE_TEXT: Record<SignInView['state'], string> = {
  'signed-in': 'Signed in',
  'signed-out': 'Not signed in',
  'needs-sign-in': 'Sign-in needed',
  retrying: 'Retrying',
};

/** Seconds from now, as the countdown says them ("in 4 min 10 s", "expired"). */
function until(at: number, now: number): string {
  const s = Math.round((at - now) / 1000);
  if (s <= 0) return 'expired';
  return s >= 60 ? `in ${Math.floor(s / 60)} min ${s % 60} s` : `in ${s} s`;
}

function claimText(v: unknown): string {
  return Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/**
 * A remote server's sign-in: its state, a Sign in button (the URL shown with copy, for a browser on
 * another machine), and what the token says — subject, audience, scopes, expiry, last refresh —
 * never the token itself. Follows the pushed sign-in events; the countdown ticks locally.
 */
export function SignInCard({ name, pushed, forCallers = false }: { name: string; pushed: SignInView | undefined; forCallers?: boolean }) {
  const [view, setView] = useState<SignInView>();
  const [error, setError] = useState<string>();
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    void api.signInStatus({ name }).then(setView, (err: unknown) => setError(errorText(err)));
  }, [name]);
  useEffect(() => {
    if (pushed) setView(pushed);
  }, [pushed]);
  const ticking = view?.expiresAt !== null && view?.expiresAt !== undefined;
  useEffect(() => {
    if (!ticking) return;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [ticking]);
  if (!view) return <div className="card">{error ? <p className="notice error">{error}</p> : <p>Loading…</p>}</div>;
  if (view.credential !== 'oauth') {
    return (
      <div className="card">
        <h2>Credentials toward the server</h2>
        <p>{view.credential === 'bearer' ? 'A bearer token from the keychain is sent with every request.' : 'No credentials are sent.'}</p>
      </div>
    );
  }
  const signIn = async () => {
    setError(undefined);
    try {
      setView(await api.signInStart({ name }));
      setView(await api.signInWait({ name }));
    } catch (err) {
      setError(errorText(err));
      void api.signInStatus({ name }).then(setView, () => {});
    }
  };
  const claims = view.claims ?? {};
  return (
    <div className="card" aria-labelledby={`sign-in-${name}`}>
      <h2 id={`sign-in-${name}`}>{forCallers ? 'Sign-in for your clients' : 'Sign-in'}</h2>
      {forCallers && <p className="sub">This server accepts only tokens from its identity provider. Gatehouse signs in there once and brings the token to clients that cannot sign in themselves (Claude Desktop and the other clients it starts through its bridge); their files hold no token.</p>}
      <p>
        <span className={`status sign-in-${view.state}`}>{STATE_TEXT[view.state]}</span> {view.detail && <span className="sub">{view.detail}</span>}
      </p>
      {view.stepUp && (
        <p className="notice">
          The server asks for more permission. Sign in again to grant <code>{view.stepUp.join(' ')}</code>; until then, calls that need it are refused.
        </p>
      )}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {(view.issuer || view.claims) && (
        <dl className="facts">
          {view.issuer && (
            <>
              <dt>Identity provider</dt>
              <dd>
                <code>{view.issuer}</code>
              </dd>
            </>
          )}
          {claims['sub'] !== undefined && (
            <>
              <dt>Signed in as</dt>
              <dd>{claimText(claims['sub'])}</dd>
            </>
          )}
          {claims['aud'] !== undefined && (
            <>
              <dt>Audience</dt>
              <dd>{claimText(claims['aud'])}</dd>
            </>
          )}
          {(view.scope ?? claims['scope']) !== undefined && (
            <>
              <dt>Scopes</dt>
              <dd>{claimText(view.scope ?? claims['scope'])}</dd>
            </>
          )}
          {view.expiresAt !== null && (
            <>
              <dt>Access token expires</dt>
              <dd>{until(view.expiresAt, now)}</dd>
            </>
          )}
          {view.lastRefresh && (
            <>
              <dt>Last refresh</dt>
              <dd>
                {new Date(view.lastRefresh.at).toLocaleTimeString()}: {view.lastRefresh.ok ? 'ok' : `failed (${view.lastRefresh.detail ?? 'unknown'})`}
              </dd>
            </>
          )}
        </dl>
      )}
      <div className="buttons spaced">
      {view.pending ? (
          <div className="pending-sign-in" role="status">
            <p>
              {view.pending.browserOpened ? 'Your browser opened to sign in.' : 'Open this address in a browser to sign in.'} Waiting until {new Date(view.pending.expiresAt).toLocaleTimeString()}.
            </p>
            <p>
              <code className="wrap">{view.pending.authorizationUrl}</code>{' '}
              <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(view.pending!.authorizationUrl)}>
                Copy
              </button>
            </p>
            <button type="button" onClick={() => void api.signInCancel({ name })}>
              Cancel sign-in
            </button>
          </div>
        ) : view.state === 'signed-in' ? (
          <>
            {view.stepUp && (
              <button type="button" className="primary" onClick={() => void signIn()}>
                Sign in again
              </button>
            )}
            <button type="button" onClick={() => void api.signOut({ name }).then(setView, (err: unknown) => setError(errorText(err)))}>
              Sign out
            </button>
          </>
        ) : (
          <button type="button" className="primary" onClick={() => void signIn()}>
            Sign in to {name}
          </button>
        )}
      </div>
    </div>
  );
}
