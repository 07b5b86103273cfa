import type { DecisionLog } from './decision-log.js';
import type { LogSink } from '../logs/index.js';
import { PortInUseError, ProxyServer, type McpBackend, type ProxyLog, type ProxyLogLevel, type UpstreamCredentials } from '../proxy/index.js';
import type { ContainerEvent, ContainerRuntime } from '../runtime/index.js';
import type { SecretsProvider } from '../secrets/index.js';
import type { OAuthTokenStore } from '../oauth/index.js';
import type { NetworkSetting, ServerRecord, ServerStatus, Store, TransportKind } from '../store/index.js';
import { AuthManager } from './auth-manager.js';
import { AuthzManager, PolicyCheckError } from './authz-manager.js';
import { authorizationLayer } from '../authz/index.js';
import { localRouteTransport, type LocalRoute } from '../auth/index.js';
import { auditLayer, buildSignInEvent, defaultAuditConfig, signInEventMessage, type AuditConfig, type AuditEvent, type AuditFileWriter } from '../audit/index.js';
import type { SignInStep } from '../authserver/index.js';
import type { Middleware } from '../proxy/index.js';
import { DEFAULT_HEALTH_CHECK, HealthMonitor, type HealthCheckSettings } from './health-monitor.js';
import { BadRequestError, ConflictError, NotFoundError } from './errors.js';
import { ContainerKind, INSTANCE_LABEL, RemoteKind, type ServerKind } from './kinds/index.js';
import { assertValidServerName, nameFromImage, nameFromUrl } from './names.js';
import { pickFreePort } from './ports.js';
import type { RunRequest } from './run-request.js';
import type { CallerSignInTarget } from './sign-ins.js';

export { INSTANCE_LABEL };
export type { RunRequest } from './run-request.js';

export interface ManagerSettings {
  /** Network for containers whose profile allows network: 'default' (bridge, port on 127.0.0.1) or 'host'. */
  defaultNetwork: NetworkSetting;
  /** Identifies this Gatehouse installation's containers (one per GATEHOUSE_HOME). */
  instanceId: string;
  requestTimeoutMs: number;
  startTimeoutMs: number;
  /** 'missing' pulls images that are not present; 'never' only uses local images (offline machines, tests). */
  pullPolicy: 'missing' | 'never';
  /** ToolHive's audit config (default: every event, stored with the logs). */
  audit?: AuditConfig;
  /** Where events also go as JSON lines, when the audit config names a logFile. */
  auditFile?: Pick<AuditFileWriter, 'write'>;
  /** Where each request's decisions are kept for the policy studio (sealed). */
  decisions?: Pick<DecisionLog, 'record' | 'forget'>;
  extraLabels?: Record<string, string>;
  /** Called after the set of wanted servers changed (run, start, stop, rm, rename): clients follow. Never throws. */
  onServersChanged?: () => Promise<void>;
  /** How running servers are checked (default: DEFAULT_HEALTH_CHECK). */
  healthCheck?: HealthCheckSettings;
  /** Sign-ins to remote servers (the refresh tokens in the keychain). */
  tokens: OAuthTokenStore;
  /** Per-caller credentials toward servers in containers (the embedded authorization server's upstream tokens). */
  callerCredentials?: (s: ServerRecord) => UpstreamCredentials | undefined;
  /** An issuer this machine serves behind a front (the embedded authorization server): the proxies read its keys on 127.0.0.1. */
  localIssuer?: () => LocalRoute | undefined;
  /** Checks a new server's token exchange settings and gives their stored form (`undo` if the run fails). */
  prepareTokenExchange?: (s: Pick<ServerRecord, 'name' | 'url' | 'transport' | 'auth'>, input: unknown) => Promise<{ stored: unknown; undo: () => Promise<void> }>;
  /** After a server's row was deleted, with its last record: what other parts keep for it goes (the token exchange secret). Never throws. */
  onServerRemoved?: (s: ServerRecord) => Promise<void>;
}

