import type { ClientView, ServerView } from '../api/index.js';

/** A platform-neutral tray menu: Electron (electron/) maps it onto its Menu API; tests check it directly. */
export type MenuItemModel =
  | { kind: 'label'; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; label: string; action: TrayAction; enabled?: boolean }
  | { kind: 'submenu'; label: string; items: MenuItemModel[] };

export type TrayAction =
  | { type: 'start'; server: string }
  | { type: 'stop'; server: string }
  | { type: 'restart'; server: string }
  | { type: 'copy-url'; server: string; url: string }
  | { type: 'setup-client'; client: string }
  | { type: 'remove-client'; client: string }
  | { type: 'open-ui' }
  | { type: 'quit' };

const STATUS_MARK: Record<string, string> = { running: '●', starting: '◐', stopping: '◐', stopped: '○', error: '✕' };

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

export function trayMenu(servers: readonly ServerView[], engine: { connected: boolean; detail: string }, clients: readonly ClientView[] = []): MenuItemModel[] {
  const items: MenuItemModel[] = [];
  if (!engine.connected) items.push({ kind: 'label', label: `Container engine unavailable: ${engine.detail.slice(0, 80)}` });
  if (servers.length === 0) items.push({ kind: 'label', label: 'No servers yet' });
  for (const s of servers) {
    const running = s.status === 'running';
    items.push({
      kind: 'submenu',
      label: `${STATUS_MARK[s.status] ?? '?'} ${s.name}`,
      items: [
        { kind: 'label', label: s.status === 'error' && s.statusDetail ? `Error: ${s.statusDetail.slice(0, 80)}` : `Status: ${s.status}` },
        { kind: 'separator' },
        running
          ? { kind: 'action', label: 'Stop', action: { type: 'stop', server: s.name } }
          : { kind: 'action', label: 'Start', action: { type: 'start', server: s.name }, enabled: engine.connected },
        { kind: 'action', label: 'Restart', action: { type: 'restart', server: s.name }, enabled: running },
        { kind: 'action', label: 'Copy URL', action: { type: 'copy-url', server: s.name, url: s.url } },
      ],
    });
  }
  items.push({ kind: 'separator' }, clientsMenu(clients), { kind: 'action', label: 'Open Gatehouse', action: { type: 'open-ui' } }, { kind: 'action', label: 'Quit Gatehouse', action: { type: 'quit' } });
  return items;
}
