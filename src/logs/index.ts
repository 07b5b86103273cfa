export { LogSink, DEFAULT_RETENTION } from './log-sink.js';
export { matchesLogFilter } from './log-filter.js';
