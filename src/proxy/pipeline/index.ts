export { compose, type ProxyContext, type CallerIdentity, type AuthzMark, type DecidedOperation, type Middleware, type Next } from './context.js';
export { ResponseTap, type OutgoingMessage, type MessageTransform, type MessageObserver } from './response-tap.js';
export { requestGuard, unsupportedContentType, MCP_HTTP_METHODS } from './request-guard.js';
export { PublicRoutes, type PublicRouteHandler } from './public-routes.js';
export { sendMessages, writeMessageEvent, type AnswersOf } from './write.js';
