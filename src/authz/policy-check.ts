import type { DetailedError, PolicyJson, SchemaJson } from '@cedar-policy/cedar-wasm/nodejs';
import { AuthzConfigError, type AuthzConfig } from './config.js';
import { parseEachPolicy, PolicyParseError, problemFrom, validateEach, warningAt, type ParsedPolicy, type PolicyProblem } from './cedar.js';
import { PolicyEngine } from './engine.js';
import { explainUnknownFeature, isNear, namedFeatures } from './named-features.js';
import { explainNumberRead, numberReads } from './number-reads.js';
import { claimAttributeTypes, mcpSchema } from './schema.js';

/**
 * `policy check`, and the check every load runs: Cedar's syntax, entities_json, and then Cedar's
 * validator against ToolHive's MCP entity model. As in ToolHive, whatever Cedar parses is loaded: the
 * validator's findings are advice, each worded as what will happen at run time (a typo'd action never
 * matches, so default deny; an unguarded claim read errors, and an error denies the whole request), and
 * refuse a load only in strict mode.
 *
 * Findings are told apart by what Cedar points at (the source span of each finding, read against the
 * policy text) and by what the generated schema declares, never by the wording of Cedar's messages
 * (cedar-wasm 4.13 gives validator findings no codes).
 */

export interface CheckResult {
  /** Whether the set may be loaded: no errors (and, in strict mode, no warnings). */
  ok: boolean;
  errors: PolicyProblem[];
  warnings: PolicyProblem[];
}

/** Argument names a server's tools and prompts declared in their lists; absent when no list was seen. */
export type KnownArguments = {
  toolArgs?: ReadonlySet<string>;
  promptArgs?: ReadonlySet<string>;
  /** Each tool and prompt the servers' lists declared, with its arguments. */
  tools?: ReadonlyMap<string, readonly string[]>;
  prompts?: ReadonlyMap<string, readonly string[]>;
  /** The servers whose lists these came from, for the messages. */
  servers?: readonly string[];
};

export interface CheckOptions {
  /** Refuse on any validator finding (`--strict`). */
  strict?: boolean;
}

type FindingKind =
  | { kind: 'action'; id: string }
  | { kind: 'optional'; name: string; on: 'principal' | 'resource' | 'context' | 'other' }
  | { kind: 'entity-type'; type: string }
  | { kind: 'attribute'; name: string; on: 'principal' | 'resource' | 'context' | 'other' }
  | { kind: 'policy' }
  | { kind: 'expression' };

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const STRING = '"(?:[^"\\\\]|\\\\.)*"';
const ACTION_REF = new RegExp(`^(?:${IDENT}::)*Action::(${STRING})$`);
const TYPE_NAME = new RegExp(`^${IDENT}(?:::${IDENT})*$`);
/** A bare access path, `principal.claim_roles`, `resource["arg x"]`, `context has claim_act`: nothing else. */
const STEP = `(?:\\s*\\.\\s*${IDENT}|\\s*\\[\\s*${STRING}\\s*\\])`;
const ACCESS_PATH = new RegExp(`^(principal|resource|context|${IDENT}::${STRING})(${STEP}*)(?:\\s+has\\s+(${IDENT}|${STRING}))?$`);

/** An access path at the start of a span, up to the first method call (`principal.claim_x.contains(…)`). */
const LEADING_PATH = new RegExp(`^(principal|context)((?:\\s*\\.\\s*${IDENT}(?!\\s*\\()|\\s*\\[\\s*${STRING}\\s*\\])+)`);

