export { ProxyServer, PortInUseError, type ProxyServerOptions } from './proxy-server.js';
export { StdioBackend, type StdioStreams } from './stdio/backend.js';
export { StdioMultiplexer, MuxSession, type InitializeResult } from './stdio/multiplexer.js';
export { CredentialsRefusedError, CredentialsUnavailableError, ReverseProxyBackend, type RemoteTarget, type ReverseTarget, type UpstreamCredentials } from './reverse/index.js';
export * from './pipeline/index.js';
export type { McpBackend, ProxyLog, ProxyLogLevel } from './types.js';
export { MAX_BODY_BYTES, isAllowedHost, isAllowedOrigin } from './http-util.js';
