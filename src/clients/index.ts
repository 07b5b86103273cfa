export { CLIENTS, findClient, type ClientSpec, type Platform, type PathSpec, type UrlEntryStyle, type StdioEntryStyle } from './catalog.js';
export { configFileOf, currentUserEnvironment, detectDirOf, resolvePathSpec, type UserEnvironment } from './paths.js';
export { entryFor, proxyUrl, signsInForCallers, type BridgeLauncher, type ServerEndpoint } from './entries.js';
export { electronBridgeLauncher, gatehouseBin, nodeBridgeLauncher } from './launcher.js';
export { sameEntry, syncDocument, type OwnedEntry, type SyncResult } from './sync.js';
