export * from './engine.js';
export * from './permissions.js';
export * from './container-spec.js';
export * from './containers.js';
