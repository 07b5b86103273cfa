export * from './jsonrpc.js';
export { parseStrictJson, decodeUtf8Strict, foldName, StrictJsonError, MAX_JSON_DEPTH, type StrictJsonProblem } from './strict-json.js';
export {
  methodSpec,
  knownMethods,
  filteredListOf,
  auditTypeOf,
  auditNameOf,
  LIST_FEATURES,
  type McpFeature,
  type ListKind,
  type McpMethodSpec,
  type MethodAuthorization,
  type McpAuditType,
} from './methods.js';
export { parseBody, parseFrame, frameOf, frameOfMessages, ParsedFrame, McpFrameError, type ParsedMessage } from './parsed.js';
export { decodeHeaderValue, encodeHeaderValue, wireHeaderMismatch, wireHeadersFor } from './wire-headers.js';
