export * from './browser.js';
export { ApiServer, type ApiServerOptions } from './server.js';
export { createHandlers, type ApiDeps, type Handlers } from './handlers.js';
export { createIpcApi, type IpcApi } from './ipc-binding.js';
export { ApiService, type ApiServiceOptions, type StreamStart } from './service.js';
export { CoreEvents } from './core-events.js';
export { APP_CSP, appPageCsp, SECURITY_HEADERS, STYLE_NONCE_PLACEHOLDER, StaticFiles } from './static-files.js';
