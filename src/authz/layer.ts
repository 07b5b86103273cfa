import { sendJson } from '../proxy/http-util.js';
import { ErrorCodes, isRequest, type JsonRpcId, type JsonRpcMessage } from '../proxy/jsonrpc.js';
import type { Middleware, ProxyContext } from '../proxy/middleware.js';
import type { ProxyLog } from '../proxy/types.js';
import type { McpAuthorizer } from './authorizer.js';
import { filterListResponse, LIST_FILTER_FAILURE_MESSAGE, type ListKind } from './list-filter.js';
import { filterEventStream } from './stream-filter.js';

const FEATURE_OF = { tools: 'tool', prompts: 'prompt', resources: 'resource' } as const satisfies Record<ListKind, string>;
const LIST_KIND = { tool: 'tools', prompt: 'prompts', resource: 'resources' } as const satisfies Record<string, ListKind>;

const LEGACY_MESSAGES_PATH = '/messages';

/** A list answer with only the items the caller may use; anything unexpected fails closed. */
function filterAnswer(
  answer: JsonRpcMessage,
  kind: ListKind,
  keep: (item: Record<string, unknown>) => boolean,
  onItems: ((items: Record<string, unknown>[]) => void) | undefined,
  log: ProxyLog,
): JsonRpcMessage {
  if ('error' in answer) return answer;
  const result = 'result' in answer ? (answer.result as Record<string, unknown>) : undefined;
  const items = result?.[kind];
  if (!result || !Array.isArray(items) || !items.every((i) => typeof i === 'object' && i !== null && !Array.isArray(i))) {
    log('error', `A ${kind}/list answer could not be checked against the authorization policies (no ${kind} array); the client gets an error instead.`);
    return { jsonrpc: '2.0', id: (answer as { id: JsonRpcId }).id, error: { code: ErrorCodes.InternalError, message: LIST_FILTER_FAILURE_MESSAGE } };
  }
  const list = items as Record<string, unknown>[];
  onItems?.(list);
  return { ...answer, result: { ...result, [kind]: list.filter(keep) } } as JsonRpcMessage;
}

/** ToolHive's denial: HTTP 403 with a JSON-RPC error that never names what was denied. */
function deny(ctx: ProxyContext, id: JsonRpcId | null, reason: string, policies: string[] = []): void {
  ctx.authz = { decision: 'deny', policies, reason };
  sendJson(ctx.res, 403, { jsonrpc: '2.0', id, error: { code: 403, message: 'Unauthorized' } });
}

/**
 * Authorization, after authentication: every MCP request is decided by the server's Cedar policies
 * (read per request, so a policy change applies to the next request), lists are filtered on the way
 * back. No authorizer for the server means no authorization configured (ToolHive: everything passes).
 */
export function authorizationLayer(authorizer: () => McpAuthorizer | { failure: string } | undefined, log: ProxyLog): Middleware {
  return async (ctx, next) => {
    const az = authorizer();
    if (az === undefined) return next();
    if ('failure' in az) {
      // Broken settings close the server rather than open it.
      deny(ctx, ctx.messages?.find(isRequest)?.id ?? null, az.failure);
      return;
    }
    if (ctx.req.method === 'GET') {
      // Event streams can carry list answers too (legacy SSE, Last-Event-ID replays): filter them there.
      const principal = ctx.identity ? az.principal(ctx.identity) : undefined;
      filterEventStream(ctx.res, (kind, item) => az.mayUse(principal, FEATURE_OF[kind], item));
      return next();
    }
    const messages = ctx.messages;
    if (ctx.req.method !== 'POST' || !messages) return next();
    const firstId = messages.find(isRequest)?.id ?? null;
    let listFeature: { feature: keyof typeof LIST_KIND; id: JsonRpcId } | undefined;
    const permitted: string[] = [];
    for (const m of messages) {
      const v = az.verdict(m as { method?: string; params?: Record<string, unknown> }, ctx.identity);
      const id = isRequest(m) ? m.id : firstId;
      if (v.kind === 'deny') {
        deny(ctx, id, v.reason);
        return;
      }
      if (v.kind === 'decided') {
        if (!v.allowed) {
          log('warn', `authorization denied: ${'method' in m ? m.method : ''} (${v.reason})`, {
            subject: ctx.identity?.subject,
            policies: v.decision.reasons,
            errors: v.decision.errors.map((e) => `${e.policy}: ${e.message}`),
          });
          deny(ctx, id, v.reason, v.decision.reasons);
          return;
        }
        permitted.push(...v.decision.reasons);
      }
      if (v.kind === 'filter') {
        if (listFeature || !isRequest(m)) {
          // One filtered list per HTTP request: a batch asking for two cannot be checked, so it fails closed.
          deny(ctx, id, 'a batch with more than one list request cannot be filtered');
          return;
        }
        listFeature = { feature: v.feature, id: m.id };
      }
    }
    ctx.authz = { decision: 'allow', policies: [...new Set(permitted)] };
    if (listFeature) {
      const { feature, id } = listFeature;
      const principal = ctx.identity ? az.principal(ctx.identity) : undefined;
      if (ctx.url.pathname === LEGACY_MESSAGES_PATH) {
        // Legacy SSE answers on the GET stream, not on this response: the front rewrites the answer there.
        ctx.answerTransform = { id, apply: (answer) => filterAnswer(answer, LIST_KIND[feature], (item) => az.mayUse(principal, feature, item), (items) => az.learn(feature, items), log) };
        return next();
      }
      filterListResponse(
        ctx.res,
        {
          kind: LIST_KIND[feature],
          requestId: id,
          keep: (item) => az.mayUse(principal, feature, item),
          onItems: (items: Record<string, unknown>[]) => az.learn(feature, items),
        },
        (message) => log('error', message),
      );
    }
    return next();
  };
}
