import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { connectApi } from '../../src/api/index.js';
import { CoreAlreadyRunningError, isProcessAlive, lockHolder, readDiscovery, startCore } from '../../src/app/index.js';
import { startOrTakeOver, TakeoverError } from '../../src/desktop/index.js';
import { appPaths } from '../../src/store/index.js';
import { tempHome } from '../support/core-harness.js';

/**
 * The desktop app meets a headless core already running (a `gatehouse serve`, or one a CLI command
 * started): it asks that one to quit and starts its own on the same data, instead of failing. A real
 * `gatehouse serve` in its own process and a core in this one, on one GATEHOUSE_HOME; no Docker needed.
 */
async function headlessCore(home: string): Promise<{ url: string; token: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['bin/gatehouse.js', 'serve', '--background'], { env: { ...process.env, GATEHOUSE_HOME: home }, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const paths = appPaths(home);
  for (let i = 0; i < 200; i++) {
    const d = readDiscovery(paths.discovery);
    if (d && d.pid === child.pid) {
      const ok = await connectApi(d.url, d.token).core().then(() => true, () => false);
      if (ok) return { url: d.url, token: d.token, exited };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('the headless core did not start');
}

describe('the desktop app taking over a running core', () => {
  const depsFor = <T,>(home: string, start: () => Promise<T>) => {
    const paths = appPaths(home);
    return {
      start,
      isAlreadyRunning: (err: unknown) => err instanceof CoreAlreadyRunningError,
      running: async () => {
        const d = readDiscovery(paths.discovery);
        if (!d) return undefined;
        const api = connectApi(d.url, d.token);
        return api.core().then(
          () => api,
          () => undefined,
        );
      },
      released: () => {
        const holder = lockHolder(paths.lock);
        return holder === undefined || !isProcessAlive(holder);
      },
    };
  };

  it('asks the headless core to quit, then starts its own with the same settings and data', async () => {
    const home = tempHome();
    const headless = await headlessCore(home);
    await connectApi(headless.url, headless.token).putSettings({ logRetention: { maxLines: 2_000_000, maxDays: 9 } });
    const { core, tookOver } = await startOrTakeOver(depsFor(home, () => startCore({ home, pullPolicy: 'never' })));
    try {
      expect(tookOver).toBe(true);
      expect(await headless.exited).toBe(0);
      expect((await connectApi(core.url, core.token).settings()).logRetention).toEqual({ maxLines: 2_000_000, maxDays: 9 });
    } finally {
      await core.stop();
    }
  });

  it('starts at once when no core runs, and says what to do when the running one does not answer', async () => {
    const alone = tempHome();
    const first = await startOrTakeOver(depsFor(alone, () => startCore({ home: alone, pullPolicy: 'never' })));
    expect(first.tookOver).toBe(false);
    await first.core.stop();
    const home = tempHome();
    const headless = await headlessCore(home);
    try {
      const deaf = { ...depsFor(home, () => startCore({ home, pullPolicy: 'never' })), running: async () => undefined };
      await expect(startOrTakeOver(deaf)).rejects.toThrow(TakeoverError);
      await expect(startOrTakeOver(deaf)).rejects.toThrow(/does not answer; quit it/);
    } finally {
      await connectApi(headless.url, headless.token).shutdown();
      await headless.exited;
    }
  });
});
