import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { ApiError, SimulationInputSchema, type ApiClient, type SimulationInputBody, type SimulationView } from '../api/browser.js';
import type { AuthzConfig } from '../authz/index.js';
import { ExitCode } from './exit-codes.js';
import { formatTime, table } from './format.js';

type Format = 'table' | 'json';

// The policy commands as commander declares them. What needs Cedar (reading, checking, formatting and
// simulating a policy file) is in policy-files.ts, loaded by the commands that use it: the others,
// and every other command, do not pay for src/authz (cedar-wasm) and yaml.

let loaded: typeof import('./policy-files.js') | undefined;

/** policy-files.ts, loaded on use. */
export async function loadPolicyFiles(): Promise<typeof import('./policy-files.js')> {
  return (loaded ??= await import('./policy-files.js'));
}

function parseJsonFlag(flag: string, value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  try {
    const v = JSON.parse(value) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to the usage error
  }
  throw new CommanderError(ExitCode.usage, 'gatehouse.json', `${flag} expects a JSON object, e.g. ${flag} '{"sub":"alice"}'`);
}

function simulationText(r: SimulationView): string {
  const lines = [
    `${r.allowed ? 'ALLOW' : 'DENY'}  ${r.request.principal} ${r.request.action} ${r.request.resource}`,
  ];
  if (r.problem) lines.push(`  ${r.problem}`);
  for (const d of r.determining) lines.push(`  ${r.decision.decision === 'allow' ? 'permitted' : 'forbidden'} by ${d.id} (policy ${d.index}): ${d.text.replace(/\s+/g, ' ')}`);
  if (r.determining.length === 0 && !r.problem) lines.push('  no policy permits it (Cedar denies by default)');
  for (const e of r.decision.errors) lines.push(`  error in ${e.policy}: ${e.message}${r.decision.decision === 'allow' ? ' (an evaluation error denies, as in ToolHive)' : ''}`);
  return lines.join('\n');
}

/** One line of a `--requests` file: a request as the simulator takes it, and optionally the decision it must get. */
const RequestLineSchema = SimulationInputSchema.extend({ expect: z.enum(['allow', 'deny']).optional() }).strict();
type RequestLine = z.infer<typeof RequestLineSchema>;

/** A `--requests` file: JSON Lines (blank lines and lines starting with # skipped), every line checked. */
function readRequestLines(file: string): RequestLine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommanderError(ExitCode.usage, 'gatehouse.policy', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const out: RequestLine[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new CommanderError(ExitCode.usage, 'gatehouse.policy', `${file}, line ${i + 1}: not JSON (${(err as Error).message}).`);
    }
    const parsed = RequestLineSchema.safeParse(json);
    if (!parsed.success) throw new CommanderError(ExitCode.usage, 'gatehouse.policy', `${file}, line ${i + 1}: ${parsed.error.issues.map((x) => `${x.path.join('.') || '(the line)'}: ${x.message}`).join('; ')}. A line is {"claims": {...}, "feature": "tool", "name": "...", "arguments": {...}, "expect": "allow"}.`);
    out.push(parsed.data);
  }
  return out;
}

interface SimulationFlags {
  claims?: string;
  tool?: string;
  prompt?: string;
  resource?: string;
  args?: string;
  server?: string;
}

function simulationInput(o: SimulationFlags): SimulationInputBody {
  const targets = [o.tool && 'tool', o.prompt && 'prompt', o.resource && 'resource'].filter(Boolean);
  if (targets.length !== 1) throw new CommanderError(ExitCode.usage, 'gatehouse.policy', 'Give exactly one of --tool NAME, --prompt NAME, --resource URI.');
  const feature = targets[0] as 'tool' | 'prompt' | 'resource';
  const input: SimulationInputBody = {
    claims: parseJsonFlag('--claims', o.claims),
    feature,
    name: (o.tool ?? o.prompt ?? o.resource)!,
  };
  if (o.args !== undefined) input.arguments = parseJsonFlag('--args', o.args);
  if (o.server !== undefined) input.serverName = o.server;
  return input;
}

