import { ErrorCodes, errorResponse, filteredListOf, LIST_FEATURES, type JsonRpcId, type JsonRpcMessage, type ListKind, type McpFeature } from '../mcp/index.js';
import { sendJson } from '../proxy/http-util.js';
import type { DecidedOperation, Middleware, OutgoingMessage, ProxyContext } from '../proxy/pipeline/index.js';
import type { ProxyLog } from '../proxy/types.js';
import type { McpAuthorizer } from './authorizer.js';
import { filterListAnswer } from './list-filter.js';

type AuthorizerState = McpAuthorizer | { failure: string } | undefined;

const LIST_KINDS: readonly ListKind[] = ['tools', 'prompts', 'resources'];
const UNAVAILABLE = 'Authorization is unavailable for this server, so its answer was not passed on.';

/** ToolHive's denial: HTTP 403 with a JSON-RPC error that never names what was denied. */
function deny(ctx: ProxyContext, id: JsonRpcId | null, reason: string, policies: string[] = [], decided?: DecidedOperation[], source?: McpAuthorizer['source']): void {
  ctx.authz = { decision: 'deny', policies, reason, ...(decided?.length ? { decided } : {}), ...(source ? { source } : {}) };
  sendJson(ctx.res, 403, { jsonrpc: '2.0', id, error: { code: 403, message: 'Unauthorized' } });
}

/**
 * The response half: every message written to this request's client passes here, decided with the
 * policies in force when it is written (a stream opened an hour ago gets today's policies). List
 * answers are filtered to what the caller may use (by the method they answer, or, when the writer
 * cannot know it, by the lists the result carries), and update notices of resources the caller may
 * not read are dropped.
 */
function responseTransform(ctx: ProxyContext, authorizer: () => AuthorizerState, log: ProxyLog) {
  return (out: OutgoingMessage): JsonRpcMessage | undefined => {
    const az = authorizer();
    if (az === undefined) return out.message;
    const m = out.message;
    if ('failure' in az) {
      // Broken settings close the server: nothing it says reaches the caller.
      return 'result' in m ? errorResponse(m.id, ErrorCodes.InternalError, UNAVAILABLE) : 'error' in m ? m : undefined;
    }
    const principal = ctx.identity ? az.principal(ctx.identity) : undefined;
    if ('result' in m) {
      const filterAs = (kind: ListKind, feature: McpFeature, answer: JsonRpcMessage) =>
        filterListAnswer(
          answer,
          kind,
          { keep: (item) => az.mayUse(principal, feature, item), onItems: (items) => az.learn(feature, items) },
          (why) => log('error', `A ${kind} list answer failed closed (${why}); the client gets an error instead.`),
        );
      const listed = filteredListOf(out.answers);
      if (listed) return filterAs(listed.list, listed.feature, m);
      if (out.answers !== undefined) return m;
      // The request is unknown (an answer on a long-lived stream): whatever list it carries is filtered.
      let answer: JsonRpcMessage = m;
      for (const kind of LIST_KINDS) if (Object.hasOwn(m.result, kind)) answer = filterAs(kind, LIST_FEATURES[kind], answer);
      return answer;
    }
    if ('method' in m && m.method === 'notifications/resources/updated') {
      const uri = m.params?.['uri'];
      return typeof uri === 'string' && az.mayRead(principal, uri) ? m : undefined;
    }
    return m;
  };
}

/**
 * Authorization, after authentication: every MCP request is decided by the server's Cedar policies
 * (read per request, so a policy change applies to the next request), and every message on the way
 * back passes the response transform above. No authorizer for the server means no authorization
 * configured (ToolHive: everything passes).
 */
export function authorizationLayer(authorizer: () => AuthorizerState, log: ProxyLog): Middleware {
  return async (ctx, next) => {
    // Registered whatever the state now: a policy attached while a stream is open applies to it at once.
    ctx.tap.addTransform(responseTransform(ctx, authorizer, log));
    const az = authorizer();
    if (az === undefined) return next();
    const messages = ctx.request?.messages ?? [];
    const firstId = messages.find((m) => m.kind === 'request')?.id ?? null;
    if ('failure' in az) {
      // Broken settings close the server rather than open it.
      deny(ctx, firstId, az.failure);
      return;
    }
    const permitted: string[] = [];
    const decided: DecidedOperation[] = [];
    for (const m of messages) {
      const v = az.verdict(m, ctx.identity);
      const id = m.kind === 'request' ? (m.id ?? null) : firstId;
      if (v.kind === 'deny') {
        deny(ctx, id, v.reason, [], decided, az.source);
        return;
      }
      if (v.kind === 'decided') {
        const annotations = v.feature === 'tool' ? az.knowledge.annotationsOf(v.name) : undefined;
        decided.push({
          feature: v.feature,
          name: v.name,
          ...(v.feature !== 'resource' && m.arguments ? { arguments: m.arguments } : {}),
          ...(annotations ? { annotations } : {}),
          allowed: v.allowed,
          reasons: v.decision.reasons,
          errors: v.decision.errors.map((e) => e.policy),
        });
        if (!v.allowed) {
          log('warn', `authorization denied: ${m.method ?? ''} (${v.reason})`, {
            subject: ctx.identity?.subject,
            policies: v.decision.reasons,
            errors: v.decision.errors.map((e) => `${e.policy}: ${e.message}`),
          });
          deny(ctx, id, v.reason, v.decision.reasons, decided, az.source);
          return;
        }
        permitted.push(...v.decision.reasons);
      }
    }
    if (messages.length > 0) ctx.authz = { decision: 'allow', policies: [...new Set(permitted)], ...(decided.length ? { decided } : {}), ...(az.source ? { source: az.source } : {}) };
    return next();
  };
}
