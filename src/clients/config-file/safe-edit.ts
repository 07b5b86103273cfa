import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../../common/index.js';
import {
  ClientNotInstalledError,
  ConfigFileError,
  ConfigLockedError,
  ConfigNotAFileError,
  ConfigReadOnlyError,
  ConfigTooLargeError,
  MalformedConfigError,
  displayPath,
} from './errors.js';

export interface EditResult {
  /** The file that was (or would have been) written: the symlink's target when `file` is a link. */
  file: string;
  changed: boolean;
  /** The file did not exist and was written. */
  created: boolean;
  /** The copy of the file as it was before Gatehouse first changed it (kept from that first change on). */
  backup?: string;
}

export interface EditOptions {
  /** How long to wait for another writer's lock; default 10 s. */
  lockTimeoutMs?: number;
  /** Larger files are refused; default 16 MiB. */
  maxBytes?: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** An edit takes milliseconds: a lock this old was left by a writer that died (or a pid that was reused). */
const STALE_LOCK_MS = 2 * 60_000;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The path to write: `file`, or the final target of a chain of symlinks (which may not exist yet). The link
 * itself is kept: the new content is renamed over its target.
 */
async function resolveTarget(file: string): Promise<string> {
  let current = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    const st = await lstatOrUndefined(current);
    if (!st?.isSymbolicLink()) return current;
    current = path.resolve(path.dirname(current), await fs.readlink(current));
  }
  throw new ConfigFileError(file, `${displayPath(file)} is a loop of symbolic links. Gatehouse left it untouched; fix the link, then try again.`);
}

interface Lock {
  release(): Promise<void>;
}

/**
 * `<target>.lock`, created exclusively, holding "<pid>\n<random token>": the token tells apart two callers in the
 * same process. A lock whose pid is dead, or older than STALE_LOCK_MS, is taken over.
 */
async function acquireLock(target: string, lockFile: string, timeoutMs: number): Promise<Lock> {
  const content = `${process.pid}\n${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + timeoutMs;
  let holder: number | undefined;
  for (;;) {
    try {
      await fs.writeFile(lockFile, content, { flag: 'wx', mode: 0o600 });
      return {
        async release() {
          try {
            if ((await fs.readFile(lockFile, 'utf8')) === content) await fs.unlink(lockFile);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    let seen: string;
    let st: Stats;
    try {
      seen = await fs.readFile(lockFile, 'utf8');
      st = await fs.stat(lockFile);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // released meanwhile: try again at once
      throw err;
    }
    const pid = Number(seen.split('\n')[0]);
    holder = Number.isInteger(pid) && pid > 0 ? pid : undefined;
    // An empty lock may be one being written this very moment: only its age makes it stale.
    const stale = Date.now() - st.mtimeMs > STALE_LOCK_MS || (holder !== undefined && !isProcessAlive(holder));
    if (stale) {
      // Check again just before removing it, so as not to remove a lock someone else just took over.
      if ((await fs.readFile(lockFile, 'utf8').catch(() => undefined)) === seen) await fs.rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw new ConfigLockedError(target, lockFile, holder);
    await sleep(20 + Math.floor(Math.random() * 30));
  }
}

/** Writes `data` to a temporary file beside `file` (same mode, same owner when possible), fsyncs it and renames it over `file`. */
async function writeAtomically(file: string, data: string | Buffer, mode: number, owner?: { uid: number; gid: number }): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.gatehouse-${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.chmod(mode); // explicit: the umask must not change the original's permission bits
      if (owner) await handle.chown(owner.uid, owner.gid).catch(() => undefined); // only root can; harmless otherwise
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  // Make the rename itself durable; not every platform can fsync a folder.
  try {
    const d = await fs.open(dir, 'r');
    await d.sync().finally(() => d.close());
  } catch {
    // best effort
  }
}

function decodeUtf8(file: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new MalformedConfigError(file, 'it contains bytes that are not UTF-8', { syntax: 'UTF-8 text' });
  }
}

/**
 * Edits a client's configuration file safely: under a lock, from the current text (undefined when the file does
 * not exist), writing the result atomically (temp file, fsync, rename) with the original's permission bits, after a
 * one-time backup of the original. `edit` returning undefined or the same text writes nothing (nor does returning
 * '' for a file that does not exist). The folder is never created: when it is missing the client is not installed.
 */
export async function editConfigFile(file: string, edit: (current: string | undefined) => string | undefined, opts: EditOptions = {}): Promise<EditResult> {
  const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const target = await resolveTarget(file);
  const dir = await fs.stat(path.dirname(target)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new ClientNotInstalledError(target);

  const lock = await acquireLock(target, `${target}.lock`, lockTimeoutMs);
  try {
    let st: Stats | undefined;
    try {
      st = await fs.stat(target);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    if (st && !st.isFile()) throw new ConfigNotAFileError(target);
    if (st && st.size > maxBytes) throw new ConfigTooLargeError(target, st.size, maxBytes);
    const bytes = st ? await fs.readFile(target) : undefined;
    if (bytes && bytes.length > maxBytes) throw new ConfigTooLargeError(target, bytes.length, maxBytes);
    const current = bytes && decodeUtf8(target, bytes);

    const next = edit(current);
    if (next === undefined || next === current || (current === undefined && next === '')) {
      return { file: target, changed: false, created: false };
    }
    if (st && (st.mode & 0o222) === 0) throw new ConfigReadOnlyError(target);

    let backup: string | undefined;
    if (st && bytes) {
      backup = `${target}.gatehouse-backup`;
      // Once: the backup keeps the file as it was before Gatehouse ever touched it.
      if (!(await lstatOrUndefined(backup))) await writeAtomically(backup, bytes, st.mode & 0o7777, st);
    }
    await writeAtomically(target, next, st ? st.mode & 0o7777 : 0o600, st);
    return { file: target, changed: true, created: !st, ...(backup ? { backup } : {}) };
  } finally {
    await lock.release();
  }
}
