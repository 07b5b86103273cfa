import { ApiError, type ApiClient, type ServerView } from '../../api/browser.js';
import { signsInForCallers } from '../entries.js';
import { ServerUnavailableError, UpstreamFatalError, UpstreamTransientError, type LocateContext, type UpstreamTarget } from './upstream.js';

export interface CoreLocatorOptions {
  /** How long the core may be unreachable (a restart) before the bridge starts one itself. */
  startGraceMs?: number;
  /** At most one attempt to start a core per this period. */
  startEveryMs?: number;
  /** The core connection (tests). */
  /** The core's API (the command passes the CLI's connectCore: it starts a background core when asked). */
  connect: (opts: { start: boolean }) => Promise<ApiClient>;
}

/**
 * The data folder's paths, for messages only: the store's index (better-sqlite3 and every repository)
 * is loaded when a message needs it, not at every bridge start.
 */
async function dataPaths(): Promise<{ dir: string; coreLog: string }> {
  return (await import('../../store/index.js')).appPaths();
}

function oneLine(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** What a client is told when the server is not running, with what to do about it. */
export function unavailableMessage(s: Pick<ServerView, 'name' | 'status' | 'statusDetail'>): string {
  const name = s.name;
  switch (s.status) {
    case 'stopped':
    case 'stopping':
      return `MCP server "${name}" is stopped. Start it with: gatehouse start ${name}`;
    case 'error':
      return `MCP server "${name}" failed${s.statusDetail ? `: ${oneLine(s.statusDetail)}` : ''}. See: gatehouse logs ${name}; start it again with: gatehouse start ${name}`;
    default:
      return `MCP server "${name}" is ${s.status}. Start it with: gatehouse start ${name}`;
  }
}

/** The caller token, asked of the core again shortly before it expires or when the proxy refused it. */
function callerTokenCache(name: string): { get(api: ApiClient, refused: boolean): Promise<string> } {
  let held: { token: string; expiresAt: number | null } | undefined;
  return {
    async get(api, refused) {
      if (!refused && held && (held.expiresAt === null || held.expiresAt - 30_000 > Date.now())) return held.token;
      held = undefined;
      try {
        const t = await api.callerToken({ name, refused });
        held = { token: t.accessToken, expiresAt: t.expiresAt };
        return t.accessToken;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'conflict') {
          throw new ServerUnavailableError(`${err.message} Sign in with: gatehouse login ${name} (or Sign in on the server's page in the Gatehouse app).`);
        }
        throw new UpstreamTransientError(`The Gatehouse core did not give a token for "${name}" (${err instanceof Error ? oneLine(err.message) : String(err)}).`, true);
      }
    },
  };
}

/**
 * Finds a server's proxy through the Gatehouse core (found through GATEHOUSE_HOME, nothing else from
 * the environment). The first lookup starts a background core when none runs, as every gatehouse
 * command does; later lookups leave a core that is away alone for a while (it may be restarting), and
 * start one only when a client request is waiting for it, at most once a minute — a core the user
 * quit is not brought back behind their back by an idle bridge.
 */
export function coreLocator(name: string, opts: CoreLocatorOptions): { locate(context: LocateContext): Promise<UpstreamTarget> } {
  const graceMs = opts.startGraceMs ?? 10_000;
  const everyMs = opts.startEveryMs ?? 60_000;
  const connect = opts.connect;
  let first = true;
  let found = false;
  let unreachableSince: number | undefined;
  let lastStart = 0;

  const callerTokens = callerTokenCache(name);

  const reach = async (waiting: boolean): Promise<ApiClient> => {
    try {
      const api = await connect({ start: false });
      unreachableSince = undefined;
      return api;
    } catch {
      const now = Date.now();
      unreachableSince ??= now;
      const mayStart = first || (waiting && now - unreachableSince >= graceMs && now - lastStart >= everyMs);
      if (!mayStart) throw new UpstreamTransientError('The Gatehouse core is not reachable (it may be restarting).', true);
      lastStart = now;
      try {
        const api = await connect({ start: true });
        unreachableSince = undefined;
        return api;
      } catch {
        throw new ServerUnavailableError(
          `Gatehouse is not running and could not be started (see its log: ${(await dataPaths()).coreLog}). Start Gatehouse (the app, or: gatehouse serve), then try again.`,
        );
      }
    }
  };

  return {
    async locate(context) {
      let api: ApiClient;
      try {
        api = await reach(context.waiting);
      } finally {
        first = false;
      }
      let s: ServerView;
      try {
        s = await api.getServer({ name });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'not_found') {
          if (!found) throw new UpstreamFatalError(`No MCP server named "${name}" in Gatehouse (${(await dataPaths()).dir}). See: gatehouse ls`);
          throw new ServerUnavailableError(`MCP server "${name}" no longer exists in Gatehouse. See: gatehouse ls`);
        }
        throw new UpstreamTransientError(`The Gatehouse core did not answer (${err instanceof Error ? oneLine(err.message) : String(err)}).`, true);
      }
      found = true;
      if (s.status === 'running') {
        const target: UpstreamTarget = { url: new URL(s.url), kind: s.transport === 'sse' ? 'sse' : 'streamable-http' };
        if (signsInForCallers({ remote: s.kind === 'remote', auth: s.auth })) {
          // A first token now: without a sign-in, requests are answered at once with what to do.
          await callerTokens.get(api, false);
          target.callerToken = async (refused) => callerTokens.get(await reach(false), refused);
        }
        return target;
      }
      if (s.status === 'starting') throw new UpstreamTransientError(`MCP server "${name}" is starting.`);
      throw new ServerUnavailableError(unavailableMessage(s));
    },
  };
}