/** What a finding points at, from its source span in the policy's own text. */
function kindOf(err: DetailedError, text: string, declaredClaims: ReadonlySet<string>): FindingKind {
  const loc = err.sourceLocations?.[0];
  if (!loc) return { kind: 'policy' };
  const fragment = text.slice(loc.start, loc.end).trim();
  if (loc.start <= firstNonSpace(text) && loc.end >= text.trimEnd().length - 1) return { kind: 'policy' };
  const action = ACTION_REF.exec(fragment);
  if (action) return { kind: 'action', id: JSON.parse(action[1]!) as string };
  if (TYPE_NAME.test(fragment) && !/^(principal|resource|context|action)$/.test(fragment)) return { kind: 'entity-type', type: fragment };
  const path = ACCESS_PATH.exec(fragment);
  if (path) {
    const steps = [...(path[2] ?? '').matchAll(new RegExp(`\\.\\s*(${IDENT})|\\[\\s*(${STRING})\\s*\\]`, 'g'))].map((m) => m[1] ?? (JSON.parse(m[2]!) as string));
    const tested = path[3] === undefined ? undefined : path[3].startsWith('"') ? (JSON.parse(path[3]) as string) : path[3];
    const name = tested ?? steps.at(-1);
    if (name !== undefined) {
      const root = path[1] as string;
      return { kind: 'attribute', name, on: root === 'principal' || root === 'resource' || root === 'context' ? root : 'other' };
    }
  }
  // A claim no schema declares, read and then used (`principal.claim_role.contains(…)`): Cedar points at the
  // whole use; the finding is the claim.
  const lead = LEADING_PATH.exec(fragment);
  const first = lead ? [...lead[2]!.matchAll(new RegExp(`\\.\\s*(${IDENT})|\\[\\s*(${STRING})\\s*\\]`, 'g'))].map((m) => m[1] ?? (JSON.parse(m[2]!) as string))[0] : undefined;
  if (lead && first !== undefined && /^claim(set)?_/.test(first) && !declaredClaims.has(first)) return { kind: 'attribute', name: first, on: lead[1] as 'principal' | 'context' };
  return { kind: 'expression' };
}

/** The attribute read at the start of a finding's span (an unguarded optional read points at the expression using it). */
function firstAccessPath(err: DetailedError, text: string): FindingKind | undefined {
  const loc = err.sourceLocations?.[0];
  if (!loc) return undefined;
  const m = new RegExp(`^(principal|resource|context)(${STEP}+)`).exec(text.slice(loc.start, loc.end).trim());
  if (!m) return undefined;
  const steps = [...m[2]!.matchAll(new RegExp(`\\.\\s*(${IDENT})|\\[\\s*(${STRING})\\s*\\]`, 'g'))].map((x) => x[1] ?? (JSON.parse(x[2]!) as string));
  const name = steps[0];
  return name === undefined ? undefined : { kind: 'optional', name, on: m[1] as 'principal' | 'resource' | 'context' };
}

/** A copy of the schema in which every declared attribute is required. */
function everyAttributeRequired(schema: SchemaJson<string>): SchemaJson<string> {
  const copy = structuredClone(schema) as unknown;
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) return v.forEach(walk);
    const o = v as Record<string, unknown>;
    // A record type's attribute map: each attribute's own `required`, then whatever it nests.
    if (o['type'] === 'Record' && typeof o['attributes'] === 'object' && o['attributes'] !== null) {
      for (const attr of Object.values(o['attributes'] as Record<string, Record<string, unknown>>)) attr['required'] = true;
    }
    Object.values(o).forEach(walk);
  };
  walk(copy);
  return copy as SchemaJson<string>;
}

function firstNonSpace(text: string): number {
  const m = /\S/.exec(text);
  return m ? m.index : 0;
}

/** Every attribute a policy tests with `has` (the open-ended ones make Cedar call a guarded policy impossible). */
function hasTests(json: PolicyJson): string[] {
  const out: string[] = [];
  const walk = (e: unknown): void => {
    if (typeof e !== 'object' || e === null) return;
    if (Array.isArray(e)) return e.forEach(walk);
    for (const [k, v] of Object.entries(e)) {
      if (k === 'has' && typeof v === 'object' && v !== null && typeof (v as { attr?: unknown }).attr === 'string') out.push((v as { attr: string }).attr);
      walk(v);
    }
  };
  walk(json.conditions);
  return out;
}

