// npm run bench:cli — how long a `gatehouse` command takes to start, from spawn to exit, against bare
// `node -e 0` measured in the same rounds (issue 12: `ls`, `status`, `logs` and `bridge` start in under
// 0.25 s). A throwaway GATEHOUSE_HOME, one core started for the whole run (`gatehouse serve
// --background`) and, when the test image is there, one server-everything container; every command is
// spawned as a shell or an MCP client spawns it (node and the bin script), after warm-up rounds, the
// commands in a new order each round. The bridge is timed from spawn to its answer to the client's
// `initialize`. Run `node dist-bench/bench/cli.js --help` for the options.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from './lib/paths.js';
import { waitQuiet } from './lib/procs.js';
import { renderMarkdown, renderText, type Table } from './lib/report.js';
import { writeBenchSection } from './lib/section.js';
import { median, percentile } from './lib/stats.js';
import { TEST_IMAGE } from '../test/support/docker.js';

const HELP = `usage: node dist-bench/bench/cli.js [options]
  --runs N      measured rounds (default 20); each round runs every command once
  --warmup N    rounds first, not counted (default 3)
  --root DIR    measure the build of another checkout (for example a worktree of an older commit,
                built with tsc); BENCHMARKS.md is then not written
  --no-write    print only, leave BENCHMARKS.md alone
`;

interface Options {
  runs: number;
  warmup: number;
  root: string;
  write: boolean;
}

function options(argv: string[]): Options {
  const o: Options = { runs: 20, warmup: 3, root: ROOT, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--runs') o.runs = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--root') o.root = path.resolve(next());
    else if (a === '--no-write') o.write = false;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${HELP}`);
  }
  if (!Number.isInteger(o.runs) || o.runs < 1 || !Number.isInteger(o.warmup) || o.warmup < 0) throw new Error('--runs and --warmup take whole numbers');
  if (path.resolve(o.root) !== path.resolve(ROOT)) o.write = false;
  return o;
}

/** The issue's goal for these commands, and its numbers: 0.25 s on a machine where `node -e 0` took 0.10 s. */
const GOAL_MS = 250;
const ISSUE_NODE_MS = 100;
const GOAL_RATIO = GOAL_MS / ISSUE_NODE_MS;
const SERVER = 'bench';

interface Row {
  id: string;
  label: string;
  /** What the time is: shown in the table. */
  measured: string;
  args: string[];
  /** The exit code the command must end with (a run that ends otherwise is a failure, not a sample). */
  code: number;
  bridge?: boolean;
  /** One of the four commands the goal names. */
  goal?: boolean;
}

interface Sample {
  ms: number;
  error?: string;
}

const INITIALIZE = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gatehouse-bench', version: '1.0.0' } },
})}\n`;

/** Spawn to exit, with the exit code checked. stdout and stderr are read (a pipe nobody reads would stall a command that prints much). */
function timeExit(args: string[], env: NodeJS.ProcessEnv, code: number): Promise<Sample> {
  return new Promise((resolve) => {
    let out = '';
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', () => {});
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (c) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      resolve(c === code ? { ms } : { ms, error: `exit ${c} (expected ${code}): ${out.trim().split('\n')[0] ?? ''}` });
    });
  });
}

/**
 * `gatehouse bridge <server>` as Claude Desktop starts it: spawned, sent `initialize` at once, timed to
 * the answer's line on stdout. Then stdin is closed (the bridge quits, untimed). A missing server is
 * timed to the bridge's exit (it says so on stderr and exits 3 without answering).
 */
function timeBridge(args: string[], env: NodeJS.ProcessEnv, code: number): Promise<Sample> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let answered: Sample | undefined;
    const t0 = performance.now();
    const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdin!.on('error', () => {});
    child.stdin!.write(INITIALIZE);
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (answered || nl === -1) return;
      const ms = performance.now() - t0;
      try {
        const m = JSON.parse(stdout.slice(0, nl)) as { id?: unknown; result?: { serverInfo?: unknown } };
        answered = m.id === 1 && m.result?.serverInfo !== undefined ? { ms } : { ms, error: `not an initialize result: ${stdout.slice(0, 160)}` };
      } catch {
        answered = { ms, error: `not JSON-RPC on stdout: ${stdout.slice(0, 160)}` };
      }
      child.stdin!.end();
    });
    child.on('close', (c) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      if (answered) resolve(answered.error === undefined && c !== code ? { ms: answered.ms, error: `answered, then exit ${c} (expected ${code})` } : answered);
      else resolve(code !== 0 && c === code ? { ms } : { ms, error: `exit ${c} without an answer: ${stderr.trim().split('\n').at(-1) ?? ''}` });
    });
  });
}

