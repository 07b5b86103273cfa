import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_CSP, appPageCsp, routes, STYLE_NONCE_PLACEHOLDER, StaticFiles, streams, type ClientChangeView, type ClientView, type IpcFailure, type ServerView } from '../../src/api/index.js';
import {
  actionFailureNotice,
  APP_ORIGIN,
  APP_START_URL,
  appPageUrl,
  clientSetupNotice,
  CrashWatch,
  execArg,
  externalUrl,
  HIDDEN_ARG,
  IpcStreamHost,
  isAppUrl,
  isTrustedSender,
  launchNotice,
  loginCommand,
  navigationDecision,
  opensWindowAtLaunch,
  permissionAllowed,
  preloadArguments,
  windowOpenDecision,
  XdgAutostart,
  xdgAutostartEntry,
  xdgAutostartFile,
  startOrTakeOver,
} from '../../src/desktop/index.js';

function server(name: string, status: ServerView['status'], extra: Partial<ServerView> = {}): ServerView {
  return {
    name, kind: 'container', remoteUrl: null, remote: null, status, statusDetail: null, image: 'img', transport: 'stdio', desiredState: 'running', url: 'http://127.0.0.1:1/mcp', secrets: [], auth: { type: 'none' }, policySet: null,
    proxyPort: 1, targetPort: null, group: 'default', permissionProfile: 'none', containerId: null, createdAt: '', updatedAt: '', ...extra,
  };
}