const isOpenEnded = (name: string) => /^(arg_|claim_|claimset_)/.test(name);
const EVALUATION_ERROR = 'an evaluation error denies the whole request (as in ToolHive), even what other policies permit';

interface Finding {
  policy: ParsedPolicy;
  error: DetailedError;
  kind: FindingKind;
}

/** The finding in words that say what will happen; undefined when it is no finding at all. */
function explain(f: Finding, declaredClaims: ReadonlySet<string>, known: KnownArguments): DetailedError | undefined {
  const cedar = f.error.message.replace(/^for policy `[^`]*`, /, '');
  const k = f.kind;
  switch (k.kind) {
    case 'action':
      return { ...f.error, message: `Action::${JSON.stringify(k.id)} is not an action Gatehouse asks about (call_tool, get_prompt, read_resource): this policy never matches, so it denies by default`, help: f.error.help };
    case 'entity-type':
      return { ...f.error, message: `no request or entities_json entity has the type ${k.type}: this policy never matches`, help: f.error.help };
    case 'optional': {
      const a = k.name;
      const where = k.on === 'context' ? 'context' : k.on === 'resource' ? 'resource' : 'principal';
      const what = a.startsWith('claim_') || a.startsWith('claimset_') ? `a token without the claim "${a.replace(/^claim(set)?_/, '')}"` : `a request without \`${a}\``;
      return { ...f.error, message: `\`${a}\` is read without \`has\`: ${what} makes this policy fail to evaluate, and ${EVALUATION_ERROR}`, help: `write \`${where} has ${a} && ...\`` };
    }
    case 'attribute': {
      const a = k.name;
      if (a.startsWith('arg_')) return explainArgument(f, a, known);
      if (a.startsWith('claim_') || a.startsWith('claimset_')) {
        const claim = a.replace(/^claim(set)?_/, '');
        const guard = `write \`${k.on === 'context' ? 'context' : 'principal'} has ${a} && ...\``;
        if (declaredClaims.has(a)) {
          return { ...f.error, message: `\`${a}\` is read without \`has\`: a token without the claim "${claim}" makes this policy fail to evaluate, and ${EVALUATION_ERROR}`, help: guard };
        }
        // Cedar's "did you mean `claim_roles`?" is kept: a typo'd claim reads like one no standard token carries.
        const meant = /^did you mean `([^`]+)`\?$/.exec(f.error.help ?? '')?.[1];
        const suggestion = meant !== undefined && isNear(claim, meant.replace(/^claim(set)?_/, '')) ? ` (did you mean \`${meant}\`?)` : '';
        return {
          ...f.error,
          message: `\`${a}\` reads the claim "${claim}", which no standard token carries${suggestion}: fine if your identity provider sends it; a token without it makes this policy fail to evaluate, and ${EVALUATION_ERROR}`,
          help: guard,
        };
      }
      return { ...f.error, message: `Gatehouse sets no attribute \`${a}\` here (a request's own entities replace entities_json entities of the same UID, as in ToolHive): reading it makes this policy fail to evaluate, and ${EVALUATION_ERROR}`, help: f.error.help };
    }
    case 'policy':
      return { ...f.error, message: `this policy can never apply to an MCP request (Cedar's validator: ${cedar})`, help: f.error.help };
    case 'expression':
      return { ...f.error, message: `${cedar}: a request whose values have other types makes this policy fail to evaluate, and ${EVALUATION_ERROR}`, help: f.error.help };
  }
}

/**
 * `arg_<name>` comes from whatever the caller sends: "not found" only means something when the server's
 * tools (or prompts) are known; otherwise say what matters, that an absent argument is an error.
 */