interface Live {
  proxy: ProxyServer;
  backend?: McpBackend;
  /** Lets go of what the kind holds for the running backend (attachments, log follows, refresh timers). */
  release?: () => void;
  /** Set while Gatehouse itself stops the container, so its exit is not reported as a crash. */
  expectingExit: boolean;
  health?: HealthMonitor;
  /** Serializes lifecycle operations on one server (start/stop/restart never interleave). */
  queue: Promise<unknown>;
}

/**
 * Owns the servers: their definitions (store), containers (runtime) and proxies. Every lifecycle
 * operation goes through here, for the CLI, the API, the tray and the restore at start-up alike.
 */
export class ServerManager {
  private readonly live = new Map<string, Live>();
  readonly auth: AuthManager;
  readonly authz: AuthzManager;
  private readonly containers: ContainerKind;
  private readonly remotes: RemoteKind;

  constructor(
    private readonly store: Store,
    private readonly logs: LogSink,
    private readonly runtime: () => Promise<ContainerRuntime>,
    private readonly settings: ManagerSettings,
    private readonly secrets: () => SecretsProvider,
  ) {
    this.auth = new AuthManager(store, {
      secrets,
      ...(settings.localIssuer ? { request: localRouteTransport(settings.localIssuer) } : {}),
      onWarning: (m) => this.logs.write({ server: '-', source: 'core', level: 'warn', message: m, fields: null }),
    });
    this.authz = new AuthzManager(store, (server, level, message) => this.coreLog(server, level, message));
    const coreLog = (server: string, level: ProxyLogLevel, message: string) => this.coreLog(server, level, message);
    this.containers = new ContainerKind({ store, logs, runtime, secrets, settings, coreLog });
    this.remotes = new RemoteKind({ store, logs, secrets, tokens: settings.tokens, requestTimeoutMs: settings.requestTimeoutMs });
    // A sign-in that starts, ends or cannot be refreshed shows in the server's status at once.
    settings.tokens.onChange((name) => void this.followSignIn(name));
  }

  private kindOf(s: Pick<ServerRecord, 'url'>): ServerKind {
    return s.url !== null ? this.remotes : this.containers;
  }

  /** Whether a server is a remote one (no container). */
  isRemote(s: Pick<ServerRecord, 'url'>): boolean {
    return s.url !== null;
  }

  private async followSignIn(name: string): Promise<void> {
    const s = this.store.servers.get(name);
    const live = this.live.get(name);
    if (!s || !this.isRemote(s) || !live?.backend) return;
    if (s.status !== 'running' && s.status !== 'needs-sign-in' && s.status !== 'auth-retrying' && s.status !== 'unhealthy') return;
    const next = await this.remotes.authStatus(s).catch(() => undefined);
    if (!next || (next.status === 'running' && s.status === 'unhealthy')) return;
    if (next.status !== s.status) this.coreLog(name, next.status === 'running' ? 'info' : 'warn', next.status === 'running' ? `Signed in to ${name}` : `Server ${name}: ${next.status === 'needs-sign-in' ? 'sign-in required' : 'retrying its sign-in'} (${next.detail ?? ''})`);
    this.setStatus(name, next.status, next.detail);
    live.proxy.setState(next.status === 'running' ? 'running' : next.status, next.detail ?? undefined);
  }

  list(): ServerRecord[] {
    return this.store.servers.list();
  }

  /**
   * Where Gatehouse signs in for a local server's callers: its proxy takes tokens from a user's identity
   * provider (not Kubernetes service accounts), for the proxy's own URL. Undefined otherwise.
   */
  callerTarget(s: ServerRecord): CallerSignInTarget | undefined {
    if (this.isRemote(s)) return undefined;
    const st = this.auth.state(s.name);
    if (!st || 'failure' in st || st.config.requiredSubject !== undefined) return undefined;
    const c = st.config;
    return {
      issuer: c.issuer,
      resource: st.resourceUrls[0]!,
      scopes: c.scopes,
      // A client id with a secret is the proxy's own (introspection); a public one is Gatehouse's to sign in with.
      ...(c.clientId && !c.clientSecretRef ? { clientId: c.clientId } : {}),
      allowPrivateIp: c.allowPrivateIp,
    };
  }

