import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient, ipcTransport, type GatehouseBridge, type IpcFailure, type IpcResult } from '../../src/api/browser.js';

const notFound: IpcFailure = { status: 404, error: { code: 'not_found', message: 'No server named "x".', hint: { action: 'list-servers' } } };

/** A bridge as the preload exposes it, answering from a table, recording what was asked. */
function fakeBridge(answers: Record<string, IpcResult | Error> = {}) {
  const calls: [string, unknown][] = [];
  const subs: { name: string; input: unknown; onEvent: (e: unknown) => void; onEnd?: (f?: IpcFailure) => void; stopped: number }[] = [];
  const bridge: GatehouseBridge = {
    invoke(name, input) {
      calls.push([name, input]);
      const a = answers[name];
      if (a instanceof Error) return Promise.reject(a);
      return Promise.resolve(a ?? { ok: true, value: null });
    },
    subscribe(name, input, onEvent, onEnd) {
      const sub = { name, input, onEvent, onEnd, stopped: 0 };
      subs.push(sub);
      return () => void sub.stopped++;
    },
  };
  return { bridge, calls, subs };
}

describe('the IPC transport of the typed client', () => {
  it('calls routes by name with their input and returns their value', async () => {
    const f = fakeBridge({ listServers: { ok: true, value: [{ name: 'a' }] }, stop: { ok: true, value: { name: 'a', status: 'stopped' } } });
    const api = createApiClient(ipcTransport(f.bridge));
    expect(await api.listServers()).toEqual([{ name: 'a' }]);
    expect(await api.stop({ name: 'a' })).toEqual({ name: 'a', status: 'stopped' });
    expect(f.calls).toEqual([
      ['listServers', {}],
      ['stop', { name: 'a' }],
    ]);
  });

  it('throws the ApiError the HTTP transport would, code and hint included', async () => {
    const api = createApiClient(ipcTransport(fakeBridge({ getServer: { ok: false, ...notFound } }).bridge));
    const err = await api.getServer({ name: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'No server named "x".', hint: { action: 'list-servers' } });
    // A failure that is not the API's error shape is an internal error, not a crash of the caller.
    const odd = createApiClient(ipcTransport(fakeBridge({ core: { ok: false, status: 500, error: { nonsense: true } } as unknown as IpcResult }).bridge));
    expect(await odd.core().catch((e: unknown) => e)).toMatchObject({ status: 500, code: 'internal' });
  });

  it('turns a broken channel into an ApiError', async () => {
    const api = createApiClient(ipcTransport(fakeBridge({ core: new Error("Error invoking remote method 'gatehouse:invoke'") }).bridge));
    expect(await api.core().catch((e: unknown) => e)).toMatchObject({ status: 500, code: 'internal', message: "The Gatehouse core did not answer: Error invoking remote method 'gatehouse:invoke'" });
  });

  it('follows a stream until the core ends it', async () => {
    const f = fakeBridge();
    const api = createApiClient(ipcTransport(f.bridge));
    const seen: unknown[] = [];
    const done = api.follow('followLogs', { server: 'a', limit: 5 }, (e) => seen.push(e));
    expect(f.subs[0]).toMatchObject({ name: 'followLogs', input: { server: 'a', limit: 5 } });
    f.subs[0]!.onEvent({ id: 1 });
    f.subs[0]!.onEvent({ id: 2 });
    f.subs[0]!.onEnd?.();
    await done;
    f.subs[0]!.onEvent({ id: 3 });
    expect(seen).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('rejects a refused stream with its ApiError', async () => {
    const f = fakeBridge();
    const done = createApiClient(ipcTransport(f.bridge)).follow('followLogs', { server: 'x' }, () => {});
    f.subs[0]!.onEnd?.(notFound);
    await expect(done).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('ends a stream when the signal aborts: unsubscribed once, resolved', async () => {
    const f = fakeBridge();
    const ac = new AbortController();
    const seen: unknown[] = [];
    const done = createApiClient(ipcTransport(f.bridge)).follow('events', {}, (e) => seen.push(e), ac.signal);
    ac.abort();
    await done;
    f.subs[0]!.onEvent({ type: 'clients', clients: [] });
    expect(seen).toEqual([]);
    expect(f.subs[0]!.stopped).toBe(1);
    // Already aborted: nothing is subscribed at all.
    await createApiClient(ipcTransport(f.bridge)).follow('events', {}, () => {}, ac.signal);
    expect(f.subs).toHaveLength(1);
  });

  it('ends the stream with the error of a subscriber that throws, as over HTTP', async () => {
    const f = fakeBridge();
    const done = createApiClient(ipcTransport(f.bridge)).follow('events', {}, () => {
      throw new Error('render failed');
    });
    f.subs[0]!.onEvent({});
    await expect(done).rejects.toThrow('render failed');
    expect(f.subs[0]!.stopped).toBe(1);
  });
});
