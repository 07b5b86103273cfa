import v8 from 'node:v8';
import * as wasm from '@cedar-policy/cedar-wasm/nodejs';
import type { AuthorizationAnswer, DetailedError, PolicyJson, Schema } from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarEntity, CedarRequest } from './cedar-types.js';

/**
 * The one place Gatehouse talks to cedar-wasm: parsing with positions, formatting, schema validation
 * and evaluation. Policy IDs are ToolHive's: `policy0`..`policyN` in file order.
 */

// V8 (Node 20 and 22) aborts the whole process ("Fatal error: unreachable code" in
// Deoptimizer::DoComputeBuiltinContinuation) when optimized code that inlined a JS-to-Wasm call is
// deoptimized while that call runs, which a GC during a long cedar-wasm call does. Not inlining those
// calls costs nothing measurable here (the call itself dominates). Set before any caller gets hot;
// test/unit/authz-wasm-crash.test.ts reproduces the abort in seconds.
v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export const policyId = (index: number): string => `policy${index}`;

export interface PolicyProblem {
  /** Index in `cedar.policies` (ToolHive's policy number), or undefined for set-wide problems. */
  policy?: number;
  line?: number;
  column?: number;
  /** How many characters of the policy's text the problem points at (from line and column). */
  length?: number;
  message: string;
  severity: 'error' | 'warning';
}

export class PolicyParseError extends Error {
  constructor(readonly problems: PolicyProblem[]) {
    super(problems.map(describeProblem).join('\n'));
  }
}

export function describeProblem(p: PolicyProblem): string {
  const where = p.policy === undefined ? '' : `policy ${p.policy}${p.line !== undefined ? `, line ${p.line}, column ${p.column ?? 1}` : ''}: `;
  return `${where}${p.message}`;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/**
 * Cedar's source locations count UTF-8 bytes; JavaScript strings count UTF-16 units. Every location
 * Cedar gives is turned into the latter here, so a policy with an "é" or a no-break space in it is
 * pointed at where its text has the problem, not a few characters further on.
 */
export function inCharacters(err: DetailedError, text: string | undefined): DetailedError {
  if (text === undefined || !err.sourceLocations?.length || /^[\x00-\x7f]*$/.test(text)) return err;
  const bytes = Buffer.from(text, 'utf8');
  const chars = (b: number) => bytes.subarray(0, Math.max(0, Math.min(b, bytes.length))).toString('utf8').length;
  return { ...err, sourceLocations: err.sourceLocations.map((l) => ({ ...l, start: chars(l.start), end: chars(l.end) })) };
}

/** Cedar's error (message, the label at the first source location, help) with line and column in that policy's text. */
export function problemFrom(err: DetailedError, policyText: string | undefined, policy: number | undefined, severity: 'error' | 'warning' = 'error'): PolicyProblem {
  const loc = err.sourceLocations?.[0];
  const parts = [err.message];
  if (loc?.label) parts.push(loc.label);
  if (err.help) parts.push(err.help);
  const problem: PolicyProblem = { message: parts.join('; '), severity };
  if (policy !== undefined) problem.policy = policy;
  if (loc && policyText !== undefined) Object.assign(problem, lineColumn(policyText, loc.start), loc.end > loc.start ? { length: loc.end - loc.start } : {});
  return problem;
}

/** A finding of Gatehouse's own, in the shape of Cedar's validator findings, at the match in the policy text (if any). */
export function warningAt(message: string, help: string, at: RegExpExecArray | null): DetailedError {
  return {
    message,
    help,
    code: null,
    url: null,
    severity: 'warning',
    sourceLocations: at ? [{ start: at.index, end: at.index + at[0].length, label: null }] : [],
    related: [],
  } as DetailedError;
}

export interface ParsedPolicy {
  index: number;
  id: string;
  text: string;
  json: PolicyJson;
}

/**
 * Cedar's parse of a policy text, by the text: a set is checked again at every pause in typing, and
 * all its policies but one are the same as the last time. Kept as JSON text, so every caller gets a
 * fresh object; bounded (the oldest entries go first).
 */
const parsedTexts = new Map<string, { json: string } | { errors: DetailedError[] }>();
const PARSE_CACHE_SIZE = 5000;

function parseOne(text: string): { json: PolicyJson } | { errors: DetailedError[] } {
  let hit = parsedTexts.get(text);
  if (!hit) {
    const answer = wasm.policyToJson(text);
    hit = answer.type === 'failure' ? { errors: answer.errors } : { json: JSON.stringify(answer.json) };
    if (parsedTexts.size >= PARSE_CACHE_SIZE) parsedTexts.delete(parsedTexts.keys().next().value!);
    parsedTexts.set(text, hit);
  }
  return 'errors' in hit ? hit : { json: JSON.parse(hit.json) as PolicyJson };
}

/** Parses each policy on its own (so errors carry the policy number), refusing templates and multi-policy strings. */
export function parsePolicies(texts: readonly string[]): ParsedPolicy[] {
  const { parsed, problems } = parseEachPolicy(texts);
  if (problems.length > 0) throw new PolicyParseError(problems);
  return parsed;
}

/** The policies that parse, and the problems of those that do not (each at its own place). */
export function parseEachPolicy(texts: readonly string[]): { parsed: ParsedPolicy[]; problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  const out: ParsedPolicy[] = [];
  texts.forEach((text, index) => {
    const answer = parseOne(text);
    if ('errors' in answer) {
      // policyToJson reports "expected exactly one policy" for a string holding two: say it plainly.
      for (const e of answer.errors) problems.push(problemFrom(inCharacters(e, text), text, index));
      return;
    }
    out.push({ index, id: policyId(index), text, json: answer.json });
  });
  return { parsed: out, problems };
}

/** Whether Cedar's own parser takes this as an entity type name (ToolHive checks group_entity_type the same way). */
export function isCedarTypeName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && wasm.checkParsePolicySet({ staticPolicies: `permit(principal in ${name}::"x", action, resource);` }).type === 'success';
}