  get(name: string): ServerRecord {
    const s = this.store.servers.get(name);
    if (!s) throw new NotFoundError(`No server named "${name}".`, { action: 'list-servers' });
    return s;
  }

  url(s: ServerRecord): string {
    const path = s.transport === 'sse' ? '/sse' : '/mcp';
    return `http://127.0.0.1:${s.proxyPort}${path}`;
  }

  health(name: string): Record<string, unknown> | undefined {
    return this.live.get(name)?.proxy.health();
  }

  // ---- run -------------------------------------------------------------------------------

  async run(req: RunRequest): Promise<ServerRecord> {
    if ((req.image === undefined) === (req.url === undefined)) throw new BadRequestError('Give the image of a server to run, or the URL of a remote server.');
    const kind = this.kindOf({ url: req.url ?? null });
    const name = req.name ?? (req.url !== undefined ? nameFromUrl(req.url) : nameFromImage(req.image ?? ''));
    assertValidServerName(name);
    if (this.store.servers.get(name)) throw new ConflictError(`A server named "${name}" already exists.`, { action: 'choose-another-name', server: name });

    const authConfig = this.auth.parse(req.auth);
    // Policies are checked before anything exists: a bad file refuses the run with every problem listed.
    const policySet = req.policySet ?? (req.authzConfig !== undefined ? name : undefined);
    if (req.authzConfig !== undefined) {
      const check = this.authz.check(req.authzConfig, [], { strict: req.authzStrict === true });
      if (!check.ok) throw new PolicyCheckError(check, 'The authz-config');
    } else if (policySet !== undefined) this.authz.getSet(policySet);
    const taken = this.store.servers.usedProxyPorts();
    let proxyPort = req.proxyPort;
    if (proxyPort !== undefined) {
      if (!Number.isInteger(proxyPort) || proxyPort < 1 || proxyPort > 65535) throw new BadRequestError(`Invalid proxy port ${proxyPort}: use 1-65535.`);
      const owner = this.store.servers.byProxyPort(proxyPort);
      if (owner) throw new ConflictError(`Port ${proxyPort} already belongs to server "${owner.name}".`);
    } else {
      proxyPort = await pickFreePort(taken);
    }
    const definition = await kind.define(req, name, taken);
    const transport = definition.fields.transport;
    let tokenExchange: { stored: unknown; undo: () => Promise<void> } | undefined;
    if (req.tokenExchange !== undefined && req.tokenExchange !== null) {
      if (!this.settings.prepareTokenExchange) throw new BadRequestError('Token exchange is not available in this core.');
      tokenExchange = await this.settings.prepareTokenExchange({ name, url: definition.fields.url, transport, auth: authConfig }, req.tokenExchange);
    }

    // Bind the proxy first: a busy port is a clear error before anything is created.
    const proxy = this.newProxy(name, proxyPort, transport);
    try {
      await proxy.listen();
    } catch (err) {
      await tokenExchange?.undo();
      if (err instanceof PortInUseError) throw new ConflictError(err.message);
      throw err;
    }
    const live: Live = { proxy, expectingExit: false, queue: Promise.resolve() };
    let record: ServerRecord;
    let createdSet = false;
    try {
      record = this.store.servers.insert({
        name,
        ...definition.fields,
        auth: authConfig,
        ...(tokenExchange ? { tokenExchange: tokenExchange.stored } : {}),
        proxyPort,
        group: req.group ?? 'default',
        desiredState: 'running',
        status: 'starting',
      });
      // Settings that cannot be built (an unknown profile, say) refuse the run before a container exists.
      this.auth.installBuilt(name, this.auth.build(record));
      if (policySet !== undefined) {
        if (req.authzConfig !== undefined) {
          createdSet = this.store.policies.get(policySet) === undefined;
          this.authz.save(policySet, req.authzConfig, `from gatehouse run ${name}`, { strict: req.authzStrict === true, ...(req.authzSource ? { source: req.authzSource } : {}) });
        }
        this.authz.attach(name, policySet);
        record = this.get(name);
      }
      this.live.set(name, live);
      await definition.create(record);
    } catch (err) {
      // Nothing half-made survives a failed run: no row, no listener, no policy set it created.
      this.live.delete(name);
      this.auth.drop(name);
      this.authz.drop(name);
      if (createdSet && policySet !== undefined) this.store.policies.delete(policySet);
      this.store.servers.delete(name);
      await tokenExchange?.undo();
      await proxy.close();
      throw err;
    }
    this.store.statusHistory.record(name, 'starting', 'created');
    this.coreLog(name, 'info', `Created server ${name} (${definition.summary}) on ${this.url(record)}`);
    // A container that fails to start leaves the definition in place, marked error, for the user to inspect.
    await this.serialized(name, () => this.bringUp(name));
    await this.changed();
    return this.get(name);
  }

