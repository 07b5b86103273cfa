import fs from 'node:fs';
import { createContext, Script } from 'node:vm';
import { transformWithOxc } from 'vite';
import { describe, expect, it } from 'vitest';
import { createApiClient, IPC_CHANNELS, ipcTransport, type GatehouseBridge, type IpcFailure } from '../../src/api/browser.js';
import { IpcStreamHost, preloadArguments } from '../../src/desktop/index.js';

const notFound: IpcFailure = { status: 404, error: { code: 'not_found', message: 'No server named "x".', hint: { action: 'list-servers' } } };

interface Preloaded {
  required: string[];
  exposed: Map<string, unknown>;
  invoked: unknown[][];
  sent: unknown[][];
  deliver(channel: string, ...args: unknown[]): void;
}

/**
 * electron/preload.cts with its types stripped, wrapped as Electron wraps a sandboxed preload
 * (require, process, Buffer, global, setImmediate, clearImmediate, exports, module) and run in a fresh
 * context with a fake 'electron' module: what it requires, what it exposes and what it sends are seen.
 */
async function runPreload(argv: string[], invokeAnswer: (channel: string, ...args: unknown[]) => unknown = () => ({ ok: true, value: 1 })): Promise<Preloaded> {
  const source = fs.readFileSync(new URL('../../electron/preload.cts', import.meta.url), 'utf8');
  const { code } = await transformWithOxc(source, 'preload.cts', { lang: 'ts' });
  const out: Preloaded = { required: [], exposed: new Map(), invoked: [], sent: [], deliver: () => {} };
  const heard = new Map<string, ((event: unknown, ...args: unknown[]) => void)[]>();
  out.deliver = (channel, ...args) => heard.get(channel)?.forEach((l) => l({ sender: 'ipc event, never shown to the page' }, ...args));
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => out.exposed.set(key, api) },
    ipcRenderer: {
      invoke: (channel: string, ...args: unknown[]) => {
        out.invoked.push([channel, ...args]);
        return Promise.resolve(invokeAnswer(channel, ...args));
      },
      send: (channel: string, ...args: unknown[]) => void out.sent.push([channel, ...args]),
      on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => void heard.set(channel, [...(heard.get(channel) ?? []), listener]),
    },
  };
  const sandboxRequire = (name: string): unknown => {
    out.required.push(name);
    if (name === 'electron') return electron;
    throw new Error(`A sandboxed preload cannot require ${name}.`);
  };
  const wrapped = new Script(`(function (require, process, Buffer, global, setImmediate, clearImmediate, exports, module) {\n${code}\n})`);
  const run = wrapped.runInContext(createContext({})) as (...args: unknown[]) => void;
  const exports = {};
  run(sandboxRequire, { argv: ['/app/gatehouse', '--type=renderer', ...argv] }, undefined, {}, undefined, undefined, exports, { exports });
  return out;
}

