import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiClient } from '../api/browser.js';
import { readDiscovery, isProcessAlive, lockHolder } from '../app/light.js';
// The store's paths module, not its index: the index loads better-sqlite3 and every repository, 30 ms
// of each command's start. A reach into src/store until that folder has a light entry of its own (as
// src/api has browser.ts and src/app has light.ts).
import { appPaths, type AppPaths } from '../store/paths.js';
import { connectCli } from './http-transport.js';

export class CoreUnavailableError extends Error {}

async function reachable(paths: AppPaths): Promise<ApiClient | undefined> {
  const d = readDiscovery(paths.discovery);
  if (!d || !isProcessAlive(d.pid)) return undefined;
  const client = connectCli(d.url, d.token);
  try {
    await client.core();
    return client;
  } catch {
    return undefined;
  }
}

function anotherCoreStarting(paths: AppPaths, ours: number | undefined): boolean {
  const holder = lockHolder(paths.lock);
  return holder !== undefined && holder !== ours && isProcessAlive(holder);
}

/** The running core's API, starting a background core first when none runs. */
export async function connectCore(opts: { start: boolean } = { start: true }): Promise<ApiClient> {
  const paths = appPaths();
  const existing = await reachable(paths);
  if (existing) return existing;
  if (!opts.start) throw new CoreUnavailableError('No Gatehouse core is running.');
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const log = fs.openSync(paths.coreLog, 'a', 0o600);
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'gatehouse.js');
  const child = spawn(process.execPath, [bin, 'serve', '--background'], { detached: true, stdio: ['ignore', log, log], env: process.env });
  child.unref();
  fs.closeSync(log);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 150));
    const client = await reachable(paths);
    if (client) return client;
    // Ours may have lost the race to another starting core (several commands, or a client's bridges,
    // started at once): wait for that one instead, as long as it is alive.
    if (child.exitCode !== null && !anotherCoreStarting(paths, child.pid)) break;
  }
  const tail = fs.existsSync(paths.coreLog) ? fs.readFileSync(paths.coreLog, 'utf8').split('\n').slice(-8).join('\n') : '';
  throw new CoreUnavailableError(`The Gatehouse core did not start. Its log (${paths.coreLog}) ends with:\n${tail}`);
}

/**
 * Asks the running core to quit and waits until it has stopped: its discovery file removed (or
 * another core's) and its lock released, or its process gone. The core answers the request first and
 * stops right after; without the wait, "stopped" could be printed (and the next command run) while
 * it was still closing. False when no core was running.
 */
export async function shutdownCore(waitMs = 10_000): Promise<boolean> {
  const paths = appPaths();
  const api = await reachable(paths);
  if (!api) return false;
  const pid = readDiscovery(paths.discovery)?.pid;
  await api.shutdown();
  const deadline = Date.now() + waitMs;
  const stopped = () => pid === undefined || !isProcessAlive(pid) || (readDiscovery(paths.discovery)?.pid !== pid && lockHolder(paths.lock) !== pid);
  // Past the deadline, as before the wait: the core was told, and says so in its own log if it hangs.
  while (!stopped() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return true;
}
