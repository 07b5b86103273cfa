import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isProcessAlive, readDiscovery } from './discovery.js';

export class CoreAlreadyRunningError extends Error {
  constructor(readonly pid: number, readonly url: string | undefined) {
    super(`Another Gatehouse core is already running (pid ${pid}${url ? `, control API ${url}` : ''}). Stop it first with: gatehouse shutdown`);
  }
}

/**
 * One core per user: an exclusive lock file holding the owner's pid. A lock left by a crashed core
 * (its pid is gone) is taken over.
 */
export function acquireCoreLock(lockFile: string, discoveryFile: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      createWithContent(lockFile, String(process.pid));
      return () => {
        try {
          if (fs.readFileSync(lockFile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(lockFile);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = lockHolder(lockFile);
      if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) {
        throw new CoreAlreadyRunningError(pid, readDiscovery(discoveryFile)?.url);
      }
      // Stale: its core died without cleaning up. Move it aside rather than delete it, and look at what
      // was moved: another starter may have replaced the stale lock with its own meanwhile.
      const aside = `${lockFile}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
      try {
        fs.renameSync(lockFile, aside);
      } catch {
        continue; // someone else moved or removed it first: try again
      }
      const moved = lockHolder(aside);
      if (moved !== undefined && moved !== pid && moved !== process.pid && isProcessAlive(moved)) {
        try {
          fs.linkSync(aside, lockFile); // give the live core its lock back
        } catch {
          // taken again meanwhile: whoever holds it now is the one to name next time
        }
        fs.rmSync(aside, { force: true });
        throw new CoreAlreadyRunningError(moved, readDiscovery(discoveryFile)?.url);
      }
      fs.rmSync(aside, { force: true });
    }
  }
  throw new Error(`Could not take the core lock ${lockFile}.`);
}

/**
 * Creates `file` holding `content`, or fails with EEXIST, in one step: the content is written to a
 * private file first and hard-linked into place, so no other process can ever read the lock empty
 * (and take an empty lock for a stale one, as several cores started at once by a client's bridges did).
 */
function createWithContent(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw err;
    // A file system without hard links (FAT, some network shares): exclusive create, then write.
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, content);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The pid in a core lock file, if it holds one. */
export function lockHolder(lockFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
