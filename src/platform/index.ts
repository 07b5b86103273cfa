// Small facts about the operating system that several modules need (no other folder's internals).
export { isProcessAlive } from './process-alive.js';