  // ---- lifecycle -------------------------------------------------------------------------

  async start(name: string): Promise<ServerRecord> {
    this.get(name);
    this.store.servers.setDesiredState(name, 'running');
    await this.serialized(name, () => this.bringUp(name, false, true));
    await this.changed();
    return this.get(name);
  }

  async stop(name: string): Promise<ServerRecord> {
    this.get(name);
    this.store.servers.setDesiredState(name, 'stopped');
    await this.serialized(name, () => this.bringDown(name, 'stopped', 'stopped by user'));
    await this.changed();
    return this.get(name);
  }

  async restart(name: string): Promise<ServerRecord> {
    this.get(name);
    this.store.servers.setDesiredState(name, 'running');
    await this.serialized(name, async () => {
      await this.bringDown(name, 'stopped', 'restarting');
      await this.bringUp(name, false, true);
    });
    return this.get(name);
  }

  async remove(name: string, force: boolean): Promise<void> {
    const s = this.get(name);
    if (s.status === 'running' && !force) {
      throw new ConflictError(`Server "${name}" is running.`, { action: 'stop-server', server: name });
    }
    await this.serialized(name, async () => {
      await this.bringDown(name, 'stopped', 'removing');
      await this.kindOf(s).removed(this.get(name));
      // Its sign-in goes with it: a remote server's own, or a local server's for its callers.
      await this.settings.tokens.forgetAll(name);
      const live = this.live.get(name);
      this.live.delete(name);
      await live?.proxy.close();
      this.auth.drop(name);
      this.authz.drop(name);
      this.settings.decisions?.forget(name);
      const last = this.get(name);
      this.store.servers.delete(name);
      this.store.statusHistory.record(name, 'stopped', 'removed');
      await this.settings.onServerRemoved?.(last);
      this.coreLog(name, 'info', `Removed server ${name}`);
    });
    await this.changed();
  }

  /**
   * Renames a server. Its container carries the old name in its labels, so a running server is stopped,
   * its container replaced and started again under the new name; the proxy keeps its port (so only the
   * name in client entries changes, and registered clients follow).
   */
  async rename(name: string, newName: string): Promise<ServerRecord> {
    const s = this.get(name);
    assertValidServerName(newName);
    if (newName === name) return s;
    if (this.store.servers.get(newName)) throw new ConflictError(`A server named "${newName}" already exists.`);
    const wasRunning = s.desiredState === 'running';
    await this.serialized(name, async () => {
      await this.bringDown(name, 'stopped', `renaming to ${newName}`);
      await this.kindOf(s).renaming(this.get(name), newName);
      await this.settings.tokens.rename(name, newName);
      const live = this.live.get(name);
      this.live.delete(name);
      await live?.proxy.close();
      this.auth.drop(name);
      this.authz.drop(name);
      this.store.servers.rename(name, newName);
      this.store.statusHistory.record(newName, 'stopped', `renamed from ${name}`);
      const renamed = this.get(newName);
      this.auth.install(renamed);
      this.authz.install(renamed);
      const proxy = this.newProxy(newName, renamed.proxyPort, renamed.transport);
      await proxy.listen();
      this.live.set(newName, { proxy, expectingExit: false, queue: Promise.resolve() });
      this.coreLog(newName, 'info', `Renamed server ${name} to ${newName}`);
    });
    if (wasRunning) await this.serialized(newName, () => this.bringUp(newName, false, true));
    await this.changed();
    return this.get(newName);
  }

