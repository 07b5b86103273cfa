import type { LogLine } from '../../../src/api/browser.js';

interface AuditFields {
  audit_id?: string;
  outcome?: string;
  type?: string;
  subjects?: { user?: string; user_id?: string; client_name?: string };
  target?: { method?: string; name?: string };
  metadata?: { extra?: { duration_ms?: number; authz_reason?: string } };
}

const DECISION: Record<string, string> = { success: 'allowed', denied: 'denied', error: 'failed', failure: 'failed' };
const SIGN_IN_OUTCOME: Record<string, string> = { success: 'done', denied: 'denied', error: 'failed', failure: 'failed' };

/** An audit event as one line of a tool-call timeline: decision, who, what, how long. */
export function AuditSummary({ line }: { line: LogLine }) {
  const f = line.fields as AuditFields;
  if (f.type?.startsWith('oauth_')) {
    // A step of a sign-in at the embedded authorization server: the core's sentence says it best.
    const outcome = f.outcome ?? 'unknown';
    return (
      <>
        <span className={`decision ${outcome}`}>{SIGN_IN_OUTCOME[outcome] ?? outcome}</span> {line.message.replace(/: success$/, '')}
      </>
    );
  }
  const who = f.subjects?.user_id ?? f.subjects?.user ?? 'someone';
  const what = [f.target?.method, f.target?.name].filter(Boolean).join(' ') || f.type || line.message;
  const ms = f.metadata?.extra?.duration_ms;
  const outcome = f.outcome ?? 'unknown';
  return (
    <>
      <span className={`decision ${outcome}`}>{DECISION[outcome] ?? outcome}</span> <strong>{what}</strong> by {who}
      {f.subjects?.client_name ? ` (${f.subjects.client_name})` : ''}
      {typeof ms === 'number' ? <span className="dur"> {ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms</span> : null}
      {f.metadata?.extra?.authz_reason ? <span className="why"> — {f.metadata.extra.authz_reason}</span> : null}
    </>
  );
}

/** One line in full: its message, and its fields pretty-printed (an audit event is ToolHive's JSON). */
export function LogDetail({ line, onClose }: { line: LogLine; onClose: () => void }) {
  let pretty: string | undefined;
  if (line.fields) pretty = JSON.stringify(line.fields, null, 2);
  else if (/^\s*[{[]/.test(line.message)) {
    try {
      pretty = JSON.stringify(JSON.parse(line.message), null, 2);
    } catch {
      pretty = undefined;
    }
  }
  return (
    <aside className="log-detail" aria-labelledby="log-detail-title">
      <div className="detail-head">
        <h2 id="log-detail-title">
          {line.source} line of {line.server}
        </h2>
        <button type="button" className="small" onClick={onClose} aria-label="Close the line's details">
          Close
        </button>
      </div>
      <dl>
        <dt>Time</dt>
        <dd>{new Date(line.ts).toISOString()}</dd>
        <dt>Level</dt>
        <dd>{line.level}</dd>
        <dt>Message</dt>
        <dd className="message">{line.message}</dd>
      </dl>
      {line.source === 'audit' && (line.fields as AuditFields | null)?.outcome === 'denied' && (line.fields as AuditFields).audit_id && !(line.fields as AuditFields).type?.startsWith('oauth_') && (
        <p>
          <a className="button" href={`#/policies?server=${encodeURIComponent(line.server)}&audit=${encodeURIComponent((line.fields as AuditFields).audit_id!)}`}>
            Why was it denied?
          </a>{' '}
          <span className="sub">Opens the policy studio with this request in the simulator and the policies that decided it.</span>
        </p>
      )}
      {pretty && (
        <>
          <h3>{line.source === 'audit' ? 'Audit event' : 'JSON'}</h3>
          <pre tabIndex={0}>{pretty}</pre>
          <button type="button" className="small" onClick={() => void navigator.clipboard?.writeText(pretty ?? '')}>
            Copy JSON
          </button>
        </>
      )}
    </aside>
  );
}
