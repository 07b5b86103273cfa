export * from './menu-model.js';