export function staticPolicies(policies: readonly ParsedPolicy[]): Record<string, string> {
  return Object.fromEntries(policies.map((p) => [p.id, p.text]));
}

export interface WasmDecision {
  decision: 'allow' | 'deny';
  reasons: string[];
  errors: { policy: string; message: string }[];
}

function decisionOf(answer: AuthorizationAnswer): WasmDecision {
  if (answer.type === 'failure') {
    return { decision: 'deny', reasons: [], errors: answer.errors.map((e) => ({ policy: '', message: e.message })) };
  }
  return {
    decision: answer.response.decision,
    reasons: answer.response.diagnostics.reason,
    errors: answer.response.diagnostics.errors.map((e) => ({ policy: e.policyId, message: e.error.message })),
  };
}

/** Plain `isAuthorized`: parses every policy and evaluates all of them (the reference the fast path must equal). */
export function plainIsAuthorized(policies: Record<string, string>, request: CedarRequest, entities: readonly CedarEntity[]): WasmDecision {
  return decisionOf(wasm.isAuthorized({ ...request, context: request.context as never, policies: { staticPolicies: policies }, entities: entities as never }));
}

let preparsedCounter = 0;

/** A policy set parsed once inside cedar-wasm; evaluation skips re-parsing. */
export class PreparsedPolicySet {
  readonly id = `gatehouse-${process.pid}-${++preparsedCounter}`;

  constructor(policies: Record<string, string>) {
    const answer = wasm.preparsePolicySet(this.id, { staticPolicies: policies });
    if (answer.type === 'failure') throw new PolicyParseError(answer.errors.map((e) => problemFrom(e, undefined, undefined)));
  }

  isAuthorized(request: CedarRequest, entities: readonly CedarEntity[]): WasmDecision {
    return decisionOf(wasm.statefulIsAuthorized({ ...request, context: request.context as never, preparsedPolicySetId: this.id, entities: entities as never }));
  }
}

export function formatPolicy(text: string): string {
  const answer = wasm.formatPolicies({ policyText: text, lineWidth: 100, indentWidth: 2 });
  if (answer.type === 'failure') throw new PolicyParseError(answer.errors.map((e) => problemFrom(inCharacters(e, text), text, undefined)));
  return answer.formatted_policy.trimEnd();
}

export interface SchemaValidation {
  errors: { policy: string; error: DetailedError }[];
  warnings: { policy: string; error: DetailedError }[];
}

