// The desktop shell: app lifecycle and the tray. All logic lives in src/ (core, tray menu model);
// this file only maps those models onto Electron's APIs.
import { app, clipboard, Menu, nativeImage, Tray, type MenuItemConstructorOptions } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectApi, type ApiClient } from '../src/api/index.js';
import { startCore, type Core } from '../src/app/index.js';
import { appDataDir } from '../src/store/index.js';
import { electronBridgeLauncher } from '../src/clients/index.js';
import { trayMenu, type MenuItemModel, type TrayAction } from '../src/tray/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let core: Core | undefined;
let tray: Tray | undefined;

function toElectron(items: MenuItemModel[], run: (a: TrayAction) => void): MenuItemConstructorOptions[] {
  return items.map((i): MenuItemConstructorOptions => {
    switch (i.kind) {
      case 'label':
        return { label: i.label, enabled: false };
      case 'separator':
        return { type: 'separator' };
      case 'action':
        return { label: i.label, enabled: i.enabled ?? true, click: () => run(i.action) };
      case 'submenu':
        return { label: i.label, submenu: toElectron(i.items, run) };
    }
  });
}

async function refresh(api: ApiClient): Promise<void> {
  const [servers, info, clients] = await Promise.all([api.listServers(), api.core(), api.clients()]);
  const engine = info.engine.connected ? { connected: true, detail: info.engine.name } : { connected: false, detail: info.engine.error };
  const run = (a: TrayAction) => void act(api, a).finally(() => void refresh(api));
  tray?.setContextMenu(Menu.buildFromTemplate(toElectron(trayMenu(servers, engine, clients), run)));
}

async function act(api: ApiClient, a: TrayAction): Promise<void> {
  switch (a.type) {
    case 'start':
      await api.start({ name: a.server });
      return;
    case 'stop':
      await api.stop({ name: a.server });
      return;
    case 'restart':
      await api.restart({ name: a.server });
      return;
    case 'setup-client':
      await api.setupClient({ id: a.client });
      return;
    case 'remove-client':
      await api.removeClient({ id: a.client });
      return;
    case 'copy-url':
      clipboard.writeText(a.url);
      return;
    case 'open-ui':
      return; // the window arrives with the UI issue
    case 'quit':
      app.quit();
  }
}

app.on('window-all-closed', () => {
  // A tray app keeps running without windows.
});

app.on('before-quit', (event) => {
  if (!core) return;
  event.preventDefault();
  const c = core;
  core = undefined;
  void c.stop().finally(() => app.quit());
});

await app.whenReady();
// Client entries start the bridge with this app's own binary running as Node: no separate Node needed.
const home = appDataDir();
const platform = process.platform === 'darwin' || process.platform === 'win32' ? process.platform : 'linux';
core = await startCore({ home, bridgeLauncher: electronBridgeLauncher(process.execPath, path.join(here, '..', 'src', 'cli', 'main.js'), home, platform) });
const icon = nativeImage.createFromPath(path.join(here, '..', '..', 'assets', process.platform === 'darwin' ? 'trayTemplate.png' : 'tray.png'));
tray = new Tray(icon);
tray.setToolTip('Gatehouse');
const api = connectApi(core.url, core.token);
await refresh(api);
// The core pushes every server and client change: the menu is rebuilt then, never on a timer.
void api.follow('events', {}, () => void refresh(api).catch(() => {}));