export function addPolicyCommands(program: Command, fmt: () => Format, withCore: <T>(fn: (api: ApiClient) => Promise<T>) => Promise<T>): void {
  const print = (json: unknown, text: () => string) => process.stdout.write((fmt() === 'json' ? JSON.stringify(json, null, 2) : text()) + '\n');
  const policy = program.command('policy').description("Cedar policies (ToolHive's authz-config): check, simulate, save as named sets, apply to servers");

  policy
    .command('check <file>')
    .description('check an authz-config file: Cedar syntax, then the MCP entity model (typos in actions, entity types, claims)')
    .option('--key <key>', 'the ConfigMap data key, when the file is a ConfigMap manifest')
    .option('--strict', 'fail on warnings too')
    .option('--server <name>', "also check the arguments policies read against those the server's tools and prompts declare")
    .action(async (file: string, o: { key?: string; strict?: boolean; server?: string }) => {
      const { checkAuthzConfig, problemLines, readAuthzConfigFile } = await loadPolicyFiles();
      const config = readAuthzConfigFile(file, o.key);
      const result = o.server === undefined ? checkAuthzConfig(config) : await withCore((api) => api.checkPolicy({ config, server: o.server }));
      const failed = !result.ok || (o.strict === true && result.warnings.length > 0);
      print(result, () => {
        const lines = [problemLines(file, [...result.errors, ...result.warnings])].filter(Boolean);
        lines.push(failed ? `${file}: ${result.errors.length} error(s), ${result.warnings.length} warning(s)` : `${file}: OK${result.warnings.length ? ` (${result.warnings.length} warning(s))` : ''}`);
        return lines.join('\n');
      });
      if (failed) process.exitCode = ExitCode.failure;
    });

  policy
    .command('fmt <file>')
    .description("print the file with every policy in Cedar's canonical layout")
    .option('--write', 'rewrite the file in place instead of printing')
    .action(async (file: string, o: { write?: boolean }) => {
      const text = (await loadPolicyFiles()).formattedPolicyFile(file);
      if (!o.write) {
        process.stdout.write(text);
        return;
      }
      // Temp file and rename: a crash mid-write cannot leave half a policy file behind.
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.gatehouse-${process.pid}`);
      fs.writeFileSync(tmp, text, { mode: fs.statSync(file).mode & 0o777 });
      fs.renameSync(tmp, file);
      process.stdout.write(`Formatted ${file}\n`);
    });

  policy
    .command('test [file]')
    .description('simulate one request: the decision, the policies that decided it, and errors (exit 0 allowed, 1 denied)')
    .option('--set <name>', 'a saved policy set instead of a file')
    .option('--policy-version <n>', 'that version of the saved set', (v) => Number(v))
    .option('--claims <json>', 'the caller\'s token claims, e.g. \'{"sub":"alice","roles":["premium"]}\'')
    .option('--tool <name>', 'a tools/call of this tool')
    .option('--prompt <name>', 'a prompts/get of this prompt')
    .option('--resource <uri>', 'a resources/read of this URI')
    .option('--args <json>', 'the call\'s arguments, e.g. \'{"operation":"add"}\'')
    .option('--server <name>', 'the server name (resources get MCP::"<server>" as parent)')
    .option('--strict', "refuse a file Cedar's validator has findings about (by default they are printed as warnings)")
    .option('--requests <file>', 'many requests, one JSON object per line ({"claims":…,"feature":"tool","name":…,"arguments":…,"expect":"allow"}); exit 1 when one gets another decision than it expects')
    .action(async (file: string | undefined, o: SimulationFlags & { set?: string; policyVersion?: number; strict?: boolean; requests?: string }) => {
      if ((file === undefined) === (o.set === undefined)) throw new CommanderError(ExitCode.usage, 'gatehouse.policy', 'Give a file or --set NAME.');
      if (o.requests !== undefined) {
        if (o.tool ?? o.prompt ?? o.resource ?? o.claims ?? o.args) throw new CommanderError(ExitCode.usage, 'gatehouse.policy', '--requests takes the requests from its file: leave out --claims, --tool, --prompt, --resource and --args.');
        const lines = readRequestLines(o.requests);
        const inputs = lines.map(({ expect: _expected, ...input }) => input);
        const results =
          file !== undefined
            ? (await loadPolicyFiles()).simulateFileMany(file, inputs, o.strict === true)
            : await withCore(async (api) => {
                const out: SimulationView[] = [];
                for (const input of inputs) out.push(await api.simulatePolicy({ set: o.set!, ...(o.policyVersion !== undefined ? { version: o.policyVersion } : {}), input }));
                return out;
              });
        const rows = results.map((result, i) => ({ line: i + 1, expect: lines[i]!.expect ?? null, result }));
        const broken = rows.filter((r) => r.expect !== null && (r.expect === 'allow') !== r.result.allowed);
        print(rows, () =>
          [
            ...rows.map((r) => `${r.result.allowed ? 'ALLOW' : 'DENY '} ${r.result.request.principal} ${r.result.request.action} ${r.result.request.resource}${r.expect !== null && (r.expect === 'allow') !== r.result.allowed ? `   expected ${r.expect.toUpperCase()}` : ''}`),
            `${rows.length} request(s): ${rows.filter((r) => r.result.allowed).length} allowed, ${rows.filter((r) => !r.result.allowed).length} denied${broken.length ? `; ${broken.length} not as expected` : ''}`,
          ].join('\n'),
        );
        if (broken.length) process.exitCode = ExitCode.failure;
        return;
      }
      const input = simulationInput(o);
      let result: SimulationView;
      if (file !== undefined) {
        result = (await loadPolicyFiles()).simulateFile(file, input, o.strict === true);
      } else {
        result = await withCore((api) => api.simulatePolicy({ set: o.set!, ...(o.policyVersion !== undefined ? { version: o.policyVersion } : {}), input }));
      }
      print(result, () => simulationText(result));
      if (!result.allowed) process.exitCode = ExitCode.failure;
    });

  policy
    .command('save <name> <file>')
    .description('save the file as a new version of a named policy set (servers using the set switch to it at once)')
    .option('--note <text>', 'what changed, kept in the history')
    .option('--strict', "refuse the file when Cedar's validator has findings about it")
    .option('--accept-broken-cases', "save even when the set's saved cases get another decision with it")
    .action(async (name: string, file: string, o: { note?: string; strict?: boolean; acceptBrokenCases?: boolean }) => {
      const { readAuthzConfigFileAndText, savedText } = await loadPolicyFiles();
      const { config, source } = readAuthzConfigFileAndText(file);
      const r = await withCore((api) => api.savePolicy({ name, config, source, note: o.note, strict: o.strict === true, ...(o.acceptBrokenCases ? { acceptBrokenCases: true } : {}) }));
      print(r, () => savedText(name, r));
    });

  policy
    .command('apply <name>')
    .description('attach a policy set to a server (with --file: save the file as its new version first)')
    .requiredOption('--server <server>', 'the server')
    .option('--file <file>', 'an authz-config file to save as the set\'s new version first')
    .option('--note <text>', 'what changed, kept in the history')
    .option('--strict', "refuse the file when Cedar's validator has findings about it")
    .action(async (name: string, o: { server: string; file?: string; note?: string; strict?: boolean }) => {
      const files = o.file ? await loadPolicyFiles() : undefined;
      const saved = o.file ? await withCore((api) => api.savePolicy({ name, ...files!.readAuthzConfigFileAndText(o.file!), note: o.note, strict: o.strict === true })) : undefined;
      const s = await withCore((api) => api.attachPolicy({ name: o.server, policySet: name }));
      print({ saved, server: s }, () => `${saved ? `${files!.savedText(name, saved)}\n` : ''}Policy set ${name} now authorizes ${s.name} (${s.url}).`);
    });

  policy
    .command('detach')
    .description('remove authorization from a server (every request passes, as without --authz-config)')
    .requiredOption('--server <server>', 'the server')
    .action(async (o: { server: string }) => {
      const s = await withCore((api) => api.attachPolicy({ name: o.server, policySet: null }));
      print(s, () => `Server ${s.name} has no policy set: every request passes.`);
    });

  policy
    .command('ls')
    .alias('list')
    .description('saved policy sets')
    .action(async () => {
      const sets = await withCore((api) => api.policies());
      print(sets, () =>
        sets.length === 0
          ? 'No policy sets. Save one with: gatehouse policy save NAME FILE'
          : table(['NAME', 'VERSION', 'POLICIES', 'SERVERS', 'UPDATED'], sets.map((p) => [p.name, `v${p.currentVersion}`, String((p.config as AuthzConfig).cedar.policies.length), p.servers.join(', ') || '-', formatTime(Date.parse(p.updatedAt))])),
      );
    });

  policy
    .command('show <name>')
    .description('a policy set as an authz-config file (current version, or --policy-version N)')
    .option('--policy-version <n>', 'an earlier version (see policy history)', (v) => Number(v))
    .action(async (name: string, o: { policyVersion?: number }) => {
      const p = await withCore((api) => api.policy({ name, version: o.policyVersion }));
      print(p, () => JSON.stringify(p.config, null, 2));
    });

  policy
    .command('export <name>')
    .description('a policy set as a file for --authz-config: the file it was saved from, unchanged, or its config written out')
    .option('--json', 'as JSON')
    .option('--yaml', 'as YAML (without either: the syntax of the file the version was saved from, else JSON)')
    .option('--policy-version <n>', 'an earlier version (see policy history)', (v) => Number(v))
    .option('-o, --output <file>', 'write it to this file instead of printing it')
    .action(async (name: string, o: { json?: boolean; yaml?: boolean; policyVersion?: number; output?: string }) => {
      if (o.json && o.yaml) throw new CommanderError(ExitCode.usage, 'gatehouse.policy', 'Give --json or --yaml, not both.');
      const format = o.json ? 'json' : o.yaml ? 'yaml' : undefined;
      const f = await withCore((api) => api.exportPolicy({ name, ...(o.policyVersion !== undefined ? { version: o.policyVersion } : {}), ...(format ? { format } : {}) }));
      if (o.output === undefined) {
        if (fmt() === 'json') print(f, () => f.text);
        else process.stdout.write(f.text);
        return;
      }
      // Temp file and rename: a crash mid-write cannot leave half a policy file behind.
      const tmp = path.join(path.dirname(o.output), `.${path.basename(o.output)}.gatehouse-${process.pid}`);
      fs.writeFileSync(tmp, f.text, { mode: 0o644 });
      fs.renameSync(tmp, o.output);
      print({ ...f, written: o.output }, () => `Wrote ${o.output} (${f.format.toUpperCase()}, ${f.original ? 'the file this version was saved from, unchanged' : 'written from the saved config'}).`);
    });

  policy
    .command('history <name>')
    .description('every saved version of a policy set')
    .action(async (name: string) => {
      const versions = await withCore((api) => api.policyHistory({ name }));
      print(versions, () => table(['VERSION', 'SAVED', 'POLICIES', 'NOTE'], versions.map((v) => [`v${v.version}`, formatTime(Date.parse(v.createdAt)), String((v.config as AuthzConfig).cedar.policies.length), v.note ?? ''])));
    });

  policy
    .command('rm <name>')
    .alias('remove')
    .description('delete a policy set and its history (refused while servers use it)')
    .action(async (name: string) => {
      await withCore((api) => api.removePolicy({ name }));
      print({ removed: name }, () => `Removed policy set ${name}.`);
    });
}

/** Errors this module raises that are the user's input, not a failure of Gatehouse. Loads nothing. */
export function isPolicyUsageError(err: unknown): boolean {
  return (loaded?.isPolicyFileError(err) ?? false) || (err instanceof ApiError && err.check !== undefined);
}
