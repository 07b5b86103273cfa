import { useEffect, useState } from 'react';
import type { PolicyImpactView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable, timeOfDay } from '../ui.js';

const METHOD = { tool: 'tools/call', prompt: 'prompts/get', resource: 'resources/read' } as const;
const WINDOWS = [
  { minutes: 15, label: 'the last 15 minutes' },
  { minutes: 60, label: 'the last hour' },
  { minutes: 24 * 60, label: 'the last day' },
];

/** `policy3` → "policy 3". */
const policyWords = (ids: string[]) => (ids.length ? ids.map((id) => id.replace(/^policy(\d+)$/, 'policy $1')).join(', ') : 'no policy (default deny)');

/**
 * The impact of the draft before it replaces the running set: the recent calls to the set's servers,
 * each decided again by the draft, and every decision that would change (allowed → denied and back),
 * with the caller, the request and the policies that decided then and would decide now.
 */
export function PolicyImpact(props: { set: string; servers: string[]; draft(): { config: unknown } | { problem: string }; draftVersion: number; goTo(index: number): void }) {
  const [minutes, setMinutes] = useState(60);
  const [impact, setImpact] = useState<PolicyImpactView>();
  const [problem, setProblem] = useState<string>();
  const [following, setFollowing] = useState(false);
  const [running, setRunning] = useState(false);

  const run = async (window = minutes) => {
    const d = props.draft();
    if ('problem' in d) {
      setImpact(undefined);
      setProblem(d.problem);
      return;
    }
    setRunning(true);
    try {
      setImpact(await api.policyImpact({ name: props.set, config: d.config, minutes: window }));
      setProblem(undefined);
    } catch (err) {
      setImpact(undefined);
      setProblem(errorText(err));
    } finally {
      setRunning(false);
    }
  };
  // Once asked, the impact follows the draft as it changes.
  useEffect(() => {
    if (following) void run();
  }, [props.draftVersion]);

  const windowLabel = WINDOWS.find((w) => w.minutes === minutes)?.label ?? `the last ${minutes} minutes`;
  return (
    <div className="impact" role="region" aria-labelledby="impact-title">
      <h3 id="impact-title">Impact on recent calls</h3>
      {props.servers.length === 0 ? (
        <p className="sub">The set decides for no server yet: there are no calls to replay.</p>
      ) : (
        <>
          <div className="history-actions">
            <label>
              <span className="visually-hidden">Calls of</span>
              <select value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} aria-label="Which calls to replay">
                {WINDOWS.map((w) => (
                  <option key={w.minutes} value={w.minutes}>
                    Calls of {w.label}
                  </option>
                ))}
              </select>
            </label>
            <button
              type="button"
              onClick={() => {
                setFollowing(true);
                void run();
              }}
              disabled={running}
            >
              {running ? 'Replaying…' : 'Replay them with the draft'}
            </button>
          </div>
          <div role="status" aria-live="polite">
            {problem && <p className="notice error">{problem}</p>}
            {impact && (
              <p className={impact.changes.length ? 'impact-summary changed' : 'impact-summary'}>
                {impact.replayed === 0
                  ? `No call to ${props.servers.join(', ')} was decided in ${windowLabel}.`
                  : `${impact.replayed} decision${impact.replayed === 1 ? '' : 's'} of ${windowLabel} replayed: ${impact.changes.length === 0 ? 'none would change.' : `${impact.changes.length} would change.`}`}
              </p>
            )}
          </div>
          {impact && impact.changes.length > 0 && (
            <DataTable caption="Decisions the draft would change" columns={['When', 'Caller', 'Request', 'Was', 'Would be', 'Decided by then', 'Would be decided by']}>
              <tbody>
                {impact.changes.map((c) => (
                  <tr key={`${c.auditId}-${c.name}`}>
                    <td>{timeOfDay(c.at)}</td>
                    <td>
                      <code>{c.caller}</code>
                    </td>
                    <td>
                      {c.server}: {METHOD[c.feature]} <code>{c.name}</code>
                    </td>
                    <td>{c.before === 'allow' ? 'Allowed' : 'Denied'}</td>
                    <td>
                      <span className={`status ${c.after === 'allow' ? 'running' : 'error'}`}>{c.after === 'allow' ? 'Allowed' : 'Denied'}</span>
                    </td>
                    <td className="sub">
                      {policyWords(c.decidedBefore)}
                      {c.version !== null ? ` of v${c.version}` : ''}
                    </td>
                    <td>
                      {c.decidesNow.length ? (
                        c.decidesNow.map((id) => {
                          const index = Number(/^policy(\d+)$/.exec(id)?.[1] ?? -1);
                          return index >= 0 ? (
                            <button key={id} type="button" className="link" onClick={() => props.goTo(index)}>
                              policy {index}
                            </button>
                          ) : (
                            <span key={id}>{id}</span>
                          );
                        })
                      ) : (
                        <span className="sub">no policy (default deny)</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </DataTable>
          )}
        </>
      )}
    </div>
  );
}
