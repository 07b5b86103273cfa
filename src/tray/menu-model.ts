import { signsInForCallers, type ClientView, type ServerView } from '../api/browser.js';

/** A platform-neutral tray menu: Electron (electron/) maps it onto its Menu API; tests check it directly. */
export type MenuItemModel =
  | { kind: 'label'; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; label: string; action: TrayAction; enabled?: boolean }
  | { kind: 'checkbox'; label: string; checked: boolean; action: TrayAction }
  | { kind: 'submenu'; label: string; items: MenuItemModel[] };

export type TrayAction =
  | { type: 'start'; server: string }
  | { type: 'stop'; server: string }
  | { type: 'restart'; server: string }
  | { type: 'copy-url'; server: string; url: string }
  | { type: 'sign-in'; server: string }
  | { type: 'setup-client'; client: string }
  | { type: 'remove-client'; client: string }
  | { type: 'open-ui' }
  | { type: 'set-start-at-login'; enabled: boolean }
  | { type: 'quit' };

export interface TrayOptions {
  /** Whether Gatehouse starts at login, as the OS says; undefined where the OS has no login items. */
  startAtLogin?: boolean;
}

/** The clients most people use: one click from the tray's top level until they are set up. */
export const FEATURED_CLIENTS: readonly string[] = ['claude-desktop', 'cursor'];

const STATUS_MARK: Record<string, string> = { running: '●', unhealthy: '!', 'needs-sign-in': '!', 'auth-retrying': '!', starting: '◐', stopping: '◐', stopped: '○', error: '✕' };

const CLIENT_MARK: Record<ClientView['state'], string> = { 'in-sync': '✓', 'out-of-sync': '!', error: '✕', 'not-registered': '', 'not-installed': '' };

/** One click per installed client: connect it (write its entries), or disconnect it. */
function clientsMenu(clients: readonly ClientView[]): MenuItemModel {
  const installed = clients.filter((c) => c.installed);
  if (installed.length === 0) return { kind: 'submenu', label: 'Connect a client', items: [{ kind: 'label', label: 'No supported MCP client found on this computer' }] };
  return {
    kind: 'submenu',
    label: 'Connect a client',
    items: installed.map((c): MenuItemModel => {
      if (c.groups.length === 0) return { kind: 'action', label: `Connect ${c.name}`, action: { type: 'setup-client', client: c.id } };
      const problem = c.state === 'out-of-sync' || c.state === 'error' ? c.problems[0] : undefined;
      return {
        kind: 'submenu',
        label: `${CLIENT_MARK[c.state]} ${c.name}`.trim(),
        items: [
          { kind: 'label', label: problem ? `Problem: ${problem.slice(0, 80)}` : `${c.entries.length} server${c.entries.length === 1 ? '' : 's'} connected` },
          ...(problem ? [{ kind: 'action' as const, label: 'Update its configuration', action: { type: 'setup-client' as const, client: c.id } }] : []),
          { kind: 'action', label: `Disconnect ${c.name}`, action: { type: 'remove-client', client: c.id } },
        ],
      };
    }),
  };
}

/** Start for a stopped or failed server, Stop for one running or on its way up; nothing to do while it stops. */
function toggle(s: ServerView, engineConnected: boolean): MenuItemModel {
  if (s.status === 'running' || s.status === 'unhealthy' || s.status === 'starting' || s.status === 'needs-sign-in' || s.status === 'auth-retrying') return { kind: 'action', label: 'Stop', action: { type: 'stop', server: s.name } };
  if (s.status === 'stopping') return { kind: 'action', label: 'Stopping…', action: { type: 'stop', server: s.name }, enabled: false };
  return { kind: 'action', label: 'Start', action: { type: 'start', server: s.name }, enabled: engineConnected };
}

/** "Set up Claude Desktop", "Set up Cursor": for those installed and not set up yet. */
function featuredSetup(clients: readonly ClientView[]): MenuItemModel[] {
  return FEATURED_CLIENTS.flatMap((id): MenuItemModel[] => {
    const c = clients.find((x) => x.id === id);
    return c && c.installed && c.groups.length === 0 ? [{ kind: 'action', label: `Set up ${c.name}`, action: { type: 'setup-client', client: c.id } }] : [];
  });
}

