import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The repository root (this file runs from dist-bench/bench/lib/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The compiled benchmark folder (dist-bench/bench). */
export const BENCH_OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A dependency's folder: node_modules/<name> of this repository (a package's "exports" may hide its package.json). */
function packageDir(name: string): string {
  const local = path.join(ROOT, 'node_modules', name);
  if (fs.existsSync(path.join(local, 'package.json'))) return local;
  return path.dirname(require.resolve(`${name}/package.json`));
}

function packageJson(name: string): { version?: string; bin?: string | Record<string, string> } {
  return JSON.parse(fs.readFileSync(path.join(packageDir(name), 'package.json'), 'utf8')) as { version?: string; bin?: string | Record<string, string> };
}

/** The real server-everything entry point installed from npm. */
export function everythingEntry(): string {
  return path.join(packageDir('@modelcontextprotocol/server-everything'), 'dist', 'index.js');
}

export function packageVersion(name: string): string {
  return packageJson(name).version ?? 'unknown';
}

/** Entry script of a package's command (its package.json "bin"). */
export function binEntry(pkg: string, command: string): string {
  const json = packageJson(pkg);
  const rel = typeof json.bin === 'string' ? json.bin : json.bin?.[command];
  if (!rel) throw new Error(`${pkg} has no "${command}" command`);
  return path.join(packageDir(pkg), rel);
}

/** Label on every container the benchmark makes (outside dev.gatehouse.*, which Gatehouse reserves). */
export const BENCH_RUN_LABEL = 'gatehouse-bench.run';