function explainArgument(f: Finding, attribute: string, known: KnownArguments): DetailedError | undefined {
  const onPrompt = /get_prompt|\bPrompt::/.test(f.policy.text) && !/call_tool|\bTool::/.test(f.policy.text);
  // A policy about one tool (or prompt) is judged by that one's arguments, when its list declared it.
  const named = namedFeatures(f.policy.json).filter((n) => n.type === (onPrompt ? 'Prompt' : 'Tool'));
  const own = named.length === 1 ? (onPrompt ? known.prompts : known.tools)?.get(named[0]!.id) : undefined;
  const names = own ? new Set(own) : onPrompt ? known.promptArgs : known.toolArgs;
  // `arg_x_present` stands for an object or array argument `x`; `arg_x_present` may also be a scalar named `x_present`.
  const bare = attribute.replace(/^arg_/, '');
  const name = bare.replace(/_present$/, '');
  const declared = names === undefined ? undefined : names.has(bare) || names.has(name);
  if (declared === true) return undefined;
  const absent = `a request without it makes this policy fail to evaluate, and ${EVALUATION_ERROR}; write \`resource has ${attribute} && ...\` if some requests omit it`;
  if (declared === undefined) {
    const unseen = known.servers?.length ? ` (Gatehouse learns ${known.servers.join(', ')}'s ${onPrompt ? 'prompts' : 'tools'} when a client lists them through a proxy with a policy set)` : '';
    return { ...f.error, message: `\`${attribute}\` reads the ${onPrompt ? 'prompt' : 'tool'} argument "${name}", which is only known when a request arrives${unseen}`, help: absent };
  }
  if (own) {
    const declaredOnes = own.length ? `its arguments: ${own.join(', ')}` : 'it takes no arguments';
    return { ...f.error, message: `\`${attribute}\` reads the argument "${name}", but ${named[0]!.type}::${JSON.stringify(named[0]!.id)} does not declare it (${declaredOnes})`, help: absent };
  }
  const whose = known.servers?.length ? `${known.servers.join(', ')}'s` : "the server's";
  return { ...f.error, message: `\`${attribute}\` reads the ${onPrompt ? 'prompt' : 'tool'} argument "${name}", but none of ${whose} ${onPrompt ? 'prompts' : 'tools'} declares it`, help: absent };
}

const LIST_ACTIONS = new Set(['list_tools', 'list_prompts', 'list_resources']);

/**
 * ToolHive's model declares `list_tools`, `list_prompts` and `list_resources`, but neither its proxy nor
 * Gatehouse ever asks about them: a list is answered with the items the caller may call, get or read.
 * A policy only about them is dead weight that looks like it works.
 */
function listActionsOnly(json: PolicyJson): string | undefined {
  const scope = json.action as { op?: string; entity?: { id?: string }; entities?: { id?: string }[] };
  const ids = scope.op === '==' ? [scope.entity?.id] : scope.op === 'in' ? (scope.entities ?? (scope.entity ? [scope.entity] : [])).map((e) => e.id) : [];
  return ids.length > 0 && ids.every((id) => typeof id === 'string' && LIST_ACTIONS.has(id)) ? ids[0] : undefined;
}

function explainListAction(id: string, text: string): DetailedError {
  return warningAt(
    `Gatehouse (like ToolHive's proxy) never asks about Action::"${id}": a list is answered with the items the caller may use, decided by call_tool, get_prompt and read_resource, so this policy has no effect`,
    'write the policy for call_tool (get_prompt, read_resource): what it permits is what the list shows',
    /Action\s*::\s*"list_(tools|prompts|resources)"/.exec(text),
  );
}

const byPlace = (a: PolicyProblem, b: PolicyProblem) => (a.policy ?? -1) - (b.policy ?? -1) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);