export function trayMenu(servers: readonly ServerView[], engine: { connected: boolean; detail: string }, clients: readonly ClientView[] = [], opts: TrayOptions = {}): MenuItemModel[] {
  const items: MenuItemModel[] = [];
  if (!engine.connected) items.push({ kind: 'label', label: `Container engine unavailable: ${engine.detail.slice(0, 80)}` });
  if (servers.length === 0) items.push({ kind: 'label', label: 'No servers yet' });
  // A remote server waiting for its sign-in is one click away at the top level.
  for (const s of servers) if (s.status === 'needs-sign-in') items.push({ kind: 'action', label: `Sign in to ${s.name}…`, action: { type: 'sign-in', server: s.name } });
  for (const s of servers) {
    const running = s.status === 'running' || s.status === 'unhealthy' || s.status === 'needs-sign-in' || s.status === 'auth-retrying';
    const shownDetail = s.status === 'error' || s.status === 'unhealthy' || s.status === 'auth-retrying' || s.status === 'needs-sign-in';
    const detailWord = { error: 'Error', unhealthy: 'Unhealthy', 'auth-retrying': 'Retrying sign-in', 'needs-sign-in': 'Sign-in needed' }[s.status as string] ?? '';
    items.push({
      kind: 'submenu',
      label: `${STATUS_MARK[s.status] ?? '?'} ${s.name} — ${s.status}`,
      items: [
        { kind: 'label', label: shownDetail && s.statusDetail ? `${detailWord}: ${s.statusDetail.slice(0, 80)}` : `Status: ${s.status}` },
        { kind: 'separator' },
        ...(s.kind === 'remote' && (s.status === 'needs-sign-in' || s.status === 'auth-retrying') ? [{ kind: 'action' as const, label: 'Sign in…', action: { type: 'sign-in' as const, server: s.name } }] : []),
        // A local server guarded by the user's identity provider: Gatehouse signs in there for its clients.
        ...(signsInForCallers({ remote: s.kind === 'remote', auth: s.auth }) ? [{ kind: 'action' as const, label: 'Sign in for clients…', action: { type: 'sign-in' as const, server: s.name } }] : []),
        toggle(s, engine.connected),
        { kind: 'action', label: 'Restart', action: { type: 'restart', server: s.name }, enabled: running },
        { kind: 'action', label: 'Copy URL', action: { type: 'copy-url', server: s.name, url: s.url } },
      ],
    });
  }
  items.push({ kind: 'separator' }, ...featuredSetup(clients), clientsMenu(clients), { kind: 'separator' }, { kind: 'action', label: 'Open Gatehouse', action: { type: 'open-ui' } });
  if (opts.startAtLogin !== undefined) {
    items.push({ kind: 'checkbox', label: 'Start at login', checked: opts.startAtLogin, action: { type: 'set-start-at-login', enabled: !opts.startAtLogin } });
  }
  items.push({ kind: 'separator' }, { kind: 'action', label: 'Quit Gatehouse', action: { type: 'quit' } });
  return items;
}

/** What a tray action does, in words for a notice when it fails (the menu has no place for errors). */
export function describeAction(a: TrayAction, clients: readonly ClientView[] = []): string {
  const client = (id: string) => clients.find((c) => c.id === id)?.name ?? id;
  switch (a.type) {
    case 'start':
      return `Starting ${a.server}`;
    case 'stop':
      return `Stopping ${a.server}`;
    case 'restart':
      return `Restarting ${a.server}`;
    case 'copy-url':
      return `Copying the URL of ${a.server}`;
    case 'sign-in':
      return `Signing in to ${a.server}`;
    case 'setup-client':
      return `Setting up ${client(a.client)}`;
    case 'remove-client':
      return `Disconnecting ${client(a.client)}`;
    case 'open-ui':
      return 'Opening Gatehouse';
    case 'set-start-at-login':
      return a.enabled ? 'Turning on start at login' : 'Turning off start at login';
    case 'quit':
      return 'Quitting';
  }
}
