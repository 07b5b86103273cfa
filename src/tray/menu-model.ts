import type { ServerView } from '../api/index.js';

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
  | { type: 'open-ui' }
  | { type: 'quit' };

const STATUS_MARK: Record<string, string> = { running: '●', starting: '◐', stopping: '◐', stopped: '○', error: '✕' };

export function trayMenu(servers: readonly ServerView[], engine: { connected: boolean; detail: string }): MenuItemModel[] {
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
  items.push({ kind: 'separator' }, { kind: 'action', label: 'Open Gatehouse', action: { type: 'open-ui' } }, { kind: 'action', label: 'Quit Gatehouse', action: { type: 'quit' } });
  return items;
}