export function checkAuthzConfig(config: AuthzConfig, known: KnownArguments = {}, opts: CheckOptions = {}): CheckResult {
  // A policy that does not parse refuses the set; the others are still checked, so a policy being typed
  // does not hide what is known about the rest.
  const { parsed, problems } = parseEachPolicy(config.cedar.policies);
  let engine: PolicyEngine;
  try {
    engine = new PolicyEngine(problems.length === 0 ? config : { ...config, cedar: { ...config.cedar, policies: parsed.length ? parsed.map((p) => p.text) : ['forbid(principal, action, resource) when { false };'] } }); // entities_json and indexing problems surface here
  } catch (err) {
    if (err instanceof PolicyParseError) return { ok: false, errors: [...problems, ...err.problems], warnings: [] };
    if (err instanceof AuthzConfigError) return { ok: false, errors: [...problems, { message: err.message, severity: 'error' }], warnings: [] };
    throw err;
  }
  const checked = checkParsed(config, parsed, engine, known, opts);
  return problems.length === 0 ? checked : { ok: false, errors: problems, warnings: checked.warnings };
}

function checkParsed(config: AuthzConfig, parsed: ParsedPolicy[], engine: PolicyEngine, known: KnownArguments, opts: CheckOptions): CheckResult {
  const byId = new Map(parsed.map((p) => [p.id, p]));
  const schema = mcpSchema(config.cedar, engine.base.all());
  const declaredClaims = new Set(Object.keys(claimAttributeTypes(config.cedar)));
  const result = validateEach(parsed, schema);
  // The same validation with every attribute required: what disappears was an unguarded read of an
  // optional attribute (a claim a token may lack), whatever Cedar's wording.
  const strictResult = validateEach(parsed, everyAttributeRequired(schema));
  const spanKey = (policy: string, e: DetailedError) => `${policy}|${e.sourceLocations?.[0]?.start}|${e.sourceLocations?.[0]?.end}`;
  const stillThere = new Set([...strictResult.errors, ...strictResult.warnings].map(({ policy, error }) => spanKey(policy, error)));
  const findings: Finding[] = [];
  for (const { policy, error } of [...result.errors, ...result.warnings]) {
    const p = byId.get(policy);
    if (!p) continue;
    const optionalRead = stillThere.has(spanKey(policy, error)) ? undefined : firstAccessPath(error, p.text);
    findings.push({ policy: p, error, kind: optionalRead ?? kindOf(error, p.text, declaredClaims) });
  }
  const warnings: PolicyProblem[] = [];
  const seen = new Set<string>();
  for (const f of findings) {
    const specific = findings.some((g) => g.policy === f.policy && g.kind.kind !== 'policy');
    // Cedar calls `resource has arg_x && ...` impossible, knowing no argument: the guard is exactly right.
    if (f.kind.kind === 'policy' && (specific || hasTests(f.policy.json).some(isOpenEnded))) continue;
    const explained = explain(f, declaredClaims, known);
    if (!explained) continue;
    // The same finding twice in one policy (an attribute read twice) is reported once, at its first place.
    const key = `${f.policy.index}|${JSON.stringify(f.kind)}`;
    const problem = problemFrom(explained, f.policy.text, f.policy.index, 'warning');
    if (seen.has(key)) {
      const earlier = warnings.find((w) => w.policy === f.policy.index && w.message === problem.message);
      if (earlier && byPlace(problem, earlier) < 0) Object.assign(earlier, { line: problem.line, column: problem.column });
      continue;
    }
    seen.add(key);
    warnings.push(problem);
  }
  for (const p of parsed) {
    const listing = listActionsOnly(p.json);
    if (listing) warnings.push(problemFrom(explainListAction(listing, p.text), p.text, p.index, 'warning'));
    for (const named of namedFeatures(p.json)) {
      const offered = named.type === 'Tool' ? known.tools : known.prompts;
      if (!offered || offered.size === 0 || offered.has(named.id)) continue;
      warnings.push(problemFrom(explainUnknownFeature(p.text, named, [...offered.keys()], known.servers ?? []), p.text, p.index, 'warning'));
    }
    for (const r of numberReads(p.json)) {
      const problem = problemFrom(explainNumberRead(r, p.text), p.text, p.index, 'warning');
      if (!warnings.some((w) => w.policy === p.index && w.message === problem.message)) warnings.push(problem);
    }
  }
  warnings.sort(byPlace);
  return { ok: !(opts.strict === true && warnings.length > 0), errors: [], warnings };
}
