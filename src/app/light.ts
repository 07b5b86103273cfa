// The light entry of src/app, for the command line and the stdio bridge: finding a running core (its
// discovery file and lock) and the version, without loading the core itself. `index.ts` re-exports
// the composition root (startCore: dockerode, better-sqlite3, cedar-wasm, keytar, the proxies), which
// costs most of a second to load; every `gatehouse ls` and every bridge a client starts paid for it.
// Only small modules here, please: what this file imports, every command loads.
export { readDiscovery, isProcessAlive, type Discovery } from './discovery.js';
export { CoreAlreadyRunningError, lockHolder } from './core-lock.js';
export { VERSION } from './version.js';
