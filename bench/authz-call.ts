// npm run bench:authz-call — what Cedar authorization adds to a whole MCP call through the proxy:
// the same stdio server behind three proxies in this process (no policies; ToolHive's guide example;
// 1,000 policies), driven by the MCP SDK client, the proxy without policies being the baseline.
// The SDK clients fetch through withOwnSignals: with the SDK's one session signal per client, thousands
// of undici listeners pile up between garbage collections and calls slow down round after round.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpAuthorizer } from '../src/authz/authorizer.js';
import { parseAuthzConfigDocument } from '../src/authz/config.js';
import { authorizationLayer } from '../src/authz/layer.js';
import { withOwnSignals } from '../src/common/index.js';
import { ProxyServer, StdioBackend } from '../src/proxy/index.js';
import { SeededRandom } from '../test/support/seeded-random.js';
import { everythingEntry, ROOT } from './lib/paths.js';

const ROUNDS = 5;
const CALLS = 1500;
const LISTS = 300;
const WARMUP = 200;
const USER = os.userInfo().username; // local mode: the caller is the OS user

/** The guide's example, with the role condition guarded (unguarded, it denies a caller without roles). */
const GUIDE = [
  'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
  'permit(principal == Client::"alice123", action == Action::"call_tool", resource == Tool::"admin_tool");',
  'permit(principal, action == Action::"call_tool", resource) when { principal has claim_roles && principal.claim_roles.contains("premium") };',
  'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource has arg_operation && (resource.arg_operation == "add" || resource.arg_operation == "subtract") };',
  // The caller may call every tool, so each proxy answers tools/list with the same tools and the
  // rows compare the same work (a shorter list is faster for the SDK client to parse and check).
  `permit(principal == Client::"${USER}", action == Action::"call_tool", resource);`,
];

/** 1,000 policies over many tools, users and roles; the caller may call echo and list the tools. */
function thousand(): string[] {
  const g = new SeededRandom(0x0ca11);
  const tools = ['echo', 'get-sum', 'get-env', 'long-running-operation', 'sample-llm', 'get-tiny-image', 'annotated-message', 'get-resource-reference'];
  const out = [...GUIDE];
  while (out.length < 1000) {
    const tool = g.chance(0.1) ? g.pick(tools) : `tool_${g.below(600)}`;
    out.push(
      g.weighted<string>([
        [4, () => `permit(principal == Client::"user_${g.below(400)}", action == Action::"call_tool", resource == Tool::"${tool}");`],
        [3, () => `permit(principal in THVGroup::"g${g.below(12)}", action == Action::"call_tool", resource == Tool::"${tool}");`],
        [2, () => `permit(principal, action == Action::"call_tool", resource == Tool::"${tool}") when { principal has claim_roles && principal.claim_roles.contains("r${g.below(6)}") };`],
        [1, () => `forbid(principal == Client::"user_${g.below(400)}", action, resource == Tool::"${tool}");`],
        [1, () => `permit(principal, action == Action::"call_tool", resource == Tool::"${tool}") when { resource has arg_message && resource.arg_message == "m${g.below(50)}" };`],
      ]),
    );
  }
  return out;
}

const config = (policies: string[]) => parseAuthzConfigDocument(JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: '[]' } }));

