// Runs the official MCP conformance harness (@modelcontextprotocol/conformance, pinned in
// devDependencies) and reads its results. Used by test/integration/conformance.test.ts.
//
// The harness needs Node >= 22; the project runs on Node 20. test/tools/install-node22.sh installs a
// Node 22 into test/tools/.node22 (outside node_modules, so native modules built for Node 20 are
// never run by it), and the harness is started with that binary (or with $GATEHOUSE_NODE22, when set).
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';

const require = createRequire(import.meta.url);

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CONFORMANCE_DIR = path.join(REPO_ROOT, 'test', 'conformance');
const NODE22_BIN = path.join(REPO_ROOT, 'test', 'tools', '.node22', 'node_modules', 'node', 'bin', 'node');
const INSTALL_HELP = 'Install it with:\n  bash test/tools/install-node22.sh\n(.ci/run does this before the tests.)';

export type RequirementSet = '2025-11-25' | '2026-07-28';
export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';

/** The Node 22 binary for the harness. Throws (never skips) with the command to run when it is missing. */
export function requireNode22(): string {
  const bin = process.env['GATEHOUSE_NODE22'] || NODE22_BIN;
  if (!fs.existsSync(bin)) {
    throw new Error(`The MCP conformance harness needs Node >= 22, and ${bin} does not exist.\n${INSTALL_HELP}`);
  }
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  const version = r.stdout.trim();
  const major = Number(/^v(\d+)\./.exec(version)?.[1] ?? 0);
  if (r.status !== 0 || major < 22) {
    throw new Error(`The MCP conformance harness needs Node >= 22; ${bin} says ${JSON.stringify(version || r.stderr)}.\n${INSTALL_HELP}`);
  }
  return bin;
}

/** The harness's entry point, from the pinned devDependency. */
export function conformanceEntry(): string {
  const pkg = require.resolve('@modelcontextprotocol/conformance/package.json');
  const { version, bin } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string; bin: { conformance: string } };
  if (version !== '0.2.0-alpha.12') {
    // The baselines and this runner were written against alpha.12's CLI and check ids.
    throw new Error(`@modelcontextprotocol/conformance is ${version}, expected the pinned 0.2.0-alpha.12 (run npm ci)`);
  }
  return path.join(path.dirname(pkg), bin.conformance);
}

export interface RunOptions {
  node: string;
  url: string;
  requirements: RequirementSet;
  outDir: string;
  expectedFailures?: string;
  /** Per-scenario timeout of the harness (its default is 30 s). */
  scenarioTimeoutMs?: number;
  /** Kills the whole run after this long. */
  timeoutMs?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  command: string;
}

/** `conformance server --url URL --requirements REV -o DIR [--expected-failures FILE]`. */
export function runConformance(o: RunOptions): Promise<RunResult> {
  fs.rmSync(o.outDir, { recursive: true, force: true });
  fs.mkdirSync(o.outDir, { recursive: true });
  const args = [conformanceEntry(), 'server', '--url', o.url, '--requirements', o.requirements, '-o', o.outDir];
  if (o.expectedFailures !== undefined) args.push('--expected-failures', o.expectedFailures);
  if (o.scenarioTimeoutMs !== undefined) args.push('--timeout', String(o.scenarioTimeoutMs));
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env['NODE_OPTIONS']; // vitest's hooks are for Node 20, not for the harness's Node 22
  const command = [o.node, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      o.node,
      args,
      { cwd: REPO_ROOT, env, timeout: o.timeoutMs ?? 150_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        fs.writeFileSync(path.join(o.outDir, 'stdout.txt'), stdout);
        fs.writeFileSync(path.join(o.outDir, 'stderr.txt'), stderr);
        if (err && typeof err.code !== 'number') {
          reject(new Error(`${command} did not finish (${err.killed ? 'killed after timeout' : err.message})\n${tail(stdout)}\n${tail(stderr)}`));
          return;
        }
        resolve({ exitCode: err ? (err.code as number) : 0, stdout, stderr, command });
      },
    );
  });
}

export interface ClientRunOptions {
  node: string;
  /** The client's command line; the harness appends the scenario server's URL as the last argument (through a shell). */
  command: string;
  scenario: string;
  /** The revision the scenario runs at (a requirement set's, or an older one for back-compat scenarios). */
  specVersion: string;
  outDir: string;
  scenarioTimeoutMs?: number;
  timeoutMs?: number;
}

