import { useState } from 'react';
import type { AuthServerTestView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable } from '../ui.js';
import { cedarText, when } from './auth-server-words.js';

/**
 * "Test this provider": the upstream login in the system browser, and then who it says signed in and
 * what a server's Cedar policies get for that user. The progress and the outcome arrive pushed (the
 * section follows the core's events); no token goes to any program.
 */
export function ProviderTestCard({ test, upstream, running }: { test: AuthServerTestView | undefined; upstream: string; running: boolean }) {
  const [error, setError] = useState<string>();
  const underWay = test?.state === 'waiting' || test?.state === 'checking';
  const start = async () => {
    setError(undefined);
    try {
      await api.startAuthServerTest();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <div className="card" aria-labelledby="authserver-test-title">
      <h3 id="authserver-test-title">Test the provider</h3>
      <p className="sub">Signs you in at {upstream} in your browser and shows who it says you are and what Cedar will see. No program gets a token, and nothing is kept.</p>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <div role="status" aria-live="polite" className="test-progress">
        {test?.state === 'waiting' && (
          <>
            <p>
              <span className="status starting">Waiting</span> {test.browserOpened ? `Your browser opened: sign in at ${upstream} there.` : `Open this address in a browser to sign in at ${upstream}.`}
              {test.expiresAt !== null && <span className="sub">The test ends at {new Date(test.expiresAt).toLocaleTimeString()} if nobody signs in.</span>}
            </p>
            {test.authorizationUrl && (
              <p>
                <code className="wrap">{test.authorizationUrl}</code>{' '}
                <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(test.authorizationUrl!)}>
                  Copy address
                </button>
              </p>
            )}
          </>
        )}
        {test?.state === 'checking' && (
          <p>
            <span className="status starting">Checking</span> {upstream} answered; Gatehouse is checking its answer…
          </p>
        )}
        {test?.state === 'failed' && (
          <p className="notice error">
            The test sign-in failed{test.finishedAt !== null ? ` (${when(test.finishedAt)})` : ''}: {test.error}
          </p>
        )}
      </div>
      {test?.state === 'done' && test.identity && <TestResult test={test} />}
      <div className="buttons spaced">
        {underWay ? (
          <button type="button" onClick={() => void api.cancelAuthServerTest().catch((err: unknown) => setError(errorText(err)))}>
            Cancel the test
          </button>
        ) : (
          <button type="button" className="primary" disabled={!running} onClick={() => void start()}>
            {test?.state === 'done' || test?.state === 'failed' ? 'Test this provider again' : 'Test this provider'}
          </button>
        )}
      </div>
    </div>
  );
}

function TestResult({ test }: { test: AuthServerTestView }) {
  const who = test.identity!;
  const perToken = new Set(test.perToken.map((c) => `claim_${c}`));
  // The user's own claims first, then those every token has its own value of.
  const attributes = Object.entries(test.cedar?.attributes ?? {}).sort(([a], [b]) => Number(perToken.has(a)) - Number(perToken.has(b)));
  const note = (attr: string) => {
    if (!perToken.has(attr)) return null;
    const raw = test.claims?.[attr.slice('claim_'.length)];
    return <span className="sub">{typeof raw === 'number' ? `for example ${when(raw * 1000)}; ` : 'for example; '}each token has its own</span>;
  };
  return (
    <section aria-labelledby="authserver-test-result" className="test-result">
      <h4 id="authserver-test-result">
        <span className="status running">Signed in</span> {test.upstream} identified {who.name ?? who.subject}
      </h4>
      <dl className="facts">
        <dt>Subject</dt>
        <dd>
          <code>{who.subject}</code>
        </dd>
        <dt>Name</dt>
        <dd>{who.name ?? <span className="sub">not given</span>}</dd>
        <dt>Email</dt>
        <dd>{who.email ?? <span className="sub">not given</span>}</dd>
        {test.finishedAt !== null && (
          <>
            <dt>Tested</dt>
            <dd>{when(test.finishedAt)}, no token issued</dd>
          </>
        )}
      </dl>
      {test.cedar && (
        <>
          <p className="spaced-top">
            A server&apos;s Cedar policies see this user as <code>principal == {test.cedar.principal}</code>
            {test.cedar.parents.length > 0 && (
              <>
                {' '}
                in <code>{test.cedar.parents.join(', ')}</code>
              </>
            )}
            , with these attributes (also in <code>context</code>):
          </p>
          <DataTable caption={`What Cedar sees for ${who.subject}`} columns={['Attribute', 'Value', 'Note']} className="cedar-attrs">
            <tbody>
              {attributes.map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">
                    <code>{k}</code>
                  </th>
                  <td>
                    <code className="wrap">{cedarText(v)}</code>
                  </td>
                  <td>{note(k)}</td>
                </tr>
              ))}
            </tbody>
          </DataTable>
          <p className="sub">Groups come from the groups, roles or cognito:groups claim; a policy set that names another group claim sees other parents.</p>
        </>
      )}
    </section>
  );
}
