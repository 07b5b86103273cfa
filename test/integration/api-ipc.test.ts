import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, ipcTransport, type ApiClient, type CoreEvent, type IpcFailure, type LogLine } from '../../src/api/index.js';
import { CrashWatch, type DesktopNotice } from '../../src/desktop/index.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { newServer } from '../support/server-record.js';
import { waitFor } from '../support/wait.js';

const until = (cond: () => boolean, what: string) => waitFor(async () => (cond() ? true : undefined), what, 5_000);

/**
 * The control API over the core's in-process IPC binding (what the Electron window's preload and the
 * tray reach): the same route map, validation, errors and streams as HTTP. No Docker: server rows are
 * written to the real store, which is what the push channel watches.
 */
describe('the control API over IPC', () => {
  let t: TestCore;
  let api: ApiClient;
  beforeAll(async () => {
    t = await startTestCore();
    api = createApiClient(ipcTransport(t.core.ipc));
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers calls by route name, with the values HTTP sends', async () => {
    expect(await api.listServers()).toEqual(await t.api.listServers());
    expect((await api.core()).home).toBe(t.home);
    const viaIpc = await t.core.ipc.invoke('idps', {});
    expect(viaIpc.ok && viaIpc.value).toEqual(await t.api.idps());
  });

  it('refuses what HTTP refuses, with the same codes and hints', async () => {
    expect(await api.getServer({ name: 'nope' }).catch((e: unknown) => e)).toMatchObject({ status: 404, code: 'not_found', message: 'No server named "nope".', hint: { action: 'list-servers' } });
    expect(await t.core.ipc.invoke('getServer', { name: 'a', extra: 1 })).toMatchObject({ ok: false, status: 400, error: { code: 'bad_request' } });
    expect(await t.core.ipc.invoke('getServer', 'a')).toMatchObject({ ok: false, status: 400, error: { code: 'bad_request' } });
    expect(await t.core.ipc.invoke('nope', {})).toMatchObject({ ok: false, status: 404, error: { code: 'not_found', message: 'No API route nope.' } });
    expect(await t.core.ipc.invoke('hasOwnProperty', {})).toMatchObject({ ok: false, status: 404 });
    expect(await t.core.ipc.invoke(42, {})).toMatchObject({ ok: false, status: 400, error: { code: 'bad_request' } });
    const ends: (IpcFailure | undefined)[] = [];
    t.core.ipc.subscribe('followLogs', { server: 'nope' }, () => {}, (f) => ends.push(f));
    t.core.ipc.subscribe('nope', {}, () => {}, (f) => ends.push(f));
    // Over HTTP the same refusal comes before the stream starts.
    expect(await t.api.follow('followLogs', { server: 'nope' }, () => {}).catch((e: unknown) => e)).toMatchObject({ status: 404, code: 'not_found' });
    expect(ends).toMatchObject([
      { status: 404, error: { code: 'not_found', hint: { action: 'list-servers' } } },
      { status: 404, error: { code: 'not_found', message: 'No API stream nope.' } },
    ]);
  });

  it("pushes server changes, from which the crash notice is decided; and follows a server's logs live", async () => {
    t.core.store.servers.insert(newServer('ipc-a', { proxyPort: 40_101, status: 'running' }));
    const events: CoreEvent[] = [];
    const notices: DesktopNotice[] = [];
    const crashes = new CrashWatch(await api.listServers());
    const lines: LogLine[] = [];
    const ac = new AbortController();
    const overHttp: CoreEvent[] = [];
    const following = Promise.all([
      t.api.follow('events', {}, (e) => overHttp.push(e), ac.signal),
      api.follow('events', {}, (e) => {
        events.push(e);
        const n = crashes.next(e);
        if (n) notices.push(n);
      }, ac.signal),
      api.follow('followLogs', { server: 'ipc-a', limit: 10 }, (l) => lines.push(l), ac.signal),
    ]);

    // The HTTP stream starts once its request is answered: touch the row until it has seen a change.
    for (let i = 0; overHttp.length === 0; i++) {
      t.core.store.servers.setStatus('ipc-a', 'running', `probe ${i}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // A policy set attached through the API: the row changes (an event) and the core logs it (a live line).
    expect((await api.savePolicy({ name: 'ipc-p', config: { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action, resource);'], entities_json: '[]' } } })).version).toBe(1);
    expect((await api.attachPolicy({ name: 'ipc-a', policySet: 'ipc-p' })).policySet).toBe('ipc-p');
    await until(() => events.some((e) => e.type === 'server' && e.server.policySet === 'ipc-p'), 'the server event');
    await until(() => lines.some((l) => l.message === 'Policy set ipc-p attached to ipc-a'), 'the live log line');

    // The container died under a server the user wants running: one notice, however often the row is written.
    t.core.store.servers.setStatus('ipc-a', 'error', 'exited with code 3');
    await until(() => notices.length === 1, 'the crash notice');
    t.core.store.servers.setStatus('ipc-a', 'error', 'exited with code 3 (again)');
    await until(() => events.filter((e) => e.type === 'server' && e.server.status === 'error').length === 2, 'the second error event');
    expect(notices).toEqual([{ title: 'Gatehouse', body: 'Server ipc-a stopped unexpectedly: exited with code 3', server: 'ipc-a' }]);
    // Values crossed as JSON: plain data, the same events the HTTP stream carries.
    expect(JSON.parse(JSON.stringify(events))).toEqual(events);
    await until(() => JSON.stringify(overHttp.at(-1)) === JSON.stringify(events.at(-1)), 'the same events over HTTP');
    expect(events.slice(-overHttp.length)).toEqual(overHttp);
    expect(overHttp.filter((e) => e.type === 'server' && e.server.status === 'error')).toHaveLength(2);

    ac.abort();
    await following;
    // No container stands behind the row: the next core must not try to bring it back.
    t.core.store.servers.delete('ipc-a');
  });

  it("ends the window's streams when the core stops", async () => {
    const ended: (IpcFailure | undefined)[] = [];
    t.core.ipc.subscribe('events', {}, () => {}, (f) => ended.push(f));
    await t.restart();
    expect(ended).toEqual([undefined]);
  });
});
