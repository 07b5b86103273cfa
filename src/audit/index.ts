export {
  AUDIT_EVENT_TYPES,
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
} from './config.js';
export { buildAuditEvent, classifyRequest, clientIp, auditOutcome, eventTypeForMethod, shouldAuditRequest, type AuditEvent, type AuditEventInput, type ApplicationError } from './event.js';
export { auditLayer, type AuditLayerOptions } from './layer.js';
export { AuditFileWriter, formatAuditLine, type AuditFileWriterOptions } from './file-writer.js';
