// Aggregation over rounds, the stdout table and the BENCHMARKS.md section.
import fs from 'node:fs';
import { median, spread } from './stats.js';
import type { RowSpec } from './rows.js';

export interface ThroughputSample {
  callsPerSecond: number;
  errors: number;
  wrongReplies: number;
  rssBytes?: number;
  processes?: number;
  proxyCpuUsPerCall?: number;
  treeCpuUsPerCall?: number;
  clientCpuPercent: number;
  /** Cores used by other programs during the counted window (noise indicator). */
  otherCores?: number;
  firstError?: string;
}

export interface RoundResult {
  row: string;
  round: number;
  startToInitMs: number;
  p50: number;
  p99: number;
  mean: number;
  calls: number;
  latencyOtherCores: number;
  tp: Record<string, ThroughputSample>;
  error?: string;
}

export interface RowSummary {
  spec: RowSpec;
  rounds: number;
  failed: string[];
  skipped?: string;
  p50: number;
  p50Spread: number;
  p99: number;
  p99Spread: number;
  startToInitMs: number;
  cps8: number;
  cps8Spread: number;
  cps32: number;
  cps32Spread: number;
  rss32: number;
  processes32: number;
  proxyCpuUs: number;
  treeCpuUs: number;
  errors: number;
  wrongReplies: number;
  /** Share of one core the benchmark's own client process used during the 32-session run. */
  clientCpu32: number;
}

export function summarize(spec: RowSpec, results: readonly RoundResult[], skipped?: string): RowSummary {
  const ok = results.filter((r) => r.error === undefined);
  const pick = (f: (r: RoundResult) => number | undefined) => ok.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const tp = (n: string, f: (t: ThroughputSample) => number | undefined) => pick((r) => (r.tp[n] ? f(r.tp[n]!) : undefined));
  const s: RowSummary = {
    spec,
    rounds: ok.length,
    failed: results.filter((r) => r.error !== undefined).map((r) => `round ${r.round + 1}: ${r.error}`),
    p50: median(pick((r) => r.p50)),
    p50Spread: spread(pick((r) => r.p50)),
    p99: median(pick((r) => r.p99)),
    p99Spread: spread(pick((r) => r.p99)),
    startToInitMs: median(pick((r) => r.startToInitMs)),
    cps8: median(tp('8', (t) => t.callsPerSecond)),
    cps8Spread: spread(tp('8', (t) => t.callsPerSecond)),
    cps32: median(tp('32', (t) => t.callsPerSecond)),
    cps32Spread: spread(tp('32', (t) => t.callsPerSecond)),
    rss32: median(tp('32', (t) => t.rssBytes)),
    processes32: median(tp('32', (t) => t.processes)),
    proxyCpuUs: median(tp('32', (t) => t.proxyCpuUsPerCall)),
    treeCpuUs: median(tp('32', (t) => t.treeCpuUsPerCall)),
    clientCpu32: median(tp('32', (t) => t.clientCpuPercent)),
    errors: ok.reduce((a, r) => a + Object.values(r.tp).reduce((b, t) => b + t.errors, 0), 0),
    wrongReplies: ok.reduce((a, r) => a + Object.values(r.tp).reduce((b, t) => b + t.wrongReplies, 0), 0),
  };
  if (skipped !== undefined) s.skipped = skipped;
  return s;
}

/**
 * Ratios and differences between two paths, taken within each round and then the median over rounds:
 * a round measures every path within a few minutes, while the machine's speed can drift between rounds
 * (other tenants, CPU steal), so paired values are steadier than ratios of medians.
 */
export type Metric = 'p50' | 'p99' | 'cps8' | 'cps32';

export class Paired {
  constructor(private readonly results: ReadonlyMap<string, readonly RoundResult[]>) {}

  private value(r: RoundResult, m: Metric): number {
    if (m === 'p50') return r.p50;
    if (m === 'p99') return r.p99;
    return r.tp[m === 'cps8' ? '8' : '32']?.callsPerSecond ?? NaN;
  }

  private pairs(a: string, b: string, m: Metric): [number, number][] {
    const out: [number, number][] = [];
    for (const ra of this.results.get(a) ?? []) {
      if (ra.error !== undefined) continue;
      const rb = (this.results.get(b) ?? []).find((x) => x.round === ra.round && x.error === undefined);
      if (!rb) continue;
      const va = this.value(ra, m);
      const vb = this.value(rb, m);
      if (Number.isFinite(va) && Number.isFinite(vb) && vb !== 0) out.push([va, vb]);
    }
    return out;
  }