/** `conformance client --command CMD --scenario S --spec-version V -o DIR`: one client scenario. */
export function runConformanceClient(o: ClientRunOptions): Promise<RunResult> {
  fs.mkdirSync(o.outDir, { recursive: true });
  const args = [conformanceEntry(), 'client', '--command', o.command, '--scenario', o.scenario, '--spec-version', o.specVersion, '-o', o.outDir];
  if (o.scenarioTimeoutMs !== undefined) args.push('--timeout', String(o.scenarioTimeoutMs));
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env['NODE_OPTIONS'];
  const command = [o.node, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return new Promise((resolve, reject) => {
    execFile(o.node, args, { cwd: REPO_ROOT, env, timeout: o.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`${command} did not finish (${err.killed ? 'killed after timeout' : err.message})\n${tail(stdout)}\n${tail(stderr)}`));
        return;
      }
      resolve({ exitCode: err ? (err.code as number) : 0, stdout, stderr, command });
    });
  });
}

/** The client scenarios a requirement set requires (the harness's own frozen list), `auth/` ones only when asked. */
export function requiredClientScenarios(rev: RequirementSet, prefix = ''): string[] {
  const file = path.join(path.dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'requirements', `${rev}.yaml`);
  const parsed = z.object({ client: z.array(z.string()) }).passthrough().parse(YAML.parse(fs.readFileSync(file, 'utf8')));
  return parsed.client.filter((s) => s.startsWith(prefix));
}

/**
 * The checks of one client scenario's run (`<outDir>/<scenario>-<timestamp>/checks.json`; the scenario's
 * own slash makes a folder), folded per id like readResults. Undefined when it left no checks.
 */
export function readClientScenario(outDir: string, scenario: string): Map<string, CheckResult> | undefined {
  const parent = path.join(outDir, path.dirname(scenario));
  const base = path.basename(scenario);
  if (!fs.existsSync(parent)) return undefined;
  const dirs = fs.readdirSync(parent).filter((d) => d.startsWith(`${base}-`) && /^\d{4}-\d{2}-\d{2}T[\d-]+Z$/.test(d.slice(base.length + 1)));
  if (dirs.length !== 1) return undefined;
  const file = path.join(parent, dirs[0]!, 'checks.json');
  if (!fs.existsSync(file)) return undefined;
  return foldChecks(JSON.parse(fs.readFileSync(file, 'utf8')) as RawCheck[]);
}

function foldChecks(checks: RawCheck[]): Map<string, CheckResult> {
  const byId = new Map<string, CheckResult>();
  for (const c of checks) {
    if (c.status === 'INFO') continue;
    const prev = byId.get(c.id);
    // A failure keeps the harness's words (its error, else the check's description) so a red run says why.
    const message = c.errorMessage ?? (c.status === 'FAILURE' || c.status === 'WARNING' ? c.description : undefined);
    if (prev === undefined || RANK[c.status] > RANK[prev.status]) byId.set(c.id, message ? { status: c.status, message } : { status: c.status });
  }
  return byId;
}

function tail(s: string, lines = 40): string {
  return s.split('\n').slice(-lines).join('\n');
}

interface RawCheck {
  id: string;
  status: CheckStatus;
  description?: string;
  errorMessage?: string;
}

export interface CheckResult {
  /** Worst status over the checks with this id (FAILURE > WARNING > SUCCESS > SKIPPED), as the harness ranks them. */
  status: CheckStatus;
  /** The error message of the first check with that worst status. */
  message?: string;
}

/** scenario → check id → result. INFO checks (traces) are left out. */
export type Results = Map<string, Map<string, CheckResult>>;

const RANK: Record<CheckStatus, number> = { FAILURE: 3, WARNING: 2, SUCCESS: 1, SKIPPED: 0, INFO: -1 };

/**
 * Reads the `<outDir>/server-<scenario>-<timestamp>/checks.json` files of one run. Checks with the same
 * id in one scenario are folded into the worst status, which is how the harness scores a baseline
 * entry `scenario:check-id`. A scenario that threw leaves an empty folder and a "Failed to run
 * scenario S: ..." line on stderr; like the harness, it counts as one FAILURE check whose id is the
 * scenario's name.
 */
export function readResults(outDir: string, stderr = ''): Results {
  const results: Results = new Map();
  for (const entry of fs.readdirSync(outDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry.name);
    if (!m) continue;
    const scenario = m[1]!;
    if (results.has(scenario)) throw new Error(`scenario ${scenario} has two result folders in ${outDir}`);
    const file = path.join(outDir, entry.name, 'checks.json');
    if (!fs.existsSync(file)) continue; // threw: see below
    results.set(scenario, foldChecks(JSON.parse(fs.readFileSync(file, 'utf8')) as RawCheck[]));
  }
  for (const m of stderr.matchAll(/^Failed to run scenario (\S+): (.*)$/gm)) {
    const scenario = m[1]!;
    if (!results.has(scenario)) results.set(scenario, new Map([[scenario, { status: 'FAILURE', message: `threw: ${m[2]!}` }]]));
  }
  return results;
}

/**
 * Entries of one list in a baseline file (the harness's --expected-failures format, `server:` by
 * default): `scenario` or `scenario:check-id`, comments allowed.
 */
