import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { SimulationView, WhoCanView } from '../../../src/api/browser.js';

/** What "Who can?" asks about: the request without its caller. */
interface WhoInput {
  feature: SimulatedRequest['feature'];
  name: string;
  arguments?: Record<string, unknown>;
  serverName?: string;
}

interface RecentCaller {
  server: string;
  auditId: string;
  at: string;
  caller: string;
  claims: Record<string, unknown>;
}
import { api, errorText } from '../api.js';
import type { Features } from '../cedar/index.js';
import { timeOfDay, withCode } from '../ui.js';

/** A request as an MCP client sends it, in the simulator's words. */
export interface SimulatedRequest {
  server: string | null;
  claims: Record<string, unknown>;
  feature: 'tool' | 'prompt' | 'resource';
  name: string;
  arguments: Record<string, unknown>;
}

const METHODS = [
  { feature: 'tool', method: 'tools/call', what: 'Tool' },
  { feature: 'prompt', method: 'prompts/get', what: 'Prompt' },
  { feature: 'resource', method: 'resources/read', what: 'Resource URI' },
] as const;

/** `policy3` → 3 (ToolHive's ids are the policies' places in the set). */
function indexOf(id: string): number {
  const m = /^policy(\d+)$/.exec(id);
  return m ? Number(m[1]) : -1;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be a JSON object, such as {"sub": "alice123"}.`);
  return v as Record<string, unknown>;
}

/**
 * The simulator: a request built the way MCP clients send it (server, caller's claims, method, name,
 * arguments), decided by the draft in the editor, as the proxy would decide it. The policies that
 * decided are marked in the editor; the Cedar request and entities Gatehouse built are shown.
 */
export function PolicySimulator(props: {
  servers: string[];
  features: Features;
  /** The draft's config, or why it cannot be simulated (it has errors). */
  draft(): { config: unknown } | { problem: string };
  /** Bumped when the draft changed and checked: a simulation shown is run again. */
  draftVersion: number;
  /** Where a policy is, for its line number. */
  lineOf(index: number): number | undefined;
  onDecided(policies: number[]): void;
  goTo(index: number): void;
  /** A request to put in the form and decide (a saved case loaded); a new `key` each time. */
  preset?: { request: SimulatedRequest; key: number };
  /** Keeps the request decided last as a case of the set, expecting this decision. */
  onKeep?(request: SimulatedRequest, label: string, expect: 'allow' | 'deny'): Promise<boolean>;
}) {
  const [server, setServer] = useState(props.servers[0] ?? '');
  const [claims, setClaims] = useState('{\n  "sub": "alice123",\n  "roles": ["premium"]\n}');
  const [feature, setFeature] = useState<SimulatedRequest['feature']>('tool');
  const [name, setName] = useState(() => [...props.features.tools.keys()][0] ?? 'weather');
  const [args, setArgs] = useState('{}');
  const [result, setResult] = useState<SimulationView>();
  const [problem, setProblem] = useState<string>();
  const [running, setRunning] = useState(false);
  const [who, setWho] = useState<{ view: WhoCanView; input: WhoInput; what: string }>();
  const [callers, setCallers] = useState<RecentCaller[]>([]);
  // The recent callers of the set's servers, whose token claims can stand in for the JSON: read when
  // the set opens and each time the list is opened (each read unseals the kept decisions).
  const loadCallers = () => {
    if (props.servers.length === 0) return;
    api.recentCallers({ servers: props.servers }).then(setCallers, () => setCallers([]));
  };
  useEffect(loadCallers, [props.servers.join(',')]);
  const asked = useRef<SimulatedRequest | undefined>(undefined);

  // Only the newest run's answer is shown: a redecision the draft started may answer after the request asked since.
  const runs = useRef(0);
  const run = async (request: SimulatedRequest) => {
    const mine = ++runs.current;
    const draft = props.draft();
    if ('problem' in draft) {
      setResult(undefined);
      props.onDecided([]);
      setProblem(draft.problem);
      return;
    }
    setRunning(true);
    try {
      const r = await api.simulatePolicy({
        config: draft.config,
        input: { claims: request.claims, feature: request.feature, name: request.name, ...(request.feature !== 'resource' ? { arguments: request.arguments } : {}), ...(request.server ? { serverName: request.server } : {}) },
      });
      if (mine !== runs.current) return;
      setResult(r);
      setProblem(undefined);
      props.onDecided([...new Set([...r.determining.map((d) => d.index), ...r.decision.errors.map((e) => indexOf(e.policy))])].filter((i) => i >= 0));
    } catch (err) {
      if (mine !== runs.current) return;
      setResult(undefined);
      props.onDecided([]);
      setProblem(errorText(err));
    } finally {
      if (mine === runs.current) setRunning(false);
    }
  };

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    try {
      const request: SimulatedRequest = { server: server || null, claims: parseJsonObject(claims, 'The caller\'s claims'), feature, name: name.trim(), arguments: feature === 'resource' ? {} : parseJsonObject(args, 'The arguments') };
      if (!request.name) throw new Error(`Name the ${METHODS.find((m) => m.feature === feature)!.what.toLowerCase()} to ask for.`);
      asked.current = request;
      void run(request);
    } catch (err) {
      setResult(undefined);
      setProblem((err as Error).message);
    }
  };

  // The draft changed (and was checked): the request asked last is decided again, by the new draft.
  useEffect(() => {
    if (asked.current) void run(asked.current);
  }, [props.draftVersion]);

  // A saved case loaded: its request in the form, decided at once.
  useEffect(() => {
    const p = props.preset;
    if (!p) return;
    setServer(p.request.server ?? '');
    setClaims(JSON.stringify(p.request.claims, null, 2));
    setFeature(p.request.feature);
    setName(p.request.name);
    setArgs(JSON.stringify(p.request.arguments));
    asked.current = p.request;
    void run(p.request);
  }, [props.preset?.key]);

  const [label, setLabel] = useState('');
  const [expect, setExpect] = useState<'allow' | 'deny'>('allow');
  useEffect(() => {
    const r = asked.current;
    if (!result || !r) return;
    setExpect(result.allowed ? 'allow' : 'deny');
    const sub = typeof r.claims['sub'] === 'string' ? r.claims['sub'] : 'no sub';
    setLabel(`${sub} ${result.allowed ? 'may' : 'may not'} ${r.feature === 'tool' ? 'call' : r.feature === 'prompt' ? 'get' : 'read'} ${r.name}`);
  }, [result]);
  const keep = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (asked.current && props.onKeep && (await props.onKeep(asked.current, label.trim(), expect))) setLabel('');
  };

  /** Who may make this request at all: the caller left unknown (Cedar's partial evaluation). */
  const askWho = async (given?: WhoInput) => {
    const draft = props.draft();
    if ('problem' in draft) return setProblem(draft.problem);
    try {
      const input: WhoInput = given ?? { feature, name: name.trim(), ...(feature !== 'resource' ? { arguments: parseJsonObject(args, 'The arguments') } : {}), ...(server ? { serverName: server } : {}) };
      if (!input.name) throw new Error(`Name the ${METHODS.find((m) => m.feature === feature)!.what.toLowerCase()} to ask about.`);
      const view = await api.policyWhoCan({ config: draft.config, input });
      setWho({ view, input, what: `${METHODS.find((m) => m.feature === input.feature)!.method} ${input.name}` });
      setProblem(undefined);
    } catch (err) {
      setWho(undefined);
      setProblem(errorText(err));
    }
  };
  // The draft changed: the answer shown is asked again, of the new draft (a stale one would mislead).
  const whoRef = useRef(who);
  whoRef.current = who;
  useEffect(() => {
    if (whoRef.current) void askWho(whoRef.current.input);
  }, [props.draftVersion]);

  const names = feature === 'tool' ? [...props.features.tools.keys()] : feature === 'prompt' ? [...props.features.prompts.keys()] : [];
  const ref = (index: number) => {
    const line = props.lineOf(index);
    return (
      <button type="button" className="link" onClick={() => props.goTo(index)}>
        policy {index}
        {line !== undefined ? ` (line ${line})` : ''}
      </button>
    );
  };

  return (
    <div className="card simulator" role="region" aria-labelledby="simulator-title">
      <h2 id="simulator-title">Simulate a request</h2>
      <p className="sub">Decided by the draft above, as the proxy would decide it: nothing is sent to a server.</p>
      <form className="form" aria-label="The request to simulate" onSubmit={submit}>
        <div className="grid">
          <label>
            Server
            <select value={server} onChange={(e) => setServer(e.target.value)}>
              {props.servers.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
              <option value="">none (no MCP::"…" parent)</option>
            </select>
          </label>
          <label>
            Method
            <select value={feature} onChange={(e) => setFeature(e.target.value as SimulatedRequest['feature'])}>
              {METHODS.map((m) => (
                <option key={m.feature} value={m.feature}>
                  {m.method}
                </option>
              ))}
            </select>
          </label>
          <label>
            {METHODS.find((m) => m.feature === feature)!.what}
            <input value={name} onChange={(e) => setName(e.target.value)} list="simulator-names" spellCheck={false} />
            <datalist id="simulator-names">
              {names.map((n) => (
                <option key={n} value={n} />
              ))}
            </datalist>
          </label>
          {props.servers.length > 0 && (
            <label className="wide">
              As a recent caller
              <select
                value=""
                onFocus={loadCallers}
                onChange={(e) => {
                  const c = callers.find((x) => x.auditId === e.target.value);
                  if (c) setClaims(JSON.stringify(c.claims, null, 2));
                }}
              >
                <option value="">{callers.length ? "Put the claims of a recent caller's token below…" : `No recent callers of ${props.servers.join(', ')} yet`}</option>
                {callers.map((c) => (
                  <option key={c.auditId} value={c.auditId}>
                    {c.caller} (last called {c.server} {timeOfDay(c.at)})
                  </option>
                ))}
              </select>
            </label>
          )}
          <label className="wide">
            The caller's token claims (JSON)
            <textarea rows={4} value={claims} onChange={(e) => setClaims(e.target.value)} spellCheck={false} className="mono" />
          </label>
          {feature !== 'resource' && (
            <label className="wide">
              Arguments (JSON)
              <textarea rows={2} value={args} onChange={(e) => setArgs(e.target.value)} spellCheck={false} className="mono" />
            </label>
          )}
        </div>
        <div className="buttons">
          <button type="button" onClick={() => void askWho()}>
            Who can?
          </button>{' '}
          <button type="submit" className="primary" disabled={running}>
            {running ? 'Deciding…' : 'Decide'}
          </button>
        </div>
      </form>
      {who && (
        <div className="who-can" role="region" aria-label={`Who can ${who.what}`}>
          <h3>Who can {who.what}?</h3>
          {who.view.decision === 'allow' && <p>Every caller: no policy that decides it asks anything of the caller.</p>}
          {who.view.decision === 'deny' && <p>Nobody: no permit applies to this request, whoever asks.</p>}
          {who.view.decision === null && <ConditionList title="Allowed for:" conditions={who.view.permits} />}
          <ConditionList title="Except (a forbid always wins):" conditions={who.view.forbids} />
          {who.view.requires.length > 0 && (
            <p className="notice warn">
              Only for callers whose token carries{' '}
              {who.view.requires.map((r, i) => (
                <span key={r.attribute}>
                  {i > 0 ? ' and ' : ''}
                  <code>{r.attribute.replace(/^claim(set)?_/, '')}</code> (read without <code>has</code> by {r.policies.map((p) => `policy ${p}`).join(', ')})
                </span>
              ))}
              : for a caller without it, that policy fails to evaluate, and an evaluation error denies the whole request, whatever other policies permit.
            </p>
          )}
          {who.view.unanswerable.length > 0 && (
            <p className="sub">
              {who.view.unanswerable.map((u) => `policy ${u.index}`).join(', ')} read{who.view.unanswerable.length === 1 ? 's' : ''} the caller's claims through <code>context</code>, which Cedar can answer only for a given caller: use Decide with that caller's claims.
            </p>
          )}
        </div>
      )}
      <div className="simulation">
        <div role="status" aria-live="polite">
          {problem && <p className="notice error">{problem}</p>}
          {result && (
            <p className="verdict">
              <span className={`status ${result.allowed ? 'running' : 'error'}`}>{result.allowed ? 'Allowed' : 'Denied'}</span>{' '}
              {result.problem
                ? result.problem
                : result.decision.errors.length
                  ? 'an evaluation error denies the whole request (as in ToolHive), whatever other policies permit.'
                  : result.decision.decision === 'allow'
                    ? 'a permit matched and no forbid did.'
                    : result.determining.length
                      ? 'a forbid matched: a forbid always wins.'
                      : 'no policy permits it: denied by default.'}
            </p>
          )}
        </div>
        {result && (
          <>
            {result.determining.length > 0 && (
              <ul className="plain">
                {result.determining.map((d) => (
                  <li key={d.id}>
                    {ref(d.index)} {result.decision.decision === 'allow' ? 'permits it' : 'forbids it'}
                  </li>
                ))}
              </ul>
            )}
            {result.decision.errors.length > 0 && (
              <ul className="plain">
                {result.decision.errors.map((e) => (
                  <li key={e.policy}>
                    {indexOf(e.policy) >= 0 ? ref(indexOf(e.policy)) : e.policy} could not be evaluated: {e.message}
                  </li>
                ))}
              </ul>
            )}
            <p className="sub">
              {result.request.principal} · {result.request.action} · {result.request.resource}
            </p>
            {props.onKeep && asked.current && (
              <form className="form inline keep-case" aria-label="Keep this request as a case" onSubmit={(e) => void keep(e)}>
                <label>
                  Case
                  <input value={label} onChange={(e) => setLabel(e.target.value)} required maxLength={200} />
                </label>
                <label>
                  Expects
                  <select value={expect} onChange={(e) => setExpect(e.target.value as 'allow' | 'deny')}>
                    <option value="allow">Allowed</option>
                    <option value="deny">Denied</option>
                  </select>
                </label>
                <button type="submit">Keep as a case</button>
              </form>
            )}
            {result.cedar && (
              <details>
                <summary>The Cedar request and entities Gatehouse built</summary>
                <pre className="tail" tabIndex={0} aria-label="The Cedar request and entities">
                  {JSON.stringify(result.cedar, null, 2)}
                </pre>
              </details>
            )}
          </>
        )}
      </div>
    </div>
  );
}

/** Each policy's condition on the caller, in words, with the policy it comes from. */
function ConditionList({ title, conditions }: { title: string; conditions: WhoCanView['permits'] }) {
  if (conditions.length === 0) return null;
  return (
    <>
      <p>{title}</p>
      <ul>
        {conditions.map((p) => (
          <li key={p.id}>
            {withCode(p.words)} <span className="sub">policy {p.index}</span>
          </li>
        ))}
      </ul>
    </>
  );
}
