import type { CallerIdentity } from '../proxy/middleware.js';
import type { AuthzConfig } from './config.js';
import { PolicyEngine, type Decision } from './engine.js';
import { ToolKnowledge } from './tool-knowledge.js';
import {
  ALWAYS_ALLOWED_METHODS,
  AUTHORIZED_METHODS,
  FILTERED_LIST_METHODS,
  TOOL_ANNOTATION_HINTS,
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

/**
 * A number per Principal object, for decision-cache keys: a principal is built once per caller's
 * claims (and never changed), so the object stands for its uid, entity and claims. Two objects never
 * share a number, even with equal contents (that only costs a cache miss).
 */
const principalNumbers = new WeakMap<Principal, number>();
let lastPrincipalNumber = 0;

function principalNumber(p: Principal): number {
  let n = principalNumbers.get(p);
  if (n === undefined) {
    n = ++lastPrincipalNumber;
    principalNumbers.set(p, n);
  }
  return n;
}

/**
 * The arguments as argumentAttributes reads them: each top-level entry in order, its name and what
 * decides its attribute (a string's or boolean's value, a number's value, or only that it is
 * something else). Each token is self-delimiting, so equal keys mean equal entries, hence equal
 * attributes (unequal keys may still give equal attributes: only a cache miss).
 */
function argumentsKey(args: unknown): string {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return '';
  let out = '';
  for (const name in args) {
    if (!Object.hasOwn(args, name)) continue;
    const value = (args as Record<string, unknown>)[name];
    out += JSON.stringify(name);
    switch (typeof value) {
      case 'string':
        out += `s${JSON.stringify(value)}`;
        break;
      case 'boolean':
        out += value ? 't' : 'f';
        break;
      case 'number':
        out += `n${String(value)};`;
        break;
      default:
        out += 'o';
    }
  }
  return out;
}

/** A tool's annotation hints as cedarRequestOf reads them (booleans only): one of t, f, - per hint. */
function hintsOf(annotations: Readonly<Record<string, unknown>>): string {
  let out = '';
  for (const hint of TOOL_ANNOTATION_HINTS) {
    const v = annotations[hint];
    out += v === true ? 't' : v === false ? 'f' : '-';
  }
  return out;
}

/** Tool, prompt or resource name of a request, as the Cedar resource id. */
function targetOf(feature: McpFeature, params: Record<string, unknown> | undefined): string | undefined {
  const key = feature === 'resource' ? 'uri' : 'name';
  const v = params?.[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * MCP-level authorization for one server: maps messages onto ToolHive's Cedar model, asks the engine,
 * reads tool annotations from what the server said in its lists (ToolKnowledge), and builds list filters.
 */
export class McpAuthorizer {
  readonly engine: PolicyEngine;
  private readonly principals = new WeakMap<object, Principal | null>();

  constructor(
    config: AuthzConfig | PolicyEngine,
    readonly serverName: string,
    /** What the server said in its lists; shared by the server's successive authorizers (see ToolKnowledge). */
    readonly knowledge: ToolKnowledge = new ToolKnowledge(),
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
    const annotated = op.feature === 'tool' && !op.annotations ? { ...op, annotations: this.knowledge.annotationsOf(op.name) } : op;
    const decision = this.engine.decideKeyed(this.cacheKey(principal, annotated), () => cedarRequestOf(principal, annotated, this.serverName));
    return { allowed: decision.decision === 'allow' && decision.errors.length === 0, decision };
  }

  /**
   * The decision-cache key of what cedarRequestOf builds from these: everything it reads (the
   * principal, the server, the feature and name, the arguments of a tool or prompt, a tool's boolean
   * annotation hints) and nothing else, so equal keys mean equal requests. Far cheaper than the
   * engine's own key (the JSON of the request and its entities, claims included).
   */
  cacheKey(principal: Principal, op: FeatureRequest): string {
    const hints = op.feature === 'tool' && op.annotations ? hintsOf(op.annotations) : '';
    const args = op.feature === 'resource' ? '' : argumentsKey(op.arguments);
    // Number, feature and hints never hold a space; the two JSON strings and the arguments delimit themselves.
    return `\u0001${principalNumber(principal)} ${op.feature} ${hints} ${JSON.stringify(this.serverName)}${JSON.stringify(op.name)}${args}`;
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

  /** Takes note of a server's whole list answer (before filtering): tool annotations, argument names. */
  learn(feature: McpFeature, items: readonly Record<string, unknown>[]): void {
    if (feature === 'tool') this.knowledge.learnTools(items);
    else if (feature === 'prompt') this.knowledge.learnPrompts(items);
  }
}

/** One authorizer kept alive, for its map: see keptInstances in evaluator.ts (exported only so that it stays). */
export const keptAuthorizer = new McpAuthorizer({ version: '1.0', type: 'cedarv1', cedar: { policies: [] } }, '');