export function readBaseline(file: string, key = 'server'): string[] {
  const entries: string[] = [];
  let inServer = false;
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (line === '') continue;
    if (/^\S/.test(line)) {
      inServer = line === `${key}:`;
      continue;
    }
    const m = /^\s+-\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`${file}: cannot read line ${JSON.stringify(raw)} (expected '  - scenario' or '  - scenario:check-id')`);
    if (inServer) entries.push(m[1]!);
  }
  return entries;
}

/**
 * Compares a run with a baseline over every scenario that ran, scored or not (the harness itself only
 * scores the scenarios a requirement set requires): failing checks the baseline does not list, and
 * baseline entries that no longer fail. Both empty when the run matches the baseline exactly.
 */
export function compareWithBaseline(results: Results, baseline: readonly string[]): { unexpected: string[]; stale: string[] } {
  const listed = new Set(baseline);
  const unexpected: string[] = [];
  const failingKeys = new Set<string>();
  for (const [scenario, checks] of results) {
    for (const [id, c] of checks) {
      if (!isFailing(c.status)) continue;
      failingKeys.add(scenario).add(`${scenario}:${id}`);
      if (!listed.has(scenario) && !listed.has(`${scenario}:${id}`)) {
        unexpected.push(`${scenario}:${id}: ${c.status}${c.message ? ` (${c.message})` : ''}`);
      }
    }
  }
  const stale = baseline.filter((e) => !failingKeys.has(e)).map((e) => {
    const colon = e.indexOf(':');
    const scenario = colon === -1 ? e : e.slice(0, colon);
    const id = colon === -1 ? undefined : e.slice(colon + 1);
    const got = results.get(scenario);
    return `${e}: ${got === undefined ? 'did not run' : id === undefined ? 'passes' : (got.get(id)?.status ?? 'not reported')}`;
  });
  return { unexpected, stale };
}

/** The harness counts FAILURE and WARNING as failing (a baseline entry is needed for either). */
export function isFailing(status: CheckStatus): boolean {
  return status === 'FAILURE' || status === 'WARNING';
}

export function scenarioPasses(checks: Map<string, CheckResult>): boolean {
  return checks.size > 0 && [...checks.values()].every((c) => !isFailing(c.status));
}

/** `scenario:check-id` of every check that succeeded. */
export function passingChecks(results: Results): Set<string> {
  const out = new Set<string>();
  for (const [scenario, checks] of results) {
    for (const [id, c] of checks) if (c.status === 'SUCCESS') out.add(`${scenario}:${id}`);
  }
  return out;
}

export function passingScenarios(results: Results): Set<string> {
  return new Set([...results].filter(([, checks]) => scenarioPasses(checks)).map(([s]) => s));
}

export interface Regression {
  /** `scenario:check-id`, or `scenario` when the whole scenario is missing. */
  key: string;
  text: string;
}

/**
 * Everything that passes directly but not through the proxy:
 * - every check that succeeded directly and did not succeed through the proxy (with the proxy's message);
 * - every scenario that passed directly (no failing check) and has any failing check through the proxy,
 *   including checks the direct run never emitted;
 * - every scenario that passed directly and did not run through the proxy.
 * Empty when the proxy passes a superset of what the server passes directly.
 */
export function regressions(direct: Results, proxied: Results): Regression[] {
  const out: Regression[] = [];
  for (const [scenario, checks] of direct) {
    const through = proxied.get(scenario);
    if (through === undefined) {
      if (scenarioPasses(checks)) out.push({ key: scenario, text: `${scenario}: passes directly, did not run through the proxy` });
      continue;
    }
    for (const [id, c] of checks) {
      if (c.status !== 'SUCCESS') continue;
      const p = through.get(id);
      if (p?.status !== 'SUCCESS') {
        const why = p?.message ? ` (${p.message})` : '';
        out.push({ key: `${scenario}:${id}`, text: `${scenario}:${id}: SUCCESS directly, ${p?.status ?? 'not reported'} through the proxy${why}` });
      }
    }
    if (scenarioPasses(checks)) {
      for (const [id, p] of through) {
        if (isFailing(p.status) && !checks.has(id)) {
          const why = p.message ? ` (${p.message})` : '';
          out.push({ key: `${scenario}:${id}`, text: `${scenario}:${id}: not emitted directly (the scenario passes), ${p.status} through the proxy${why}` });
        }
      }
    }
  }
  return out;
}

/** One line per scenario: `✓ name` / `✗ name  [failing check ids]`, for logs and the report. */
export function summarize(results: Results): string {
  return [...results]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([scenario, checks]) => {
      const failing = [...checks].filter(([, c]) => isFailing(c.status)).map(([id, c]) => `${id}=${c.status}`);
      return failing.length === 0 ? `✓ ${scenario}` : `✗ ${scenario}  [${failing.join(', ')}]`;
    })
    .join('\n');
}
