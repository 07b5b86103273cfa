// The desktop shell: app lifecycle, the window, the tray, notifications and the login item. Every
// decision lives in src/ as a plain model with unit tests (src/tray: the menu; src/desktop: the app's
// origin, navigation, IPC senders and streams, notifications, login items); this file only maps those
// models onto Electron's APIs. It cannot run on the build machines (no Electron binary): it is type-checked.
import {
  app,
  BrowserWindow,
  clipboard,
  dialog,
  ipcMain,
  Menu,
  nativeImage,
  Notification,
  protocol,
  session,
  shell,
  Tray,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
  type MenuItemConstructorOptions,
} from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectApi, createApiClient, IPC_CHANNELS, ipcTransport, SECURITY_HEADERS, StaticFiles, type ApiClient, type ClientView, type IpcResult } from '../src/api/index.js';
import { CoreAlreadyRunningError, isProcessAlive, lockHolder, readDiscovery, startCore, type Core } from '../src/app/index.js';
import { electronBridgeLauncher } from '../src/clients/index.js';
import {
  APP_HOST,
  APP_SCHEME,
  appPageUrl,
  actionFailureNotice,
  clientSetupNotice,
  CrashWatch,
  IpcStreamHost,
  isTrustedSender,
  launchNotice,
  loginCommand,
  navigationDecision,
  opensWindowAtLaunch,
  permissionAllowed,
  preloadArguments,
  windowOpenDecision,
  XdgAutostart,
  type DesktopNotice,
  startOrTakeOver,
} from '../src/desktop/index.js';
import { appDataDir, appPaths } from '../src/store/index.js';
import { describeAction, trayMenu, type MenuItemModel, type TrayAction } from '../src/tray/index.js';

// dist-electron/electron/main.js: the package root is two folders up (assets/, dist-renderer/).
const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.join(here, '..', '..');
const rendererDir = path.join(packageRoot, 'dist-renderer');

let core: Core | undefined;
let tray: Tray | undefined;
let win: BrowserWindow | undefined;
let streams: IpcStreamHost | undefined;
/** The webContents of windows this process made: the only senders IPC answers. */
const ownWindows = new Set<number>();
/** Shown notifications, kept referenced so their click handler survives garbage collection. */
const shown = new Set<Notification>();

// The app's own origin (see src/desktop/app-origin.ts for why not file://). Registered before `ready`,
// as Electron requires: standard (relative URLs, a real origin), secure (a secure context like https),
// fetch and CORS enabled so Vite's `<script type="module" crossorigin>` loads. No CSP bypass.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } }]);

// ---- the window ---------------------------------------------------------------------------

/** Serves dist-renderer/ only, with the CSP and security headers the HTTP server sends for the same files. */
function serveApp(): void {
  const files = new StaticFiles(rendererDir);
  protocol.handle(APP_SCHEME, (request) => {
    const url = new URL(request.url);
    if (url.host !== APP_HOST || (request.method !== 'GET' && request.method !== 'HEAD')) return new Response('Not found', { status: 404, headers: SECURITY_HEADERS });
    if (!files.available()) {
      return new Response('The Gatehouse app is not built. Run "npm run build" in the Gatehouse folder, then open the window again.', {
        status: 404,
        headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
      });
    }
    const { headers, body } = files.read(url.pathname);
    return new Response(request.method === 'HEAD' ? null : body, { status: 200, headers });
  });
}

function openExternal(url: string): void {
  void shell.openExternal(url).catch(() => {});
}

/** Opens the window, or brings it to the front (at a server's page when asked). */
function openWindow(page: { server?: string } = {}): void {
  if (win && !win.isDestroyed()) {
    if (page.server !== undefined) void win.loadURL(appPageUrl(page));
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    return;
  }
  const w = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 480,
    title: 'Gatehouse',
    show: false,
    autoHideMenuBar: true,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      preload: path.join(here, 'preload.cjs'),
      // The route map's names for the preload, which cannot import src/ (src/desktop/preload-args.ts).
      additionalArguments: preloadArguments(),
    },
  });
  win = w;
  const wc = w.webContents;
  const id = wc.id;
  ownWindows.add(id);
  const guard = (event: Electron.Event, url: string) => {
    const decision = navigationDecision(url);
    if (decision.action === 'allow') return;
    event.preventDefault();
    if (decision.action === 'open-external') openExternal(decision.url);
  };
  wc.on('will-navigate', (event) => guard(event, event.url));
  wc.on('will-redirect', (event) => guard(event, event.url));
  wc.on('will-frame-navigate', (event) => {
    // The app has no frames: a subframe never loads anything.
    if (!event.isMainFrame) event.preventDefault();
  });
  wc.setWindowOpenHandler(({ url }) => {
    const decision = windowOpenDecision(url);
    if (decision.action === 'open-external') openExternal(decision.url);
    return { action: 'deny' };
  });
  wc.on('will-attach-webview', (event) => event.preventDefault());
  // A new document (reload, navigation) or a gone renderer holds no stream any more.
  wc.on('did-start-navigation', (details) => {
    if (details.isMainFrame && !details.isSameDocument) streams?.closeWindow(id);
  });
  wc.on('render-process-gone', () => streams?.closeWindow(id));
  wc.once('destroyed', () => {
    streams?.closeWindow(id);
    ownWindows.delete(id);
  });
  w.once('ready-to-show', () => w.show());
  w.on('closed', () => {
    if (win === w) win = undefined;
  });
  void w.loadURL(appPageUrl(page));
}

