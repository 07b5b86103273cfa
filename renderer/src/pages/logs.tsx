import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { LogHistogram, LogLine, LogQuery, ServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { append, emptyWindow, prepend, type LogWindow } from '../log-window.js';
import { AuditSummary, LogDetail } from './log-detail.js';
import { Histogram } from './log-histogram.js';
import { RetentionSettings } from './log-retention.js';

const ROW_HEIGHT = 22;
const PAGE = 500;
const OVERSCAN = 20;
const SOURCES = ['container', 'proxy', 'core', 'audit'] as const;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

type Filter = Omit<LogQuery, 'limit' | 'afterId' | 'beforeId' | 'from'>;

function time(ts: number): string {
  const d = new Date(ts);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function Highlighted({ text, term }: { text: string; term: string }) {
  const words = term.split(/\s+/).filter(Boolean);
  if (words.length === 0) return <>{text}</>;
  const parts = text.split(new RegExp(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'i'));
  return <>{parts.map((p, i) => (i % 2 === 1 ? <mark key={i}>{p}</mark> : p))}</>;
}

function toLocalInput(ts: number | undefined): string {
  if (ts === undefined) return '';
  const d = new Date(ts - new Date(ts).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

/**
 * Every server's container, proxy, core and audit lines in one virtualized view over the store: only
 * the rows on screen are in the DOM, and only a window of lines is in memory, fetched by id as the user
 * scrolls. New lines are pushed by the core; the view sticks to the bottom unless the user scrolled up.
 */
export function LogsPage({ servers, initialServer }: { servers: ServerView[] | undefined; initialServer?: string | undefined }) {
  const [filter, setFilter] = useState<Filter>({ sources: [...SOURCES], ...(initialServer ? { server: initialServer } : {}) });
  const [search, setSearch] = useState('');
  const [win, setWin] = useState<LogWindow>(emptyWindow);
  const [histogram, setHistogram] = useState<LogHistogram>();
  const [selected, setSelected] = useState<number>();
  const [unseen, setUnseen] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [viewport, setViewport] = useState({ top: 0, height: 600 });
  const view = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const winRef = useRef(win);
  winRef.current = win;
  const loading = useRef(false);

  const query = useMemo<Filter>(() => ({ ...filter, ...(search.trim() ? { search: search.trim() } : {}) }), [filter, search]);

  // A new query: its newest lines, its volume chart, then the live tail.
  const firstQuery = useRef(true);
  useEffect(() => {
    const ac = new AbortController();
    const pending: LogLine[] = [];
    const flush = () => {
      if (ac.signal.aborted || pending.length === 0) return;
      const batch = pending.splice(0);
      setHistogram((prev) => prev && batch.reduce(addToHistogram, prev));
      if (!winRef.current.live) return setUnseen((n) => n + batch.length);
      setWin((w) => append(w, batch, true).window);
      if (!stick.current) setUnseen((n) => n + batch.length);
    };
    // Typing in a filter waits a moment; opening the page does not.
    const delay = firstQuery.current ? 0 : 150;
    firstQuery.current = false;
    const timer = setTimeout(() => {
      setError(undefined);
      setUnseen(0);
      setSelected(undefined);
      stick.current = true;
      void (async () => {
        try {
          // The rows first; the chart may take longer (a search counts every match) and arrives on its own.
          void api.logHistogram({ ...query, buckets: 120 }).then(
            (h) => !ac.signal.aborted && setHistogram(h),
            () => {},
          );
          const rows = await api.logs({ ...query, limit: PAGE });
          if (ac.signal.aborted) return;
          setWin({ rows, live: true, older: rows.length >= PAGE });
          await api.follow(
            'followLogs',
            { ...query, limit: PAGE, afterId: rows.at(-1)?.id ?? 0 },
            (l) => {
              // At a thousand lines a second, one render per frame, not one per line.
              pending.push(l);
              if (pending.length === 1) requestAnimationFrame(flush);
            },
            ac.signal,
          );
        } catch (err) {
          if (!ac.signal.aborted) setError(errorText(err));
        }
      })();
    }, delay);
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, [query]);

  // Stick to the bottom while following.
  useEffect(() => {
    const el = view.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [win]);

  const fetchOlder = useCallback(async () => {
    const w = winRef.current;
    const first = w.rows[0];
    if (loading.current || !w.older || !first) return;
    loading.current = true;
    try {
      const older = await api.logs({ ...query, beforeId: first.id, limit: PAGE });
      const { window, added } = prepend(winRef.current, older, PAGE);
      setWin(window);
      // Keep the lines the user is reading where they are.
      if (view.current) view.current.scrollTop += added * ROW_HEIGHT;
    } catch (err) {
      setError(errorText(err));
    } finally {
      loading.current = false;
    }
  }, [query]);

  const fetchNewer = useCallback(async () => {
    const w = winRef.current;
    const last = w.rows.at(-1);
    if (loading.current || w.live || !last) return;
    loading.current = true;
    try {
      const newer = await api.logs({ ...query, afterId: last.id, from: 'oldest', limit: PAGE });
      const { window, dropped } = append(winRef.current, newer, newer.length < PAGE);
      setWin(window);
      if (view.current) view.current.scrollTop -= dropped * ROW_HEIGHT;
      if (window.live) setUnseen(0);
    } catch (err) {
      setError(errorText(err));
    } finally {
      loading.current = false;
    }
  }, [query]);

  const onScroll = () => {
    const el = view.current;
    if (!el) return;
    setViewport({ top: el.scrollTop, height: el.clientHeight });
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    stick.current = winRef.current.live && fromBottom < ROW_HEIGHT;
    if (stick.current) setUnseen(0);
    if (el.scrollTop < ROW_HEIGHT * 40) void fetchOlder();
    if (fromBottom < ROW_HEIGHT * 40) void fetchNewer();
  };

  useEffect(() => {
    const el = view.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport({ top: el.scrollTop, height: el.clientHeight }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const jumpToLive = async () => {
    setUnseen(0);
    if (!winRef.current.live) {
      const rows = await api.logs({ ...query, limit: PAGE });
      setWin({ rows, live: true, older: rows.length >= PAGE });
    }
    stick.current = true;
    const el = view.current;
    if (el) el.scrollTop = el.scrollHeight;
  };

  /** The chart seeks the view: the lines up to the end of the bucket that was clicked. */
  const seek = async (untilTs: number) => {
    try {
      const rows = await api.logs({ ...query, untilTs, limit: PAGE });
      const newest = winRef.current.live ? (await api.logs({ ...query, limit: 1 })).at(-1)?.id : undefined;
      setWin({ rows, live: rows.at(-1)?.id === newest, older: rows.length >= PAGE });
      stick.current = false;
      requestAnimationFrame(() => {
        const el = view.current;
        if (el) el.scrollTop = el.scrollHeight;
      });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const seekRef = useRef(seek);
  seekRef.current = seek;
  const onSeek = useCallback((ts: number) => void seekRef.current(ts), []);

  const exportJsonl = async () => {
    setBusy('Exporting…');
    try {
      const parts: string[] = [];
      let afterId = 0;
      for (let n = 0; n < 200; n++) {
        const page = await api.logs({ ...query, afterId, from: 'oldest', limit: 10_000 });
        for (const l of page) parts.push(JSON.stringify(l) + '\n');
        setBusy(`Exporting… ${parts.length.toLocaleString()} lines`);
        if (page.length < 10_000) break;
        afterId = page.at(-1)!.id;
      }
      const url = URL.createObjectURL(new Blob(parts, { type: 'application/x-ndjson' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `gatehouse-logs-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(undefined);
    }
  };

  const copyWindow = () => void navigator.clipboard?.writeText(win.rows.map((l) => `${new Date(l.ts).toISOString()} ${l.server} ${l.source} ${l.level} ${l.message}`).join('\n'));

  const first = Math.max(0, Math.floor(viewport.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(win.rows.length, Math.ceil((viewport.top + viewport.height) / ROW_HEIGHT) + OVERSCAN);
  const visible = useMemo(() => win.rows.slice(first, last), [win.rows, first, last]);
  const selectedLine = win.rows.find((l) => l.id === selected);

  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const i = selected === undefined ? win.rows.length - 1 : win.rows.findIndex((l) => l.id === selected);
    const next = win.rows[Math.max(0, Math.min(win.rows.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (!next) return;
    setSelected(next.id);
    const el = view.current;
    const y = win.rows.indexOf(next) * ROW_HEIGHT;
    if (el && (y < el.scrollTop || y > el.scrollTop + el.clientHeight - ROW_HEIGHT)) el.scrollTop = y - el.clientHeight / 2;
  };

  const set = <K extends keyof Filter>(k: K, v: Filter[K] | undefined) =>
    setFilter((f) => {
      const next = { ...f };
      if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0 && k !== 'sources')) delete next[k];
      else next[k] = v;
      return next;
    });
  const toggle = (k: 'sources' | 'levels', value: string, on: boolean) => {
    const current = new Set<string>((filter[k] as string[] | undefined) ?? (k === 'levels' ? [] : []));
    if (on) current.add(value);
    else current.delete(value);
    set(k, [...current] as never);
  };

  return (
    <section aria-labelledby="logs-title" className="logs-page">
      <div className="page-head">
        <h1 id="logs-title">Logs</h1>
        <div className="buttons">
          {busy && <span role="status">{busy}</span>}
          <RetentionSettings />
          <button type="button" onClick={copyWindow}>
            Copy lines
          </button>
          <button type="button" onClick={() => void exportJsonl()} disabled={busy !== undefined}>
            Export JSONL
          </button>
        </div>
      </div>
      <form className="filters" role="search" aria-label="Filter log lines" onSubmit={(e) => e.preventDefault()}>
        <label>
          Server
          <select value={filter.server ?? ''} onChange={(e) => set('server', e.target.value || undefined)}>
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
              <input type="checkbox" checked={filter.sources?.includes(s) ?? true} onChange={(e) => toggle('sources', s, e.target.checked)} />
              {s}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Levels</legend>
          {LEVELS.map((l) => (
            <label key={l} className="check">
              <input type="checkbox" checked={filter.levels === undefined || filter.levels.includes(l)} onChange={(e) => toggle('levels', l, e.target.checked)} />
              {l}
            </label>
          ))}
        </fieldset>
        <label>
          Decision
          <select value={filter.outcome ?? ''} onChange={(e) => set('outcome', e.target.value || undefined)}>
            <option value="">Any line</option>
            <option value="success">Allowed calls</option>
            <option value="denied">Denied calls</option>
            <option value="error">Failed calls</option>
          </select>
        </label>
        <label>
          Event
          <select value={filter.type ?? ''} onChange={(e) => set('type', e.target.value || undefined)}>
            <option value="">Any line</option>
            <option value="mcp_*">MCP requests</option>
            <option value="mcp_tool_call">Tool calls</option>
            <option value="oauth_*">Sign-in steps</option>
          </select>
        </label>
        <label>
          Method
          <input value={filter.method ?? ''} onChange={(e) => set('method', e.target.value.trim() || undefined)} placeholder="tools/call" size={12} />
        </label>
        <label>
          Tool
          <input value={filter.target ?? ''} onChange={(e) => set('target', e.target.value.trim() || undefined)} placeholder="any" size={12} />
        </label>
        <label>
          From
          <input type="datetime-local" step={1} value={toLocalInput(filter.sinceTs as number | undefined)} onChange={(e) => set('sinceTs', e.target.value ? new Date(e.target.value).getTime() : undefined)} />
        </label>
        <label>
          To
          <input type="datetime-local" step={1} value={toLocalInput(filter.untilTs as number | undefined)} onChange={(e) => set('untilTs', e.target.value ? new Date(e.target.value).getTime() : undefined)} />
        </label>
        <label className="grow">
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="words in any line" />
        </label>
      </form>
      {histogram && <Histogram data={histogram} onSeek={onSeek} />}
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
      <div className="log-body">
        <div className="log-view" ref={view} onScroll={onScroll} onKeyDown={onKey} tabIndex={0} role="listbox" aria-label="Log lines" aria-activedescendant={selected !== undefined ? `log-${selected}` : undefined}>
          {win.rows.length === 0 ? (
            <p className="empty">{query.search ? 'No line matches.' : 'No lines yet.'}</p>
          ) : (
            <LogRows rows={visible} first={first} total={win.rows.length} selected={selected} search={query.search ?? ''} onSelect={setSelected} />
          )}
        </div>
        {selectedLine && <LogDetail line={selectedLine} onClose={() => setSelected(undefined)} />}
      </div>
      {unseen > 0 && (
        <button type="button" className="jump" onClick={() => void jumpToLive()}>
          {unseen} new line{unseen === 1 ? '' : 's'}, jump to live
        </button>
      )}
    </section>
  );
}

/** The rows on screen; memoized, so a scroll that keeps them draws nothing new. */
const LogRows = memo(function LogRows({ rows, first, total, selected, search, onSelect }: { rows: LogLine[]; first: number; total: number; selected: number | undefined; search: string; onSelect: (id: number) => void }) {
  return (
    <div style={{ height: total * ROW_HEIGHT, position: 'relative' }}>
      {rows.map((l, i) => (
        <div
          key={l.id}
          id={`log-${l.id}`}
          role="option"
          aria-selected={l.id === selected}
          className={`log-row level-${l.level} source-${l.source}${l.id === selected ? ' selected' : ''}`}
          style={{ top: (first + i) * ROW_HEIGHT }}
          onClick={() => onSelect(l.id)}
        >
          <span className="ts">{time(l.ts)}</span>
          <span className="srv">{l.server === "-" ? "gatehouse" : l.server}</span>
          <span className="src">{l.source}</span>
          <span className="lvl">{l.level}</span>
          <span className="msg">{l.source === 'audit' && l.fields ? <AuditSummary line={l} /> : <Highlighted text={l.message} term={search} />}</span>
        </div>
      ))}
    </div>
  );
});

function addToHistogram(h: LogHistogram, l: LogLine): LogHistogram {
  const ts = Math.floor(l.ts / h.bucketMs) * h.bucketMs;
  const level = (['debug', 'info', 'warn', 'error'] as const).find((x) => x === l.level) ?? 'info';
  const buckets = h.buckets.slice();
  const lastBucket = buckets.at(-1);
  if (lastBucket && lastBucket.ts === ts) buckets[buckets.length - 1] = { ...lastBucket, [level]: lastBucket[level] + 1 };
  else if (!lastBucket || ts > lastBucket.ts) buckets.push({ ts, debug: 0, info: 0, warn: 0, error: 0, [level]: 1 });
  return { ...h, buckets };
}
