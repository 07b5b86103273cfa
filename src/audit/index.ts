export {
  AUDIT_EVENT_TYPES,
  AUTH_SERVER_EVENT_TYPES,
  AuditConfigSchema,
  AuditConfigError,
  DEFAULT_AUDIT_COMPONENT,
  defaultAuditConfig,
  parseAuditConfig,
  shouldAuditEventType,
  type AuditConfig,
  type AuditConfigInput,
  type AuditEventType,
  type AuditOutcome,
  type AuditTargetType,
  type AuthServerEventType,
} from './config.js';
export { buildAuditEvent, classifyRequest, clientIp, auditOutcome, eventTypeForMethod, shouldAuditRequest, type AuditEvent, type AuditEventInput, type ApplicationError } from './event.js';
export { auditLayer, type AuditLayerOptions } from './layer.js';
export { AuditFileWriter, formatAuditLine, type AuditFileWriterOptions } from './file-writer.js';
export { buildSignInEvent, signInEventMessage, type SignInEventInput } from './sign-in-event.js';
