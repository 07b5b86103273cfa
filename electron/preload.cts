// The window's preload: the one way the app's page reaches the core. A sandboxed preload runs as a single
// CommonJS script whose only module is 'electron' (no import of src/ at run time), so this file is a
// script (.cts, compiled to preload.cjs). What it knows about the API comes from the route map: its types
// from src/api/ipc-bridge.ts (the channels must equal IPC_CHANNELS or `tsc -p electron/tsconfig.json`
// fails), and the route and stream names from the main process, which derives them from src/api/routes.ts.
// It exposes exactly `window.gatehouse = { invoke, subscribe }` (src/api/ipc-bridge.ts) and nothing
// else: no ipcRenderer, no event objects, no Node. Names are checked here so an unknown one never
// crosses; the real gate is the main process, which checks the sender and validates every input.

type Bridge = import('../src/api/ipc-bridge.js', { with: { 'resolution-mode': 'import' } }).GatehouseBridge;
type BridgeFailure = import('../src/api/ipc-bridge.js', { with: { 'resolution-mode': 'import' } }).IpcFailure;
type BridgeResult = import('../src/api/ipc-bridge.js', { with: { 'resolution-mode': 'import' } }).IpcResult;
type Channels = (typeof import('../src/api/ipc-bridge.js', { with: { 'resolution-mode': 'import' } }))['IPC_CHANNELS'];

{
  const { contextBridge, ipcRenderer } = require('electron') as typeof import('electron');

  const CHANNELS = {
    invoke: 'gatehouse:invoke',
    subscribe: 'gatehouse:subscribe',
    unsubscribe: 'gatehouse:unsubscribe',
    event: 'gatehouse:event',
    end: 'gatehouse:end',
  } as const satisfies Channels;

  // The route and stream names, from the route map itself: the main process derives them from
  // src/api/routes.ts and hands them over as arguments of this renderer (src/desktop/preload-args.ts).
  const listed = (flag: string): Set<string> => {
    const arg = process.argv.find((a) => a.startsWith(`${flag}=`));
    return new Set(arg === undefined ? [] : arg.slice(flag.length + 1).split(',').filter((n) => n !== ''));
  };
  const routeNames = listed('--gatehouse-routes');
  const streamNames = listed('--gatehouse-streams');
  const notFound = (what: string, name: unknown): BridgeFailure => ({ status: 404, error: { code: 'not_found', message: `No API ${what} ${String(name)}.` } });

  interface Listener {
    onEvent: (event: unknown) => void;
    onEnd: ((failure?: BridgeFailure) => void) | undefined;
  }
  const listeners = new Map<number, Listener>();
  let nextId = 1;

  ipcRenderer.on(CHANNELS.event, (_event, id: unknown, payload: unknown) => {
    if (typeof id === 'number') listeners.get(id)?.onEvent(payload);
  });
  ipcRenderer.on(CHANNELS.end, (_event, id: unknown, failure: unknown) => {
    if (typeof id !== 'number') return;
    const listener = listeners.get(id);
    listeners.delete(id);
    listener?.onEnd?.(failure === undefined || failure === null ? undefined : (failure as BridgeFailure));
  });

  const bridge: Bridge = {
    invoke(route, input) {
      if (typeof route !== 'string' || !routeNames.has(route)) return Promise.resolve<BridgeResult>({ ok: false, ...notFound('route', route) });
      return ipcRenderer.invoke(CHANNELS.invoke, route, input) as Promise<BridgeResult>;
    },
    subscribe(stream, input, onEvent, onEnd) {
      if (typeof onEvent !== 'function') throw new TypeError('subscribe needs an event callback.');
      const end = typeof onEnd === 'function' ? onEnd : undefined;
      if (typeof stream !== 'string' || !streamNames.has(stream)) {
        end?.(notFound('stream', stream));
        return () => {};
      }
      const id = nextId++;
      listeners.set(id, { onEvent, onEnd: end });
      ipcRenderer.send(CHANNELS.subscribe, id, stream, input);
      return () => {
        if (listeners.delete(id)) ipcRenderer.send(CHANNELS.unsubscribe, id);
      };
    },
  };

  contextBridge.exposeInMainWorld('gatehouse', bridge);
}