type Stat = { p50: number; p99: number };
type Row = { call: Stat[]; list: Stat[] };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<Stat> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  out.sort((a, b) => a - b);
  return { p50: percentile(out, 50), p99: percentile(out, 99) };
}
function fmt(n: number, digits = 2): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const started = Date.now();
  const child = spawn(process.execPath, [everythingEntry(), 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const backend = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log: () => {} });
  await backend.start();

  const variants = [
    { key: 'off', label: 'no policies (authorization off)' },
    { key: 'guide', label: `ToolHive's guide example (${GUIDE.length} policies)` },
    { key: 'thousand', label: '1,000 policies' },
  ] as const;
  const authorizers = { guide: new McpAuthorizer(config(GUIDE), 'guide'), thousand: new McpAuthorizer(config(thousand()), 'thousand') };
  const proxies = new Map<string, ProxyServer>();
  let toolCount = 0;
  const clients = new Map<string, Client>();
  for (const v of variants) {
    const az = v.key === 'off' ? undefined : authorizers[v.key];
    const proxy = new ProxyServer({ serverName: v.key, port: 0, transport: 'stdio', log: () => {}, ...(az ? { layers: [authorizationLayer(() => az, () => {})] } : {}) });
    await proxy.listen();
    await proxy.setBackend(backend, 'running');
    const client = new Client({ name: 'bench-authz-call', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`), { fetch: withOwnSignals() }));
    const listed = (await client.listTools()).tools.map((t) => t.name);
    if (!listed.includes('echo')) throw new Error(`${v.key}: echo is not in the caller's tools/list (${listed.join(', ')})`);
    const expected = proxies.size === 0 ? listed.length : toolCount;
    if (listed.length !== expected) throw new Error(`${v.key}: lists ${listed.length} tools, the baseline ${expected}: the rows would not compare the same work`);
    toolCount = listed.length;
    proxies.set(v.key, proxy);
    clients.set(v.key, client);
  }

  const rows = new Map<string, Row>(variants.map((v) => [v.key, { call: [], list: [] }]));
  let serial = 0;
  // Warm the whole process first (JIT, caches, sockets), so round 1 is not a measure of start-up.
  for (const c of clients.values()) {
    await timeEach(WARMUP * 3, () => c.callTool({ name: 'echo', arguments: { message: `w${serial++}` } }));
    await timeEach(LISTS / 3, () => c.listTools());
  }
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order, so no variant always runs on the warmest (or coldest) machine.
    const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
    for (const v of order) {
      const c = clients.get(v.key)!;
      // A new message each call: a new argument value, so every decision is a cache miss (the worst case).
      const call = () => c.callTool({ name: 'echo', arguments: { message: `m${serial++}` } });
      await timeEach(WARMUP, call);
      rows.get(v.key)!.call.push(await timeEach(CALLS, call));
      rows.get(v.key)!.list.push(await timeEach(LISTS, () => c.listTools()));
      process.stderr.write(`[round ${r + 1}/${ROUNDS}] ${v.key}: echo p50 ${fmt(rows.get(v.key)!.call.at(-1)!.p50)} ms, tools/list p50 ${fmt(rows.get(v.key)!.list.at(-1)!.p50)} ms\n`);
    }
  }
  for (const c of clients.values()) await c.close();
  for (const p of proxies.values()) await p.close();
  child.kill();

  const m = (key: string, what: 'call' | 'list', stat: keyof Stat) => median(rows.get(key)![what].map((s) => s[stat]));
  /** (slowest − fastest) ÷ median of a row's per-round p50s. */
  const spread = (key: string, what: 'call' | 'list') => {
    const p50s = rows.get(key)![what].map((s) => s.p50);
    return (Math.max(...p50s) - Math.min(...p50s)) / median(p50s);
  };
  const lines: string[] = [];
  lines.push('<!-- bench:authz-call:start -->');
  lines.push('## Authorization: what it adds to a whole MCP call');
  lines.push('');
  lines.push(
    `Written by \`npm run bench:authz-call\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round((Date.now() - started) / 1000)} s: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores, Node ${process.version}. ${ROUNDS} rounds, medians over rounds.`,
  );
  lines.push('');
  lines.push(
    `Three proxies in one process in front of the same server-everything (stdio child), local mode (the caller is the OS user), driven by the MCP SDK client over Streamable HTTP: without policies (the baseline), with ToolHive's guide example plus a permit for the caller on every tool, and with 1,000 policies (the same permit among them, so every proxy lists the same tools). After ${WARMUP * 3} calls and ${LISTS / 3} lists on each proxy to warm the process up, per round and proxy: ${WARMUP} warm-up calls, then ${CALLS.toLocaleString('en-US')} \`tools/call echo\`, each with a new message (a new argument value, so every decision misses the decision cache), then ${LISTS} \`tools/list\` (filtered to what the caller may use); the order rotates between rounds.`,
  );
  lines.push('');
  lines.push('| proxy | echo p50 ms | echo p99 ms | echo p50 vs off | tools/list p50 ms | tools/list p99 ms | tools/list p50 vs off |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  const off = { call: m('off', 'call', 'p50'), list: m('off', 'list', 'p50') };
  for (const v of variants) {
    const c50 = m(v.key, 'call', 'p50');
    const l50 = m(v.key, 'list', 'p50');
    lines.push(`| ${v.label} | ${fmt(c50)} | ${fmt(m(v.key, 'call', 'p99'))} | ${fmt(c50 / off.call)}× | ${fmt(l50)} | ${fmt(m(v.key, 'list', 'p99'))} | ${fmt(l50 / off.list)}× |`);
  }
  lines.push('');
  const t50 = m('thousand', 'call', 'p50');
  lines.push(
    `What this shows: with 1,000 policies a call whose decision is not cached takes ${fmt((t50 - off.call) * 1000, 0)} µs more at p50 than without authorization (${fmt(t50 / off.call)}×, against a ${fmt(off.call)} ms call), the guide's example ${fmt((m('guide', 'call', 'p50') - off.call) * 1000, 0)} µs. Run-to-run noise: the baseline's echo p50 ranged over ${fmt(spread('off', 'call') * 100, 0)} % of its median between rounds and its tools/list p50 over ${fmt(spread('off', 'list') * 100, 0)} %, so differences between rows smaller than that are noise, not cost. The decision itself is measured alone by bench:authz.`,
  );
  lines.push('<!-- bench:authz-call:end -->');
  const section = lines.join('\n');
  process.stdout.write(`${section}\n`);
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /<!-- bench:authz-call:start -->[\s\S]*?<!-- bench:authz-call:end -->/;
  fs.writeFileSync(file, re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`);
}

await main();
process.exit(0);
