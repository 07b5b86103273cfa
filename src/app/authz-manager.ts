import { stringify as stringifyYaml } from 'yaml';
import {
  AuthzConfigError,
  AuthzConfigSchema,
  parseAuthzConfigDocument,
  readAuthzConfigSource,
  checkAuthzConfig,
  describeProblem,
  formatAuthzConfig,
  McpAuthorizer,
  PolicyParseError,
  PolicyEngine,
  simulate,
  decideAs,
  ToolKnowledge,
  whoCan,
  type WhoCanResult,
  type AuthzConfig,
  type CheckOptions,
  type CheckResult,
  type KnownArguments,
  type SimulationInput,
  type SimulationResult,
} from '../authz/index.js';
import type { DecisionLog, DecisionRecord } from './decision-log.js';
import type { PolicyCaseRecord, PolicySetRecord, PolicySourceFile, PolicyVersionRecord, ServerRecord, Store } from '../store/index.js';
import { BadRequestError, ConflictError, NotFoundError } from './errors.js';

const KNOWLEDGE_SAVE_INTERVAL_MS = 1000;

const SET_NAME = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;

export function assertValidPolicySetName(name: string): void {
  if (!SET_NAME.test(name)) {
    throw new BadRequestError(`Invalid policy set name "${name}": use 1-64 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit.`);
  }
}

/** A policy set that fails its check: the message lists every problem with policy number, line and column. */
export class PolicyCheckError extends BadRequestError {
  constructor(
    readonly check: CheckResult,
    what: string,
  ) {
    const refused = check.errors.length > 0 ? check.errors : check.warnings;
    super(`${what} ${check.errors.length > 0 ? 'has errors' : "has findings, which strict mode refuses"}; nothing was changed:\n${refused.map((p) => `  ${describeProblem(p)}`).join('\n')}`);
  }
}

/**
 * Cedar authorization for every server: named policy sets with versions in SQLite, one compiled engine
 * per set version (shared by the servers attached to it), and one authorizer per server. A saved edit
 * is checked and compiled before it replaces anything, so a bad edit never touches running servers.
 */
/** What a draft would change of the recent decisions. */
export interface ImpactView {
  since: string;
  /** Operations decided again. */
  replayed: number;
  changes: {
    auditId: string;
    at: string;
    server: string;
    caller: string;
    feature: 'tool' | 'prompt' | 'resource';
    name: string;
    before: 'allow' | 'deny';
    after: 'allow' | 'deny';
    /** Policy ids that decided then (permits, forbids or failed ones), and that would decide now. */
    decidedBefore: string[];
    decidesNow: string[];
    /** The version of the set that decided then. */
    version: number | null;
  }[];
}

/** A saved case decided by a version of its set. */
export interface CaseRun {
  id: number;
  label: string;
  expect: 'allow' | 'deny';
  got: 'allow' | 'deny';
  passed: boolean;
  /** The policies that decided (their places in the set). */
  determining: number[];
}

