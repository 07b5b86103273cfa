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
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(lockFile, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        try {
          if (fs.readFileSync(lockFile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(lockFile);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
        throw new CoreAlreadyRunningError(pid, readDiscovery(discoveryFile)?.url);
      }
      fs.rmSync(lockFile, { force: true }); // stale: its core died without cleaning up
    }
  }
  throw new Error(`Could not take the core lock ${lockFile}.`);
}
