// Remote MCP servers: how Gatehouse reaches and signs in to them (issue 13). Browser-safe.
export { ForwardHeaderSchema, RemoteSettingsSchema, remoteCredentialKind, type RemoteSettings, type RemoteSettingsInput } from './settings.js';
