// Server kinds: what runs behind a proxy (a container, or a remote server).
export { ContainerKind, INSTANCE_LABEL, type ContainerKindDeps, type ContainerSettings } from './container-kind.js';
export { checkRemoteUrl, RemoteKind, remoteSettingsOf, type RemoteKindDeps } from './remote-kind.js';
export type { Definition, Running, ServerKind } from './server-kind.js';
