// npm run bench:proxy — latency and throughput of `tools/call echo` (server-everything) through the
// Gatehouse proxy, against the same server reached directly (stdio, Streamable HTTP) and through the
// npm bridges mcp-proxy and supergateway, all measured in one run with the real MCP SDK client.
// Prints a table and writes its section of BENCHMARKS.md. Run `node dist-bench/bench/proxy.js --help`.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { measureLatency, measureThroughput, type Session } from './lib/load.js';
import { BENCH_RUN_LABEL, ROOT, packageVersion } from './lib/paths.js';
import { ProcessRegistry, systemBusyMs, systemStealMs, treeUsage, waitQuiet, type TreeUsage } from './lib/procs.js';
import { renderProfile, summarizeProfile } from './lib/profile.js';
import {
  findings,
  mainTable,
  Paired,
  ratioTable,
  renderMarkdown,
  renderText,
  summarize,
  writeSection,
  type RoundResult,
  type ThroughputSample,
} from './lib/report.js';
import { ROWS, type RowContext, type RowSpec, type Running } from './lib/rows.js';
import { median, percentile } from './lib/stats.js';

// ---- options -------------------------------------------------------------------------------------

interface Options {
  rounds: number;
  warmup: number;
  calls: number;
  tpWarmupMs: number;
  tpWindowMs: number;
  sessions: number[];
  only?: string[];
  container: boolean;
  profile: boolean;
  write: boolean;
  waitQuiet: boolean;
  /** Re-render the tables and BENCHMARKS.md from a raw results file instead of measuring. */
  report?: string;
  image: string;
}

const HELP = `npm run bench:proxy [-- options]

  --rounds N        rounds; every path is restarted and measured once per round (default 3)
  --calls N         measured sequential calls per latency run (default 1000)
  --warmup N        warm-up calls before them (default 200)
  --seconds S       counted window of each throughput run (default 2), after a 0.5 s warm-up
  --only a,b        only these paths: ${ROWS.map((r) => r.id).join(', ')}
  --no-container    skip the core + real container path (needs docker and the test image)
  --profile         write CPU profiles of the proxy processes (node --cpu-prof) and summarize them;
                    profiling slows the proxies, so BENCHMARKS.md is not written
  --no-write        print only, leave BENCHMARKS.md alone
  --no-wait         do not wait for other programs to leave the CPU idle (by default up to 2 min
                    per path and 3 min in all), nor measure again a run that another program disturbed
  --report FILE     no measuring: print the tables of a run from its raw results (bench/results/*.json)
                    and write them to BENCHMARKS.md (unless --no-write)
  --quick           1 round, 500 calls, 2 s windows (a smoke run; BENCHMARKS.md is not written)
`;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    rounds: 3,
    warmup: 200,
    calls: 1000,
    tpWarmupMs: 500,
    tpWindowMs: 2000,
    sessions: [8, 32],
    container: true,
    profile: false,
    write: true,
    waitQuiet: true,
    image: 'gatehouse-test/everything:latest',
  };
  const num = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${what} needs a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--rounds': o.rounds = Math.round(num(argv[++i], a)); break;
      case '--calls': o.calls = Math.round(num(argv[++i], a)); break;
      case '--warmup': o.warmup = Math.round(num(argv[++i], a)); break;
      case '--seconds': o.tpWindowMs = num(argv[++i], a) * 1000; break;
      case '--only': o.only = (argv[++i] ?? '').split(',').filter(Boolean); break;
      case '--no-container': o.container = false; break;
      case '--profile': o.profile = true; o.write = false; break;
      case '--no-write': o.write = false; break;
      case '--no-wait': o.waitQuiet = false; break;
      case '--report': o.report = argv[++i]; break;
      case '--quick': o.rounds = 1; o.calls = 500; o.tpWindowMs = 2000; o.tpWarmupMs = 500; o.write = false; break;
      case '--help': case '-h': process.stdout.write(HELP); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  for (const id of o.only ?? []) if (!ROWS.some((r) => r.id === id)) throw new Error(`unknown path ${id}; known: ${ROWS.map((r) => r.id).join(', ')}`);
  return o;
}

// ---- machine -------------------------------------------------------------------------------------

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

