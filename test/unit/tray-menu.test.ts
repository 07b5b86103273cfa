import { describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { trayMenu } from '../../src/tray/index.js';

function server(name: string, status: string, detail: string | null = null): ServerView {
  return {
    name, status, statusDetail: detail, image: 'img', transport: 'stdio', desiredState: 'running', url: `http://127.0.0.1:1/mcp`, secrets: [], auth: { type: 'none' }, policySet: null,
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
});
