import { describe, expect, it } from 'vitest';
import type { ClientView, ServerView } from '../../src/api/index.js';
import { describeAction, trayMenu, type MenuItemModel } from '../../src/tray/index.js';

function server(name: string, status: ServerView['status'], detail: string | null = null): ServerView {
  return {
    name, kind: 'container', remoteUrl: null, remote: null, status, statusDetail: detail, image: 'img', transport: 'stdio', desiredState: 'running', url: `http://127.0.0.1:1/mcp`, secrets: [], auth: { type: 'none' }, policySet: null,
    proxyPort: 1, targetPort: null, group: 'default', permissionProfile: 'none', containerId: null, createdAt: '', updatedAt: '',
  };
}

describe('tray menu model', () => {
  it('offers Stop for running servers and Start for stopped ones, and Quit at the end', () => {
    const items = trayMenu([server('a', 'running'), server('b', 'stopped')], { connected: true, detail: '' });
    const a = items[0];
    const b = items[1];
    expect(a?.kind === 'submenu' && a.items.some((i) => i.kind === 'action' && i.action.type === 'stop')).toBe(true);
    expect(b?.kind === 'submenu' && b.items.some((i) => i.kind === 'action' && i.action.type === 'start')).toBe(true);
    expect(items.at(-1)).toEqual({ kind: 'action', label: 'Quit Gatehouse', action: { type: 'quit' } });
  });

  it('shows why a server failed and that the engine is missing', () => {
    const items = trayMenu([server('c', 'error', 'the container exited with code 3')], { connected: false, detail: 'No container engine found' });
    expect(items[0]).toEqual({ kind: 'label', label: 'Container engine unavailable: No container engine found' });
    const c = items[1];
    expect(c?.kind === 'submenu' && c.items[0]).toEqual({ kind: 'label', label: 'Error: the container exited with code 3' });
    const start = c?.kind === 'submenu' ? c.items.find((i) => i.kind === 'action' && i.action.type === 'start') : undefined;
    expect(start && start.kind === 'action' && start.enabled).toBe(false);
  });

  it('connects an installed client in one click; a connected one shows its state and can be disconnected', () => {
    const client = (id: string, name: string, extra: Partial<ClientView>): ClientView => ({ id, name, file: `/f/${id}`, installed: true, groups: [], state: 'not-registered', problems: [], entries: [], ...extra });
    const items = trayMenu([], { connected: true, detail: '' }, [
      client('claude-desktop', 'Claude Desktop', {}),
      client('cursor', 'Cursor', { groups: ['default'], state: 'in-sync', entries: ['a', 'b'] }),
      client('zed', 'Zed', { groups: ['default'], state: 'out-of-sync', problems: ['entry "a" is missing'] }),
      client('vscode', 'VS Code', { installed: false, state: 'not-installed' }),
    ]);
    const menu = items.find((i) => i.kind === 'submenu' && i.label === 'Connect a client');
    expect(menu?.kind === 'submenu' && menu.items).toEqual([
      { kind: 'action', label: 'Connect Claude Desktop', action: { type: 'setup-client', client: 'claude-desktop' } },
      { kind: 'submenu', label: '✓ Cursor', items: [{ kind: 'label', label: '2 servers connected' }, { kind: 'action', label: 'Disconnect Cursor', action: { type: 'remove-client', client: 'cursor' } }] },
      {
        kind: 'submenu',
        label: '! Zed',
        items: [
          { kind: 'label', label: 'Problem: entry "a" is missing' },
          { kind: 'action', label: 'Update its configuration', action: { type: 'setup-client', client: 'zed' } },
          { kind: 'action', label: 'Disconnect Zed', action: { type: 'remove-client', client: 'zed' } },
        ],
      },
    ]);
    const none = trayMenu([], { connected: true, detail: '' }, []).find((i) => i.kind === 'submenu');
    expect(none).toEqual({ kind: 'submenu', label: 'Connect a client', items: [{ kind: 'label', label: 'No supported MCP client found on this computer' }] });
  });

  const client = (id: string, name: string, extra: Partial<ClientView> = {}): ClientView => ({ id, name, file: `/f/${id}`, installed: true, groups: [], state: 'not-registered', problems: [], entries: [], ...extra });
  const toggleOf = (item: MenuItemModel | undefined) => (item?.kind === 'submenu' ? item.items[2] : undefined);

  it("shows each server's status in its label and the toggle that applies to it", () => {
    const items = trayMenu([server('a', 'running'), server('b', 'starting'), server('c', 'stopping'), server('d', 'error', 'boom'), server('e', 'stopped')], { connected: true, detail: '' });
    expect(items.slice(0, 5).map((i) => (i.kind === 'submenu' ? i.label : ''))).toEqual(['● a — running', '◐ b — starting', '◐ c — stopping', '✕ d — error', '○ e — stopped']);
    expect(toggleOf(items[0])).toEqual({ kind: 'action', label: 'Stop', action: { type: 'stop', server: 'a' } });
    // On its way up: stopping it is what the user can do.
    expect(toggleOf(items[1])).toEqual({ kind: 'action', label: 'Stop', action: { type: 'stop', server: 'b' } });
    expect(toggleOf(items[2])).toEqual({ kind: 'action', label: 'Stopping…', action: { type: 'stop', server: 'c' }, enabled: false });
    expect(toggleOf(items[3])).toEqual({ kind: 'action', label: 'Start', action: { type: 'start', server: 'd' }, enabled: true });
    expect(toggleOf(items[4])).toEqual({ kind: 'action', label: 'Start', action: { type: 'start', server: 'e' }, enabled: true });
  });

  it('offers "Set up Claude Desktop" and "Set up Cursor" at the top level until they are set up', () => {
    const labels = (clients: ClientView[]) => trayMenu([], { connected: true, detail: '' }, clients).flatMap((i) => (i.kind === 'action' && i.action.type === 'setup-client' ? [i] : []));
    expect(labels([client('cursor', 'Cursor'), client('zed', 'Zed'), client('claude-desktop', 'Claude Desktop')])).toEqual([
      { kind: 'action', label: 'Set up Claude Desktop', action: { type: 'setup-client', client: 'claude-desktop' } },
      { kind: 'action', label: 'Set up Cursor', action: { type: 'setup-client', client: 'cursor' } },
    ]);
    // Set up already, or not installed: nothing at the top level (the client submenu has the rest).
    expect(labels([client('claude-desktop', 'Claude Desktop', { groups: ['default'], state: 'in-sync' }), client('cursor', 'Cursor', { installed: false, state: 'not-installed' })])).toEqual([]);
  });

  it('has Open Gatehouse, the start-at-login checkbox where the OS has one, and Quit last', () => {
    const withLogin = trayMenu([], { connected: true, detail: '' }, [], { startAtLogin: false });
    expect(withLogin.slice(-5)).toEqual([
      { kind: 'separator' },
      { kind: 'action', label: 'Open Gatehouse', action: { type: 'open-ui' } },
      { kind: 'checkbox', label: 'Start at login', checked: false, action: { type: 'set-start-at-login', enabled: true } },
      { kind: 'separator' },
      { kind: 'action', label: 'Quit Gatehouse', action: { type: 'quit' } },
    ]);
    const on = trayMenu([], { connected: true, detail: '' }, [], { startAtLogin: true }).find((i) => i.kind === 'checkbox');
    expect(on).toEqual({ kind: 'checkbox', label: 'Start at login', checked: true, action: { type: 'set-start-at-login', enabled: false } });
    expect(trayMenu([], { connected: true, detail: '' }).some((i) => i.kind === 'checkbox')).toBe(false);
  });

  it('words a failed action for its notice', () => {
    const clients = [client('cursor', 'Cursor')];
    expect(describeAction({ type: 'start', server: 'a' })).toBe('Starting a');
    expect(describeAction({ type: 'stop', server: 'a' })).toBe('Stopping a');
    expect(describeAction({ type: 'setup-client', client: 'cursor' }, clients)).toBe('Setting up Cursor');
    expect(describeAction({ type: 'remove-client', client: 'zed' }, clients)).toBe('Disconnecting zed');
    expect(describeAction({ type: 'set-start-at-login', enabled: true })).toBe('Turning on start at login');
  });
});

describe('tray menu for remote servers', () => {
  it('offers "Sign in to X" at the top level and in the server\'s menu while a sign-in is needed', () => {
    const remote: ServerView = { ...server('notion', 'needs-sign-in', 'not signed in yet'), kind: 'remote', remoteUrl: 'https://mcp.notion.com/mcp', image: null };
    const items = trayMenu([remote], { connected: true, detail: '' });
    expect(items[0]).toEqual({ kind: 'action', label: 'Sign in to notion…', action: { type: 'sign-in', server: 'notion' } });
    const sub = items[1];
    expect(sub?.kind === 'submenu' && sub.items).toContainEqual({ kind: 'label', label: 'Sign-in needed: not signed in yet' });
    expect(sub?.kind === 'submenu' && sub.items.some((i) => i.kind === 'action' && i.action.type === 'sign-in')).toBe(true);
    expect(describeAction({ type: 'sign-in', server: 'notion' })).toBe('Signing in to notion');
    // Signed in: no sign-in item.
    expect(trayMenu([{ ...remote, status: 'running', statusDetail: null }], { connected: true, detail: '' }).some((i) => i.kind === 'action' && i.action.type === 'sign-in')).toBe(false);
  });
});
