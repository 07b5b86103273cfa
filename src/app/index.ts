export { startCore, type Core, type CoreOptions } from './core.js';
export { ServerManager, type RunRequest } from './server-manager.js';
export { readDiscovery, isProcessAlive, type Discovery } from './discovery.js';
export { CoreAlreadyRunningError, lockHolder } from './core-lock.js';
export * from './errors.js';
export { VERSION } from './version.js';
export { DEFAULT_HEALTH_CHECK, HealthMonitor, type HealthCheckSettings } from './health-monitor.js';
