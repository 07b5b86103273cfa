import { useEffect, useRef, useState } from 'react';
import type { LogLine, ServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';

const MAX_LINES = 2_000;
const SOURCES = ['container', 'proxy', 'core', 'audit'] as const;

function time(ts: number): string {
  const d = new Date(ts);
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString()}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function Highlighted({ text, term }: { text: string; term: string }) {
  if (!term) return <>{text}</>;
  const parts = text.split(new RegExp(`(${term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})`, 'i'));
  return <>{parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{p}</mark> : p))}</>;
}

/**
 * Every server's container, proxy, core and audit lines: the last lines of the query, then a live tail
 * pushed by the core. The tail sticks to the bottom unless the user scrolled up.
 */
export function LogsPage({ servers }: { servers: ServerView[] | undefined }) {
  const [server, setServer] = useState('');
  const [sources, setSources] = useState<Set<string>>(new Set(SOURCES));
  const [search, setSearch] = useState('');
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<string>();
  const [unseen, setUnseen] = useState(0);
  const view = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);

  useEffect(() => {
    const ac = new AbortController();
    const query = { ...(server ? { server } : {}), sources: [...sources] as LogLine['source'][], ...(search ? { search } : {}) };
    setError(undefined);
    setUnseen(0);
    atBottom.current = true;
    const timer = setTimeout(() => {
      void api
        .logs({ ...query, limit: 500 })
        .then((backlog) => {
          if (ac.signal.aborted) return;
          setLines(backlog);
          if (search) return; // a search shows its matches; the live tail follows everything
          return api.follow(
            'followLogs',
            { ...query, limit: 1_000, afterId: backlog.at(-1)?.id ?? 0 },
            (l) => {
              setLines((prev) => (prev.at(-1)?.id === l.id ? prev : [...prev, l].slice(-MAX_LINES)));
              if (!atBottom.current) setUnseen((n) => n + 1);
            },
            ac.signal,
          );
        })
        .catch((err: unknown) => !ac.signal.aborted && setError(errorText(err)));
    }, 200);
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, [server, sources, search]);

  useEffect(() => {
    const el = view.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const onScroll = () => {
    const el = view.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom.current) setUnseen(0);
  };
  const jumpToLive = () => {
    const el = view.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseen(0);
  };

  return (
    <section aria-labelledby="logs-title" className="logs-page">
      <div className="page-head">
        <h1 id="logs-title">Logs</h1>
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Server
          <select value={server} onChange={(e) => setServer(e.target.value)}>
            <option value="">All servers</option>
            {servers?.map((s) => (
              <option key={s.name} value={s.name}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Sources</legend>
          {SOURCES.map((s) => (
            <label key={s} className="check">
              <input
                type="checkbox"
                checked={sources.has(s)}
                onChange={(e) =>
                  setSources((prev) => {
                    const next = new Set(prev);
                    if (e.target.checked) next.add(s);
                    else next.delete(s);
                    return next;
                  })
                }
              />
              {s}
            </label>
          ))}
        </fieldset>
        <label className="grow">
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="words in any line" />
        </label>
      </form>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <div className="log-view" ref={view} onScroll={onScroll} tabIndex={0} role="log" aria-label="Log lines" aria-live="off">
        {lines.length === 0 ? (
          <p className="empty">{search ? 'No line matches.' : 'No lines yet.'}</p>
        ) : (
          <table>
            <tbody>
              {lines.map((l) => (
                <tr key={l.id} className={`level-${l.level} source-${l.source}`}>
                  <td className="ts">{time(l.ts)}</td>
                  <td className="srv">{l.server}</td>
                  <td className="src">{l.source}</td>
                  <td className="lvl">{l.level}</td>
                  <td className="msg">
                    <Highlighted text={l.message} term={search} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {unseen > 0 && (
        <button type="button" className="jump" onClick={jumpToLive}>
          {unseen} new line{unseen === 1 ? '' : 's'}, jump to live
        </button>
      )}
    </section>
  );
}