function hardenSession(): void {
  const s = session.defaultSession;
  s.setPermissionRequestHandler((_wc, permission, callback, details) => callback(permissionAllowed(permission, details.requestingUrl)));
  s.setPermissionCheckHandler((_wc, permission, requestingOrigin) => permissionAllowed(permission, requestingOrigin));
}

// ---- IPC: the window's control API -------------------------------------------------------------

const FORBIDDEN: IpcResult = { ok: false, status: 403, error: { code: 'forbidden', message: 'Forbidden.' } };

function trusted(event: IpcMainEvent | IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return ownWindows.has(event.sender.id) && isTrustedSender(frame ? { url: frame.url, isTopFrame: frame.parent === null } : null);
}

function serveIpc(c: Core): void {
  const host = new IpcStreamHost(c.ipc);
  streams = host;
  ipcMain.handle(IPC_CHANNELS.invoke, (event, name: unknown, input: unknown) => (trusted(event) ? c.ipc.invoke(name, input) : FORBIDDEN));
  ipcMain.on(IPC_CHANNELS.subscribe, (event, id: unknown, name: unknown, input: unknown) => {
    if (trusted(event)) host.subscribe(event.sender, id, name, input);
  });
  ipcMain.on(IPC_CHANNELS.unsubscribe, (event, id: unknown) => host.unsubscribe(event.sender.id, id));
}

// ---- notifications and the login item ----------------------------------------------------

function notify(n: DesktopNotice | undefined): void {
  if (!n || !Notification.isSupported()) return;
  const note = new Notification({ title: n.title, body: n.body });
  shown.add(note);
  note.on('click', () => {
    shown.delete(note);
    openWindow(n.server !== undefined ? { server: n.server } : {});
  });
  note.on('close', () => shown.delete(note));
  note.show();
}

// The OS keeps whether Gatehouse starts at login (see src/desktop/login-item.ts): it is read back from
// the OS for every menu, never stored by Gatehouse. Linux has no login items in Electron: XDG autostart.
const loginArgs = () => loginCommand({ execPath: process.execPath, appImage: process.env['APPIMAGE'], packaged: app.isPackaged, appPath: app.getAppPath() });
const xdg = process.platform === 'linux' ? new XdgAutostart() : undefined;

function startAtLogin(): boolean | undefined {
  if (xdg) return xdg.enabled();
  if (process.platform !== 'darwin' && process.platform !== 'win32') return undefined;
  // Windows matches the entry by path and arguments: ask with the same ones it was set with.
  const [binary, ...args] = loginArgs();
  return app.getLoginItemSettings({ path: binary, args }).openAtLogin;
}

function setStartAtLogin(enabled: boolean): void {
  if (xdg) return xdg.set(enabled, loginArgs());
  const [binary, ...args] = loginArgs();
  app.setLoginItemSettings({ openAtLogin: enabled, path: binary, args });
}

// ---- the tray -----------------------------------------------------------------------------

function toElectron(items: MenuItemModel[], run: (a: TrayAction) => void): MenuItemConstructorOptions[] {
  return items.map((i): MenuItemConstructorOptions => {
    switch (i.kind) {
      case 'label':
        return { label: i.label, enabled: false };
      case 'separator':
        return { type: 'separator' };
      case 'action':
        return { label: i.label, enabled: i.enabled ?? true, click: () => run(i.action) };
      case 'checkbox':
        return { label: i.label, type: 'checkbox', checked: i.checked, click: () => run(i.action) };
      case 'submenu':
        return { label: i.label, submenu: toElectron(i.items, run) };
    }
  });
}

let clientsSeen: ClientView[] = [];

