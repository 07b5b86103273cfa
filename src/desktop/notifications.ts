import type { ClientChangeView, CoreEvent, ServerView } from '../api/index.js';

/** An OS notification, platform-neutral: electron/main.ts shows it with Electron's Notification. */
export interface DesktopNotice {
  title: string;
  body: string;
  /** The server it is about, when there is one (a click opens the app there). */
  server?: string;
}

const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Decides, from the core's `server` events, when a server's failure is worth an OS notification:
 * a server the user wants running that was running and went to `error` stopped unexpectedly (a crash);
 * one that was starting and went to `error` could not start. Never when the user stopped it (its
 * wanted state is `stopped`, its status `stopped`), never at a clean quit, and once per failure: the
 * same error status seen again (another write to the row, a re-check) is not a new crash until the
 * server has been out of `error` in between.
 */
export class CrashWatch {
  private readonly last = new Map<string, ServerView['status']>();

  /** The servers as listed when watching starts; nothing is announced for what they already are. */
  constructor(initial: readonly ServerView[] = []) {
    for (const s of initial) this.last.set(s.name, s.status);
  }

  next(event: CoreEvent): DesktopNotice | undefined {
    if (event.type === 'server-removed') {
      this.last.delete(event.name);
      return undefined;
    }
    if (event.type !== 'server') return undefined;
    const s = event.server;
    const before = this.last.get(s.name);
    this.last.set(s.name, s.status);
    const detail = s.statusDetail ? `: ${clip(s.statusDetail)}` : '.';
    // A remote server whose sign-in ended: the notice offers the sign-in (a click opens its page).
    if (s.status === 'needs-sign-in' && before !== 'needs-sign-in') return { title: 'Gatehouse', body: `Sign in to ${s.name} to keep using it${detail}`, server: s.name };
    // A server that runs but stopped answering: worth one notice, as a crash is.
    if (s.status === 'unhealthy' && before === 'running') return { title: 'Gatehouse', body: `Server ${s.name} stopped answering${detail}`, server: s.name };
    if (s.status !== 'error' || before === 'error' || s.desiredState !== 'running') return undefined;
    if (before === 'running' || before === 'unhealthy') return { title: 'Gatehouse', body: `Server ${s.name} stopped unexpectedly${detail}`, server: s.name };
    // From starting (a start, a restart, the restore at launch) or from a state we never saw.
    return { title: 'Gatehouse', body: `Server ${s.name} could not start${detail}`, server: s.name };
  }
}

/**
 * At launch the core has already tried to bring back the servers that were running at the last quit:
 * one notice names those that did not come back (none when all did). Watching starts after that.
 */
export function launchNotice(servers: readonly ServerView[]): DesktopNotice | undefined {
  const failed = servers.filter((s) => s.desiredState === 'running' && s.status === 'error');
  if (failed.length === 0) return undefined;
  const [first] = failed;
  if (failed.length === 1 && first) {
    return { title: 'Gatehouse', body: `Server ${first.name} could not start${first.statusDetail ? `: ${clip(first.statusDetail)}` : '.'}`, server: first.name };
  }
  return { title: 'Gatehouse', body: `${failed.length} servers could not start: ${clip(failed.map((s) => s.name).join(', '))}. Open Gatehouse to see why.` };
}

/** What a client setup from the tray did, said once (the tray has no other place to say it). */
export function clientSetupNotice(change: ClientChangeView): DesktopNotice {
  const c = change.client;
  if (!change.fileChanged) return { title: 'Gatehouse', body: `${c.name} was already set up: nothing to change.` };
  const servers = change.written.length === 1 ? '1 server' : `${change.written.length} servers`;
  const skipped = change.conflicts.length + change.unsupported.length;
  return {
    title: 'Gatehouse',
    body: `${c.name} is set up with ${servers}.${skipped > 0 ? ` ${skipped} could not be added: open Gatehouse to see why.` : ''}${c.note ? ` ${c.note}` : ''}`,
  };
}

/** A tray action that failed (start, stop, setup, ...): the menu cannot show an error itself. */
export function actionFailureNotice(what: string, err: unknown): DesktopNotice {
  const message = err instanceof Error ? err.message : String(err);
  return { title: 'Gatehouse', body: clip(`${what} failed: ${message}`) };
}