export class AuthzManager {
  private readonly authorizers = new Map<string, McpAuthorizer>();
  private readonly broken = new Map<string, string>();
  private readonly engines = new Map<string, { version: number; engine: PolicyEngine }>();
  /** Per server, what its lists said; outlives each authorizer (and, saved, the core) so annotations are never forgotten. */
  private readonly knowledge = new Map<string, ToolKnowledge>();
  private readonly pendingSaves = new Map<string, NodeJS.Timeout>();
  private readonly lastSaved = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly log: (server: string, level: 'info' | 'warn' | 'error', message: string) => void,
  ) {}

  /** What a proxy enforces: an authorizer, a failure (the proxy then denies everything), or none. */
  state(server: string): McpAuthorizer | { failure: string } | undefined {
    const failure = this.broken.get(server);
    return failure !== undefined ? { failure } : this.authorizers.get(server);
  }

  parse(config: unknown, what = 'The authz-config'): AuthzConfig {
    const parsed = AuthzConfigSchema.safeParse(config);
    if (!parsed.success) throw new BadRequestError(`${what} is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  /** Checks a config; against the arguments the named servers' tools and prompts declare, when servers are named. */
  check(config: unknown, servers: string | readonly string[] = [], opts: CheckOptions = {}): CheckResult {
    const names = typeof servers === 'string' ? [servers] : [...new Set(servers)];
    for (const server of names) if (!this.store.servers.get(server)) throw new NotFoundError(`No server named "${server}".`, { action: 'list-servers' });
    return checkAuthzConfig(this.parse(config), names.length === 0 ? {} : this.knownArguments(names), opts);
  }

  /** The config with every policy in Cedar's own layout; a config that does not parse is refused, saying where. */
  format(config: unknown): AuthzConfig {
    try {
      return formatAuthzConfig(this.parse(config));
    } catch (err) {
      if (err instanceof PolicyParseError) throw new BadRequestError(`Cannot format policies that do not parse: ${err.message}`);
      throw err;
    }
  }

  /** What each server's lists declared and the claim names its callers' tokens carried (the policy editor's completions). */
  vocabulary(servers: readonly string[]): ({ name: string } & ReturnType<ToolKnowledge['vocabulary']>)[] {
    return [...new Set(servers)].map((name) => {
      if (!this.store.servers.get(name)) throw new NotFoundError(`No server named "${name}".`, { action: 'list-servers' });
      // Read, not adopted: a server without a policy set keeps no knowledge in memory.
      const k = this.knowledge.get(name) ?? ToolKnowledge.restore(this.store.serverFeatures.get(name));
      return { name, ...k.vocabulary() };
    });
  }

  /** Installs a server's stored attachment (start-up, run). A set that cannot be built leaves the server closed. */
  install(s: Pick<ServerRecord, 'name' | 'policySet'>): void {
    this.broken.delete(s.name);
    this.authorizers.delete(s.name);
    if (!s.policySet) return;
    try {
      const engine = this.engineFor(s.policySet);
      this.authorizers.set(s.name, new McpAuthorizer(engine, s.name, this.knowledgeOf(s.name), { set: s.policySet, version: this.engines.get(s.policySet)!.version }));
    } catch (err) {
      this.broken.set(s.name, `Policy set "${s.policySet}" cannot be applied: ${(err as Error).message}`);
      this.log(s.name, 'error', this.broken.get(s.name)!);
    }
  }

  drop(server: string): void {
    this.authorizers.delete(server);
    this.broken.delete(server);
    this.knowledge.delete(server);
    clearTimeout(this.pendingSaves.get(server));
    this.pendingSaves.delete(server);
    this.lastSaved.delete(server);
  }

  /** The server's knowledge: in memory, else as saved (a restarted core), else empty; saved on change. */
  private knowledgeOf(server: string): ToolKnowledge {
    let k = this.knowledge.get(server);
    if (k) return k;
    k = ToolKnowledge.restore(this.store.serverFeatures.get(server));
    const knowledge = k;
    knowledge.onChange = () => this.scheduleKnowledgeSave(server, knowledge);
    this.knowledge.set(server, k);
    return k;
  }

  /**
   * Saves at once, or at most once a second per server: a server whose list changes on every call
   * (dynamic tools) must not turn each tools/list into a write of the whole snapshot.
   */
  private scheduleKnowledgeSave(server: string, knowledge: ToolKnowledge): void {
    if (this.pendingSaves.has(server)) return;
    const wait = (this.lastSaved.get(server) ?? 0) + KNOWLEDGE_SAVE_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.saveKnowledge(server, knowledge);
    const timer = setTimeout(() => {
      this.pendingSaves.delete(server);
      this.saveKnowledge(server, knowledge);
    }, wait);
    timer.unref();
    this.pendingSaves.set(server, timer);
  }

  private saveKnowledge(server: string, knowledge: ToolKnowledge): void {
    if (this.knowledge.get(server) !== knowledge) return; // dropped (removed, renamed) meanwhile
    this.lastSaved.set(server, Date.now());
    try {
      this.store.serverFeatures.put(server, knowledge.snapshot());
    } catch (err) {
      this.log(server, 'warn', `Could not save what ${server}'s tools/list said (it stays in memory): ${(err as Error).message}`);
    }
  }

  /** Writes what is waiting (a clean shutdown). */
  flush(): void {
    for (const [server, timer] of this.pendingSaves) {
      clearTimeout(timer);
      const k = this.knowledge.get(server);
      if (k) this.saveKnowledge(server, k);
    }
    this.pendingSaves.clear();
  }

  /** The argument names the servers' lists declared (a name in any of them counts), if any list was seen. */
  private knownArguments(servers: readonly string[]): KnownArguments {
    const tools = new Set<string>();
    const prompts = new Set<string>();
    const toolsByName = new Map<string, readonly string[]>();
    const promptsByName = new Map<string, readonly string[]>();
    let sawTools = false;
    let sawPrompts = false;
    const known = servers.map((server) => this.knowledgeOf(server).knownArguments());
    for (const k of known) {
      if (k.toolArgs) (sawTools = true), k.toolArgs.forEach((a) => tools.add(a));
      if (k.promptArgs) (sawPrompts = true), k.promptArgs.forEach((a) => prompts.add(a));
      k.tools?.forEach((args, name) => toolsByName.set(name, [...new Set([...(toolsByName.get(name) ?? []), ...args])]));
      k.prompts?.forEach((args, name) => promptsByName.set(name, [...new Set([...(promptsByName.get(name) ?? []), ...args])]));
    }
    // A name is judged only when every server's list was seen: one unseen list could offer it.
    const allSeen = (feature: 'tools' | 'prompts') => known.every((k) => k[feature] !== undefined);
    return {
      servers,
      ...(sawTools ? { toolArgs: tools } : {}),
      ...(sawPrompts ? { promptArgs: prompts } : {}),
      ...(sawTools && allSeen('tools') ? { tools: toolsByName } : {}),
      ...(sawPrompts && allSeen('prompts') ? { prompts: promptsByName } : {}),
    };
  }

  // ---- policy sets -------------------------------------------------------------------------

  listSets(): (PolicySetRecord & { servers: string[] })[] {
    return this.store.policies.list().map((p) => ({ ...p, servers: this.store.servers.byPolicySet(p.name).map((s) => s.name) }));
  }

  getSet(name: string): PolicySetRecord & { servers: string[] } {
    const p = this.store.policies.get(name);
    if (!p) throw new NotFoundError(`No policy set named "${name}".`, { action: 'list-policies' });
    return { ...p, servers: this.store.servers.byPolicySet(name).map((s) => s.name) };
  }

  history(name: string): PolicyVersionRecord[] {
    this.getSet(name);
    return this.store.policies.history(name);
  }

  version(name: string, version: number): PolicyVersionRecord {
    const v = this.store.policies.version(name, version);
    if (!v) throw new NotFoundError(`Policy set "${name}" has no version ${version}.`, { action: 'policy-history', policySet: name });
    return v;
  }

  /**
   * Saves a new version after checking it (errors refuse it; warnings are returned), then moves every
   * server attached to the set onto it. The running servers keep their old engine until the new one
   * is built, so no request is ever decided by a half-loaded set.
   */
  save(
    name: string,
    config: unknown,
    note: string | null = null,
    opts: CheckOptions & { acceptBrokenCases?: boolean; source?: { text: string; fileName?: string | undefined } } = {},
  ): { version: number; check: CheckResult; servers: string[]; cases: CaseRun[]; file: 'json' | 'yaml' | null } {
    assertValidPolicySetName(name);
    const parsed = this.parse(config);
    const file = opts.source ? this.sameFile(parsed, opts.source) : undefined;
    const servers = this.store.servers.byPolicySet(name).map((s) => s.name);
    const check = checkAuthzConfig(parsed, this.knownArguments(servers), opts);
    if (!check.ok) throw new PolicyCheckError(check, `Policy set "${name}"`);
    const engine = new PolicyEngine(parsed);
    // The set's saved cases decide with the new version first: one that would get another decision stops the save.
    const cases = this.runCases(name, engine);
    const broken = cases.filter((c) => !c.passed);
    if (broken.length && !opts.acceptBrokenCases) {
      throw new ConflictError(
        `Not saved: ${broken.length === 1 ? 'a saved case gets' : `${broken.length} saved cases get`} another decision with it: ${broken.map((c) => `"${c.label}" expects ${c.expect}, gets ${c.got}`).join('; ')}. Change the policies, or the case, or save anyway.`,
      );
    }
    const version = this.store.policies.save(name, parsed, note, file ? { source: file } : {});
    this.engines.set(name, { version, engine });
    for (const server of servers) {
      this.authorizers.set(server, new McpAuthorizer(engine, server, this.knowledgeOf(server), { set: name, version }));
      this.broken.delete(server);
      this.log(server, 'info', `Policy set ${name} v${version} now authorizes ${server}`);
    }
    return { version, check, servers, cases, file: this.store.policies.version(name, version)?.file ?? null };
  }

  /** The file a config was saved from, when it reads as exactly that config (a draft edited after its import does not). */
  private sameFile(config: AuthzConfig, source: { text: string; fileName?: string | undefined }): PolicySourceFile | undefined {
    let read: ReturnType<typeof readAuthzConfigSource>;
    try {
      read = readAuthzConfigSource(source.text, source.fileName ?? 'the file');
    } catch (err) {
      if (err instanceof AuthzConfigError) throw new BadRequestError(err.message);
      throw err;
    }
    return read.file && JSON.stringify(read.config) === JSON.stringify(config) ? read.file : undefined;
  }

  // ---- the recent decisions: the impact of a draft, and "why?" ----------------------------------

  private decisions: DecisionLog | undefined;

  useDecisions(d: DecisionLog): void {
    this.decisions = d;
  }

  /**
   * The impact of a draft: the recent decisions of the set's servers, each operation decided again by
   * the draft, and every one whose answer would change (allowed → denied and back), with the caller,
   * the request and the policies that decided before and would decide now.
   */
  async impact(name: string, config: unknown, minutes = 60): Promise<ImpactView> {
    const set = this.getSet(name);
    const parsed = this.parse(config);
    const check = checkAuthzConfig(parsed);
    if (!check.ok) throw new PolicyCheckError(check, 'The draft');
    const draft = new PolicyEngine(parsed);
    const since = new Date(Date.now() - minutes * 60_000).toISOString();
    const changes: ImpactView['changes'] = [];
    let replayed = 0;
    for (const server of set.servers) {
      for (const rec of (await this.decisions?.since(server, since)) ?? []) {
        for (const op of rec.ops) {
          replayed++;
          const r = decideAs(draft, { claims: rec.claims, feature: op.feature, name: op.name, ...(op.arguments ? { arguments: op.arguments } : {}), annotations: op.annotations ?? {}, serverName: server });
          if (r.allowed === op.allowed) continue;
          const sub = rec.claims['sub'];
          changes.push({
            auditId: rec.auditId,
            at: rec.at,
            server,
            caller: typeof sub === 'string' ? sub : '(no sub)',
            feature: op.feature,
            name: op.name,
            before: op.allowed ? 'allow' : 'deny',
            after: r.allowed ? 'allow' : 'deny',
            decidedBefore: [...op.reasons, ...op.errors],
            decidesNow: [...r.determining.map((d) => d.id), ...r.decision.errors.map((e) => e.policy)],
            version: rec.source?.version ?? null,
          });
        }
      }
    }
    return { since, replayed, changes };
  }

  /** Who may make this request, by Cedar's partial evaluation with the caller unknown. */
  whoCan(config: unknown, given: Omit<SimulationInput, 'claims'>): WhoCanResult {
    const parsed = this.parse(config);
    const check = checkAuthzConfig(parsed);
    if (!check.ok) throw new PolicyCheckError(check, 'The draft');
    const input = this.withKnownAnnotations({ ...given, claims: {} });
    return whoCan(parsed, { feature: input.feature, name: input.name, ...(input.arguments ? { arguments: input.arguments } : {}), ...(input.annotations ? { annotations: input.annotations } : {}) }, input.serverName);
  }

  /** The callers of the servers' recent decisions, newest first, one entry per subject (the simulator's "as the caller of…"). */
  async recentCallers(servers: readonly string[], limit = 20): Promise<{ server: string; auditId: string; at: string; caller: string; claims: Record<string, unknown> }[]> {
    const since = new Date(Date.now() - 24 * 60 * 60_000).toISOString();
    const all = (await Promise.all(servers.map((s) => this.decisions?.since(s, since) ?? Promise.resolve([])))).flat().sort((a, b) => (a.at < b.at ? 1 : -1));
    const seen = new Set<string>();
    const out: { server: string; auditId: string; at: string; caller: string; claims: Record<string, unknown> }[] = [];
    for (const r of all) {
      const sub = typeof r.claims['sub'] === 'string' ? r.claims['sub'] : '(no sub)';
      if (seen.has(sub)) continue;
      seen.add(sub);
      out.push({ server: r.server, auditId: r.auditId, at: r.at, caller: sub, claims: r.claims });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** What authorization decided for one audit event, and on what (the "why?" of the log viewer). */
  async decisionOf(server: string, auditId: string): Promise<DecisionRecord> {
    const rec = await this.decisions?.find(server, auditId);
    if (!rec) throw new NotFoundError(`No decision is kept for that event of ${server} (only the newest decisions of each server are kept, and only for requests a policy set decided).`);
    return rec;
  }

  // ---- files: what `--authz-config` reads and takes --------------------------------------------

  /** A pasted or opened file, read as `--authz-config` reads it (JSON, YAML, a ConfigMap holding one); refused saying where. */
  parseDocument(text: string, fileName = 'the file'): AuthzConfig {
    try {
      return parseAuthzConfigDocument(text, fileName);
    } catch (err) {
      if (err instanceof AuthzConfigError) throw new BadRequestError(err.message);
      throw err;
    }
  }

  /**
   * A version of a set as a file for `--authz-config`: the file it was saved from, byte for byte, when
   * one was kept and is asked for in its syntax; otherwise its config written as JSON or YAML.
   */
  exportFile(name: string, version: number | undefined, format?: 'json' | 'yaml'): { fileName: string; contentType: string; text: string; format: 'json' | 'yaml'; original: boolean } {
    const v = version ?? this.getSet(name).currentVersion;
    const { config } = this.version(name, v);
    const kept = this.store.policies.source(name, v);
    const as = format ?? kept?.format ?? 'json';
    const text = kept?.format === as ? kept.text : as === 'json' ? `${JSON.stringify(config, null, 2)}\n` : stringifyYaml(config);
    return { fileName: `${name}-v${v}.${as}`, contentType: as === 'json' ? 'application/json' : 'application/yaml', text, format: as, original: kept?.format === as };
  }

  // ---- saved cases --------------------------------------------------------------------------

  cases(set: string): PolicyCaseRecord[] {
    this.getSet(set);
    return this.store.policyCases.list(set);
  }

  addCase(set: string, label: string, input: SimulationInput, expect: 'allow' | 'deny'): PolicyCaseRecord {
    this.getSet(set);
    return this.store.policyCases.add(set, label, input, expect);
  }

  removeCase(set: string, id: number): void {
    if (!this.store.policyCases.remove(set, id)) throw new NotFoundError(`Policy set "${set}" has no case ${id}.`, { action: 'list-policies' });
  }

  /** The set's cases decided by a draft (or by the set as it runs): what each gets, and whether that is what it expects. */
  runCases(set: string, source: PolicyEngine | { config: unknown } = this.engineFor(set)): CaseRun[] {
    const engine = source instanceof PolicyEngine ? source : new PolicyEngine(this.parse(source.config));
    return this.store.policyCases.list(set).map((c) => {
      const input = this.withKnownAnnotations(c.input as SimulationInput);
      const r = decideAs(engine, input);
      const got = r.allowed ? 'allow' : 'deny';
      return { id: c.id, label: c.label, expect: c.expect, got, passed: got === c.expect, determining: r.determining.map((d) => d.index) };
    });
  }

  /** Attaches a set to a server (or detaches with null); applies to the running proxy at once. */
  attach(server: string, setName: string | null): void {
    if (setName !== null) this.getSet(setName);
    const before = this.store.servers.get(server)?.policySet ?? null;
    this.store.servers.setPolicySet(server, setName);
    try {
      this.install({ name: server, policySet: setName });
      if (this.broken.has(server)) throw new BadRequestError(this.broken.get(server)!);
    } catch (err) {
      this.store.servers.setPolicySet(server, before);
      this.install({ name: server, policySet: before });
      throw err;
    }
    this.log(server, 'info', setName ? `Policy set ${setName} attached to ${server}` : `Authorization removed from ${server}: every request passes`);
  }

  delete(name: string): void {
    const set = this.getSet(name);
    if (set.servers.length > 0) throw new ConflictError(`Policy set "${name}" is attached to ${set.servers.join(', ')}.`, { action: 'detach-policy', servers: set.servers });
    this.store.policies.delete(name);
    this.engines.delete(name);
  }

  simulate(source: { set: string; version?: number } | { config: unknown }, given: SimulationInput): SimulationResult {
    const input = this.withKnownAnnotations(given);
    if ('config' in source) {
      const parsed = this.parse(source.config);
      const check = checkAuthzConfig(parsed);
      if (!check.ok) throw new PolicyCheckError(check, 'The policies');
      return simulate(parsed, input);
    }
    if (source.version !== undefined) return simulate(this.parse(this.version(source.set, source.version).config), input);
    return simulate(this.engineFor(source.set), input);
  }

  /** A tool's annotations as its server declared them, as the proxy would add them (a forbid on destructiveHint holds here too). */
  private withKnownAnnotations(given: SimulationInput): SimulationInput {
    if (given.feature !== 'tool' || given.annotations !== undefined || given.serverName === undefined) return given;
    const known = (this.knowledge.get(given.serverName) ?? ToolKnowledge.restore(this.store.serverFeatures.get(given.serverName))).annotationsOf(given.name);
    return known ? { ...given, annotations: known } : given;
  }

  private engineFor(setName: string): PolicyEngine {
    const set = this.store.policies.get(setName);
    if (!set) throw new Error(`the policy set "${setName}" does not exist`);
    const cached = this.engines.get(setName);
    if (cached && cached.version === set.currentVersion) return cached.engine;
    const engine = new PolicyEngine(this.parse(set.config, `Policy set "${setName}"`));
    this.engines.set(setName, { version: set.currentVersion, engine });
    return engine;
  }
}
