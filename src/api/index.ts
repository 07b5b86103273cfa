export * from './contract.js';
export { ApiClient, ApiError } from './client.js';
export { ApiServer, type ApiDeps } from './server.js';
