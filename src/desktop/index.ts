/**
 * The desktop shell's decisions, as plain models: electron/main.ts maps them onto Electron (window
 * security, IPC, notifications, login items) and the tests check them here. No Electron import.
 */
export * from './app-origin.js';
export * from './ipc-streams.js';
export * from './notifications.js';
export * from './login-item.js';
export * from './preload-args.js';
export * from './core-takeover.js';
