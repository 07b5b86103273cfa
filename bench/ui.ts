/// <reference lib="dom" />
// npm run bench:ui — the log viewer against a store of 1,000,000 lines: time to the first rows, a
// full-text query at the API, scrolling frame times, and a 60 s live tail at 1,000 lines/s with the
// renderer's memory sampled. A real core in this process, the built app, Debian's Chromium.
// Baselines in the same run: the same queries straight on the SQLite store (what the API adds), and a
// LIKE scan (what full-text search saves); the viewer's first rows against a blank page's load.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium, type Page } from 'playwright-core';
import { connectApi } from '../src/api/index.js';
import { startCore, type Core } from '../src/app/index.js';
import { openStore, type NewLogEntry } from '../src/store/index.js';
import { SeededRandom } from '../test/support/seeded-random.js';
import { ROOT } from './lib/paths.js';
import { writeBenchSection } from './lib/section.js';
import { median, percentile } from './lib/stats.js';

const LINES = 1_000_000;
const QUERIES = 60;
const FIRST_ROWS_RUNS = 7;
const TAIL_SECONDS = 60;
const TAIL_RATE = 1000;
const CHROMIUM = process.env['GATEHOUSE_CHROMIUM'] ?? '/usr/bin/chromium';

const WORDS = ['request', 'timeout', 'github', 'repository', 'token', 'refresh', 'cache', 'miss', 'upstream', 'listing', 'resource', 'prompt', 'schema', 'retry', 'socket', 'closed', 'parsed', 'payload', 'worker', 'queue'];
const SERVERS = ['github', 'filesystem', 'fetch', 'postgres', 'slack'];
const TOOLS = ['search_issues', 'read_file', 'fetch', 'query', 'post_message', 'delete_repo'];

