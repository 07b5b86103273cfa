export * from './browser.js';
export { ApiServer, type ApiServerOptions } from './server.js';
export { createHandlers, type ApiDeps, type Handlers } from './handlers.js';
export { createIpcDispatcher, type IpcResult } from './ipc-binding.js';
export { CoreEvents } from './core-events.js';