  ratio(a: string, b: string, m: Metric): number {
    return median(this.pairs(a, b, m).map(([x, y]) => x / y));
  }

  diff(a: string, b: string, m: Metric): number {
    return median(this.pairs(a, b, m).map(([x, y]) => x - y));
  }
}

// ---- formatting ----------------------------------------------------------------------------------

const ok = (v: number) => Number.isFinite(v);

function ms(v: number): string {
  if (!ok(v)) return '–';
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
}

function pm(s: number): string {
  return ok(s) ? ` ±${Math.round(s * 100)}%` : '';
}

function int(v: number): string {
  return ok(v) ? Math.round(v).toLocaleString('en-US') : '–';
}

function mb(v: number): string {
  return ok(v) && v > 0 ? `${Math.round(v / (1024 * 1024))} MB` : '–';
}

function times(r: number): string {
  return ok(r) ? `${r.toFixed(2)}×` : '–';
}

function signedMs(v: number): string {
  return ok(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)} ms` : '–';
}

export interface Table {
  header: string[];
  rows: string[][];
}

export function mainTable(rows: readonly RowSummary[], withSpread: boolean): Table {
  const sp = (s: number) => (withSpread ? pm(s) : '');
  return {
    header: ['path', 'echo p50 ms', 'echo p99 ms', 'calls/s, 8 sessions', 'calls/s, 32 sessions', 'start to first initialize', 'memory at 32 sessions', 'CPU per call: proxy / all'],
    rows: rows.map((r) => {
      if (r.skipped !== undefined || r.rounds === 0) {
        const why = r.skipped !== undefined ? `skipped: ${r.skipped}` : `failed: ${r.failed[0] ?? ''}`;
        return [r.spec.label, why.slice(0, 160), '', '', '', '', '', ''];
      }
      const shared = r.spec.id === 'direct-stdio' ? '¹' : '';
      const mem = ok(r.rss32) && r.rss32 > 0 ? `${mb(r.rss32)}, ${int(r.processes32)} proc${r.processes32 === 1 ? '' : 's'}${r.spec.note ? '²' : ''}` : '–';
      const cpu = `${ok(r.proxyCpuUs) ? `${int(r.proxyCpuUs)} µs` : '–'} / ${ok(r.treeCpuUs) ? `${int(r.treeCpuUs)} µs` : '–'}${r.spec.note ? '²' : ''}`;
      return [
        r.spec.label,
        `${ms(r.p50)}${sp(r.p50Spread)}`,
        `${ms(r.p99)}${sp(r.p99Spread)}`,
        `${int(r.cps8)}${shared}${sp(r.cps8Spread)}`,
        `${int(r.cps32)}${shared}${sp(r.cps32Spread)}`,
        `${int(r.startToInitMs)} ms`,
        mem,
        cpu,
      ];
    }),
  };
}

export function ratioTable(rows: readonly RowSummary[], paired: Paired): Table {
  return {
    header: ['path', 'p50 vs direct HTTP', 'p99 vs direct HTTP', 'calls/s 8 vs direct HTTP', 'calls/s 32 vs direct HTTP', 'p50 vs direct stdio', 'p99 vs direct stdio', 'p50 added over its direct path'],
    rows: rows
      .filter((r) => r.rounds > 0)
      .map((r) => {
        const id = r.spec.id;
        const base = r.spec.directBaseline === 'stdio' ? 'direct-stdio' : r.spec.directBaseline === 'http' ? 'direct-http' : undefined;
        return [
          r.spec.label,
          times(paired.ratio(id, 'direct-http', 'p50')),
          times(paired.ratio(id, 'direct-http', 'p99')),
          times(paired.ratio(id, 'direct-http', 'cps8')),
          times(paired.ratio(id, 'direct-http', 'cps32')),
          times(paired.ratio(id, 'direct-stdio', 'p50')),
          times(paired.ratio(id, 'direct-stdio', 'p99')),
          base ? `${signedMs(paired.diff(id, base, 'p50'))} (vs ${base === 'direct-stdio' ? 'stdio' : 'HTTP'})` : '–',
        ];
      }),
  };
}

export function renderText(t: Table): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(t.header), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

export function renderMarkdown(t: Table): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${t.header.map(esc).join(' | ')} |`,
    `|${t.header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

// ---- verdict ---------------------------------------------------------------------------------------

/** Plain sentences about the goal, computed from the numbers (so a rerun stays true). */
export function findings(rows: readonly RowSummary[], paired: Paired): string[] {
  const get = (id: string) => rows.find((r) => r.spec.id === id && r.rounds > 0);
  const stdio = get('direct-stdio');
  const http = get('direct-http');
  const gh = get('gatehouse-stdio');
  const ghHttp = get('gatehouse-http');
  const core = get('gatehouse-container');
  const corePolicy = get('gatehouse-container-policy');
  const floor = get('http-floor');
  const bridges = [get('mcp-proxy'), get('supergateway')].filter((r): r is RowSummary => r !== undefined);
  const out: string[] = [];
  const f2 = (v: number) => v.toFixed(2);
  if (gh && stdio) {
    const added = paired.diff('gatehouse-stdio', 'direct-stdio', 'p50');
    let text =
      added < 1
        ? `Goal met for the stdio path: the Gatehouse proxy adds ${f2(added)} ms at p50 over the direct stdio client (${f2(gh.p50)} vs ${f2(stdio.p50)} ms; goal: under 1 ms).`
        : `Goal missed for the stdio path: the Gatehouse proxy adds ${f2(added)} ms at p50 over the direct stdio client (${f2(gh.p50)} vs ${f2(stdio.p50)} ms), ${f2(added - 1)} ms over the 1 ms budget.`;
    if (floor) {
      const hop = paired.diff('http-floor', 'direct-stdio', 'p50');
      text += ` The HTTP floor (the SDK client against a bare node:http responder doing no MCP work) is ${f2(floor.p50)} ms, ${signedMs(hop)} over stdio: ${
        hop >= 1 ? 'on this machine the client transport and HTTP alone use up the whole budget, so the goal as worded cannot be met by any HTTP path' : 'that much of any HTTP path is the client transport and HTTP themselves'
      }. Over that floor, the proxy plus the server's own work add ${signedMs(paired.diff('gatehouse-stdio', 'http-floor', 'p50'))} at p50.`;
    }
    out.push(text);
  }
  if (ghHttp && http) {
    const added = paired.diff('gatehouse-http', 'direct-http', 'p50');
    out.push(
      added < 1
        ? `Goal met for the reverse-proxy path: it adds ${f2(added)} ms at p50 over server-everything's own Streamable HTTP (${f2(ghHttp.p50)} vs ${f2(http.p50)} ms).`
        : `Goal missed for the reverse-proxy path: it adds ${f2(added)} ms at p50 over server-everything's own Streamable HTTP (${f2(ghHttp.p50)} vs ${f2(http.p50)} ms), ${f2(added - 1)} ms over the 1 ms budget.`,
    );
  }
  if (ghHttp && get('http-relay')) {
    const overRelay = paired.diff('gatehouse-http', 'http-relay', 'p50');
    out.push(
      `Any HTTP hop costs something: a bare node:http relay (no checks, no log) adds ${signedMs(paired.diff('http-relay', 'direct-http', 'p50'))} at p50 over the server's own endpoint; the Gatehouse reverse proxy, with its Host/Origin checks, JSON-RPC validation, request log and identity layers, adds ${signedMs(overRelay)} over that relay.`,
    );
  }
  if (gh && http) {
    out.push(
      `The stdio server behind the Gatehouse proxy answers at ${times(paired.ratio('gatehouse-stdio', 'direct-http', 'p50'))} the p50 and ${times(paired.ratio('gatehouse-stdio', 'direct-http', 'p99'))} the p99 of server-everything's own Streamable HTTP endpoint, with ${times(paired.ratio('gatehouse-stdio', 'direct-http', 'cps8'))} / ${times(paired.ratio('gatehouse-stdio', 'direct-http', 'cps32'))} its calls/s at 8 / 32 sessions.`,
    );
  }
  if (gh) {
    for (const b of bridges) {
      const wins: string[] = [];
      const ties: string[] = [];
      const losses: string[] = [];
      const cmp = (what: string, m: Metric, lowerIsBetter: boolean) => {
        const r = paired.ratio('gatehouse-stdio', b.spec.id, m);
        if (!ok(r)) return;
        const factor = lowerIsBetter ? 1 / r : r; // > 1: Gatehouse better
        if (Math.abs(factor - 1) < 0.1) ties.push(`${what} (${factor >= 1 ? `${factor.toFixed(2)}× better` : `${(1 / factor).toFixed(2)}× worse`})`);
        else if (factor > 1) wins.push(`${what} (${factor.toFixed(2)}×)`);
        else losses.push(`${what} (${(1 / factor).toFixed(2)}×)`);
      };
      cmp('p50', 'p50', true);
      cmp('p99', 'p99', true);
      cmp('calls/s at 8', 'cps8', false);
      cmp('calls/s at 32', 'cps32', false);
      const parts = [
        wins.length > 0 ? `better on ${wins.join(', ')}` : '',
        losses.length > 0 ? `worse on ${losses.join(', ')}` : '',
        ties.length > 0 ? `within 10 % (under the run-to-run noise) on ${ties.join(', ')}` : '',
      ].filter(Boolean);
      const verdict =
        losses.length === 0 && ties.length === 0
          ? 'goal met: it beats it on latency and throughput'
          : losses.length === 0
            ? 'goal not clearly met: no loss, but not a clear win everywhere'
            : 'goal missed';
      const cpu = ok(gh.proxyCpuUs) && ok(b.proxyCpuUs) ? ` Proxy CPU per call at 32 sessions: ${int(gh.proxyCpuUs)} µs for Gatehouse, ${int(b.proxyCpuUs)} µs for ${b.spec.id}.` : '';
      out.push(`Gatehouse against ${b.spec.id}: ${parts.join('; ')}; ${verdict}.${cpu}`);
    }
  }
  if (core && gh) {
    out.push(
      `The whole product (core, docker attach, SQLite request log, a real container) answers at ${f2(core.p50)} ms p50 and ${int(core.cps8)} / ${int(core.cps32)} calls/s, ${signedMs(paired.diff('gatehouse-container', 'gatehouse-stdio', 'p50'))} at p50 against the in-process proxy row.`,
    );
  }
  if (core && corePolicy) {
    const cpu = ok(corePolicy.proxyCpuUs) && ok(core.proxyCpuUs) ? `; core CPU per call ${int(corePolicy.proxyCpuUs)} µs against ${int(core.proxyCpuUs)} µs` : '';
    out.push(
      `A policy set on the same server (ToolHive's guide example and a permit for the caller: Cedar decides every call, and each decision is kept, sealed in SQLite, for the policy studio) costs ${signedMs(paired.diff('gatehouse-container-policy', 'gatehouse-container', 'p50'))} at p50 and ${signedMs(paired.diff('gatehouse-container-policy', 'gatehouse-container', 'p99'))} at p99 against the core without one, with ${times(paired.ratio('gatehouse-container-policy', 'gatehouse-container', 'cps8'))} / ${times(paired.ratio('gatehouse-container-policy', 'gatehouse-container', 'cps32'))} its calls/s at 8 / 32 sessions${cpu}.`,
    );
  }
  const clientBound = rows.filter((r) => r.rounds > 0 && r.spec.id !== 'direct-stdio' && r.clientCpu32 >= 85).map((r) => `${r.spec.id} (${Math.round(r.clientCpu32)} %)`);
  if (clientBound.length > 0) {
    out.push(
      `The load generator (one Node process running every SDK client) used most of a core during the 32-session runs of ${clientBound.join(', ')}: on 2 cores their calls/s are bounded by client and path together, so gaps between those rows understate the gaps between the paths.`,
    );
  }
  const noisy = rows.filter((r) => r.rounds > 1 && (r.p50Spread > 0.25 || r.cps32Spread > 0.25)).map((r) => r.spec.id);
  if (noisy.length > 0) out.push(`Rounds disagreed by more than ±25 % for ${noisy.join(', ')}: read gaps involving them with care.`);
  const errs = rows.filter((r) => r.errors > 0 || r.wrongReplies > 0);
  for (const r of errs) out.push(`${r.spec.id}: ${r.errors} failed calls and ${r.wrongReplies} replies carrying another call's message during the throughput runs.`);
  return out;
}

// ---- BENCHMARKS.md -----------------------------------------------------------------------------------

export const SECTION_START = '<!-- bench:proxy:start -->';
export const SECTION_END = '<!-- bench:proxy:end -->';

/** Replaces this benchmark's section in BENCHMARKS.md (or appends it), keeping every other section. */
export function writeSection(file: string, body: string): void {
  const section = `${SECTION_START}\n${body.trim()}\n${SECTION_END}`;
  let text = fs.existsSync(file)
    ? fs.readFileSync(file, 'utf8')
    : '# Benchmarks\n\nWritten by the `npm run bench:*` scripts: each owns one section (between its markers) and replaces it on every run. Numbers are ratios against baselines measured in the same run on the same machine; compare ratios, not absolute numbers, across machines.\n';
  const a = text.indexOf(SECTION_START);
  const b = text.indexOf(SECTION_END);
  if (a !== -1 && b > a) text = text.slice(0, a) + section + text.slice(b + SECTION_END.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