function fill(home: string): { ms: number } {
  const store = openStore(path.join(home, 'gatehouse.db'));
  const g = new SeededRandom(0x106);
  const t0 = Date.now() - LINES * 50; // 20 lines a second over the last ~14 hours
  const started = performance.now();
  for (let i = 0; i < LINES; i += 10_000) {
    const batch: NewLogEntry[] = [];
    for (let j = i; j < Math.min(LINES, i + 10_000); j++) {
      const server = g.pick(SERVERS);
      const ts = t0 + j * 50;
      if (j % 10 === 0) {
        const tool = g.pick(TOOLS);
        const outcome = tool === 'delete_repo' ? 'denied' : g.chance(0.02) ? 'error' : 'success';
        batch.push({ ts, server, source: 'audit', level: outcome === 'denied' ? 'warn' : outcome === 'error' ? 'error' : 'info', message: `tools/call ${tool} by alice: ${outcome}`, fields: { outcome, type: 'mcp_tool_call', subjects: { user: 'alice' }, target: { method: 'tools/call', name: tool, endpoint: '/mcp', type: 'tool' }, metadata: { extra: { duration_ms: g.between(1, 400) } } } });
      } else {
        const words = Array.from({ length: g.between(4, 12) }, () => g.pick(WORDS)).join(' ');
        batch.push({ ts, server, source: j % 3 === 0 ? 'proxy' : 'container', level: g.chance(0.01) ? 'error' : g.chance(0.03) ? 'warn' : 'info', message: `${words} id=${j}`, fields: null });
      }
    }
    store.logs.insertMany(batch);
  }
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  return { ms: performance.now() - started };
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en-US'));

async function timeQueries(run: (word: string) => Promise<unknown> | unknown): Promise<number[]> {
  const g = new SeededRandom(7);
  const out: number[] = [];
  for (let i = 0; i < 5; i++) await run(g.pick(WORDS)); // warm-up
  for (let i = 0; i < QUERIES; i++) {
    const q = i % 3 === 0 ? `${g.pick(WORDS)} ${g.pick(WORDS)}` : g.pick(WORDS);
    const t = performance.now();
    await run(q);
    out.push(performance.now() - t);
  }
  return out;
}

async function heapMb(page: Page): Promise<{ heap: number; nodes: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  const get = (n: string) => metrics.find((m) => m.name === n)?.value ?? NaN;
  // Nodes in the document (CDP's Nodes also counts detached ones waiting for the garbage collector).
  const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
  return { heap: get('JSHeapUsedSize') / 1e6, nodes };
}

async function main(): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-ui-'));
  process.stdout.write(`filling ${LINES.toLocaleString('en-US')} lines...\n`);
  const filled = fill(home);
  const core: Core = await startCore({ home, pullPolicy: 'never', rendererDir: path.join(ROOT, 'dist-renderer') });
  const api = connectApi(core.url, core.token);
  const rows: string[][] = [];
  try {
    // ---- full-text query at the API, and its baselines -----------------------------------------
    // Every API query first: the in-process baselines below block the event loop for seconds, and a
    // keep-alive socket the server closes meanwhile would fail the next fetch.
    let rare = 0;
    const rareWord = () => `id=${(rare = (rare * 7919 + 104729) % LINES)}`;
    const apiSearch = await timeQueries((w) => api.logs({ search: w, limit: 500 }));
    const apiRare = await timeQueries(() => api.logs({ search: rareWord(), limit: 500 }));
    const apiTail = await timeQueries(() => api.logs({ limit: 500 }));
    const apiDenied = await timeQueries(() => api.logs({ outcome: 'denied', limit: 500 }));
    const histogram = await timeQueries(() => api.logHistogram({ buckets: 120 }));
    const storeSearch = await timeQueries((w) => core.store.logs.query({ search: w, limit: 500 }));
    const likeStmt = core.store.db.prepare("SELECT * FROM (SELECT * FROM logs WHERE message LIKE '%' || ? || '%' ORDER BY id DESC LIMIT 500) ORDER BY id");
    const likeScan = await timeQueries((w) => likeStmt.all(w.split(' ')[0]));
    // A word on one line only (an id): the scan reads every message, the index goes straight to it.
    const likeRare = await timeQueries(() => likeStmt.all(rareWord()));
    const histogramLines = await timeQueries(() => core.store.logs.histogramFromLines({}, 120));

    // ---- the viewer ------------------------------------------------------------------------------
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(core.loginUrl());
    const blank: number[] = [];
    const firstRows: number[] = [];
    for (let i = 0; i < FIRST_ROWS_RUNS; i++) {
      let t = performance.now();
      await page.goto(new URL('/#/servers', core.url).href);
      await page.getByRole('heading', { level: 1 }).waitFor();
      blank.push(performance.now() - t);
      t = performance.now();
      await page.getByRole('navigation').getByRole('link', { name: 'Logs' }).click();
      await page.locator('.log-row').first().waitFor();
      firstRows.push(performance.now() - t);
    }

    // Scrolling: 4 s upwards through the store (the view fetches older windows as it goes), frame by frame.
    const frames = await page.evaluate(async () => {
      const el = document.querySelector('.log-view') as HTMLElement;
      const deltas: number[] = [];
      let last = performance.now();
      const end = last + 4000;
      await new Promise<void>((done) => {
        const step = (now: number) => {
          deltas.push(now - last);
          last = now;
          el.scrollTop = Math.max(0, el.scrollTop - 900);
          if (now < end) requestAnimationFrame(step);
          else done();
        };
        requestAnimationFrame(step);
      });
      return { deltas: deltas.slice(1), reached: Number(document.querySelector('.log-row')?.id.replace('log-', '') ?? 0) };
    });

    // Live tail: back to the bottom, then 1,000 lines/s for 60 s, memory sampled every 5 s.
    await page.goto(new URL('/#/servers', core.url).href);
    await page.getByRole('navigation').getByRole('link', { name: 'Logs' }).click();
    await page.locator('.log-row').first().waitFor();
    await page.evaluate(() => (globalThis as unknown as { gc?: () => void }).gc?.());
    const samples: { s: number; heap: number; nodes: number }[] = [{ s: 0, ...(await heapMb(page)) }];
    const tailStart = performance.now();
    let written = 0;
    const writer = setInterval(() => {
      const due = Math.floor(((performance.now() - tailStart) / 1000) * TAIL_RATE);
      while (written < due && written < TAIL_SECONDS * TAIL_RATE) {
        core.logs.write({ server: 'github', source: 'container', level: written % 50 === 0 ? 'warn' : 'info', message: `live line ${written} ${WORDS[written % WORDS.length]}`, fields: null });
        written++;
      }
    }, 10);
    for (let s = 5; s <= TAIL_SECONDS; s += 5) {
      await new Promise((r) => setTimeout(r, tailStart + s * 1000 - performance.now()));
      samples.push({ s, ...(await heapMb(page)) });
    }
    clearInterval(writer);
    await new Promise((r) => setTimeout(r, 500));
    const lastShown = await page.evaluate(() => document.querySelector('.log-row:last-child .msg')?.textContent ?? '');
    await browser.close();

    rows.push(['full-text query at the API (`search`, newest 500)', fmt(median(apiSearch)), fmt(percentile(apiSearch, 95)), 'the same query on the store, no HTTP', fmt(median(storeSearch)), `${(median(apiSearch) / median(storeSearch)).toFixed(2)}×`]);
    rows.push(['full-text query at the API', fmt(median(apiSearch)), fmt(percentile(apiSearch, 95)), 'a LIKE scan of the messages (no index)', fmt(median(likeScan)), `${(median(apiSearch) / median(likeScan)).toFixed(3)}×`]);
    rows.push(['full-text query for a word on one line (an id)', fmt(median(apiRare)), fmt(percentile(apiRare, 95)), 'a LIKE scan for it', fmt(median(likeRare)), `${(median(apiRare) / median(likeRare)).toFixed(3)}×`]);
    rows.push(['the newest 500 lines at the API', fmt(median(apiTail)), fmt(percentile(apiTail, 95)), '', '', '']);
    rows.push(['denied calls at the API (audit filter on the stored event)', fmt(median(apiDenied)), fmt(percentile(apiDenied, 95)), '', '', '']);
    rows.push(['volume chart at the API (120 buckets over all lines)', fmt(median(histogram)), fmt(percentile(histogram, 95)), 'counting the lines themselves (GROUP BY over the table)', fmt(median(histogramLines)), `${(median(histogram) / median(histogramLines)).toFixed(3)}×`]);
    rows.push(['viewer: click Logs → first rows on screen', fmt(median(firstRows)), fmt(Math.max(...firstRows)), 'the app shell loading (Servers page)', fmt(median(blank)), `${(median(firstRows) / median(blank)).toFixed(2)}×`]);

    const heapStart = samples[0]!.heap;
    const heapEnd = samples.at(-1)!.heap;
    const heapMax = Math.max(...samples.map((x) => x.heap));
    const nodesMax = Math.max(...samples.map((x) => x.nodes));
    const p95Frame = percentile(frames.deltas, 95);
    const late = frames.deltas.filter((d) => d > 25).length;
    const goals = [
      `first rows ${fmt(median(firstRows))} ms (goal < 300 ms): ${median(firstRows) < 300 ? 'met' : 'missed'}`,
      `a search ${fmt(median(apiSearch))} ms at p50 (goal < 50 ms): ${median(apiSearch) < 50 ? 'met' : 'missed'}; for words on many lines a LIKE scan that stops at 500 matches is faster still (${fmt(median(likeScan))} ms), for a word on one line it reads every message (${fmt(median(likeRare))} ms against ${fmt(median(apiRare))} ms): the index keeps every search fast, not only the common ones`,
      `frames while scrolling: p95 interval ${fmt(p95Frame)} ms, ${late} of ${frames.deltas.length} frames late (over 25 ms, a missed refresh at 60 Hz), the longest ${fmt(Math.max(...frames.deltas))} ms (goal: under 16 ms at p95, read as every frame within its 16.7 ms refresh; rAF intervals cannot be shorter): ${p95Frame <= 17.5 ? 'met' : 'missed'}`,
      `live tail: JS heap ${heapStart.toFixed(1)} MB at the start, ${heapEnd.toFixed(1)} MB after ${TAIL_SECONDS} s (max ${heapMax.toFixed(1)} MB), at most ${nodesMax.toLocaleString('en-US')} elements in the page, ${written.toLocaleString('en-US')} lines written; the last row shown: "${lastShown.slice(0, 40)}"`,
    ];
    const text = [
      '## App: the log viewer over 1,000,000 stored lines',
      '',
      `Written by \`npm run bench:ui\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${os.cpus()[0]?.model.split(' ')[0] ?? ''}, ${os.cpus().length} cores, Node ${process.version}, Debian's Chromium (headless). The store was filled with ${LINES.toLocaleString('en-US')} lines (a tenth of them audit events) in ${(filled.ms / 1000).toFixed(0)} s; the core runs in the benchmark's process, the browser drives the built app. Queries: ${QUERIES} each after 5 warm-ups, one or two words from the lines' vocabulary. First rows: ${FIRST_ROWS_RUNS} runs, from the click on Logs to the first row drawn. Scrolling: 4 s of 900 px per frame upwards, fetching older windows on the way (${frames.deltas.length} frames, it reached line ${frames.reached.toLocaleString('en-US')}). Live tail: ${TAIL_RATE} lines/s for ${TAIL_SECONDS} s through the core's log sink, the renderer's JS heap and DOM nodes read over CDP every 5 s.`,
      '',
      '| what | p50 ms | p95 ms (max for first rows) | baseline | baseline p50 ms | ratio |',
      '|---|---:|---:|---|---:|---:|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      '',
      `Frames while scrolling: p50 ${fmt(median(frames.deltas))} ms, p95 ${fmt(p95Frame)} ms, max ${fmt(Math.max(...frames.deltas))} ms.`,
      '',
      `Renderer memory during the live tail (MB of JS heap at 0, 5, ... ${TAIL_SECONDS} s): ${samples.map((x) => x.heap.toFixed(1)).join(', ')}.`,
      '',
      'What this shows:',
      '',
      ...goals.map((g) => `- ${g}.`),
    ].join('\n');
    writeBenchSection(path.join(ROOT, 'BENCHMARKS.md'), 'ui', text);
    process.stdout.write(`${text}\n`);
  } finally {
    await core.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

await main();
