import { useEffect, useState } from 'react';
import type { PolicySetView, PolicyVersionView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable } from '../ui.js';

interface CedarConfig {
  cedar?: { policies?: string[]; entities_json?: string };
}

/**
 * Cedar policy sets (ToolHive's authz-config), the servers each one decides for, and their versions.
 * This is the frame of the policy studio; editing happens with `gatehouse policy` until it arrives.
 */
export function PoliciesPage() {
  const [sets, setSets] = useState<PolicySetView[]>();
  const [open, setOpen] = useState<string>();
  const [history, setHistory] = useState<PolicyVersionView[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    void api.policies().then(setSets, (err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    if (open === undefined) return;
    void api.policyHistory({ name: open }).then(setHistory, (err: unknown) => setError(errorText(err)));
  }, [open]);
  const current = sets?.find((s) => s.name === open);
  return (
    <section aria-labelledby="policies-title">
      <div className="page-head">
        <h1 id="policies-title">Policies</h1>
      </div>
      <p className="lead">
        Every request to a server with a policy set is decided by Cedar: denied unless a policy permits it. Save, test and attach sets with <code>gatehouse policy</code>; the editor and
        simulator come to this page next.
      </p>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      {sets === undefined ? (
        <p>Loading…</p>
      ) : sets.length === 0 ? (
        <p className="empty">
          No policy sets yet. <code>gatehouse run IMAGE --authz-config FILE</code> saves one, as does <code>gatehouse policy save NAME FILE</code>.
        </p>
      ) : (
        <DataTable caption="Policy sets" columns={['Set', 'Version', 'Policies', 'Decides for', 'Saved']}>
          <tbody>
            {sets.map((s) => (
              <tr key={s.name}>
                <th scope="row">
                  <button type="button" className="link" onClick={() => setOpen(open === s.name ? undefined : s.name)} aria-expanded={open === s.name}>
                    {s.name}
                  </button>
                </th>
                <td>v{s.currentVersion}</td>
                <td>{(s.config as CedarConfig).cedar?.policies?.length ?? 0}</td>
                <td>{s.servers.length ? s.servers.join(', ') : <span className="sub">no server</span>}</td>
                <td>{new Date(s.updatedAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      {current && (
        <div className="card spaced-top">
          <h2>
            {current.name}, version {current.currentVersion}
          </h2>
          <pre className="tail" tabIndex={0} aria-label={`The policies of ${current.name}`}>
            {((current.config as CedarConfig).cedar?.policies ?? []).join('\n\n')}
          </pre>
          <h3>Versions</h3>
          <ol className="history" tabIndex={0} aria-label={`Versions of ${current.name}`}>
            {[...history].reverse().map((v) => (
              <li key={v.version}>
                v{v.version} <time dateTime={v.createdAt}>{new Date(v.createdAt).toLocaleString()}</time>
                {v.note ? <span className="sub">{v.note}</span> : null}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