describe('the preload', () => {
  it("requires only 'electron' and exposes only window.gatehouse = { invoke, subscribe }", async () => {
    const p = await runPreload(preloadArguments());
    expect(p.required).toEqual(['electron']);
    expect([...p.exposed.keys()]).toEqual(['gatehouse']);
    expect(Object.keys(p.exposed.get('gatehouse') as object).sort()).toEqual(['invoke', 'subscribe']);
  });

  it('forwards calls of the routes the main process named, and answers unknown names itself', async () => {
    const p = await runPreload(preloadArguments());
    const bridge = p.exposed.get('gatehouse') as GatehouseBridge;
    expect(await bridge.invoke('listServers', {})).toEqual({ ok: true, value: 1 });
    expect(await bridge.invoke('stop', { name: 'a' })).toEqual({ ok: true, value: 1 });
    expect(await bridge.invoke('eval', {})).toEqual({ ok: false, status: 404, error: { code: 'not_found', message: 'No API route eval.' } });
    expect(await bridge.invoke('__proto__', {})).toMatchObject({ ok: false, status: 404 });
    expect(p.invoked).toEqual([
      [IPC_CHANNELS.invoke, 'listServers', {}],
      [IPC_CHANNELS.invoke, 'stop', { name: 'a' }],
    ]);
    // Without the main process's list, nothing crosses.
    const bare = await runPreload([]);
    expect(await (bare.exposed.get('gatehouse') as GatehouseBridge).invoke('listServers', {})).toMatchObject({ ok: false, status: 404 });
    expect(bare.invoked).toEqual([]);
  });

  it('subscribes by id, delivers only its own events (never the IPC event object), and unsubscribes once', async () => {
    const p = await runPreload(preloadArguments());
    const bridge = p.exposed.get('gatehouse') as GatehouseBridge;
    const a: unknown[][] = [];
    const b: unknown[][] = [];
    const stopA = bridge.subscribe('events', {}, (...args) => a.push(args));
    bridge.subscribe('followLogs', { server: 's' }, (...args) => b.push(args), (...args) => b.push(['end', ...args]));
    expect(p.sent).toEqual([
      [IPC_CHANNELS.subscribe, 1, 'events', {}],
      [IPC_CHANNELS.subscribe, 2, 'followLogs', { server: 's' }],
    ]);
    p.deliver(IPC_CHANNELS.event, 1, { type: 'clients', clients: [] });
    p.deliver(IPC_CHANNELS.event, 2, { id: 9 });
    p.deliver(IPC_CHANNELS.event, 3, { stray: true });
    p.deliver(IPC_CHANNELS.end, 2, null);
    p.deliver(IPC_CHANNELS.event, 2, { id: 10 });
    expect(a).toEqual([[{ type: 'clients', clients: [] }]]);
    expect(b).toEqual([[{ id: 9 }], ['end', undefined]]);
    stopA();
    stopA();
    expect(p.sent.slice(2)).toEqual([[IPC_CHANNELS.unsubscribe, 1]]);
    // An unknown stream never crosses: it ends at once.
    const ends: unknown[] = [];
    bridge.subscribe('shell', {}, () => {}, (f) => ends.push(f));
    expect(ends).toEqual([{ status: 404, error: { code: 'not_found', message: 'No API stream shell.' } }]);
    expect(p.sent).toHaveLength(3);
  });

  it('carries the typed client end to end: transport → preload → main-side stream host → core', async () => {
    // The "main process": invoke answers from a table; subscribe goes through the real stream host.
    const coreSubs: { onEvent: (e: unknown) => void; onEnd?: (f?: IpcFailure) => void; stopped: boolean }[] = [];
    const host = new IpcStreamHost({
      subscribe: (_name, _input, onEvent, onEnd) => {
        const s = { onEvent, onEnd, stopped: false };
        coreSubs.push(s);
        return () => void (s.stopped = true);
      },
    });
    const p = await runPreload(preloadArguments(), (_channel, name) => (name === 'getServer' ? { ok: false, ...notFound } : { ok: true, value: [] }));
    const window = { id: 1, send: (channel: string, ...args: unknown[]) => p.deliver(channel, ...args) };
    const api = createApiClient(ipcTransport(p.exposed.get('gatehouse') as GatehouseBridge));
    expect(await api.listServers()).toEqual([]);
    await expect(api.getServer({ name: 'x' })).rejects.toMatchObject({ code: 'not_found', hint: { action: 'list-servers' } });

    const ac = new AbortController();
    const seen: unknown[] = [];
    const done = api.follow('events', {}, (e) => seen.push(e), ac.signal);
    const [, id, name, input] = p.sent[0]!;
    host.subscribe(window, id, name, input);
    coreSubs[0]!.onEvent({ type: 'server-removed', name: 'a' });
    expect(seen).toEqual([{ type: 'server-removed', name: 'a' }]);
    ac.abort();
    await done;
    const [channel, unsubscribedId] = p.sent[1]!;
    expect(channel).toBe(IPC_CHANNELS.unsubscribe);
    host.unsubscribe(window.id, unsubscribedId);
    expect(coreSubs[0]!.stopped).toBe(true);
    expect(host.count(1)).toBe(0);
  });
});