describe("the window's origin", () => {
  it('is app://gatehouse, and only its own URLs are the app', () => {
    expect(APP_ORIGIN).toBe('app://gatehouse');
    expect(APP_START_URL).toBe('app://gatehouse/index.html');
    for (const url of ['app://gatehouse/', 'app://gatehouse/index.html#/servers/a', 'app://gatehouse/assets/index-abc.js']) expect(isAppUrl(url), url).toBe(true);
    // Chromium hands over canonical (lower-case) URLs of a standard scheme: any other spelling is not ours.
    for (const url of ['APP://GATEHOUSE/index.html', 'app://other/index.html', 'app://gatehouse.evil/', 'app://user:pw@gatehouse/', 'file:///index.html', 'http://gatehouse/', 'http://127.0.0.1:4000/', 'about:blank', 'devtools://devtools/', '', 'not a url', undefined]) {
      expect(isAppUrl(url), String(url)).toBe(false);
    }
  });

  it('answers IPC only from the top frame showing the app', () => {
    expect(isTrustedSender({ url: 'app://gatehouse/index.html#/logs', isTopFrame: true })).toBe(true);
    expect(isTrustedSender({ url: 'app://gatehouse/index.html', isTopFrame: false })).toBe(false);
    expect(isTrustedSender({ url: 'https://example.com/', isTopFrame: true })).toBe(false);
    expect(isTrustedSender({ url: 'file:///home/u/evil.html', isTopFrame: true })).toBe(false);
    expect(isTrustedSender(null)).toBe(false);
    expect(isTrustedSender(undefined)).toBe(false);
  });

  it('keeps navigation in the app; http(s) goes to the browser; everything else is refused', () => {
    expect(navigationDecision('app://gatehouse/index.html')).toEqual({ action: 'allow' });
    expect(navigationDecision('https://modelcontextprotocol.io/docs')).toEqual({ action: 'open-external', url: 'https://modelcontextprotocol.io/docs' });
    expect(navigationDecision('http://127.0.0.1:43117/mcp')).toEqual({ action: 'open-external', url: 'http://127.0.0.1:43117/mcp' });
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,<script>1</script>', 'vscode://open', 'smb://host/share', 'app://other/', 'mailto:a@b.c', 'http://', 'nonsense']) {
      expect(navigationDecision(url), url).toEqual({ action: 'deny' });
    }
  });

  it('never opens a second window: window.open of the app itself is refused, http(s) goes to the browser', () => {
    expect(windowOpenDecision('app://gatehouse/index.html')).toEqual({ action: 'deny' });
    expect(windowOpenDecision('https://github.com/x')).toEqual({ action: 'open-external', url: 'https://github.com/x' });
    expect(windowOpenDecision('file:///tmp/x')).toEqual({ action: 'deny' });
    // The URL the browser gets is the parsed one, not the page's text.
    expect(externalUrl('HTTPS://Example.COM/a b')).toBe('https://example.com/a%20b');
  });

  it('grants the page only clipboard writes, only from the app', () => {
    expect(permissionAllowed('clipboard-sanitized-write', 'app://gatehouse/index.html')).toBe(true);
    expect(permissionAllowed('clipboard-sanitized-write', 'https://example.com/')).toBe(false);
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen']) expect(permissionAllowed(p, 'app://gatehouse/'), p).toBe(false);
  });

  it('serves app:// from the built app only, with the same CSP and headers as over HTTP', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-app-'));
    try {
      const dir = path.join(root, 'dist-renderer');
      fs.mkdirSync(path.join(dir, 'assets'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html>app');
      fs.writeFileSync(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
      fs.writeFileSync(path.join(root, 'secret.json'), '{"secret":1}');
      const files = new StaticFiles(dir);
      const js = files.read('/assets/index-abc.js');
      expect(js.body.toString()).toBe('console.log(1)');
      expect(js.headers).toMatchObject({ 'content-security-policy': APP_CSP, 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' });
      const page = files.read('/index.html');
      expect(page.headers).toMatchObject({ 'content-security-policy': APP_CSP, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
      // Out of the folder, or not a file type of the app: the app's page, never the file.
      for (const p of ['/../secret.json', '/..%2fsecret.json', '/%2e%2e/secret.json', '/assets/../../secret.json', '/%E0%A4%A']) expect(files.read(p).body.toString(), p).toBe('<!doctype html>app');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("gives each load of the app's page a style nonce of its own, in the page and in its CSP (CodeMirror's <style>)", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-app-'));
    try {
      fs.writeFileSync(path.join(root, 'index.html'), `<!doctype html><meta name="gatehouse-style-nonce" content="${STYLE_NONCE_PLACEHOLDER}">app`);
      const files = new StaticFiles(root);
      const nonces = [files.read('/'), files.read('/index.html')].map((page) => {
        const nonce = /content="([^"]+)"/.exec(page.body.toString())![1]!;
        expect(nonce).not.toBe(STYLE_NONCE_PLACEHOLDER);
        expect(Buffer.from(nonce, 'base64').length).toBe(18);
        expect(page.headers['content-security-policy']).toBe(appPageCsp(nonce));
        expect(page.headers['content-security-policy']).toContain(`style-src 'self' 'nonce-${nonce}'`);
        expect(page.headers['content-length']).toBe(String(page.body.length));
        return nonce;
      });
      expect(nonces[0]).not.toBe(nonces[1]);
      // Scripts stay 'self' only.
      expect(appPageCsp('x')).toContain("script-src 'self';");
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("opens at a server's page for a notification", () => {
    expect(appPageUrl()).toBe('app://gatehouse/index.html');
    expect(appPageUrl({ server: 'my server' })).toBe('app://gatehouse/index.html#/servers/my%20server');
  });

  it("gives the preload the route map's names", () => {
    const args = preloadArguments();
    expect(args).toEqual([`--gatehouse-routes=${Object.keys(routes).join(',')}`, `--gatehouse-streams=${Object.keys(streams).join(',')}`]);
    for (const name of [...Object.keys(routes), ...Object.keys(streams)]) expect(name).toMatch(/^[A-Za-z]+$/);
  });
});

describe('crash notifications', () => {
  it('says a running server stopped unexpectedly, with the reason, once', () => {
    const watch = new CrashWatch([server('a', 'running')]);
    const crashed = server('a', 'error', { statusDetail: 'exited with code 3; last output: boom' });
    expect(watch.next({ type: 'server', server: crashed })).toEqual({ title: 'Gatehouse', body: 'Server a stopped unexpectedly: exited with code 3; last output: boom', server: 'a' });
    // The row is written again (another detail, a re-check): not a second crash.
    expect(watch.next({ type: 'server', server: { ...crashed, statusDetail: 'the engine went away' } })).toBeUndefined();
    // Started again and crashed again: a new crash.
    expect(watch.next({ type: 'server', server: server('a', 'starting') })).toBeUndefined();
    expect(watch.next({ type: 'server', server: server('a', 'running') })).toBeUndefined();
    expect(watch.next({ type: 'server', server: crashed })?.body).toBe('Server a stopped unexpectedly: exited with code 3; last output: boom');
  });

  it('says once that a running server stopped answering, and that an unhealthy one then crashed', () => {
    const watch = new CrashWatch([server('a', 'running')]);
    const sick = server('a', 'unhealthy', { statusDetail: 'the MCP server has not answered for about 80 s' });
    expect(watch.next({ type: 'server', server: sick })?.body).toBe('Server a stopped answering: the MCP server has not answered for about 80 s');
    expect(watch.next({ type: 'server', server: sick })).toBeUndefined();
    expect(watch.next({ type: 'server', server: server('a', 'error', { statusDetail: 'exited with code 137' }) })?.body).toBe('Server a stopped unexpectedly: exited with code 137');
  });

  it('is quiet when the user stops a server or Gatehouse quits', () => {
    const watch = new CrashWatch([server('a', 'running'), server('b', 'running')]);
    for (const s of [server('a', 'stopping', { desiredState: 'stopped', statusDetail: 'stopped by user' }), server('a', 'stopped', { desiredState: 'stopped' })]) {
      expect(watch.next({ type: 'server', server: s })).toBeUndefined();
    }
    // A clean quit keeps the wanted state (the server comes back at the next launch) and ends in stopped.
    expect(watch.next({ type: 'server', server: server('b', 'stopped', { statusDetail: 'Gatehouse quit' }) })).toBeUndefined();
    // A server the user stopped whose row says error (a failed stop): not a crash either.
    expect(watch.next({ type: 'server', server: server('a', 'error', { desiredState: 'stopped', statusDetail: 'x' }) })).toBeUndefined();
  });

  it('says a server could not start; nothing for servers already failed when watching starts', () => {
    const watch = new CrashWatch([server('a', 'stopped'), server('old', 'error', { statusDetail: 'before' })]);
    expect(watch.next({ type: 'server', server: server('a', 'starting') })).toBeUndefined();
    expect(watch.next({ type: 'server', server: server('a', 'error', { statusDetail: 'image not found' }) })).toEqual({ title: 'Gatehouse', body: 'Server a could not start: image not found', server: 'a' });
    expect(watch.next({ type: 'server', server: server('old', 'error', { statusDetail: 'before' }) })).toBeUndefined();
    // Removed and made again under the same name: a fresh history.
    expect(watch.next({ type: 'server-removed', name: 'a' })).toBeUndefined();
    expect(watch.next({ type: 'server', server: server('a', 'error') })?.body).toBe('Server a could not start.');
    expect(watch.next({ type: 'clients', clients: [] })).toBeUndefined();
  });

  it("offers the sign-in once when a remote server's sign-in ends", () => {
    const watch = new CrashWatch([server('r', 'running', { kind: 'remote' })]);
    const n = watch.next({ type: 'server', server: server('r', 'needs-sign-in', { kind: 'remote', statusDetail: 'the authorization server ended the sign-in (invalid_grant)' }) });
    expect(n).toEqual({ title: 'Gatehouse', body: 'Sign in to r to keep using it: the authorization server ended the sign-in (invalid_grant)', server: 'r' });
    expect(watch.next({ type: 'server', server: server('r', 'needs-sign-in', { kind: 'remote' }) })).toBeUndefined();
  });

  it('clips a long reason', () => {
    const watch = new CrashWatch([server('a', 'running')]);
    const body = watch.next({ type: 'server', server: server('a', 'error', { statusDetail: 'x'.repeat(1000) }) })?.body ?? '';
    expect(body.length).toBeLessThan(260);
    expect(body.endsWith('…')).toBe(true);
  });

  it('at launch, names the servers that did not come back', () => {
    expect(launchNotice([server('a', 'running'), server('b', 'stopped', { desiredState: 'stopped' })])).toBeUndefined();
    expect(launchNotice([server('a', 'error', { statusDetail: 'No container engine found' })])).toEqual({ title: 'Gatehouse', body: 'Server a could not start: No container engine found', server: 'a' });
    expect(launchNotice([server('a', 'error'), server('b', 'error'), server('c', 'error', { desiredState: 'stopped' })])).toEqual({
      title: 'Gatehouse',
      body: '2 servers could not start: a, b. Open Gatehouse to see why.',
    });
  });
});

describe('tray notices', () => {
  const client: ClientView = { id: 'claude-desktop', name: 'Claude Desktop', file: '/f', installed: true, groups: ['default'], state: 'in-sync', problems: [], entries: ['a'], note: 'Quit and reopen Claude Desktop to load changes.' };
  const change = (extra: Partial<ClientChangeView>): ClientChangeView => ({ client, written: ['a'], removed: [], unchanged: [], conflicts: [], unsupported: [], fileChanged: true, created: false, ...extra });

  it("says what a setup did and what the client needs (Claude Desktop reads its file at start)", () => {
    expect(clientSetupNotice(change({})).body).toBe('Claude Desktop is set up with 1 server. Quit and reopen Claude Desktop to load changes.');
    expect(clientSetupNotice(change({ written: ['a', 'b'], conflicts: [{ server: 'c', reason: 'taken' }] })).body).toBe(
      'Claude Desktop is set up with 2 servers. 1 could not be added: open Gatehouse to see why. Quit and reopen Claude Desktop to load changes.',
    );
    expect(clientSetupNotice(change({ fileChanged: false, written: [] })).body).toBe('Claude Desktop was already set up: nothing to change.');
    expect(clientSetupNotice(change({ client: { ...client, id: 'cursor', name: 'Cursor', note: undefined } })).body).toBe('Cursor is set up with 1 server.');
  });

  it('says which tray action failed and why', () => {
    expect(actionFailureNotice('Starting a', new Error('No container engine found'))).toEqual({ title: 'Gatehouse', body: 'Starting a failed: No container engine found' });
  });
});

describe('start at login', () => {
  it('stays in the tray when the OS started it at login', () => {
    expect(opensWindowAtLaunch(['/app/gatehouse'], false)).toBe(true);
    expect(opensWindowAtLaunch(['/app/gatehouse', HIDDEN_ARG], false)).toBe(false);
    expect(opensWindowAtLaunch(['/app/gatehouse'], true)).toBe(false);
  });

  it('starts the AppImage itself, and the app folder in development', () => {
    expect(loginCommand({ execPath: '/tmp/.mount_x/gatehouse', appImage: '/home/u/Gatehouse.AppImage', packaged: true, appPath: '/tmp/.mount_x/resources/app.asar' })).toEqual(['/home/u/Gatehouse.AppImage', HIDDEN_ARG]);
    expect(loginCommand({ execPath: '/repo/node_modules/electron/dist/electron', packaged: false, appPath: '/repo' })).toEqual(['/repo/node_modules/electron/dist/electron', '/repo', HIDDEN_ARG]);
    expect(loginCommand({ execPath: 'C:\\Program Files\\Gatehouse\\Gatehouse.exe', appImage: '', packaged: true, appPath: 'x' })).toEqual(['C:\\Program Files\\Gatehouse\\Gatehouse.exe', HIDDEN_ARG]);
  });

  it("quotes the autostart command by the Desktop Entry rules", () => {
    expect(execArg('/usr/bin/gatehouse')).toBe('/usr/bin/gatehouse');
    expect(execArg('--hidden')).toBe('--hidden');
    expect(execArg('/home/u/My Apps/Gatehouse.AppImage')).toBe('"/home/u/My Apps/Gatehouse.AppImage"');
    expect(execArg('/a/$HOME/`x`/"q"')).toBe('"/a/\\\\$HOME/\\\\`x\\\\`/\\\\"q\\\\""');
    expect(execArg('/a\\b')).toBe('"/a\\\\\\\\b"');
    expect(execArg('/100%')).toBe('"/100%%"');
    expect(() => execArg('/a\nExec=evil')).toThrow(/control characters/);
    const entry = xdgAutostartEntry(['/opt/Gatehouse/gatehouse', HIDDEN_ARG]);
    expect(entry).toContain('[Desktop Entry]\nType=Application\n');
    expect(entry).toContain('\nExec=/opt/Gatehouse/gatehouse --hidden\n');
  });

  it('writes and removes the XDG autostart entry, and reads the state back from it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-autostart-'));
    try {
      expect(xdgAutostartFile({ XDG_CONFIG_HOME: dir }, '/home/u')).toBe(path.join(dir, 'autostart', 'gatehouse.desktop'));
      expect(xdgAutostartFile({ XDG_CONFIG_HOME: 'relative' }, '/home/u')).toBe('/home/u/.config/autostart/gatehouse.desktop');
      const item = new XdgAutostart(xdgAutostartFile({ XDG_CONFIG_HOME: dir }));
      expect(item.enabled()).toBe(false);
      item.set(true, ['/opt/g', HIDDEN_ARG]);
      expect(item.enabled()).toBe(true);
      expect(fs.readFileSync(item.file, 'utf8')).toContain('Exec=/opt/g --hidden');
      expect(fs.readdirSync(path.dirname(item.file))).toEqual(['gatehouse.desktop']);
      // The desktop's own settings turned it off: the menu shows it off.
      fs.appendFileSync(item.file, 'Hidden=true\n');
      expect(item.enabled()).toBe(false);
      item.set(false, []);
      expect(fs.existsSync(item.file)).toBe(false);
      item.set(false, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the window's streams in the main process", () => {
  type Sub = { name: unknown; input: unknown; onEvent: (e: unknown) => void; onEnd?: (f?: IpcFailure) => void; stopped: boolean };
  function fakeApi(refuse?: IpcFailure) {
    const subs: Sub[] = [];
    return {
      subs,
      subscribe(name: unknown, input: unknown, onEvent: (e: unknown) => void, onEnd?: (f?: IpcFailure) => void) {
        const sub: Sub = { name, input, onEvent, onEnd, stopped: false };
        subs.push(sub);
        if (refuse) onEnd?.(refuse);
        return () => void (sub.stopped = true);
      },
    };
  }
  function fakeWindow(id: number) {
    const sent: unknown[][] = [];
    return { id, sent, gone: false, send(channel: string, ...args: unknown[]) {
      if (this.gone) throw new Error('Object has been destroyed');
      sent.push([channel, ...args]);
    } };
  }

  it("sends a stream's events and end to the window that asked, by its id", () => {
    const api = fakeApi();
    const host = new IpcStreamHost(api);
    const w = fakeWindow(7);
    host.subscribe(w, 1, 'events', {});
    expect(api.subs[0]).toMatchObject({ name: 'events', input: {} });
    api.subs[0]!.onEvent({ type: 'clients', clients: [] });
    api.subs[0]!.onEnd?.();
    expect(w.sent).toEqual([
      ['gatehouse:event', 1, { type: 'clients', clients: [] }],
      ['gatehouse:end', 1, undefined],
    ]);
    expect(host.count(7)).toBe(0);
  });

  it('stops a stream when the window unsubscribes, or closes, reloads or crashes', () => {
    const api = fakeApi();
    const host = new IpcStreamHost(api);
    const w = fakeWindow(1);
    host.subscribe(w, 1, 'events', {});
    host.subscribe(w, 2, 'followLogs', { server: 'a' });
    host.subscribe(fakeWindow(2), 1, 'events', {});
    expect(host.count(1)).toBe(2);
    host.unsubscribe(1, 1);
    expect(api.subs.map((s) => s.stopped)).toEqual([true, false, false]);
    host.closeWindow(1);
    expect(api.subs.map((s) => s.stopped)).toEqual([true, true, false]);
    expect(host.count(1)).toBe(0);
    expect(host.count(2)).toBe(1);
    host.unsubscribe(2, 'nonsense');
    host.unsubscribe(9, 1);
  });

  it('sends the refusal of a stream at once and keeps nothing', () => {
    const refusal: IpcFailure = { status: 404, error: { code: 'not_found', message: 'No server named "x".' } };
    const host = new IpcStreamHost(fakeApi(refusal));
    const w = fakeWindow(1);
    host.subscribe(w, 3, 'followLogs', { server: 'x' });
    expect(w.sent).toEqual([['gatehouse:end', 3, refusal]]);
    expect(host.count(1)).toBe(0);
  });

  it('refuses ids the preload never sends, a reused id and too many streams', () => {
    const api = fakeApi();
    const host = new IpcStreamHost(api, 2);
    const w = fakeWindow(1);
    for (const id of [0, -1, 1.5, '1', null, Number.MAX_SAFE_INTEGER + 2]) host.subscribe(w, id, 'events', {});
    expect(api.subs).toHaveLength(0);
    expect(w.sent).toEqual([]);
    host.subscribe(w, 1, 'events', {});
    host.subscribe(w, 1, 'events', {});
    host.subscribe(w, 2, 'events', {});
    host.subscribe(w, 3, 'events', {});
    expect(api.subs).toHaveLength(2);
    expect(w.sent).toEqual([
      ['gatehouse:end', 1, { status: 400, error: { code: 'bad_request', message: 'Stream 1 is already open.' } }],
      ['gatehouse:end', 3, { status: 400, error: { code: 'bad_request', message: 'Too many open streams (at most 2 per window).' } }],
    ]);
  });

  it('drops every stream of a window that is gone when sending to it', () => {
    const api = fakeApi();
    const host = new IpcStreamHost(api);
    const w = fakeWindow(1);
    host.subscribe(w, 1, 'events', {});
    host.subscribe(w, 2, 'events', {});
    w.gone = true;
    expect(() => api.subs[0]!.onEvent({})).not.toThrow();
    expect(api.subs.map((s) => s.stopped)).toEqual([true, true]);
    expect(host.count(1)).toBe(0);
  });
});

describe('taking over a running core', () => {
  const busy = Object.assign(new Error('Another Gatehouse core is already running (pid 7).'), { busy: true });
  it('gives up with a clear error when the other core does not quit in time, and passes other errors through', async () => {
    let shutdowns = 0;
    const deps = {
      start: () => Promise.reject(busy),
      isAlreadyRunning: (e: unknown) => (e as { busy?: boolean }).busy === true,
      running: async () => ({ shutdown: async () => void shutdowns++ }),
      released: () => false,
      sleep: () => Promise.resolve(),
    };
    await expect(startOrTakeOver(deps, { waitMs: 5 })).rejects.toThrow(/asked to quit and has not yet/);
    expect(shutdowns).toBe(1);
    await expect(startOrTakeOver({ ...deps, start: () => Promise.reject(new Error('disk full')) })).rejects.toThrow('disk full');
    let starts = 0;
    const later = await startOrTakeOver({ ...deps, start: () => (starts++ === 0 ? Promise.reject(busy) : Promise.resolve('core')), released: () => true });
    expect(later).toEqual({ core: 'core', tookOver: true });
  });
});
