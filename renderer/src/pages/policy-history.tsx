import { useEffect, useState, type ChangeEvent } from 'react';
import { ApiError, joinPolicies, type PolicySetView, type PolicyVersionView, type ServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { CedarDiff } from '../cedar/index.js';
import { Notice, useNotice, when } from '../ui.js';

const policiesText = (config: unknown) => joinPolicies(((config as { cedar?: { policies?: string[] } } | null)?.cedar?.policies ?? []).filter((p) => typeof p === 'string')).text;

/** Saves a file the browser already has (an export) under a name, through a link the user's browser downloads. */
function download(fileName: string, contentType: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: contentType }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * A set's versions (compare any with the current one side by side, revert to one as a new version),
 * the servers it decides for (attach, detach), and its files: export as `--authz-config` takes them,
 * import one (JSON, YAML or a ConfigMap) into the editor as a draft.
 */
export function PolicyHistory(props: { set: PolicySetView; history: PolicyVersionView[]; onChanged(): Promise<void>; onImport(config: unknown, source: { text: string; fileName: string }): void }) {
  const { set } = props;
  const [compare, setCompare] = useState<number>();
  const [servers, setServers] = useState<ServerView[]>([]);
  const [attachTo, setAttachTo] = useState('');
  const [notice, setNotice, act] = useNotice();

  useEffect(() => {
    api.listServers().then(setServers, () => setServers([]));
  }, [set.name, set.servers.join(',')]);
  useEffect(() => setCompare(undefined), [set.name, set.currentVersion]);
  // "…is in the editor as a draft: save it as version N" is old news once a version is saved.
  const [importedAt, setImportedAt] = useState<number>();
  useEffect(() => {
    if (importedAt === undefined || importedAt === set.currentVersion) return;
    setImportedAt(undefined);
    setNotice(undefined);
  }, [set.currentVersion]);

  const revert = async (v: PolicyVersionView, acceptBrokenCases = false) => {
    if (!acceptBrokenCases && !confirm(`Make version ${v.version} of ${set.name} current again, as version ${set.currentVersion + 1}? ${set.servers.length ? `${set.servers.join(', ')} decide${set.servers.length === 1 ? 's' : ''} with it from the next request.` : ''}`)) return;
    setNotice(undefined);
    try {
      const r = await api.savePolicy({ name: set.name, config: v.config, note: `reverted to version ${v.version}`, ...(acceptBrokenCases ? { acceptBrokenCases: true } : {}) });
      setNotice({ kind: 'info', text: `Version ${v.version} is current again, as version ${r.version}.` });
      await props.onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && /saved case/.test(err.message) && confirm(`${err.message}\n\nRevert anyway?`)) return revert(v, true);
      setNotice({ kind: 'error', text: `Not reverted: ${errorText(err)}` });
    }
  };

  const exportAs = async (format: 'json' | 'yaml') => {
    setNotice(undefined);
    try {
      const f = await api.exportPolicy({ name: set.name, format });
      download(f.fileName, f.contentType, f.text);
      const how = f.original ? 'the file it was saved from, unchanged' : 'as --authz-config takes it';
      setNotice({ kind: 'info', text: `Exported version ${set.currentVersion} of ${set.name} (${format.toUpperCase()}), ${how}.` });
    } catch (err) {
      setNotice({ kind: 'error', text: errorText(err) });
    }
  };

  const importFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    await act(async () => {
      const text = await file.text();
      const { config } = await api.parsePolicyDocument({ text, fileName: file.name });
      props.onImport(config, { text, fileName: file.name });
      setImportedAt(set.currentVersion);
    }, `${file.name} is in the editor as a draft: look it over, then save it as version ${set.currentVersion + 1}.`);
  };

  const attach = () =>
    attachTo &&
    act(async () => {
      await api.attachPolicy({ name: attachTo, policySet: set.name });
      setAttachTo('');
      await props.onChanged();
    }, `${attachTo} decides with ${set.name} from its next request.`);

  const detach = (server: string) => {
    if (!confirm(`Detach ${set.name} from ${server}? Every request to ${server} then passes without a policy decision.`)) return;
    void act(async () => {
      await api.attachPolicy({ name: server, policySet: null });
      await props.onChanged();
    }, `${server} no longer has a policy set: every request passes.`);
  };

  const current = props.history.find((v) => v.version === set.currentVersion);
  const compared = props.history.find((v) => v.version === compare);
  const others = servers.filter((s) => !set.servers.includes(s.name));
  return (
    <div className="card" role="region" aria-labelledby="history-title">
      <h2 id="history-title">Versions, servers and files of {set.name}</h2>
      <Notice notice={notice} />
      <div className="history-actions">
        <button type="button" onClick={() => void exportAs('json')}>
          Export JSON
        </button>
        <button type="button" onClick={() => void exportAs('yaml')}>
          Export YAML
        </button>
        <label className="button">
          Import a file…
          <input type="file" accept=".json,.yaml,.yml,application/json,application/yaml,text/yaml" className="visually-hidden" onChange={(e) => void importFile(e)} />
        </label>
      </div>
      <h3>Decides for</h3>
      <ul className="plain history-list" aria-label={`Servers ${set.name} decides for`}>
        {set.servers.map((s) => (
          <li key={s}>
            <a href={`#/servers/${encodeURIComponent(s)}`}>{s}</a>
            <button type="button" className="small danger" onClick={() => detach(s)} aria-label={`Detach ${set.name} from ${s}`}>
              Detach
            </button>
          </li>
        ))}
        {set.servers.length === 0 && <li className="sub">No server: attach one to have its requests decided by this set.</li>}
      </ul>
      {others.length > 0 && (
        <div className="history-actions">
          <label>
            <span className="visually-hidden">Server to attach {set.name} to</span>
            <select value={attachTo} onChange={(e) => setAttachTo(e.target.value)} aria-label={`Server to attach ${set.name} to`}>
              <option value="">Attach to a server…</option>
              {others.map((s) => (
                <option key={s.name} value={s.name}>
                  {s.name}
                  {s.policySet ? ` (now ${s.policySet})` : ''}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void attach()} disabled={!attachTo}>
            Attach
          </button>
        </div>
      )}
      <h3>Versions</h3>
      <ol className="history-list" aria-label={`Versions of ${set.name}`}>
        {[...props.history].sort((a, b) => b.version - a.version).map((v) => (
          <li key={v.version} className={v.version === set.currentVersion ? 'current' : undefined}>
            <span>v{v.version}</span> <time dateTime={v.createdAt}>{when(v.createdAt)}</time>
            {v.note ? <span className="sub">{v.note}</span> : null}
            {v.file ? <span className="sub">· exports as the {v.file.toUpperCase()} file it was saved from</span> : null}
            {v.version === set.currentVersion ? (
              <span className="status running">current</span>
            ) : (
              <>
                <button type="button" className="small" onClick={() => setCompare(compare === v.version ? undefined : v.version)} aria-expanded={compare === v.version} aria-label={`Compare version ${v.version} with the current version`}>
                  Compare
                </button>
                <button type="button" className="small" onClick={() => void revert(v)} aria-label={`Revert to version ${v.version}`}>
                  Revert
                </button>
              </>
            )}
          </li>
        ))}
      </ol>
      {compared && current && <CedarDiff before={policiesText(compared.config)} after={policiesText(current.config)} label={`Version ${compared.version} (left) and the current version ${current.version} (right)`} beforeTitle={`Version ${compared.version}`} afterTitle={`Version ${current.version} (current)`} />}
    </div>
  );
}
