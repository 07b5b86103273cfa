import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { PolicySetView, PolicyVersionView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { DataTable, Notice, useNotice, when } from '../ui.js';
import { policyDrafts } from './policy-drafts.js';
import { PolicyHistory } from './policy-history.js';
import { PolicySetEditor } from './policy-set-editor.js';
import type { SimulatedRequest } from './policy-simulator.js';

/** A new set starts as ToolHive's smallest authz-config: one policy, no entities. */
const STARTER = { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action == Action::"call_tool", resource == Tool::"weather");'], entities_json: '[]' } };

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/**
 * Cedar policy sets (ToolHive's authz-config), the servers each one decides for, the editor of the
 * open one and its versions. A set with errors is never saved, so it never reaches a running server.
 */
export function PoliciesPage({ params }: { params: URLSearchParams }) {
  const [sets, setSets] = useState<PolicySetView[]>();
  const setsRef = useRef<PolicySetView[] | undefined>(undefined);
  setsRef.current = sets;
  const [open, setOpen] = useState<string>();
  const [history, setHistory] = useState<PolicyVersionView[]>([]);
  const [creating, setCreating] = useState(false);
  /** A file opened into the editor of a set, as its draft. */
  const [imported, setImported] = useState<{ set: string; config: unknown; key: number; source?: { text: string; fileName: string } }>();
  /** "Why was it denied?" from the log viewer: the request of an audit event, for the simulator. */
  const [why, setWhy] = useState<{ set: string; request: SimulatedRequest; key: number; note: string }>();
  const whyServer = params.get('server');
  const whyAudit = params.get('audit');
  useEffect(() => {
    if (!whyServer || !whyAudit) return;
    void (async () => {
      try {
        const d = await api.decision({ server: whyServer, auditId: whyAudit });
        const source = d.source;
        if (!source) throw new Error('That request was not decided by a policy set.');
        const op = d.ops.find((o) => !o.allowed) ?? d.ops[0];
        if (!op) throw new Error('That request had no operation a policy decided.');
        const list = await api.policies();
        setSets(list);
        const set = list.find((s) => s.name === source.set);
        if (!set) throw new Error(`The policy set ${source.set} that decided it no longer exists.`);
        setOpen(set.name);
        // The version that decided it, as the draft, when the set has moved on since (never over a draft of the user's).
        const draftKept = policyDrafts.has(set.name);
        if (source.version !== set.currentVersion && !draftKept) {
          const v = await api.policy({ name: set.name, version: source.version });
          setImported((i) => ({ set: set.name, config: v.config, key: (i?.key ?? 0) + 1 }));
        }
        const sub = typeof d.claims['sub'] === 'string' ? d.claims['sub'] : 'someone';
        const method = { tool: 'tools/call', prompt: 'prompts/get', resource: 'resources/read' }[op.feature];
        setWhy((w) => ({
          set: set.name,
          key: (w?.key ?? 0) + 1,
          request: { server: whyServer, claims: d.claims, feature: op.feature, name: op.name, arguments: op.arguments ?? {} },
          note: `Why was ${method} ${op.name} by ${sub} denied (${when(d.at)})? Version ${source.version} of ${set.name} decided it${source.version === set.currentVersion ? '' : draftKept ? `; your unsaved draft stays in the editor (compare version ${source.version} below, or discard the draft and ask again)` : ', and it is in the editor as a draft'}; the simulator below has the request.`,
        }));
      } catch (err) {
        setNotice({ kind: 'error', text: `Why it was denied cannot be shown: ${errorText(err)}` });
      }
    })();
  }, [whyServer, whyAudit]);
  const [notice, setNotice, act] = useNotice();

  const reload = async (select?: string) => {
    const list = await api.policies();
    setSets(list);
    setOpen((o) => select ?? o ?? list[0]?.name);
  };
  useEffect(() => {
    reload().catch((err: unknown) => setNotice({ kind: 'error', text: errorText(err) }));
  }, []);
  // Pushed by the core: a set saved or deleted elsewhere (gatehouse policy, another window), a server
  // attached or detached; read again then (and after a lost connection, when events were missed).
  useEffect(() => {
    const ac = new AbortController();
    void (async () => {
      for (let delay = 500; !ac.signal.aborted; delay = Math.min(delay * 2, 10_000)) {
        try {
          await api.follow('events', {}, (e) => {
            delay = 500;
            // A server's status changes often; only an attachment changed is news to this page.
            const attachmentChanged = e.type === 'server' && (setsRef.current?.find((x) => x.servers.includes(e.server.name))?.name ?? null) !== (e.server.policySet ?? null);
            if (e.type === 'policy-set' || e.type === 'server-removed' || attachmentChanged) void reload().catch(() => {});
          }, ac.signal);
        } catch {
          // reconnect below
        }
        if (ac.signal.aborted) return;
        await new Promise((r) => setTimeout(r, delay));
        await reload().catch(() => {});
      }
    })();
    return () => ac.abort();
  }, []);
  useEffect(() => {
    if (open === undefined) return;
    api.policyHistory({ name: open }).then(setHistory, (err: unknown) => setNotice({ kind: 'error', text: errorText(err) }));
  }, [open, sets]);

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get('name') ?? '').trim();
    if (!NAME.test(name)) return setNotice({ kind: 'error', text: 'A set name is letters, digits, dots, dashes and underscores (up to 64), starting with a letter or digit.' });
    if (sets?.some((s) => s.name === name)) return setNotice({ kind: 'error', text: `There is a set named ${name} already: open it from the list.` });
    if (await act(() => api.savePolicy({ name, config: STARTER, note: 'created in the app' }), `Policy set ${name} created. Attach it to a server on the server's page.`)) {
      setCreating(false);
      await reload(name);
    }
  };

  const current = sets?.find((s) => s.name === open);
  return (
    <section aria-labelledby="policies-title">
      <div className="page-head">
        <h1 id="policies-title">Policies</h1>
        <div className="buttons">
          <button type="button" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
            New policy set
          </button>
        </div>
      </div>
      <p className="lead">
        Every request to a server with a policy set is decided by Cedar: denied unless a policy permits it, and a forbid always wins. Saving checks the draft first; a draft with errors is not
        saved, and the servers keep the policies they run.
      </p>
      <Notice notice={notice} />
      {creating && (
        <form className="card form inline" aria-label="New policy set" onSubmit={(e) => void create(e)}>
          <label>
            Name
            <input name="name" autoFocus required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}" aria-describedby="new-set-help" />
          </label>
          <button type="submit" className="primary">
            Create
          </button>
          <p id="new-set-help" className="sub">
            It starts with one policy that lets anyone call the tool <code>weather</code>.
          </p>
        </form>
      )}
      {sets === undefined ? (
        <p>Loading…</p>
      ) : sets.length === 0 ? (
        <p className="empty">
          No policy sets yet. Create one here; <code>gatehouse run IMAGE --authz-config FILE</code> and <code>gatehouse policy save NAME FILE</code> make them too.
        </p>
      ) : (
        <DataTable caption="Policy sets" columns={['Set', 'Version', 'Policies', 'Decides for', 'Saved']}>
          <tbody>
            {sets.map((s) => (
              <tr key={s.name} className={s.name === open ? 'selected-row' : undefined}>
                <th scope="row">
                  <button type="button" className="link" onClick={() => setOpen(s.name)} aria-current={s.name === open ? 'true' : undefined}>
                    {s.name}
                  </button>
                </th>
                <td>v{s.currentVersion}</td>
                <td>{policyCount(s.config)}</td>
                <td>{s.servers.length ? s.servers.join(', ') : <span className="sub">no server</span>}</td>
                <td>{when(s.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      {current && (
        <>
          <PolicySetEditor
            key={current.name}
            set={current}
            imported={imported?.set === current.name ? imported : undefined}
            why={why?.set === current.name ? why : undefined}
            onSaved={async () => {
              setImported(undefined);
              await reload(current.name);
            }}
            onDiscarded={() => setImported(undefined)}
          />
          <PolicyHistory set={current} history={history} onChanged={() => reload(current.name)} onImport={(config, source) => setImported((i) => ({ set: current.name, config, source, key: (i?.key ?? 0) + 1 }))} />
        </>
      )}
    </section>
  );
}

function policyCount(config: unknown): number {
  const policies = (config as { cedar?: { policies?: unknown } } | null)?.cedar?.policies;
  return Array.isArray(policies) ? policies.length : 0;
}