function machine() {
  const cpus = os.cpus();
  const dirty = git(['status', '--porcelain', '--', 'src']).length > 0;
  return {
    date: new Date().toISOString(),
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    commit: `${git(['rev-parse', '--short', 'HEAD']) || 'unknown'}${dirty ? ' + uncommitted changes in src/' : ''}`,
    versions: {
      sdk: packageVersion('@modelcontextprotocol/sdk'),
      everything: packageVersion('@modelcontextprotocol/server-everything'),
      mcpProxy: packageVersion('mcp-proxy'),
      supergateway: packageVersion('supergateway'),
    },
  };
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

// ---- one row, one round --------------------------------------------------------------------------

/** Cores other programs used during a row's latency run and each counted throughput window. */
function otherLoads(r: RoundResult): number[] {
  return [r.latencyOtherCores, ...Object.values(r.tp).map((t) => t.otherCores ?? NaN)];
}

/** Above this many cores taken by other programs during any part of a row's measurement, it is measured again. */
const DISTURBED_CORES = 0.35;

function disturbance(r: RoundResult): number {
  if (r.error !== undefined) return Infinity;
  const v = otherLoads(r).filter((x) => Number.isFinite(x));
  return v.length > 0 ? Math.max(...v) : 0;
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function throughputRun(running: Running, sessionsWanted: number, o: Options): Promise<ThroughputSample> {
  const own: Session[] = running.sharedSession
    ? []
    : await Promise.all(Array.from({ length: sessionsWanted }, () => running.connect()));
  const sessions = running.sharedSession ? Array.from({ length: sessionsWanted }, () => running.first) : own;
  try {
    await sleep(100);
    gc();
    let u0: TreeUsage | undefined;
    let u1: TreeUsage | undefined;
    let c0 = process.cpuUsage();
    let c1 = c0;
    let b0 = 0;
    let b1 = 0;
    let s0 = 0;
    let s1 = 0;
    const r = await measureThroughput(sessions, o.tpWarmupMs, o.tpWindowMs, {
      atStart: () => {
        s0 = systemStealMs();
        b0 = systemBusyMs();
        u0 = treeUsage(running.roots, running.proxyPid);
        c0 = process.cpuUsage();
      },
      atEnd: () => {
        c1 = process.cpuUsage(c0);
        u1 = treeUsage(running.roots, running.proxyPid);
        b1 = systemBusyMs();
        s1 = systemStealMs();
      },
    });
    const sample: ThroughputSample = {
      callsPerSecond: r.callsPerSecond,
      errors: r.errors,
      wrongReplies: r.wrongReplies,
      clientCpuPercent: ((c1.user + c1.system) / 1000 / r.windowMs) * 100,
    };
    if (r.firstError !== undefined) sample.firstError = r.firstError;
    if (u0 && u1 && r.calls > 0) {
      sample.rssBytes = u1.rssBytes;
      sample.processes = u1.processes;
      sample.treeCpuUsPerCall = ((u1.treeCpuMs - u0.treeCpuMs) * 1000) / r.calls;
      if (running.proxyPid !== undefined) sample.proxyCpuUsPerCall = ((u1.focusCpuMs - u0.focusCpuMs) * 1000) / r.calls;
      // Whatever else ran on the machine meanwhile (CI jobs, ...): the noise indicator.
      const ours = u1.treeCpuMs - u0.treeCpuMs + (c1.user + c1.system) / 1000;
      // CPU steal (the hypervisor running other guests) slows every process here just the same.
      sample.otherCores = Math.max(0, (b1 - b0 - ours + (Number.isFinite(s1 - s0) ? s1 - s0 : 0)) / r.windowMs);
    }
    return sample;
  } finally {
    await Promise.all(own.map((s) => s.close()));
  }
}

async function runRow(spec: RowSpec, ctx: RowContext, o: Options): Promise<RoundResult> {
  gc();
  const running = await spec.start(ctx);
  try {
    ctx.reg.snapshot();
    const u0 = treeUsage(running.roots, running.proxyPid);
    const b0 = systemBusyMs() + (systemStealMs() || 0);
    const c0 = process.cpuUsage();
    const l0 = performance.now();
    const samples = await measureLatency(running.first.client, o.warmup, o.calls);
    const c1 = process.cpuUsage(c0);
    const b1 = systemBusyMs() + (systemStealMs() || 0);
    const u1 = treeUsage(running.roots, running.proxyPid);
    const latencyOther = u0 && u1 ? Math.max(0, (b1 - b0 - (u1.treeCpuMs - u0.treeCpuMs) - (c1.user + c1.system) / 1000) / (performance.now() - l0)) : NaN;
    if (!running.sharedSession) await running.first.close();
    const tp: Record<string, ThroughputSample> = {};
    for (const n of o.sessions) {
      tp[String(n)] = await throughputRun(running, n, o);
      ctx.reg.snapshot();
    }
    return {
      row: spec.id,
      round: ctx.round,
      startToInitMs: running.startToInitMs,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      mean: samples.reduce((a, b) => a + b, 0) / samples.length,
      calls: samples.length,
      latencyOtherCores: latencyOther,
      tp,
    };
  } finally {
    if (running.sharedSession) await running.first.close();
    await running.stop();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}

// ---- main ----------------------------------------------------------------------------------------

async function sweepContainers(runLabel: string): Promise<void> {
  try {
    const docker = process.env['DOCKER_HOST'] ? new Docker() : new Docker({ socketPath: '/var/run/docker.sock' });
    const list = await docker.listContainers({ all: true, filters: { label: [`${BENCH_RUN_LABEL}=${runLabel}`] } });
    await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
    if (list.length > 0) console.log(`removed ${list.length} leftover container(s) labelled ${BENCH_RUN_LABEL}=${runLabel}`);
  } catch {
    // no engine: nothing can have been started there
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.report !== undefined) {
    const raw = JSON.parse(fs.readFileSync(o.report, 'utf8')) as RawRun;
    raw.skipped ??= {};
    raw.waitedS ??= 0;
    raw.retried ??= 0;
    report(raw, o.write);
    return;
  }
  const reg = new ProcessRegistry();
  const runLabel = randomUUID();
  let usedDocker = false;
  process.on('exit', () => reg.killLeftovers());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping everything the benchmark started...`);
      void reg
        .stopAll()
        .then(() => (usedDocker ? sweepContainers(runLabel) : undefined))
        .finally(() => process.exit(130));
    });
  }

  const m = machine();
  const loadStart = load();
  console.log(`bench:proxy on ${m.cpuModel} (${m.cores} cores, ${m.memGb} GB), Node ${m.node}, ${m.os}; load average ${loadStart}`);
  if (os.loadavg()[0]! > m.cores * 0.5) {
    console.log(`warning: the machine is busy (1-minute load ${os.loadavg()[0]!.toFixed(2)} on ${m.cores} cores); numbers will be noisy.`);
  }
  const profileDir = o.profile ? path.join(ROOT, 'bench', 'results', `profiles-${m.date.replace(/[:.]/g, '-')}`) : undefined;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });

  let specs = ROWS.filter((r) => !o.only || o.only.includes(r.id));
  const skipped = new Map<string, string>();
  for (const r of specs) {
    if (r.id.startsWith('gatehouse-container') && !o.container) skipped.set(r.id, 'disabled with --no-container');
    else if (r.available) {
      const why = await r.available({ reg, runLabel, round: 0, containerImage: o.image });
      if (why !== undefined) skipped.set(r.id, why);
      else if (r.id.startsWith('gatehouse-container')) usedDocker = true;
    }
  }
  for (const [id, why] of skipped) console.log(`skipping ${id}: ${why}`);
  specs = specs.filter((r) => !skipped.has(r.id));

  const results = new Map<string, RoundResult[]>(ROWS.map((r) => [r.id, []]));
  const t0 = performance.now();
  let waitedMs = 0;
  let retriesLeft = o.rounds * 2;
  // Waiting for quiet moments and measuring disturbed runs again stop once this much time went to waiting.
  const waitBudgetMs = 180_000;
  let retried = 0;
  try {
    for (let round = 0; round < o.rounds; round++) {
      // Alternate the order so slow drifts (thermal, other load) spread over every path.
      const order = specs.map((_, i) => specs[(i + round) % specs.length]!);
      for (const spec of order) {
        const ctx: RowContext = { reg, runLabel, round, containerImage: o.image };
        if (profileDir) ctx.profileDir = profileDir;
        const measure = async (attempt: string): Promise<RoundResult> => {
          if (o.waitQuiet && waitBudgetMs - waitedMs > 0) {
            const q = await waitQuiet(0.3, Math.min(120_000, waitBudgetMs - waitedMs));
            if (q.waitedMs > 1500) console.log(`  (waited ${Math.round(q.waitedMs / 1000)} s for the machine to be quiet${q.busyCores >= 0.3 ? `; still ${q.busyCores.toFixed(2)} cores busy, measuring anyway` : ''})`);
            waitedMs += q.waitedMs;
          }
          const started = performance.now();
          let r: RoundResult;
          try {
            r = await withTimeout(runRow(spec, ctx, o), 300_000, `${spec.id} round ${round + 1}`);
          } catch (err) {
            r = { row: spec.id, round, startToInitMs: NaN, p50: NaN, p99: NaN, mean: NaN, calls: 0, latencyOtherCores: NaN, tp: {}, error: (err as Error).message };
            await reg.stopAll();
          }
          const secs = ((performance.now() - started) / 1000).toFixed(1);
          const head = `[round ${round + 1}/${o.rounds}${attempt}] ${spec.id}`;
          if (r.error !== undefined) {
            console.log(`${head}: FAILED (${secs} s): ${r.error}`);
          } else {
            const tps = Object.entries(r.tp)
              .map(([n, t]) => `${n}: ${Math.round(t.callsPerSecond)}/s${t.errors ? ` (${t.errors} errors: ${t.firstError})` : ''}`)
              .join(', ');
            const others = otherLoads(r).map((v) => (Number.isFinite(v) ? v.toFixed(2) : '?')).join('/');
            console.log(`${head}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${tps}, start ${Math.round(r.startToInitMs)} ms (${secs} s; other programs + steal: ${others} cores)`);
          }
          return r;
        };
        let r = await measure('');
        // Another program took CPU in the middle of it (CI jobs share these machines): measure once more
        // and keep the less disturbed run. The container row is left out: dockerd relaying its stdio
        // counts as "other programs".
        if (o.waitQuiet && retriesLeft > 0 && waitedMs < waitBudgetMs && !spec.id.startsWith('gatehouse-container') && disturbance(r) > DISTURBED_CORES) {
          retriesLeft--;
          retried++;
          const again = await measure(', again: disturbed');
          if (again.error === undefined && disturbance(again) < disturbance(r)) r = again;
        }
        results.get(spec.id)!.push(r);
      }
    }
  } finally {
    await reg.stopAll();
    if (usedDocker) await sweepContainers(runLabel);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const raw: RawRun = {
    machine: m,
    options: o,
    loadStart,
    loadEnd: load(),
    elapsedS,
    waitedS: waitedMs / 1000,
    retried,
    skipped: Object.fromEntries(skipped),
    results: Object.fromEntries(results),
  };
  const rawDir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(rawDir, { recursive: true });
  const rawFile = path.join(rawDir, `proxy-${m.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(rawFile, JSON.stringify(raw, null, 2));
  report(raw, o.write);
  console.log(`raw results: ${path.relative(ROOT, rawFile)}`);

  if (profileDir) {
    for (const f of fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
      console.log(`\n${renderProfile(summarizeProfile(path.join(profileDir, f)))}`);
    }
  }
  const failed = [...results.values()].flat().filter((r) => r.error !== undefined);
  if (failed.length > 0) process.exitCode = 1;
}

/** Everything a run measured, as written to bench/results/proxy-<date>.json (and read back by --report). */
interface RawRun {
  machine: ReturnType<typeof machine>;
  options: Options;
  loadStart: string;
  loadEnd: string;
  elapsedS: number;
  waitedS: number;
  retried: number;
  skipped: Record<string, string>;
  results: Record<string, RoundResult[]>;
}

/** Prints the tables and findings of a run and, when asked, writes its BENCHMARKS.md section. */
function report(raw: RawRun, write: boolean): void {
  const o = raw.options;
  const results = new Map<string, RoundResult[]>(ROWS.map((r) => [r.id, raw.results[r.id] ?? []]));
  const skipped = new Map(Object.entries(raw.skipped));
  const summaries = ROWS.filter((r) => !o.only || o.only.includes(r.id)).map((spec) => summarize(spec, results.get(spec.id)!, skipped.get(spec.id)));
  const mt = mainTable(summaries, true);
  const paired = new Paired(results);
  const rt = ratioTable(summaries, paired);
  const notes = findings(summaries, paired);
  const otherSamples = [...results.values()]
    .flat()
    .filter((r) => r.error === undefined && !r.row.startsWith('gatehouse-container')) // dockerd relaying its stdio is not in our trees
    .flatMap((r) => [r.latencyOtherCores, ...Object.values(r.tp).map((t) => t.otherCores ?? NaN)])
    .filter((v) => Number.isFinite(v));
  const noiseMedian = median(otherSamples);
  const noiseText = Number.isFinite(noiseMedian)
    ? `Other programs and CPU steal took a median of ${noiseMedian.toFixed(2)} cores (at most ${Math.max(...otherSamples).toFixed(2)}) while the kept runs were measured${raw.waitedS >= 1 ? `; the benchmark waited ${Math.round(raw.waitedS)} s in all for quiet moments` : ''}${raw.retried > 0 ? ` and measured ${raw.retried} disturbed run${raw.retried === 1 ? '' : 's'} again` : ''}.`
    : '';
  console.log(`\nmedians of ${o.rounds} round(s); ±: half the spread between rounds\n`);
  console.log(renderText(mt));
  console.log('\nratios and differences within each round, median over rounds\n');
  console.log(renderText(rt));
  console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
  console.log(`\nbenchmark took ${Math.round(raw.elapsedS)} s; load average ${raw.loadStart} at start, ${raw.loadEnd} at end. ${noiseText}`);
  if (write) {
    const file = path.join(ROOT, 'BENCHMARKS.md');
    writeSection(file, markdown(raw.machine, o, noiseText, mt, rt, notes, raw.loadStart, raw.loadEnd, raw.elapsedS, skipped));
    console.log(`wrote the proxy section of ${path.relative(ROOT, file)}`);
  }
}

function markdown(
  m: ReturnType<typeof machine>,
  o: Options,
  noiseText: string,
  mt: ReturnType<typeof mainTable>,
  rt: ReturnType<typeof ratioTable>,
  notes: string[],
  loadStart: string,
  loadEnd: string,
  elapsedS: number,
  skipped: Map<string, string>,
): string {
  const day = m.date.slice(0, 10);
  return `## Proxy: \`tools/call echo\` through Gatehouse, directly, and through the npm bridges

Written by \`npm run bench:proxy\` on ${day} (${m.date.slice(11, 16)} UTC), ${Math.round(elapsedS)} s: ${m.cpuModel}, ${m.cores} cores, ${m.memGb} GB, Node ${m.node}, ${m.os}; load average ${loadStart} at start and ${loadEnd} at end. ${noiseText} Gatehouse at ${m.commit}. MCP SDK ${m.versions.sdk} client (\`Client\` + \`StdioClientTransport\` / \`StreamableHTTPClientTransport\`), server-everything ${m.versions.everything}, mcp-proxy ${m.versions.mcpProxy}, supergateway ${m.versions.supergateway}; every listener on 127.0.0.1 (checked).

How: ${o.rounds} rounds; each round starts every path afresh, in a rotated order, and measures it once, after waiting for the machine to be idle (at most 3 min in all; when other programs or CPU steal took more than 0.35 cores during a run, the path is measured again and the less disturbed run kept); the table shows the medians over rounds, ± is half the spread between rounds. Latency: ${o.warmup} warm-up then ${o.calls} sequential \`echo\` calls on one session. Throughput: 8 and 32 sessions (one SDK client session each) loop \`echo\` calls, ${o.tpWarmupMs / 1000} s warm-up then ${o.tpWindowMs / 1000} s counted; every reply is checked against its own call. Start to first initialize: from spawning the path's first process to the first \`initialize\` answered. Memory: resident set of the serving processes (proxy, servers, children) at the end of the 32-session run. CPU per call: CPU time of the proxy process, and of all serving processes, during the 32-session run divided by the calls. The client runs in the benchmark's own process on the same cores, so every path shares the machine with the same client.

Paths: the HTTP floor is a bare \`node:http\` responder that answers \`echo\` at once with a JSON body, with no MCP server behind it: what the SDK client and HTTP cost on their own (an SSE answer costs the client about 0.2 ms more). The Gatehouse stdio row is built as in \`test/integration/proxy-stdio.test.ts\` (\`ProxyServer\` + \`StdioBackend\`, server-everything as a local child process), in a process of its own, with a request log that is formatted but not stored; the reverse row puts \`ReverseProxyBackend\` in front of server-everything's \`streamableHttp\` mode; the core row is the whole product (\`startCore\`: SQLite request log, docker attach) running the test image in a real container, and the row after it the same with a policy set attached (ToolHive's guide example and a permit for the caller, so Cedar decides every call and the core keeps each decision sealed for the policy studio; the host counts the kept decisions as it stops, and the row fails if there are none). mcp-proxy runs with \`--host 127.0.0.1 --server stream\` and its defaults otherwise (event store on; \`--gracefulShutdownTimeout 1000\` only shortens its exit); supergateway with \`--stateful --outputTransport streamableHttp --logLevel none\`. server-everything's HTTP mode and supergateway cannot choose their address, so a preload (\`bench/loopback.ts\`) binds their listeners to 127.0.0.1.${skipped.size > 0 ? `\n\nSkipped: ${[...skipped].map(([id, why]) => `${id} (${why})`).join('; ')}.` : ''}

${renderMarkdown(mt)}

¹ stdio has no sessions: 8 or 32 concurrent calls on the one stdio session.${ROWS.filter((r) => r.note).map((r) => ` ² ${r.id}: ${r.note}.`).join('')}

Ratios and differences, taken within each round and then the median over rounds (the machine's speed can drift between rounds, so these are steadier than ratios of the medians above; below 1× is faster for latency, above 1× is more calls/s):

${renderMarkdown(rt)}

What this shows:

${notes.map((n) => `- ${n}`).join('\n')}
`;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
