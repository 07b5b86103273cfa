import type { AuthzConfig } from './config.js';
import { formatPolicy, parsePolicies, policyId } from './cedar.js';
import { PolicyEngine, type Decision } from './engine.js';
import type { CedarEntity, CedarRequest } from './cedar-types.js';
import { cedarRequestOf, principalOf, type McpFeature } from './entities.js';

export { checkAuthzConfig, type CheckResult, type CheckOptions, type KnownArguments } from './policy-check.js';

/**
 * What the UI and the command line do with policies before they run: check (syntax, then Cedar's
 * validator against the MCP schema), format, and simulate a request.
 */

/** The same config with every policy in Cedar's canonical layout (refuses to format what does not parse). */
export function formatAuthzConfig(config: AuthzConfig): AuthzConfig {
  parsePolicies(config.cedar.policies);
  return { ...config, cedar: { ...config.cedar, policies: config.cedar.policies.map(formatPolicy) } };
}

export interface SimulationInput {
  claims: Record<string, unknown>;
  feature: McpFeature;
  /** Tool or prompt name, or resource URI. */
  name: string;
  arguments?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  serverName?: string;
}

export interface SimulationResult {
  /** What Gatehouse would do: allowed only on an allow with no evaluation error (ToolHive's rule). */
  allowed: boolean;
  decision: Decision;
  /** The policies that decided, with their text. */
  determining: { id: string; index: number; text: string }[];
  /** Plain cedar-wasm isAuthorized over the whole set, for comparison (always the same decision). */
  reference: Decision;
  request: { principal: string; action: string; resource: string };
  /** The Cedar request (with its context) and the request's entities, exactly as the proxy would build them. */
  cedar?: { request: CedarRequest; entities: CedarEntity[] };
  problem?: string;
}

const ACTIONS = { tool: 'call_tool', prompt: 'get_prompt', resource: 'read_resource' } as const;
const NO_DECISION: Decision = { decision: 'deny', reasons: [], errors: [] };

/** Each engine's policies by id, made once (a replay decides thousands of requests with one engine). */
const policiesById = new WeakMap<PolicyEngine, Map<string, { index: number; text: string }>>();
function policyById(engine: PolicyEngine, id: string): { index: number; text: string } | undefined {
  let byId = policiesById.get(engine);
  if (!byId) policiesById.set(engine, (byId = new Map(engine.policies.map((p) => [p.id, { index: p.index, text: p.text }]))));
  return byId.get(id);
}

/** What the proxy would decide for the request, and which policies decided it: no more (a replay of many requests). */
export function decideAs(engine: PolicyEngine, input: SimulationInput): Pick<SimulationResult, 'allowed' | 'decision' | 'determining'> {
  const principal = principalOf(input.claims, engine.options);
  if (!principal) return { allowed: false, decision: NO_DECISION, determining: [] };
  const { request, entities } = cedarRequestOf(principal, input, input.serverName);
  return decided(engine, request, entities);
}

function decided(engine: PolicyEngine, request: CedarRequest, entities: CedarEntity[]): Pick<SimulationResult, 'allowed' | 'decision' | 'determining'> {
  const decision = engine.decide(request, entities);
  return {
    allowed: decision.decision === 'allow' && decision.errors.length === 0,
    decision,
    determining: decision.reasons.map((id) => ({ id, index: policyById(engine, id)?.index ?? -1, text: policyById(engine, id)?.text ?? '' })),
  };
}

/** One request explained: the decision, the deciding policies, Cedar's plain answer beside it, and the Cedar request built. */
export function simulate(config: AuthzConfig | PolicyEngine, input: SimulationInput): SimulationResult {
  const engine = config instanceof PolicyEngine ? config : new PolicyEngine(config);
  const principal = principalOf(input.claims, engine.options);
  const action = ACTIONS[input.feature];
  if (!principal) {
    return {
      allowed: false,
      decision: NO_DECISION,
      determining: [],
      reference: NO_DECISION,
      request: { principal: '(none)', action: `Action::"${action}"`, resource: input.name },
      problem: 'the claims have no "sub": ToolHive denies a caller without a subject',
    };
  }
  const { request, entities } = cedarRequestOf(principal, input, input.serverName);
  return {
    ...decided(engine, request, entities),
    reference: engine.decidePlain(request, entities),
    request: {
      principal: `Client::${JSON.stringify(request.principal.id)}`,
      action: `Action::${JSON.stringify(request.action.id)}`,
      resource: `${request.resource.type}::${JSON.stringify(request.resource.id)}`,
    },
    cedar: { request, entities },
  };
}

export { policyId };
