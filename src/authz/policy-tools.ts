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

export function simulate(config: AuthzConfig | PolicyEngine, input: SimulationInput): SimulationResult {
  const engine = config instanceof PolicyEngine ? config : new PolicyEngine(config);
  const principal = principalOf(input.claims, engine.options);
  const action = { tool: 'call_tool', prompt: 'get_prompt', resource: 'read_resource' }[input.feature];
  if (!principal) {
    const none: Decision = { decision: 'deny', reasons: [], errors: [] };
    return {
      allowed: false,
      decision: none,
      determining: [],
      reference: none,
      request: { principal: '(none)', action: `Action::"${action}"`, resource: input.name },
      problem: 'the claims have no "sub": ToolHive denies a caller without a subject',
    };
  }
  const { request, entities } = cedarRequestOf(principal, input, input.serverName);
  const decision = engine.decide(request, entities);
  const reference = engine.decidePlain(request, entities);
  const byId = new Map(engine.policies.map((p) => [p.id, p]));
  return {
    allowed: decision.decision === 'allow' && decision.errors.length === 0,
    decision,
    determining: decision.reasons.map((id) => ({ id, index: byId.get(id)?.index ?? -1, text: byId.get(id)?.text ?? '' })),
    reference,
    request: {
      principal: `Client::${JSON.stringify(request.principal.id)}`,
      action: `Action::${JSON.stringify(request.action.id)}`,
      resource: `${request.resource.type}::${JSON.stringify(request.resource.id)}`,
    },
    cedar: { request, entities },
  };
}

export { policyId };
