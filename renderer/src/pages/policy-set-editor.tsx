import type { EditorView } from '@codemirror/view';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, joinPolicies, placeProblem, splitPolicies, type CaseRunView, type PlacedProblem, type PolicyCaseView, type PolicySetView, type PolicyVocabulary } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { CedarEditor, featuresOf, type Diagnostic } from '../cedar/index.js';
import { Notice, useNotice, withCode } from '../ui.js';
import { PolicyCases } from './policy-cases.js';
import { policyDrafts } from './policy-drafts.js';
import { PolicyImpact } from './policy-impact.js';
import { PolicySimulator, type SimulatedRequest } from './policy-simulator.js';

interface AuthzConfigLike {
  cedar: { policies: string[]; entities_json?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** The set's config with these policies; everything else (version, type, entities, options) as it was. */
function withPolicies(config: AuthzConfigLike, policies: string[]): AuthzConfigLike {
  return { ...config, cedar: { ...config.cedar, policies } };
}

/**
 * The editor of one policy set: its policies as one Cedar text, checked by the core as it is typed
 * (Cedar's parser and validator against ToolHive's model and the attached servers' lists), formatted by
 * Cedar's own formatter, saved as a new version only when it has no errors.
 */
export function PolicySetEditor(props: {
  set: PolicySetView;
  onSaved(): Promise<void>;
  /** The draft is gone (saved or discarded): a file imported into it is too. */
  onDiscarded?(): void;
  imported?: { config: unknown; key: number; source?: { text: string; fileName: string } };
  why?: { request: SimulatedRequest; key: number; note: string };
}) {
  const { set, why } = props;
  const onSaved = async () => {
    policyDrafts.drop(set.name);
    setKept(undefined);
    await props.onSaved();
  };
  // A draft left on this page earlier (another page was opened meanwhile) comes back as it was.
  const [kept, setKept] = useState(() => policyDrafts.get(set.name));
  const imported = props.imported ?? kept?.imported;
  // An imported file is the draft: its options and entities with it, its policies in the editor.
  const config = (imported?.config ?? set.config) as AuthzConfigLike;
  const saved = useMemo(() => joinPolicies((set.config as AuthzConfigLike).cedar.policies).text, [set.currentVersion, set.name]);
  const shown = useMemo(() => (props.imported ? joinPolicies(config.cedar.policies).text : kept ? kept.text : saved), [props.imported?.key, kept, saved]);
  const [text, setText] = useState(shown);
  /** The version the draft was started from: a version saved elsewhere meanwhile never replaces a draft with changes. */
  const [baseVersion, setBaseVersion] = useState(kept?.base ?? set.currentVersion);
  const savedAtBase = useRef(saved);
  const [resets, setResets] = useState(0);
  const [problems, setProblems] = useState<PlacedProblem[]>();
  const [vocabulary, setVocabulary] = useState<PolicyVocabulary>();
  const [marked, setMarked] = useState<{ from: number; to: number }[]>([]);
  const [checks, setChecks] = useState(0);
  const [cases, setCases] = useState<PolicyCaseView[]>([]);
  const [runs, setRuns] = useState<CaseRunView[]>();
  const [preset, setPreset] = useState<{ request: SimulatedRequest; key: number }>();
  /** A save that saved cases stopped: offered again, accepting them. */
  const [brokenSave, setBrokenSave] = useState(false);
  const [notice, setNotice, act] = useNotice();
  const view = useRef<EditorView>(undefined);
  const features = useMemo(() => featuresOf(vocabulary), [vocabulary]);

  useEffect(() => {
    if (set.servers.length === 0) return setVocabulary({ servers: [] });
    api.policyVocabulary({ servers: set.servers }).then(setVocabulary, (err: unknown) => setNotice({ kind: 'error', text: `What the servers declared could not be read: ${errorText(err)}` }));
  }, [set.servers.join(',')]);

  useEffect(() => {
    api.policyCases({ name: set.name }).then(setCases, (err: unknown) => setNotice({ kind: 'error', text: `The saved cases could not be read: ${errorText(err)}` }));
  }, [set.name]);

  // The cases, decided by the draft each time it was checked (none while it has errors).
  useEffect(() => {
    if (cases.length === 0) return setRuns([]);
    const d = draft();
    if ('problem' in d) return setRuns(undefined);
    let current = true;
    api.runPolicyCases({ name: set.name, config: d.config }).then(
      (r) => current && setRuns(r),
      () => current && setRuns(undefined),
    );
    return () => {
      current = false;
    };
  }, [checks, cases]);

  // "Why was it denied?": the event's request in the simulator (decided once the draft is checked).
  useEffect(() => {
    if (!why) return;
    setNotice({ kind: 'info', text: why.note });
    setPreset((p) => ({ key: (p?.key ?? 0) + 1, request: why.request }));
  }, [why?.key]);

  const keepCase = async (request: SimulatedRequest, label: string, expect: 'allow' | 'deny'): Promise<boolean> =>
    act(async () => {
      const added = await api.addPolicyCase({ name: set.name, label, expect, input: { claims: request.claims, feature: request.feature, name: request.name, ...(request.feature !== 'resource' ? { arguments: request.arguments } : {}), ...(request.server ? { serverName: request.server } : {}) } });
      setCases((all) => [...all, added]);
    }, `Kept as a case of ${set.name}: every save decides it first.`);

  const removeCase = (c: PolicyCaseView) =>
    void act(async () => {
      await api.removePolicyCase({ name: set.name, id: c.id });
      setCases((all) => all.filter((x) => x.id !== c.id));
    }, `The case "${c.label}" is removed.`);

  const loadCase = (c: PolicyCaseView) =>
    setPreset((p) => ({ key: (p?.key ?? 0) + 1, request: { server: c.input.serverName ?? null, claims: c.input.claims, feature: c.input.feature, name: c.input.name, arguments: c.input.arguments ?? {} } }));

  const check = async (doc: string): Promise<Diagnostic[]> => {
    const { policies, spans } = splitPolicies(doc);
    if (policies.length === 0) {
      setProblems([]);
      return [];
    }
    try {
      const r = await api.checkPolicy({ config: withPolicies(config, policies), servers: set.servers });
      const placed = [...r.errors, ...r.warnings].map((p) => placeProblem(p, policies, spans, doc)).sort((a, b) => a.from - b.from);
      // An answer for a text typed over since is not shown (the next check's is).
      if (view.current?.state.doc.toString() === doc) {
        setProblems(placed);
        setChecks((n) => n + 1);
      }
      return placed.map((p) => ({ from: p.from, to: p.to, severity: p.severity, message: p.message }));
    } catch (err) {
      setProblems([{ from: 0, to: 0, line: 1, column: 1, severity: 'error', message: errorText(err) }]);
      return [];
    }
  };

  const goTo = (p: PlacedProblem) => {
    const v = view.current;
    if (!v) return;
    v.dispatch({ selection: { anchor: p.from, head: p.to }, scrollIntoView: true });
    v.focus();
  };

  const format = () =>
    act(async () => {
      const { policies } = splitPolicies(text);
      const formatted = (await api.formatPolicy({ config: withPolicies(config, policies) })).config as AuthzConfigLike;
      const next = joinPolicies(formatted.cedar.policies).text;
      const v = view.current;
      // As one change, so Undo brings the layout back.
      if (v && next !== v.state.doc.toString()) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: next } });
    }, 'Formatted with Cedar\'s formatter.');

  const save = async (acceptBrokenCases = false) => {
    const { policies } = splitPolicies(text);
    setNotice(undefined);
    setBrokenSave(false);
    try {
      // An imported file goes along: the core keeps it with the version when the draft still reads as it.
      const r = await api.savePolicy({
        name: set.name,
        config: withPolicies(config, policies),
        note: imported?.source ? `imported from ${imported.source.fileName}` : 'saved in the app',
        ...(imported?.source ? { source: imported.source } : {}),
        ...(acceptBrokenCases ? { acceptBrokenCases: true } : {}),
      });
      const where = r.servers.length ? `${r.servers.join(', ')} ${r.servers.length === 1 ? 'decides' : 'decide'} with it now.` : 'No server uses it yet.';
      const warned = r.check.warnings.length ? ` ${r.check.warnings.length} warning${r.check.warnings.length === 1 ? '' : 's'} to look at.` : '';
      const kept = imported?.source ? (r.file ? ` Its export gives ${imported.source.fileName} back unchanged.` : ` Edited since the import, so its export is written from the policies, not ${imported.source.fileName}.`) : '';
      setNotice({ kind: 'info', text: `Saved as version ${r.version}. ${where}${warned}${kept}` });
      await onSaved();
    } catch (err) {
      const running = set.servers.length ? ` ${set.servers.join(', ')} ${set.servers.length === 1 ? 'keeps' : 'keep'} running version ${set.currentVersion}.` : '';
      const text = errorText(err);
      setNotice({ kind: 'error', text: `${text.startsWith('Not saved') ? text : `Not saved: ${text}`}${running}` });
      if (err instanceof ApiError && err.status === 409 && /saved case/.test(text)) setBrokenSave(true);
    }
  };

  /** The draft as a config for the simulator, unless it has errors. */
  const draft = (): { config: unknown } | { problem: string } => {
    if (problems?.some((p) => p.severity === 'error')) return { problem: 'The draft has errors: fix them, and the request is decided again.' };
    return { config: withPolicies(config, splitPolicies(text).policies) };
  };
  const spanOf = (index: number) => splitPolicies(view.current?.state.doc.toString() ?? text).spans[index];
  const lineOf = (index: number) => {
    const span = spanOf(index);
    return span && view.current ? view.current.state.doc.lineAt(span.from).number : undefined;
  };
  const goToPolicy = (index: number) => {
    const span = spanOf(index);
    const v = view.current;
    if (!span || !v) return;
    v.dispatch({ selection: { anchor: span.from }, scrollIntoView: true });
    v.focus();
  };

  const discard = () => {
    setNotice(undefined);
    policyDrafts.drop(set.name);
    setKept(undefined);
    props.onDiscarded?.();
    savedAtBase.current = saved;
    setBaseVersion(set.currentVersion);
    setText(saved);
    setResets((n) => n + 1);
  };

  // A notice about an earlier state goes when the state it spoke of is gone: a file opened since, a later version.
  const seen = useRef({ imported: props.imported?.key, why: why?.key });
  useEffect(() => {
    // A "why?" brings its own draft and notice together: that notice stays.
    const opened = props.imported !== undefined && props.imported.key !== seen.current.imported && why?.key === seen.current.why;
    seen.current = { imported: props.imported?.key, why: why?.key };
    if (opened) setNotice(undefined);
  }, [props.imported?.key, why?.key]);
  useEffect(() => {
    if (notice?.text.startsWith('Saved as version ') && !notice.text.startsWith(`Saved as version ${set.currentVersion}.`)) setNotice(undefined);
  }, [set.currentVersion]);

  useEffect(() => {
    if (set.currentVersion === baseVersion) return;
    // No changes of the user's (the text is the base version's, or already the new one's): show the new version.
    if (!imported && (text === savedAtBase.current || text === saved)) {
      savedAtBase.current = saved;
      setBaseVersion(set.currentVersion);
      setText(saved);
      if (notice?.text.includes('was saved elsewhere')) setNotice(undefined);
    } else {
      setNotice({ kind: 'info', text: `Version ${set.currentVersion} of ${set.name} was saved elsewhere. Your draft (begun from version ${baseVersion}) is kept; Discard changes shows the new version.` });
    }
  }, [set.currentVersion]);

  useEffect(() => {
    if (text !== saved || imported) policyDrafts.keep(set.name, { base: baseVersion, text, ...(imported ? { imported } : {}) });
    else policyDrafts.drop(set.name);
  }, [text, saved, baseVersion, imported]);

  const errors = problems?.filter((p) => p.severity === 'error') ?? [];
  const warnings = problems?.filter((p) => p.severity === 'warning') ?? [];
  const changed = text !== saved || imported !== undefined;
  const state = problems === undefined ? 'Checking…' : errors.length ? `${count(errors.length, 'error')}${warnings.length ? ` and ${count(warnings.length, 'warning')}` : ''}: fix ${errors.length === 1 ? 'it' : 'them'} to save.` : warnings.length ? `${count(warnings.length, 'warning')}; it can be saved.` : 'No problems.';

  return (
    <div className="card spaced-top" role="region" aria-labelledby="editor-title">
      <h2 id="editor-title">
        {set.name} <span className="sub">version {set.currentVersion}{set.servers.length ? `, decides for ${set.servers.join(', ')}` : ', attached to no server'}{changed ? '; unsaved changes' : ''}</span>
      </h2>
      <div className="policy-toolbar">
        <button type="button" className="primary" onClick={() => void save()} disabled={!changed || errors.length > 0}>
          Save version {set.currentVersion + 1}
        </button>
        {brokenSave && (
          <button type="button" className="danger" onClick={() => void save(true)} disabled={!changed || errors.length > 0}>
            Save anyway
          </button>
        )}
        <button type="button" onClick={() => void format()}>
          Format
        </button>
        <button type="button" onClick={discard} disabled={!changed}>
          Discard changes
        </button>
        <span className="grow" />
        <span className="policy-state" role="status">
          {state}
        </span>
      </div>
      <Notice notice={notice} />
      <CedarEditor
        doc={shown}
        docKey={`${set.name}@${baseVersion}#${resets}#${imported?.key ?? 0}`}
        label={`The policies of ${set.name}`}
        onChange={(t) => {
          setText(t);
          setProblems(undefined);
        }}
        check={check}
        features={features}
        marked={marked}
        onView={(v) => (view.current = v)}
        onSave={() => {
          if (changed && errors.length === 0) void save();
        }}
      />
      <p className="sub">
        Ctrl+Space completes (actions, the servers' tools and arguments, the claims callers carried); hover a name for what it is; Ctrl+/ comments a line out; Ctrl+S saves; Tab leaves the editor.
      </p>
      {problems && problems.length > 0 && (
        <ul className="policy-problems" aria-label="Problems">
          {problems.map((p, i) => (
            <li key={i}>
              <span className={p.severity}>{p.severity === 'error' ? 'Error' : 'Warning'}</span>
              <button type="button" className="link" onClick={() => goTo(p)}>
                line {p.line}, column {p.column}
              </button>
              <span>{withCode(p.message)}</span>
            </li>
          ))}
        </ul>
      )}
      <PolicySimulator
        servers={set.servers}
        features={features}
        draft={draft}
        draftVersion={checks}
        lineOf={lineOf}
        goTo={goToPolicy}
        onDecided={(indices) => setMarked(indices.flatMap((i) => spanOf(i) ?? []))}
        preset={preset}
        onKeep={keepCase}
      />
      <PolicyImpact set={set.name} servers={set.servers} draft={draft} draftVersion={checks} goTo={goToPolicy} />
      <div className="cases" role="region" aria-labelledby="cases-title">
        <h3 id="cases-title">Saved cases</h3>
        <PolicyCases cases={cases} runs={runs} onLoad={loadCase} onRemove={removeCase} />
      </div>
    </div>
  );
}


function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