export function validateAgainstSchema(policies: Record<string, string>, schema: Schema): SchemaValidation {
  const answer = wasm.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (answer.type === 'failure') {
    throw new Error(`Gatehouse's generated Cedar schema was refused: ${answer.errors.map((e) => e.message).join('; ')}`);
  }
  return {
    errors: answer.validationErrors.map((e) => ({ policy: e.policyId, error: inCharacters(e.error, policies[e.policyId]) })),
    warnings: answer.validationWarnings.map((e) => ({ policy: e.policyId, error: inCharacters(e.error, policies[e.policyId]) })),
  };
}

/** Per schema (its JSON), per policy text: what Cedar's validator said of that policy, under the id it had. */
const validatedBySchema = new Map<string, Map<string, { id: string; errors: DetailedError[]; warnings: DetailedError[] }>>();
const SCHEMAS_KEPT = 8;
const VALIDATIONS_KEPT = 5000;

/**
 * `validateAgainstSchema` for parsed policies, asking Cedar only about the texts it has not seen with
 * this schema: its validator checks each policy on its own, so a set being typed into validates only
 * the policy that changed (1,000 policies took two whole-set validations at every key).
 */
export function validateEach(policies: readonly ParsedPolicy[], schema: Schema): SchemaValidation {
  const schemaKey = typeof schema === 'string' ? schema : JSON.stringify(schema);
  let seen = validatedBySchema.get(schemaKey);
  if (seen) validatedBySchema.delete(schemaKey);
  else seen = new Map();
  validatedBySchema.set(schemaKey, seen);
  if (validatedBySchema.size > SCHEMAS_KEPT) validatedBySchema.delete(validatedBySchema.keys().next().value!);

  const missing = policies.filter((p) => !seen.has(p.text));
  if (missing.length > 0) {
    const answer = validateAgainstSchema(staticPolicies(missing), schema);
    for (const p of missing) {
      seen.set(p.text, {
        id: p.id,
        errors: answer.errors.filter((e) => e.policy === p.id).map((e) => e.error),
        warnings: answer.warnings.filter((e) => e.policy === p.id).map((e) => e.error),
      });
    }
  }
  const out: SchemaValidation = { errors: [], warnings: [] };
  for (const p of policies) {
    const hit = seen.get(p.text)!;
    // Used again: the newest end of the map, so the least recently used go first.
    seen.delete(p.text);
    seen.set(p.text, hit);
    // Cedar names the policy in its words ("for policy `policy3`, ..." in the message, the help, related
    // findings): under the id it has now.
    const renamed = (e: DetailedError): DetailedError => (hit.id === p.id ? e : (JSON.parse(JSON.stringify(e).split(`\`${hit.id}\``).join(`\`${p.id}\``)) as DetailedError));
    out.errors.push(...hit.errors.map((e) => ({ policy: p.id, error: renamed(e) })));
    out.warnings.push(...hit.warnings.map((e) => ({ policy: p.id, error: renamed(e) })));
  }
  while (seen.size > VALIDATIONS_KEPT) seen.delete(seen.keys().next().value!);
  return out;
}

export const cedarVersion = (): string => wasm.getCedarVersion();

/** Cedar's partial evaluation with the principal unknown: what each policy still asks of the caller. */
export interface PartialAnswer {
  decision: 'allow' | 'deny' | null;
  satisfied: string[];
  errored: string[];
  mayBeDetermining: string[];
  residuals: Record<string, PolicyJson>;
}

export function partialWithUnknownPrincipal(policies: Record<string, string>, request: Omit<CedarRequest, 'principal'>, entities: readonly CedarEntity[]): PartialAnswer {
  const answer = wasm.isAuthorizedPartial({
    principal: null,
    action: request.action,
    resource: request.resource,
    context: request.context as never,
    policies: { staticPolicies: policies },
    entities: entities as never,
  });
  if (answer.type === 'failure') throw new Error(`Cedar's partial evaluation failed: ${answer.errors.map((e) => e.message).join('; ')}`);
  const r = answer.response;
  return {
    decision: r.decision === null ? null : r.decision === 'allow' ? 'allow' : 'deny',
    satisfied: r.satisfied,
    errored: r.errored,
    mayBeDetermining: r.mayBeDetermining,
    residuals: r.residuals,
  };
}

/** A policy (a residual, say) as Cedar text. */
export function policyText(json: PolicyJson): string {
  const answer = wasm.policyToText(json);
  return answer.type === 'success' ? answer.text : JSON.stringify(json);
}
