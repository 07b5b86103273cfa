export { CredentialsRefusedError, CredentialsUnavailableError, ReverseProxyBackend, type RemoteTarget, type ReverseTarget, type UpstreamCredentials } from './backend.js';
