import type { McpFeature, ParsedMessage } from '../mcp/index.js';
import type { CallerIdentity } from '../proxy/pipeline/index.js';
import type { AuthzConfig } from './config.js';
import { PolicyEngine, type Decision } from './engine.js';
import { ToolKnowledge } from './tool-knowledge.js';
import { TOOL_ANNOTATION_HINTS, cedarRequestOf, principalOf, type FeatureRequest, type Principal } from './entities.js';

/** What the proxy does with one JSON-RPC message from a client. */
export type MessageVerdict =
  | { kind: 'allow'; why: 'protocol' | 'response' | 'unfiltered-list' | 'filtered-list' }
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

function reasonOf(allowed: boolean, decision: Decision): string {
  if (allowed) return `permitted by ${decision.reasons.join(', ')}`;
  if (decision.errors.length > 0) return `evaluation error in ${decision.errors.map((e) => e.policy).join(', ')}`;
  return decision.reasons.length > 0 ? `forbidden by ${decision.reasons.join(', ')}` : 'no policy permits it';
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
    /** The policy set and version this authorizer decides with (recorded with each decision). */
    readonly source?: { set: string; version: number },
  ) {
    this.engine = config instanceof PolicyEngine ? config : new PolicyEngine(config);
  }

  /** Per caller, cached on the identity's claims object (the token cache hands out the same object). */
  principal(identity: CallerIdentity): Principal | undefined {
    const cached = this.principals.get(identity.claims);
    if (cached !== undefined) return cached ?? undefined;
    this.knowledge.learnClaims(Object.keys(identity.claims));
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

  /**
   * Decides one message of a request, on the parsed message (its method's entry in the method table,
   * its target, its arguments): what the proxy then forwards is exactly what was decided on.
   */
  verdict(message: ParsedMessage, identity: CallerIdentity | undefined): MessageVerdict {
    if (message.kind === 'response') return { kind: 'allow', why: 'response' };
    const spec = message.spec;
    if (!spec) return { kind: 'deny', reason: `method ${message.method ?? ''} is not one Gatehouse authorizes (denied by default)` };
    const a = spec.authorization;
    switch (a.kind) {
      case 'protocol':
        return { kind: 'allow', why: 'protocol' };
      case 'unfiltered-list':
        return { kind: 'allow', why: 'unfiltered-list' };
      case 'list':
        return { kind: 'allow', why: 'filtered-list' };
      case 'listen':
        return this.listenVerdict(message, identity);
      case 'feature': {
        const name = message.target;
        if (name === undefined) return { kind: 'deny', reason: `${spec.method} without a ${spec.target ?? 'target'}` };
        const principal = identity ? this.principal(identity) : undefined;
        if (!principal) return { kind: 'deny', reason: 'the caller has no subject (sub) claim' };
        const { allowed, decision } = this.decide(principal, { feature: a.feature, name, arguments: a.feature === 'resource' ? undefined : message.arguments });
        return { kind: 'decided', allowed, decision, feature: a.feature, name, reason: reasonOf(allowed, decision) };
      }
    }
  }

  /**
   * subscriptions/listen subscribes to resources: each URI is a read_resource, decided like
   * resources/subscribe would be. One denied URI denies the request (nothing says which).
   */
  private listenVerdict(message: ParsedMessage, identity: CallerIdentity | undefined): MessageVerdict {
    const filter = message.params?.['notifications'];
    const uris = typeof filter === 'object' && filter !== null && !Array.isArray(filter) ? (filter as Record<string, unknown>)['resourceSubscriptions'] : undefined;
    if (uris === undefined) return { kind: 'allow', why: 'protocol' };
    if (!Array.isArray(uris) || !uris.every((u): u is string => typeof u === 'string')) return { kind: 'deny', reason: 'subscriptions/listen with resource subscriptions that are not URIs' };
    if (uris.length === 0) return { kind: 'allow', why: 'protocol' };
    const principal = identity ? this.principal(identity) : undefined;
    if (!principal) return { kind: 'deny', reason: 'the caller has no subject (sub) claim' };
    let last: MessageVerdict = { kind: 'allow', why: 'protocol' };
    for (const uri of uris) {
      const { allowed, decision } = this.decide(principal, { feature: 'resource', name: uri });
      last = { kind: 'decided', allowed, decision, feature: 'resource', name: uri, reason: reasonOf(allowed, decision) };
      if (!allowed) return last;
    }
    return last;
  }

  /** Whether the caller may read a resource (an update notice of it reaches only such callers). */
  mayRead(principal: Principal | undefined, uri: string): boolean {
    return principal !== undefined && this.decide(principal, { feature: 'resource', name: uri }).allowed;
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
    else this.knowledge.learnResources(items);
  }
}

/** One authorizer kept alive, for its map: see keptInstances in evaluator.ts (exported only so that it stays). */
export const keptAuthorizer = new McpAuthorizer({ version: '1.0', type: 'cedarv1', cedar: { policies: [] } }, '');
