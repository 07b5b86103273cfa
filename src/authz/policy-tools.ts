import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';
import { AuthzConfigError, type AuthzConfig } from './config.js';
import { formatPolicy, parsePolicies, PolicyParseError, policyId, problemFrom, staticPolicies, validateAgainstSchema, type PolicyProblem } from './cedar.js';
import { PolicyEngine, type Decision } from './engine.js';
import { cedarRequestOf, principalOf, type McpFeature } from './entities.js';
import { mcpSchema } from './schema.js';

/**
 * What the UI and the command line do with policies before they run: check (syntax, then Cedar's
 * validator against the MCP schema), format, and simulate a request.
 */

export interface CheckResult {
  ok: boolean;
  errors: PolicyProblem[];
  warnings: PolicyProblem[];
}

const POLICY_IN_MESSAGE = /^for policy `policy(\d+)`, /;

/** Which validator findings are real mistakes, and which are about open-ended claims and arguments. */
function classify(err: DetailedError): 'error' | 'warning' | 'ignore' {
  const m = err.message;
  // A claim may be absent from a token; reading it then errors, and an error denies the whole request
  // (ToolHive's rule), whatever other policies permit: worth a warning, not a refusal.
  if (m.includes('unable to guarantee safety of access to optional attribute')) return /attribute `(claim_|claimset_)/.test(m) ? 'warning' : 'ignore';
  const attr = /attribute `([^`]+)`.* not found/.exec(m);
  if (attr) return /^(claim_|claimset_|arg_)/.test(attr[1] ?? '') ? 'warning' : 'error';
  // Claim types are what tokens usually carry, not a promise: a mismatch is worth a look, not a refusal.
  if (/types .* are not compatible|expected .* but saw|unexpected type/i.test(m) || /are not compatible/.test(err.help ?? '')) return 'warning';
  return 'error';
}

/** Argument names a server's tools and prompts declared in their lists; absent when no list was seen. */
export type KnownArguments = {
  toolArgs?: ReadonlySet<string>;
  promptArgs?: ReadonlySet<string>;
  /** The servers whose lists these came from, for the messages. */
  servers?: readonly string[];
};

/**
 * `arg_<name>` comes from whatever the caller sends, so "not found" only means something when the
 * server's tools (or prompts) are known; otherwise say what matters: an absent argument is an error.
 */
function argumentFinding(err: DetailedError, known: KnownArguments): { attribute: string; name: string; onPrompt: boolean; declared: boolean | undefined } | undefined {
  const attr = /attribute `(arg_[^`]+)`/.exec(err.message);
  if (!attr || !err.message.includes('not found')) return undefined;
  const attribute = attr[1]!;
  const onPrompt = err.message.includes('`Prompt`') || err.message.includes('get_prompt');
  const names = onPrompt ? known.promptArgs : known.toolArgs;
  // `arg_x_present` stands for an object or array argument `x`; `arg_x_present` may also be a scalar named `x_present`.
  const candidates = [attribute.replace(/^arg_/, ''), attribute.replace(/^arg_/, '').replace(/_present$/, '')];
  const name = candidates[1]!;
  return { attribute, name, onPrompt, declared: names === undefined ? undefined : candidates.some((c) => names.has(c)) };
}

type ArgumentFinding = NonNullable<ReturnType<typeof argumentFinding>>;

function explainArgument(err: DetailedError, finding: ArgumentFinding, known: KnownArguments): DetailedError {
  const { attribute: a, name, onPrompt, declared } = finding;
  const absent = `a request without it makes this policy fail to evaluate, and an evaluation error denies the whole request (as in ToolHive); write \`resource has ${a} && ...\` if some requests omit it`;
  if (declared === undefined) {
    const unseen = known.servers?.length
      ? ` (Gatehouse learns ${known.servers.join(', ')}'s ${onPrompt ? 'prompts' : 'tools'} when a client lists them through a proxy with a policy set)`
      : '';
    return { ...err, message: `\`${a}\` reads the ${onPrompt ? 'prompt' : 'tool'} argument "${name}", which is only known when a request arrives${unseen}`, help: absent };
  }
  const whose = known.servers?.length ? `${known.servers.join(', ')}'s` : "the server's";
  return { ...err, message: err.message.replace(/; did you mean .*$/, ''), help: `none of ${whose} ${onPrompt ? 'prompts' : 'tools'} declares an argument "${name}"; ${absent}` };
}

function explain(err: DetailedError, known: KnownArguments, argument: ArgumentFinding | undefined): DetailedError {
  if (argument) return explainArgument(err, argument, known);
  const optional = /optional attribute `((?:claim_|claimset_)[^`]+)`/.exec(err.message);
  if (optional) {
    const a = optional[1]!;
    return {
      ...err,
      help: `a token without this claim makes the policy fail to evaluate, and any evaluation error denies the whole request (as in ToolHive), even what other policies permit; write \`principal has ${a} && ...\``,
    };
  }
  const attr = /attribute `((?:claim_|claimset_)[^`]+)`/.exec(err.message);
  if (!attr || !err.message.includes('not found')) return err;
  const claim = attr[1]!.replace(/^claim(set)?_/, '');
  const extra = `no standard claim is called "${claim}"; if your identity provider sends it, ignore this warning`;
  return { ...err, help: err.help ? `${err.help} (${extra})` : extra };
}

export function checkAuthzConfig(config: AuthzConfig, known: KnownArguments = {}): CheckResult {
  let parsed;
  try {
    parsed = parsePolicies(config.cedar.policies);
    new PolicyEngine(config); // entities_json and indexing problems surface here
  } catch (err) {
    if (err instanceof PolicyParseError) return { ok: false, errors: err.problems, warnings: [] };
    if (err instanceof AuthzConfigError) return { ok: false, errors: [{ message: err.message, severity: 'error' }], warnings: [] };
    throw err;
  }
  const texts = new Map(parsed.map((p) => [p.id, p]));
  const result = validateAgainstSchema(staticPolicies(parsed), mcpSchema(config.cedar));
  const found: PolicyProblem[] = [];
  for (const { policy, error } of [...result.errors, ...result.warnings]) {
    const kind = classify(error);
    if (kind === 'ignore') continue;
    // The schema cannot hold argument names; one the server's list declares is no finding.
    const argument = argumentFinding(error, known);
    if (argument?.declared === true) continue;
    const p = texts.get(policy);
    found.push(problemFrom(explain({ ...error, message: error.message.replace(POLICY_IN_MESSAGE, '') }, known, argument), p?.text, p?.index, kind));
  }
  const order = (a: PolicyProblem, b: PolicyProblem) => (a.policy ?? -1) - (b.policy ?? -1) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
  // The same finding twice in one policy (an attribute read twice) is reported once, at its first place.
  const seen = new Set<string>();
  const unique = found.sort(order).filter((problem) => {
    const key = `${problem.policy}|${problem.severity}|${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const errors = unique.filter((problem) => problem.severity === 'error');
  return { ok: errors.length === 0, errors, warnings: unique.filter((problem) => problem.severity !== 'error') };
}

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
  };
}

export { policyId };