  /** Registered clients follow the servers; their problems are logged by the callee, never thrown here. */
  private async changed(): Promise<void> {
    try {
      await this.settings.onServersChanged?.();
    } catch (err) {
      this.coreLog('-', 'warn', `Updating client configurations failed: ${(err as Error).message}`);
    }
  }

  /**
   * Start-up: bind every server's proxy on its stored port, adopt containers that are still running
   * (found by label), and bring back the servers that should be running.
   */
  async restoreAll(): Promise<void> {
    for (const s of this.store.servers.list()) {
      if (this.live.has(s.name)) continue;
      this.auth.install(s);
      this.authz.install(s);
      const proxy = this.newProxy(s.name, s.proxyPort, s.transport);
      try {
        await proxy.listen();
      } catch (err) {
        this.setStatus(s.name, 'error', (err as Error).message);
        continue;
      }
      this.live.set(s.name, { proxy, expectingExit: false, queue: Promise.resolve() });
    }
    await this.reconcile();
    // Entries written by an earlier core may point at an old Node binary or miss a change: refresh them.
    await this.changed();
  }

  /** Makes reality match the definitions: used at start-up and after the engine comes back. */
  async reconcile(): Promise<void> {
    const all = this.store.servers.list();
    const remote = all.filter((s) => this.isRemote(s));
    const inContainers = all.filter((s) => !this.isRemote(s));
    // Remote servers need no engine: they come back even when it is missing.
    await Promise.all(
      remote.map((s) =>
        this.serialized(s.name, async () => {
          const live = this.live.get(s.name);
          if (s.desiredState === 'running') {
            if (!live?.backend) await this.bringUp(s.name, true);
          } else {
            this.setStatus(s.name, 'stopped', null);
            live?.proxy.setState('stopped');
          }
        }),
      ),
    );
    if (inContainers.length === 0) return;
    let runtime: ContainerRuntime;
    try {
      runtime = await this.runtime();
    } catch (err) {
      for (const s of inContainers) {
        if (s.desiredState === 'running') this.setStatus(s.name, 'error', (err as Error).message);
        this.live.get(s.name)?.proxy.setState('error', (err as Error).message);
      }
      return;
    }
    const containers = await runtime.listManaged([`${INSTANCE_LABEL}=${this.settings.instanceId}`]);
    const byServer = new Map(containers.map((c) => [c.serverName, c]));
    await Promise.all(
      inContainers.map((s) =>
        this.serialized(s.name, async () => {
          const c = byServer.get(s.name);
          if (c && c.id !== s.containerId) this.store.servers.setContainer(s.name, c.id);
          const live = this.live.get(s.name);
          if (s.desiredState === 'running') {
            const running = c ? (await runtime.state(c.id))?.running === true : false;
            if (live?.backend && running) return; // already serving
            // A backend whose container is gone (the engine restarted under it) is stale: rebuild it.
            if (live?.backend) await this.teardown(s.name, live);
            await this.bringUp(s.name, true);
          } else {
            if (c?.state === 'running') await runtime.stop(c.id);
            this.setStatus(s.name, 'stopped', null);
            live?.proxy.setState('stopped');
          }
        }),
      ),
    );
  }

  /** A container event from the engine (die, oom, ...). */
  onContainerEvent(e: ContainerEvent): void {
    if (e.action !== 'die' || !e.serverName) return;
    const name = e.serverName;
    const live = this.live.get(name);
    const s = this.store.servers.get(name);
    if (!live || !s || s.containerId !== e.id) return;
    if (live.expectingExit) return;
    void this.serialized(name, async () => {
      if (live.expectingExit || !live.backend) return;
      const lastLines = this.store.logs.query({ server: name, sources: ['container'], limit: 5 }).map((l) => l.message);
      const detail = `exited with code ${e.exitCode ?? '?'}${lastLines.length ? `; last output: ${lastLines.join(' | ').slice(0, 800)}` : ''}`;
      await this.teardown(name, live);
      this.setStatus(name, 'error', detail, e.exitCode ?? null);
      live.proxy.setState('error', `the container ${detail}`);
      this.coreLog(name, 'error', `Server ${name} ${detail}`);
    });
  }

