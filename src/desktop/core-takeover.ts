/**
 * The desktop app owns the core (its tray and window run in the core's process), but a headless core
 * may already run: one `gatehouse serve`, or one a CLI command or a client's bridge started in the
 * background. Then the app asks that core to quit (its servers stop cleanly and are restored by the
 * app's core, on the same ports) and starts its own, instead of giving up with an error.
 */
export interface TakeoverDeps<T> {
  start: () => Promise<T>;
  /** Whether an error of `start` means another core holds the lock. */
  isAlreadyRunning: (err: unknown) => boolean;
  /** The running core's API (from its discovery file), or undefined when none answers. */
  running: () => Promise<{ shutdown(): Promise<unknown> } | undefined>;
  /** Whether the core lock is free again (its holder quit). */
  released: () => boolean;
  sleep?: (ms: number) => Promise<void>;
}

export class TakeoverError extends Error {}

export async function startOrTakeOver<T>(deps: TakeoverDeps<T>, opts: { waitMs?: number; stepMs?: number } = {}): Promise<{ core: T; tookOver: boolean }> {
  try {
    return { core: await deps.start(), tookOver: false };
  } catch (err) {
    if (!deps.isAlreadyRunning(err)) throw err;
    const other = await deps.running();
    // A lock whose holder does not answer is not ours to break: say so rather than guess.
    if (!other) throw new TakeoverError(`${(err as Error).message} It does not answer; quit it, then start Gatehouse again.`);
    await other.shutdown();
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + (opts.waitMs ?? 15_000);
    while (!deps.released()) {
      if (Date.now() >= deadline) throw new TakeoverError('The Gatehouse core that was already running was asked to quit and has not yet; try again in a moment.');
      await sleep(opts.stepMs ?? 100);
    }
    return { core: await deps.start(), tookOver: true };
  }
}
