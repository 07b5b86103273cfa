import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { PolicyCheckView, PolicyProblemView, SimulationInputBody, SimulationView } from '../api/browser.js';
import { AuthzConfigError, checkAuthzConfig, describeProblem, formatAuthzConfig, parseAuthzConfigDocument, PolicyEngine, PolicyParseError, simulate, type AuthzConfig } from '../authz/index.js';

// What the policy commands do with Cedar itself (src/authz: cedar-wasm, the evaluator; yaml): loaded by
// the commands that read or check a policy file (through loadPolicyFiles in policy-commands.ts), not
// by every command.

export { checkAuthzConfig } from '../authz/index.js';

export class PolicyFileError extends Error {}

/** Reads an authz-config file as ToolHive accepts it (JSON or YAML; also a ConfigMap or MCPServer manifest). */
export function readAuthzConfigFile(file: string, key?: string): AuthzConfig {
  return readAuthzConfigFileAndText(file, key).config;
}

/** The same, with the file's text: a save sends it along, so the version exports as this very file. */
export function readAuthzConfigFileAndText(file: string, key?: string): { config: AuthzConfig; source: { text: string; fileName: string } } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyFileError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    return { config: parseAuthzConfigDocument(text, file, key), source: { text, fileName: path.basename(file) } };
  } catch (err) {
    if (err instanceof AuthzConfigError) throw new PolicyFileError(err.message);
    throw err;
  }
}

export function problemLines(file: string, problems: readonly PolicyProblemView[]): string {
  return problems.map((p) => `${file}: ${p.severity}: ${describeProblem(p)}`).join('\n');
}

/** The file with every policy in Cedar's canonical layout, in the file's own syntax (JSON or YAML). */
export function formattedPolicyFile(file: string): string {
  const formatted = formatAuthzConfig(readAuthzConfigFile(file));
  const isJson = fs.readFileSync(file, 'utf8').trimStart().startsWith('{');
  return isJson ? `${JSON.stringify(formatted, null, 2)}\n` : stringify(formatted);
}

/** `policy test FILE`: the file is checked first (errors refuse it, and with strict, findings too). */
export function simulateFile(file: string, input: SimulationInputBody, strict: boolean): SimulationView {
  return simulateFileMany(file, [input], strict)[0]!;
}

/** The same for many requests (`--requests`): the file is read and checked once. */
export function simulateFileMany(file: string, inputs: readonly SimulationInputBody[], strict: boolean): SimulationView[] {
  const config = readAuthzConfigFile(file);
  const check = checkAuthzConfig(config, {}, { strict });
  if (check.errors.length > 0) throw new PolicyFileError(`${file} has errors:\n${problemLines(file, check.errors)}`);
  if (!check.ok) throw new PolicyFileError(`${file} has findings, which --strict refuses:\n${problemLines(file, check.warnings)}`);
  warn(file, check.warnings);
  const engine = new PolicyEngine(config);
  return inputs.map((input) => simulate(engine, input));
}

/** The validator's findings about a file that is loaded anyway (`run --authz-config`), on stderr. */
export function warnAboutPolicies(file: string, config: AuthzConfig): void {
  const check = checkAuthzConfig(config);
  if (check.errors.length === 0) warn(file, check.warnings);
}

/** Findings of a file that is loaded anyway: on stderr, so `--format json` output stays clean. */
function warn(file: string, warnings: readonly PolicyProblemView[]): void {
  if (warnings.length > 0) process.stderr.write(`${problemLines(file, warnings)}\n${file}: loaded with ${warnings.length} warning(s) (--strict refuses them)\n`);
}

export function savedText(name: string, r: { version: number; check: PolicyCheckView; servers: string[] }): string {
  const lines = [`Saved ${name} v${r.version}${r.servers.length ? `; now enforced on ${r.servers.join(', ')}` : ''}.`];
  if (r.check.warnings.length) lines.push(problemLines(name, r.check.warnings));
  return lines.join('\n');
}

/** Errors of a policy file the user gave (exit 2), not failures of Gatehouse. */
export function isPolicyFileError(err: unknown): boolean {
  return err instanceof PolicyFileError || err instanceof PolicyParseError;
}