/** Runs a command to its end, untimed (setup and cleanup). */
function run(bin: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function gitHead(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} (src modified)` : head;
  } catch {
    return 'unknown';
  }
}

const f0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const started = Date.now();
  const bin = path.join(o.root, 'bin', 'gatehouse.js');
  if (!fs.existsSync(path.join(o.root, 'dist', 'cli', 'main.js'))) throw new Error(`${o.root} has no build (dist/cli/main.js): run npm run build there first`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-cli-'));
  const env: NodeJS.ProcessEnv = { ...process.env, GATEHOUSE_HOME: home, GATEHOUSE_NETWORK: 'host', GATEHOUSE_PULL_POLICY: 'never' };
  const load0 = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`bench:cli: ${bin} (Gatehouse at ${gitHead(o.root)}), GATEHOUSE_HOME=${home}; load average ${load0}`);

  // One core for the whole run, ours to stop.
  const log = fs.openSync(path.join(home, 'bench-core.log'), 'a');
  const core = spawn(process.execPath, [bin, 'serve', '--background'], { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let serverCreated = false;
  const cleanup = async () => {
    if (serverCreated) await run(bin, ['rm', '--force', SERVER], env, 60_000);
    await run(bin, ['shutdown'], env, 30_000);
    if (core.exitCode === null) core.kill('SIGTERM');
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    const discovery = path.join(home, 'core.json');
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(discovery)) {
      if (core.exitCode !== null || Date.now() > deadline) throw new Error(`the core did not start:\n${fs.readFileSync(path.join(home, 'bench-core.log'), 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const info = await run(bin, ['core'], env);
    if (info.code !== 0) throw new Error(`gatehouse core failed: ${info.stderr}`);

    const created = await run(bin, ['run', TEST_IMAGE, '--name', SERVER, '--permission-profile', 'none'], env, 180_000);
    serverCreated = created.code === 0 || created.code === 1;
    const haveServer = created.code === 0;
    const server = haveServer ? SERVER : 'no-such-server';
    const serverNote = haveServer
      ? `a running server-everything container (\`${TEST_IMAGE}\`, stdio) named ${SERVER}`
      : `no server: \`gatehouse run ${TEST_IMAGE}\` failed (${(created.stderr.trim().split('\n')[0] ?? '').slice(0, 160)}), so status and logs ask for a missing server and exit 3, and the bridge is timed to its exit (3) instead of to an initialize answer`;
    console.log(`server: ${serverNote}`);

    const missing = haveServer ? 0 : 3;
    const rows: Row[] = [
      { id: 'node', label: '`node -e 0` (the baseline)', measured: 'spawn to exit', args: ['-e', '0'], code: 0 },
      { id: 'version', label: '`gatehouse --version`', measured: 'spawn to exit (no core contacted)', args: [bin, '--version'], code: 0 },
      { id: 'ls', label: '`gatehouse ls`', measured: 'spawn to exit', args: [bin, 'ls'], code: 0, goal: true },
      { id: 'status', label: `\`gatehouse status ${server}\``, measured: haveServer ? 'spawn to exit' : 'spawn to exit (missing server: exit 3)', args: [bin, 'status', server], code: missing, goal: true },
      { id: 'logs', label: `\`gatehouse logs ${server}\``, measured: haveServer ? 'spawn to exit (its last 200 lines)' : 'spawn to exit (missing server: exit 3)', args: [bin, 'logs', server], code: missing, goal: true },
      {
        id: 'bridge',
        label: `\`gatehouse bridge ${server}\``,
        measured: haveServer ? "spawn to the answer to the client's `initialize` (relayed to the server)" : 'spawn to exit (missing server: exit 3)',
        args: [bin, 'bridge', server],
        code: missing,
        bridge: true,
        goal: true,
      },
    ];

    const samples = new Map<string, Sample[]>(rows.map((r) => [r.id, []]));
    const ratios = new Map<string, number[]>(rows.map((r) => [r.id, []]));
    let waitedMs = 0;
    const busy: number[] = [];
    const rounds = o.warmup + o.runs;
    for (let round = 0; round < rounds; round++) {
      const q = await waitQuiet(0.3, 5_000);
      waitedMs += q.waitedMs;
      const measured = round >= o.warmup;
      if (measured) busy.push(q.busyCores);
      const times = new Map<string, Sample>();
      for (const row of shuffled(rows, round + 1)) {
        const s = row.bridge ? await timeBridge(row.args, env, row.code) : await timeExit(row.args, env, row.code);
        times.set(row.id, s);
        if (s.error !== undefined) console.log(`  ${row.id}, round ${round + 1}: ${s.error}`);
      }
      const base = times.get('node');
      for (const row of rows) {
        const s = times.get(row.id)!;
        if (!measured) continue;
        samples.get(row.id)!.push(s);
        if (s.error === undefined && base && base.error === undefined) ratios.get(row.id)!.push(s.ms / base.ms);
      }
      process.stdout.write(`round ${round + 1}/${rounds}${measured ? '' : ' (warm-up)'}: ${rows.map((r) => `${r.id} ${f0(times.get(r.id)!.ms)}`).join(', ')} ms\n`);
    }

    const good = (id: string) => samples.get(id)!.filter((s) => s.error === undefined).map((s) => s.ms);
    const table: Table = {
      header: ['command', 'what is timed', 'median ms', 'p90 ms', 'median ÷ `node -e 0`', 'runs (failed)', `under ${GOAL_MS} ms`],
      rows: rows.map((r) => {
        const ms = good(r.id);
        const failed = samples.get(r.id)!.length - ms.length;
        const m = median(ms);
        return [r.label, r.measured, f0(m), f0(percentile(ms, 90)), r.id === 'node' ? '1.00×' : `${f2(median(ratios.get(r.id)!))}×`, `${ms.length}${failed ? ` (${failed})` : ''}`, r.goal ? (m < GOAL_MS ? 'yes' : 'no') : ''];
      }),
    };

    const nodeMs = median(good('node'));
    const verdicts = rows
      .filter((r) => r.goal)
      .map((r) => {
        const m = median(good(r.id));
        const ratio = median(ratios.get(r.id)!);
        const failed = samples.get(r.id)!.some((s) => s.error !== undefined);
        return `${r.label}: ${m < GOAL_MS ? 'goal met' : 'goal missed'}, ${f0(m)} ms at the median (goal: under ${GOAL_MS} ms), ${f2(ratio)}× bare node; ${ratio <= GOAL_RATIO ? 'within' : 'over'} the issue's ${f2(GOAL_RATIO)}× (its ${GOAL_MS} ms against ${ISSUE_NODE_MS} ms for \`node -e 0\`; here \`node -e 0\` takes ${f0(nodeMs)} ms)${failed ? '; some runs failed, see the table' : ''}.`;
      });

    const elapsed = Math.round((Date.now() - started) / 1000);
    const lines: string[] = [];
    lines.push('## Command line: time to start');
    lines.push('');
    lines.push(
      `Written by \`npm run bench:cli\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${elapsed} s: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores, Node ${process.version}, load average ${load0} at start and ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at end; the machine was busy with a median of ${f2(median(busy))} cores in the second before each measured round (the benchmark waited ${Math.round(waitedMs / 1000)} s in all for quiet moments, at most 5 s a round). Gatehouse at ${gitHead(o.root)}.`,
    );
    lines.push('');
    lines.push(
      `What is measured: each command spawned as a shell or an MCP client spawns it (\`node bin/gatehouse.js ...\`, its stdout and stderr read), from \`spawn\` to its exit, with the exit code checked; ${o.warmup} warm-up rounds, then ${o.runs} rounds, each running every command once in a new order, so \`node -e 0\` is measured alongside and each ratio is taken within a round (then the median over rounds). One core runs for the whole benchmark (\`gatehouse serve --background\`, a throwaway GATEHOUSE_HOME), with ${serverNote}. The bridge row sends \`initialize\` on stdin at once, as Claude Desktop does at every start, and stops the clock at the answer's line on stdout.`,
    );
    lines.push('');
    lines.push(renderMarkdown(table));
    lines.push('');
    for (const v of verdicts) lines.push(`- ${v}`);
    const section = lines.join('\n');

    process.stdout.write(`\n${renderText(table)}\n\n${verdicts.map((v) => `- ${v}`).join('\n')}\n`);
    if (o.write) {
      writeBenchSection(path.join(ROOT, 'BENCHMARKS.md'), 'cli', section);
      process.stdout.write(`\nBENCHMARKS.md: cli section written (${elapsed} s).\n`);
    }
  } finally {
    await cleanup();
  }
}

await main();
process.exit(0);
