import type { CallerIdentity } from '../proxy/middleware.js';
import type { AuthzConfig } from './config.js';
import { PolicyEngine, type Decision } from './engine.js';
import {
  ALWAYS_ALLOWED_METHODS,
  AUTHORIZED_METHODS,
  FILTERED_LIST_METHODS,
  UNFILTERED_LIST_METHODS,
  cedarRequestOf,
  principalOf,
  type FeatureRequest,
  type McpFeature,
  type Principal,
} from './entities.js';

/** What the proxy does with one JSON-RPC message from a client. */
export type MessageVerdict =
  | { kind: 'allow'; why: 'always-allowed' | 'response' | 'unfiltered-list' }
  | { kind: 'filter'; feature: McpFeature }
  | { kind: 'decided'; allowed: boolean; decision: Decision; feature: McpFeature; name: string; reason: string }
  | { kind: 'deny'; reason: string };

const MAX_ANNOTATED_TOOLS = 10_000;

/** Tool, prompt or resource name of a request, as the Cedar resource id. */
function targetOf(feature: McpFeature, params: Record<string, unknown> | undefined): string | undefined {
  const key = feature === 'resource' ? 'uri' : 'name';
  const v = params?.[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * MCP-level authorization for one server: maps messages onto ToolHive's Cedar model, asks the engine,
 * remembers tool annotations from the server's tools/list answers, and builds list filters.
 */
export class McpAuthorizer {
  readonly engine: PolicyEngine;
  /** Tool annotations (readOnlyHint, ...) learned from tools/list, per tool name. */
  private readonly annotations = new Map<string, Record<string, unknown>>();
  private readonly principals = new WeakMap<object, Principal | null>();

  constructor(
    config: AuthzConfig | PolicyEngine,
    readonly serverName: string,
  ) {
    this.engine = config instanceof PolicyEngine ? config : new PolicyEngine(config);
  }

  /** Per caller, cached on the identity's claims object (the token cache hands out the same object). */
  principal(identity: CallerIdentity): Principal | undefined {
    const cached = this.principals.get(identity.claims);
    if (cached !== undefined) return cached ?? undefined;
    const p = principalOf(identity.claims, this.engine.options);
    this.principals.set(identity.claims, p ?? null);
    return p;
  }

  /** Decides one operation; ToolHive denies whenever evaluation reported an error. */
  decide(principal: Principal, op: FeatureRequest): { allowed: boolean; decision: Decision } {
    const annotated = op.feature === 'tool' && !op.annotations ? { ...op, annotations: this.annotations.get(op.name) } : op;
    const { request, entities } = cedarRequestOf(principal, annotated, this.serverName);
    const decision = this.engine.decide(request, entities);
    return { allowed: decision.decision === 'allow' && decision.errors.length === 0, decision };
  }

  verdict(message: { method?: string; params?: Record<string, unknown> }, identity: CallerIdentity | undefined): MessageVerdict {
    const method = message.method;
    if (method === undefined) return { kind: 'allow', why: 'response' };
    if (ALWAYS_ALLOWED_METHODS.has(method)) return { kind: 'allow', why: 'always-allowed' };
    if (UNFILTERED_LIST_METHODS.has(method)) return { kind: 'allow', why: 'unfiltered-list' };
    const listed = FILTERED_LIST_METHODS[method];
    if (listed) return { kind: 'filter', feature: listed };
    const feature = AUTHORIZED_METHODS[method];
    if (!feature) return { kind: 'deny', reason: `method ${method} is not one Gatehouse authorizes (denied by default)` };
    const name = targetOf(feature, message.params);
    if (name === undefined) return { kind: 'deny', reason: `${method} without a ${feature === 'resource' ? 'uri' : 'name'}` };
    const principal = identity ? this.principal(identity) : undefined;
    if (!principal) return { kind: 'deny', reason: 'the caller has no subject (sub) claim' };
    const args = feature === 'resource' ? undefined : message.params?.['arguments'];
    const { allowed, decision } = this.decide(principal, { feature, name, arguments: args });
    const reason = allowed
      ? `permitted by ${decision.reasons.join(', ')}`
      : decision.errors.length > 0
        ? `evaluation error in ${decision.errors.map((e) => e.policy).join(', ')}`
        : decision.reasons.length > 0
          ? `forbidden by ${decision.reasons.join(', ')}`
          : 'no policy permits it';
    return { kind: 'decided', allowed, decision, feature, name, reason };
  }

  /** Whether the caller may use one item of a list answer (no arguments, as ToolHive checks it). */
  mayUse(principal: Principal | undefined, feature: McpFeature, item: Record<string, unknown>): boolean {
    if (!principal) return false;
    const name = feature === 'resource' ? item['uri'] : item['name'];
    if (typeof name !== 'string') return false;
    const annotations = feature === 'tool' && typeof item['annotations'] === 'object' && item['annotations'] !== null ? (item['annotations'] as Record<string, unknown>) : undefined;
    return this.decide(principal, { feature, name, ...(annotations ? { annotations } : {}) }).allowed;
  }

  learnTools(items: readonly Record<string, unknown>[]): void {
    for (const item of items) {
      const name = item['name'];
      const ann = item['annotations'];
      if (typeof name !== 'string') continue;
      if (typeof ann === 'object' && ann !== null) this.annotations.set(name, ann as Record<string, unknown>);
      else this.annotations.delete(name);
      if (this.annotations.size > MAX_ANNOTATED_TOOLS) this.annotations.delete(this.annotations.keys().next().value as string);
    }
  }
}
