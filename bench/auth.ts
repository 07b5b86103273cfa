// npm run bench:auth — what authentication costs: token validation with a warm JWKS cache, and the
// latency it adds to a real MCP call through the proxy, each against a baseline measured in the same run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TokenValidator, type AuthState } from '../src/auth/index.js';
import { ProxyServer, StdioBackend } from '../src/proxy/index.js';
import { everythingEntry, ROOT } from './lib/paths.js';

const ROUNDS = 3;
const VALIDATIONS = 20_000;
const CALLS = 1500;
const WARMUP = 200;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

/** A loopback issuer: a JWKS endpoint and a signer, no IdP process in the measured path. */
async function startIssuer(alg: 'RS256' | 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: `${alg}-1`, alg, use: 'sig' };
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const issuer = `http://127.0.0.1:${port}`;
  const sign = (aud: string) =>
    new SignJWT({ scope: 'mcp', jti: Math.random().toString(36).slice(2) }).setProtectedHeader({ alg, kid: jwk.kid!, typ: 'at+jwt' }).setIssuer(issuer).setAudience(aud).setSubject('bench-user').setIssuedAt().setExpirationTime('1h').sign(privateKey);
  return { issuer, jwksUrl: `${issuer}/jwks`, sign, publicKey, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface ValidationRow {
  alg: string;
  baseline: { p50: number; p99: number }[];
  validator: { p50: number; p99: number }[];
  fresh: { p50: number; p99: number }[];
}

async function benchValidation(alg: 'RS256' | 'ES256'): Promise<ValidationRow> {
  const iss = await startIssuer(alg);
  const aud = 'http://127.0.0.1:1/mcp';
  const token = await iss.sign(aud);
  const validator = new TokenValidator({
    issuer: iss.issuer, audience: aud, jwksUrl: iss.jwksUrl, resourceUrl: aud, scopes: [], clockToleranceSeconds: 30, insecureAllowHttp: false, allowPrivateIp: false,
  });
  await validator.validate(token); // warm the JWKS cache
  const row: ValidationRow = { alg, baseline: [], validator: [], fresh: [] };
  // Distinct tokens (another jti each) for the first-sight path, where nothing is cached but the keys.
  const distinct = await Promise.all(Array.from({ length: 2000 }, () => iss.sign(aud)));
  for (let r = 0; r < ROUNDS; r++) {
    // Baseline: jose's signature and claims check with the key already imported (the floor of any JWT validation).
    const base = await timeEach(VALIDATIONS, () => jwtVerify(token, iss.publicKey, { issuer: iss.issuer, audience: aud }));
    const ours = await timeEach(VALIDATIONS, () => validator.validate(token));
    const fresh = new TokenValidator({ ...validator.config });
    await fresh.validate(token);
    let i = 0;
    const first = await timeEach(distinct.length, () => fresh.validate(distinct[i++]!));
    fresh.close();
    row.baseline.push({ p50: percentile(base, 50) * 1000, p99: percentile(base, 99) * 1000 });
    row.validator.push({ p50: percentile(ours, 50) * 1000, p99: percentile(ours, 99) * 1000 });
    row.fresh.push({ p50: percentile(first, 50) * 1000, p99: percentile(first, 99) * 1000 });
  }
  validator.close();
  await iss.close();
  return row;
}

/** The same stdio server behind two proxies in this process: one in local mode, one requiring tokens. */
async function benchProxy(): Promise<{ off: { p50: number; p99: number }[]; on: { p50: number; p99: number }[] }> {
  const child = spawn(process.execPath, [everythingEntry(), 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const backend = new StdioBackend({ stdout: child.stdout!, stdin: child.stdin! }, { log: () => {} });
  await backend.start();
  const iss = await startIssuer('RS256');
  let auth: AuthState | undefined;
  const off = new ProxyServer({ serverName: 'off', port: 0, transport: 'stdio', log: () => {} });
  const on = new ProxyServer({ serverName: 'on', port: 0, transport: 'stdio', log: () => {}, auth: () => auth });
  await off.listen();
  await on.listen();
  await off.setBackend(backend, 'running');
  await on.setBackend(backend, 'running');
  const resourceUrl = `${on.url}/mcp`;
  const validator = new TokenValidator({
    issuer: iss.issuer, audience: resourceUrl, jwksUrl: iss.jwksUrl, resourceUrl, scopes: [], clockToleranceSeconds: 30, insecureAllowHttp: false, allowPrivateIp: false,
  });
  auth = { config: validator.config, validator, resourceUrls: [resourceUrl], serverName: 'on' };
  const token = await iss.sign(resourceUrl);
  const connect = async (url: string, headers: Record<string, string>) => {
    const c = new Client({ name: 'bench-auth', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
    return c;
  };
  const cOff = await connect(off.url, {});
  const cOn = await connect(on.url, { authorization: `Bearer ${token}` });
  const call = (c: Client) => c.callTool({ name: 'echo', arguments: { message: 'x' } });
  const res = { off: [] as { p50: number; p99: number }[], on: [] as { p50: number; p99: number }[] };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    const order: ['off' | 'on', Client][] = r % 2 === 0 ? [['off', cOff], ['on', cOn]] : [['on', cOn], ['off', cOff]];
    for (const [name, c] of order) {
      await timeEach(WARMUP, () => call(c));
      const t = await timeEach(CALLS, () => call(c));
      res[name].push({ p50: percentile(t, 50), p99: percentile(t, 99) });
    }
  }
  await cOff.close();
  await cOn.close();
  await on.close();
  await off.close();
  validator.close();
  await iss.close();
  child.kill();
  return res;
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const started = Date.now();
  const validation = [await benchValidation('RS256'), await benchValidation('ES256')];
  const proxy = await benchProxy();
  const lines: string[] = [];
  lines.push('<!-- bench:auth:start -->');
  lines.push('## Authentication: token validation and what it adds to a call');
  lines.push('');
  lines.push(
    `Written by \`npm run bench:auth\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${Math.round((Date.now() - started) / 1000)} s: ${os.cpus()[0]?.model ?? '?'}, ${os.cpus().length} cores, Node ${process.version}. ${ROUNDS} rounds, medians over rounds.`,
  );
  lines.push('');
  lines.push(`Validation, JWKS cache warm. Baseline: jose's \`jwtVerify\` with the public key already imported (signature, iss, aud, exp), ${VALIDATIONS.toLocaleString('en-US')} times per round — the floor of checking a JWT from scratch. Gatehouse, first sight: \`TokenValidator.validate\` of 2,000 distinct tokens (key lookup in the cached JWKS, algorithm allow-list, every claim check, identity). Gatehouse, per request: the same token again, as a client sends it on every call (${VALIDATIONS.toLocaleString('en-US')} times; validated once, then reused until its exp, for at most 60 s).`);
  lines.push('');
  lines.push('| token | baseline p50 µs | baseline p99 µs | first sight p50 µs | first sight p99 µs | per request p50 µs | per request p99 µs | first sight vs baseline | per request vs baseline |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const v of validation) {
    const b50 = median(v.baseline.map((x) => x.p50));
    const f50 = median(v.fresh.map((x) => x.p50));
    const g50 = median(v.validator.map((x) => x.p50));
    lines.push(`| ${v.alg} | ${fmt(b50)} | ${fmt(median(v.baseline.map((x) => x.p99)))} | ${fmt(f50)} | ${fmt(median(v.fresh.map((x) => x.p99)))} | ${fmt(g50)} | ${fmt(median(v.validator.map((x) => x.p99)))} | ${fmt(f50 / b50, 2)}× | ${fmt(g50 / b50, 3)}× |`);
  }
  lines.push('');
  const off50 = median(proxy.off.map((x) => x.p50));
  const on50 = median(proxy.on.map((x) => x.p50));
  const off99 = median(proxy.off.map((x) => x.p99));
  const on99 = median(proxy.on.map((x) => x.p99));
  lines.push(`Proxy: \`tools/call echo\` with the MCP SDK client through two proxies in one process in front of the same server-everything (stdio child), one in local mode, one requiring an RS256 token; ${WARMUP} warm-up and ${CALLS.toLocaleString('en-US')} measured calls per round, the order alternating between rounds.`);
  lines.push('');
  lines.push('| proxy | echo p50 ms | echo p99 ms | p50 vs off |');
  lines.push('|---|---:|---:|---:|');
  lines.push(`| authentication off (local mode) | ${fmt(off50, 2)} | ${fmt(off99, 2)} | 1.00× |`);
  lines.push(`| authentication on (JWT, RS256) | ${fmt(on50, 2)} | ${fmt(on99, 2)} | ${fmt(on50 / off50, 2)}× |`);
  lines.push('');
  const rs = validation[0]!;
  lines.push(
    `What this shows: checking a token Gatehouse has not seen costs ${fmt(median(rs.fresh.map((x) => x.p50)))} µs at p50 with RS256 (${fmt(median(rs.fresh.map((x) => x.p50)) / median(rs.baseline.map((x) => x.p50)), 2)}× jose's bare check: the signature dominates); the same token on later calls costs ${fmt(median(rs.validator.map((x) => x.p50)))} µs. Turning authentication on changes a whole MCP call by ${fmt((on50 - off50) * 1000, 0)} µs at p50 (${fmt(on50 / off50, 2)}×) against a ${fmt(off50, 2)} ms call; differences of this size are within the run-to-run noise of these rows.`,
  );
  lines.push('<!-- bench:auth:end -->');
  const section = lines.join('\n');
  process.stdout.write(`${section}\n`);
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /<!-- bench:auth:start -->[\s\S]*?<!-- bench:auth:end -->/;
  fs.writeFileSync(file, re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`);
}

await main();
process.exit(0);