  /** Clean shutdown of the core: stop proxies and containers, keep desired states for the next start. */
  async shutdown(stopContainers: boolean): Promise<void> {
    const runtime = stopContainers ? await this.runtime().catch(() => undefined) : undefined;
    await Promise.all(
      [...this.live.entries()].map(async ([name, live]) => {
        await live.queue.catch(() => {});
        const s = this.store.servers.get(name);
        live.expectingExit = true;
        await this.teardown(name, live);
        if (runtime && s?.containerId && s.status === 'running') {
          await runtime.stop(s.containerId, 5).catch(() => {});
          this.setStatus(name, 'stopped', 'Gatehouse quit');
        } else if (s && this.isRemote(s) && s.desiredState === 'running') this.setStatus(name, 'stopped', 'Gatehouse quit');
        await live.proxy.close();
      }),
    );
    this.live.clear();
    this.auth.close();
    this.authz.flush();
  }

  // ---- internals -------------------------------------------------------------------------

  private newProxy(name: string, port: number, transport: TransportKind): ProxyServer {
    const log: ProxyLog = (level, message, fields) => this.logs.write({ server: name, source: 'proxy', level, message, fields: fields ?? null });
    return new ProxyServer({
      serverName: name,
      port,
      transport,
      log,
      outerLayers: [this.auditLayerFor(name)],
      auth: () => this.auth.state(name),
      layers: [authorizationLayer(() => this.authz.state(name), log)],
    });
  }

  /**
   * Every request to a server yields a ToolHive audit event, stored with the logs (source "audit",
   * searchable and followable like any line) and, when the core's audit config names a logFile, also
   * appended there as ToolHive's JSON lines for existing pipelines.
   */
  private auditLayerFor(name: string): Middleware {
    const config = this.settings.audit ?? defaultAuditConfig();
    return auditLayer({
      config,
      transport: 'http',
      emit: (event, decision) => {
        this.settings.decisions?.record(name, event, decision);
        const what = [event.target?.method, event.target?.name].filter(Boolean).join(' ') || event.type;
        const reason = event.outcome === 'denied' && typeof event.metadata?.extra['authz_reason'] === 'string' ? ` (${event.metadata.extra['authz_reason']})` : '';
        this.writeAudit(name, event, `${what} by ${event.subjects.user_id ?? event.subjects.user}: ${event.outcome}${reason}`);
      },
      onError: (err) => this.coreLog(name, 'warn', `Audit event dropped: ${(err as Error).message}`),
    });
  }

  /**
   * A step of a sign-in at the embedded authorization server, in the same log and file as the proxy's
   * events: under the server it was for, or the core's own when it names none (a registration).
   */
  recordSignIn(step: SignInStep, server: string | undefined, at: Date = new Date()): void {
    const event = buildSignInEvent({ config: this.settings.audit ?? defaultAuditConfig(), step, ...(server ? { serverName: server } : {}), now: at });
    if (event) this.writeAudit(server ?? '-', event, signInEventMessage(step));
  }

  private writeAudit(server: string, event: AuditEvent, message: string): void {
    this.logs.write({
      server,
      source: 'audit',
      level: event.outcome === 'denied' ? 'warn' : event.outcome === 'error' ? 'error' : 'info',
      message,
      fields: event as unknown as Record<string, unknown>,
    });
    this.settings.auditFile?.write(event);
  }

  /** Changes who may call a server; applies to the running proxy at once, the container keeps running. */
  async setAuth(name: string, config: unknown): Promise<ServerRecord> {
    this.get(name);
    this.auth.setServerAuth(name, config);
    this.coreLog(name, 'info', `Authentication settings of ${name} changed`);
    // Client entries follow: a server that now needs Gatehouse's sign-in gets the bridge in clients that can start one.
    await this.changed();
    return this.get(name);
  }

