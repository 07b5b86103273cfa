/** What the renderer may import: the contract, the route map and the client. Nothing Node-only. */
export * from './contract.js';
export * from './routes.js';
export * from './client.js';
export * from './ipc-transport.js';
