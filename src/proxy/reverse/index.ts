export { ReverseProxyBackend, type ReverseTarget } from './backend.js';
