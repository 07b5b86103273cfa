export { LogSink, DEFAULT_RETENTION } from './log-sink.js';