  /**
   * The kind brings the backend up (a container attached and initialized, or a remote reached); the
   * proxy puts it in service. Errors end in status error, not a throw.
   * @param adopting  restoring after a core restart: keep a running container as it is
   * @param recreate  an explicit start: replace a stopped container so current secrets and settings apply
   */
  private async bringUp(name: string, adopting = false, recreate = false): Promise<void> {
    const live = this.live.get(name);
    if (!live) return;
    if (live.backend) return;
    this.setStatus(name, 'starting', adopting ? 'restoring' : null);
    live.proxy.setState('starting');
    const s = this.get(name);
    const kind = this.kindOf(s);
    try {
      live.expectingExit = false;
      const running = await kind.up(s, { adopting, recreate });
      live.release = running.release;
      const backend = running.backend;
      live.backend = backend;
      const auth = this.isRemote(s) ? await this.remotes.authStatus(s) : { status: 'running' as const, detail: null };
      await live.proxy.setBackend(backend, auth.status === 'running' ? 'running' : auth.status, auth.detail ?? undefined);
      this.setStatus(name, auth.status, auth.detail);
      // A sign-in that changed while the status above was worked out (the first refresh) is read again.
      if (this.isRemote(s)) void this.followSignIn(name);
      live.health = new HealthMonitor((timeoutMs) => backend.probe(timeoutMs), this.settings.healthCheck ?? DEFAULT_HEALTH_CHECK, (healthy, detail) => {
        const now = this.store.servers.get(name)?.status;
        if (!healthy && now === 'running') {
          this.setStatus(name, 'unhealthy', detail);
          this.coreLog(name, 'warn', `Server ${name} is unhealthy: ${detail}`);
        } else if (healthy && now === 'unhealthy') {
          this.setStatus(name, 'running', null);
          this.coreLog(name, 'info', `Server ${name} ${detail}`);
          void this.followSignIn(name);
        }
      });
      live.health.start();
      this.coreLog(name, 'info', `Server ${name} is running${running.note ? ` (${running.note})` : ''}`);
      if (auth.status === 'needs-sign-in') this.coreLog(name, 'warn', `Server ${name} needs a sign-in: gatehouse login ${name}`);
    } catch (err) {
      await this.teardown(name, live);
      const detail = await kind.failureDetail(s, err);
      this.setStatus(name, 'error', detail.message, detail.exitCode);
      live.proxy.setState('error', detail.message);
      this.coreLog(name, 'error', `Server ${name} failed to start: ${detail.message}`);
    }
  }

  private async bringDown(name: string, status: ServerStatus, detail: string): Promise<void> {
    const live = this.live.get(name);
    const s = this.get(name);
    this.setStatus(name, 'stopping', detail);
    if (live) {
      live.expectingExit = true;
      live.proxy.setState('stopping');
      await this.teardown(name, live);
    }
    await this.kindOf(s).stopped(s);
    this.setStatus(name, status, detail === 'stopped by user' ? null : detail);
    live?.proxy.setState(status);
  }

  private async teardown(_name: string, live: Live): Promise<void> {
    live.health?.stop();
    live.health = undefined;
    const backend = live.backend;
    live.backend = undefined;
    await live.proxy.setBackend(undefined, 'stopped');
    if (backend) await backend.close();
    live.release?.();
    live.release = undefined;
  }

  private setStatus(name: string, status: ServerStatus, detail: string | null, exitCode: number | null = null): void {
    const s = this.store.servers.get(name);
    if (!s) return;
    if (s.status === status && s.statusDetail === detail) return;
    this.store.servers.setStatus(name, status, detail);
    this.store.statusHistory.record(name, status, detail, exitCode);
  }

  private coreLog(server: string, level: ProxyLogLevel, message: string): void {
    this.logs.write({ server, source: 'core', level, message, fields: null });
  }

  private serialized<T>(name: string, op: () => Promise<T>): Promise<T> {
    const live = this.live.get(name);
    if (!live) return op();
    const next = live.queue.catch(() => {}).then(op);
    live.queue = next;
    return next;
  }
}