async function refresh(api: ApiClient): Promise<void> {
  const [servers, info, clients] = await Promise.all([api.listServers(), api.core(), api.clients()]);
  clientsSeen = clients;
  const engine = info.engine.connected ? { connected: true, detail: info.engine.name } : { connected: false, detail: info.engine.error };
  const login = startAtLogin();
  const run = (a: TrayAction) =>
    void act(api, a)
      .catch((err: unknown) => notify(actionFailureNotice(describeAction(a, clientsSeen), err)))
      .finally(() => scheduleRefresh(api));
  tray?.setContextMenu(Menu.buildFromTemplate(toElectron(trayMenu(servers, engine, clients, login !== undefined ? { startAtLogin: login } : {}), run)));
}

// One rebuild at a time, and at most one more after it, however many events arrive meanwhile.
let refreshing: Promise<void> | undefined;
let refreshAgain = false;
function scheduleRefresh(api: ApiClient): void {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = refresh(api)
    .catch(() => {})
    .finally(() => {
      refreshing = undefined;
      if (refreshAgain) {
        refreshAgain = false;
        scheduleRefresh(api);
      }
    });
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
      notify(clientSetupNotice(await api.setupClient({ id: a.client })));
      return;
    case 'remove-client':
      await api.removeClient({ id: a.client });
      return;
    case 'copy-url':
      clipboard.writeText(a.url);
      return;
    case 'sign-in':
      // The core opens the system browser (shell.openExternal); the server's page shows the URL and the progress.
      openWindow({ server: a.server });
      await api.signInStart({ name: a.server });
      return;
    case 'open-ui':
      openWindow();
      return;
    case 'set-start-at-login':
      setStartAtLogin(a.enabled);
      return;
    case 'quit':
      app.quit();
  }
}

// ---- lifecycle ----------------------------------------------------------------------------

app.on('window-all-closed', () => {
  // A tray app keeps running without windows.
});

app.on('before-quit', (event) => {
  if (!core) return;
  // Servers stop cleanly; their wanted state is kept, so they come back at the next launch.
  event.preventDefault();
  const c = core;
  core = undefined;
  void c.stop().finally(() => app.quit());
});

async function main(): Promise<void> {
  await app.whenReady();
  hardenSession();
  serveApp();
  const home = appDataDir();
  const platform = process.platform === 'darwin' || process.platform === 'win32' ? process.platform : 'linux';
  const paths = appPaths(home);
  try {
    ({ core } = await startOrTakeOver({
      start: () =>
        startCore({
          home,
          rendererDir,
          // Client entries start the bridge with this app's own binary running as Node: no separate Node needed.
          bridgeLauncher: electronBridgeLauncher(process.execPath, path.join(here, '..', 'src', 'cli', 'main.js'), home, platform),
          // `gatehouse shutdown` (or the API's shutdown) stopped the core: the app goes with it.
          onShutdown: () => app.quit(),
          // Sign-ins open the system browser with the URL as one argument, never through a shell.
          openUrl: (url) => (/^https?:\/\//i.test(url) ? shell.openExternal(url) : Promise.reject(new Error('not an http(s) URL'))),
        }),
      isAlreadyRunning: (err) => err instanceof CoreAlreadyRunningError,
      running: async () => {
        const d = readDiscovery(paths.discovery);
        if (!d) return undefined;
        const other = connectApi(d.url, d.token);
        return other.core().then(() => other, () => undefined);
      },
      released: () => {
        const holder = lockHolder(paths.lock);
        return holder === undefined || !isProcessAlive(holder);
      },
    }));
  } catch (err) {
    dialog.showErrorBox('Gatehouse could not start', err instanceof Error ? err.message : String(err));
    app.exit(1);
    return;
  }
  serveIpc(core);
  // The tray uses the same typed client as the window, in process: no HTTP, no token.
  const api = createApiClient(ipcTransport(core.ipc));

  const icon = nativeImage.createFromPath(path.join(packageRoot, 'assets', process.platform === 'darwin' ? 'trayTemplate.png' : 'tray.png'));
  tray = new Tray(icon);
  tray.setToolTip('Gatehouse');
  if (process.platform === 'win32') tray.on('click', () => openWindow());

  // The core has brought back the servers that ran at the last quit: say which did not.
  const servers = await api.listServers();
  notify(launchNotice(servers));
  const crashes = new CrashWatch(servers);
  // The core pushes every server and client change: the menu is rebuilt then, never on a timer.
  void api
    .follow('events', {}, (e) => {
      notify(crashes.next(e));
      scheduleRefresh(api);
    })
    .catch(() => {});
  scheduleRefresh(api);

  app.on('activate', () => openWindow());
  const wasOpenedAtLogin = process.platform === 'darwin' ? app.getLoginItemSettings().wasOpenedAtLogin : false;
  if (opensWindowAtLaunch(process.argv, wasOpenedAtLogin)) openWindow();
}

// One Gatehouse per user: a second launch focuses the first one's window and exits.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (core) openWindow();
  });
  void main();
}
