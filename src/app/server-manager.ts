import type { LogSink } from '../logs/index.js';
import { PortInUseError, ProxyServer, ReverseProxyBackend, StdioBackend, type McpBackend, type ProxyLog, type ProxyLogLevel } from '../proxy/index.js';
import {
  ContainerSpecError,
  MountSpecError,
  PermissionProfileError,
  UnsupportedProfileError,
  assertProfileSupported,
  buildContainerSpec,
  containerName,
  loadPermissionProfile,
  parseCpus,
  parseMemory,
  parseVolumeFlag,
  type ContainerEvent,
  type ContainerRuntime,
  type MountSpec,
  type PermissionProfile,
} from '../runtime/index.js';
import type { SecretsProvider } from '../secrets/index.js';
import { assertValidSecretName } from '../secrets/index.js';
import type { NetworkSetting, SecretRef, ServerRecord, ServerStatus, Store, TransportKind } from '../store/index.js';
import { AuthManager } from './auth-manager.js';
import { AuthzManager, PolicyCheckError } from './authz-manager.js';
import { authorizationLayer } from '../authz/index.js';
import { auditLayer, defaultAuditConfig, type AuditConfig, type AuditFileWriter } from '../audit/index.js';
import type { Middleware } from '../proxy/index.js';
import { DEFAULT_HEALTH_CHECK, HealthMonitor, type HealthCheckSettings } from './health-monitor.js';
import { BadRequestError, ConflictError, NotFoundError } from './errors.js';
import { assertValidServerName, nameFromImage } from './names.js';
import { pickFreePort, waitForPort } from './ports.js';

export const INSTANCE_LABEL = 'dev.gatehouse.instance';

export interface RunRequest {
  image: string;
  name?: string;
  transport?: TransportKind;
  proxyPort?: number;
  targetPort?: number;
  env?: Record<string, string>;
  /** `--secret NAME,target=ENV`: references to secrets, resolved into the container's environment at start. */
  secrets?: SecretRef[];
  /** Authentication settings, ToolHive's oidcConfig shape (default: none, local mode). */
  auth?: unknown;
  /** ToolHive's authz-config: saved as a policy set named after the server (or `policySet`) and attached. */
  authzConfig?: unknown;
  /** Attach this existing policy set (or, with authzConfig, the name to save it under). */
  policySet?: string;
  /** Refuse an authzConfig with validator findings (`--strict`). */
  authzStrict?: boolean;
  /** `-v` flags, host paths already absolute (the CLI resolves them against its own working directory). */
  volumes?: string[];
  /** none | network | absolute path to a JSON profile */
  permissionProfile?: string;
  args?: string[];
  group?: string;
  memory?: string;
  cpus?: string;
  network?: NetworkSetting;
}

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
  extraLabels?: Record<string, string>;
  /** Called after the set of wanted servers changed (run, start, stop, rm, rename): clients follow. Never throws. */
  onServersChanged?: () => Promise<void>;
  /** How running servers are checked (default: DEFAULT_HEALTH_CHECK). */
  healthCheck?: HealthCheckSettings;
}

interface Live {
  proxy: ProxyServer;
  backend?: McpBackend;
  detach?: () => void;
  stopLogs?: () => void;
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

  constructor(
    private readonly store: Store,
    private readonly logs: LogSink,
    private readonly runtime: () => Promise<ContainerRuntime>,
    private readonly settings: ManagerSettings,
    private readonly secrets: () => SecretsProvider,
  ) {
    this.auth = new AuthManager(store, {
      secrets,
      onWarning: (m) => this.logs.write({ server: '-', source: 'core', level: 'warn', message: m, fields: null }),
    });
    this.authz = new AuthzManager(store, (server, level, message) => this.coreLog(server, level, message));
  }

  list(): ServerRecord[] {
    return this.store.servers.list();
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
    const name = req.name ?? nameFromImage(req.image);
    assertValidServerName(name);
    if (this.store.servers.get(name)) throw new ConflictError(`A server named "${name}" already exists.`, { action: 'choose-another-name', server: name });
    const transport = req.transport ?? 'stdio';
    const profileSpec = req.permissionProfile ?? 'network';
    let profile: PermissionProfile;
    let mounts: MountSpec[];
    let memoryBytes: number | null = null;
    let nanoCpus: number | null = null;
    try {
      profile = (await loadPermissionProfile(profileSpec)).profile;
      mounts = (req.volumes ?? []).map((v) => parseVolumeFlag(v));
      if (req.memory) memoryBytes = parseMemory(req.memory);
      if (req.cpus) nanoCpus = parseCpus(req.cpus);
      assertProfileSupported(profile);
    } catch (err) {
      throw new BadRequestError((err as Error).message);
    }
    for (const key of Object.keys(req.env ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new BadRequestError(`Invalid environment variable name "${key}".`);
    }
    const secretRefs = req.secrets ?? [];
    for (const ref of secretRefs) {
      try {
        assertValidSecretName(ref.name);
      } catch (err) {
        throw new BadRequestError((err as Error).message);
      }
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref.target)) throw new BadRequestError(`Invalid target variable "${ref.target}" for secret ${ref.name}.`);
      if (req.env?.[ref.target] !== undefined) throw new BadRequestError(`${ref.target} is set both as an environment variable and by the secret ${ref.name}; keep one.`);
    }
    if (new Set(secretRefs.map((r) => r.target)).size !== secretRefs.length) throw new BadRequestError('Two secrets target the same environment variable.');

    const authConfig = this.auth.parse(req.auth);
    // Policies are checked before anything exists: a bad file refuses the run with every problem listed.
    const policySet = req.policySet ?? (req.authzConfig !== undefined ? name : undefined);
    if (req.authzConfig !== undefined) {
      const check = this.authz.check(req.authzConfig, undefined, { strict: req.authzStrict === true });
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
    const targetPort = transport === 'stdio' ? null : (req.targetPort ?? (await pickFreePort(taken, 20000, 39999)));
    const runtime = await this.runtime();
    await runtime.ensureImage(req.image, { pull: this.settings.pullPolicy !== 'never', onProgress: (m) => this.coreLog(name, 'info', m) });

    // Bind the proxy first: a busy port is a clear error before anything is created.
    const proxy = this.newProxy(name, proxyPort, transport);
    try {
      await proxy.listen();
    } catch (err) {
      if (err instanceof PortInUseError) throw new ConflictError(err.message);
      throw err;
    }
    const live: Live = { proxy, expectingExit: false, queue: Promise.resolve() };
    let record: ServerRecord;
    let createdSet = false;
    try {
      record = this.store.servers.insert({
        name,
        image: req.image,
        url: null,
        transport,
        args: req.args ?? [],
        env: req.env ?? {},
        secrets: secretRefs,
        auth: authConfig,
        volumes: req.volumes ?? [],
        permissionProfile: profileSpec,
        profile,
        proxyPort,
        targetPort,
        group: req.group ?? 'default',
        memoryBytes,
        nanoCpus,
        networkSetting: req.network ?? this.settings.defaultNetwork,
        desiredState: 'running',
        status: 'starting',
      });
      // Settings that cannot be built (an unknown profile, say) refuse the run before a container exists.
      this.auth.installBuilt(name, this.auth.build(record));
      if (policySet !== undefined) {
        if (req.authzConfig !== undefined) {
          createdSet = this.store.policies.get(policySet) === undefined;
          this.authz.save(policySet, req.authzConfig, `from gatehouse run ${name}`, { strict: req.authzStrict === true });
        }
        this.authz.attach(name, policySet);
        record = this.get(name);
      }
      this.live.set(name, live);
      await this.createContainer(record, runtime, mounts);
    } catch (err) {
      // Nothing half-made survives a failed run: no row, no listener, no policy set it created.
      this.live.delete(name);
      this.auth.drop(name);
      this.authz.drop(name);
      if (createdSet && policySet !== undefined) this.store.policies.delete(policySet);
      this.store.servers.delete(name);
      await proxy.close();
      throw err instanceof ContainerSpecError || err instanceof MountSpecError || err instanceof PermissionProfileError || err instanceof UnsupportedProfileError
        ? new BadRequestError(err.message)
        : err;
    }
    this.store.statusHistory.record(name, 'starting', 'created');
    this.coreLog(name, 'info', `Created server ${name} (${req.image}, ${transport}) on ${this.url(record)}`);
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
      const runtime = await this.runtime().catch(() => undefined);
      if (s.containerId && runtime) await runtime.remove(s.containerId, true);
      const live = this.live.get(name);
      this.live.delete(name);
      await live?.proxy.close();
      this.auth.drop(name);
      this.authz.drop(name);
      this.store.servers.delete(name);
      this.store.statusHistory.record(name, 'stopped', 'removed');
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
      if (s.containerId) {
        const runtime = await this.runtime();
        await runtime.remove(s.containerId, true);
        this.store.servers.setContainer(name, null);
      }
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
    let runtime: ContainerRuntime;
    try {
      runtime = await this.runtime();
    } catch (err) {
      for (const s of this.store.servers.list()) {
        if (s.desiredState === 'running') this.setStatus(s.name, 'error', (err as Error).message);
        this.live.get(s.name)?.proxy.setState('error', (err as Error).message);
      }
      return;
    }
    const containers = await runtime.listManaged([`${INSTANCE_LABEL}=${this.settings.instanceId}`]);
    const byServer = new Map(containers.map((c) => [c.serverName, c]));
    await Promise.all(
      this.store.servers.list().map((s) =>
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
        }
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
      emit: (event) => {
        const what = [event.target?.method, event.target?.name].filter(Boolean).join(' ') || event.type;
        const reason = event.outcome === 'denied' && typeof event.metadata?.extra['authz_reason'] === 'string' ? ` (${event.metadata.extra['authz_reason']})` : '';
        this.logs.write({
          server: name,
          source: 'audit',
          level: event.outcome === 'denied' ? 'warn' : event.outcome === 'error' ? 'error' : 'info',
          message: `${what} by ${event.subjects.user_id ?? event.subjects.user}: ${event.outcome}${reason}`,
          fields: event as unknown as Record<string, unknown>,
        });
        this.settings.auditFile?.write(event);
      },
      onError: (err) => this.coreLog(name, 'warn', `Audit event dropped: ${(err as Error).message}`),
    });
  }

  /** Changes who may call a server; applies to the running proxy at once, the container keeps running. */
  setAuth(name: string, config: unknown): ServerRecord {
    this.get(name);
    this.auth.setServerAuth(name, config);
    this.coreLog(name, 'info', `Authentication settings of ${name} changed`);
    return this.get(name);
  }

  /** Secret values for the container's environment; a missing one stops the start and is named. */
  private async resolveSecrets(s: ServerRecord): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const ref of s.secrets) env[ref.target] = await this.secrets().get(ref.name);
    return env;
  }

  private async createContainer(s: ServerRecord, runtime: ContainerRuntime, mounts?: MountSpec[]): Promise<string> {
    const secretEnv = await this.resolveSecrets(s);
    const spec = buildContainerSpec({
      serverName: s.name,
      image: s.image ?? '',
      transport: s.transport,
      args: s.args,
      env: { ...s.env, ...secretEnv },
      profile: s.profile as PermissionProfile,
      extraMounts: mounts ?? s.volumes.map((v) => parseVolumeFlag(v)),
      proxyPort: s.proxyPort,
      targetPort: s.targetPort ?? undefined,
      group: s.group,
      memoryBytes: s.memoryBytes ?? undefined,
      nanoCpus: s.nanoCpus ?? undefined,
      networkSetting: s.networkSetting,
      reach: s.transport === 'stdio' ? undefined : await runtime.reach(),
      extraLabels: this.settings.extraLabels,
    });
    spec.name = containerName(s.name);
    spec.Labels = { ...spec.Labels, [INSTANCE_LABEL]: this.settings.instanceId };
    const id = await runtime.create(spec);
    this.store.servers.setContainer(s.name, id);
    return id;
  }

  /** Container up, attached, handshake done, backend in service. Errors end in status error, not a throw. */
  /**
   * @param adopting  restoring after a core restart: keep a running container as it is
   * @param recreate  an explicit start: replace a stopped container so current secrets and settings apply
   */
  private async bringUp(name: string, adopting = false, recreate = false): Promise<void> {
    const live = this.live.get(name);
    if (!live) return;
    if (live.backend) return;
    this.setStatus(name, 'starting', adopting ? 'restoring' : null);
    live.proxy.setState('starting');
    try {
      const runtime = await this.runtime();
      let s = this.get(name);
      let state = s.containerId ? await runtime.state(s.containerId) : undefined;
      if (state && !state.running && recreate) {
        await runtime.remove(s.containerId!, true);
        state = undefined;
      }
      if (!state) {
        await runtime.ensureImage(s.image ?? '', { pull: this.settings.pullPolicy !== 'never' });
        await this.createContainer(s, runtime);
        s = this.get(name);
        state = await runtime.state(s.containerId!);
      }
      const id = s.containerId!;
      live.expectingExit = false;
      let attached: Awaited<ReturnType<ContainerRuntime['attachStdio']>> | undefined;
      if (s.transport === 'stdio') {
        // Attach before start so not a byte of the server's first output is missed.
        attached = await runtime.attachStdio(id);
        live.detach = attached.detach;
      }
      const wasRunning = state?.running === true;
      if (!wasRunning) await runtime.start(id);
      live.stopLogs = await runtime.followLogs(
        id,
        { sinceMs: this.store.logs.lastTimestamp(name, 'container'), stdout: s.transport !== 'stdio', stderr: true },
        (stream, line, ts) => this.logs.write({ server: name, source: 'container', level: 'info', message: line, fields: { stream }, ts }),
      );
      const backend = attached
        ? await this.stdioBackend(name, attached, wasRunning, runtime, id)
        : await this.httpBackend(s, runtime, id);
      live.backend = backend;
      await live.proxy.setBackend(backend, 'running');
      this.setStatus(name, 'running', null);
      live.health = new HealthMonitor((timeoutMs) => backend.probe(timeoutMs), this.settings.healthCheck ?? DEFAULT_HEALTH_CHECK, (healthy, detail) => {
        const now = this.store.servers.get(name)?.status;
        if (!healthy && now === 'running') {
          this.setStatus(name, 'unhealthy', detail);
          this.coreLog(name, 'warn', `Server ${name} is unhealthy: ${detail}`);
        } else if (healthy && now === 'unhealthy') {
          this.setStatus(name, 'running', null);
          this.coreLog(name, 'info', `Server ${name} ${detail}`);
        }
      });
      live.health.start();
      this.coreLog(name, 'info', `Server ${name} is running${wasRunning ? ' (adopted the running container)' : ''}`);
    } catch (err) {
      await this.teardown(name, live);
      const detail = await this.failureDetail(name, err);
      this.setStatus(name, 'error', detail.message, detail.exitCode);
      live.proxy.setState('error', detail.message);
      this.coreLog(name, 'error', `Server ${name} failed to start: ${detail.message}`);
    }
  }

  private async stdioBackend(
    name: string,
    attached: { stdout: import('node:stream').Readable; stdin: import('node:stream').Writable; detach(): void },
    wasRunning: boolean,
    runtime: ContainerRuntime,
    id: string,
  ): Promise<McpBackend> {
    const backend = new StdioBackend(attached, {
      log: (level, message, fields) => this.logs.write({ server: name, source: 'proxy', level, message, fields: fields ?? null }),
      requestTimeoutMs: this.settings.requestTimeoutMs,
      clientInfo: { name: 'gatehouse', version: '0.1.0' },
    });
    try {
      await backend.start();
    } catch (err) {
      if (!wasRunning) throw err;
      // An adopted server that refuses a second initialize: restart it for a clean session.
      await backend.close();
      attached.detach();
      await runtime.stop(id, 5);
      const again = await runtime.attachStdio(id);
      const live = this.live.get(name);
      if (live) live.detach = again.detach;
      await runtime.start(id);
      return this.stdioBackend(name, again, false, runtime, id);
    }
    return backend;
  }

  private async httpBackend(s: ServerRecord, runtime: ContainerRuntime, id: string): Promise<McpBackend> {
    // Read from the container each time (a restart, or a core that adopts it): the engine chose the port.
    const { host, port } = await runtime.httpEndpoint(id, s.targetPort!);
    try {
      await waitForPort(port, host, this.settings.startTimeoutMs, async () => (await runtime.state(id))?.running === true);
    } catch (err) {
      const hint = s.networkSetting === 'default' ? ' If your engine has no bridge network, run the server with --network host.' : '';
      throw new Error(`${(err as Error).message}.${hint}`);
    }
    return new ReverseProxyBackend(
      // The server is told it is on 127.0.0.1 at its own port, whichever address the proxy dials.
      { host, port, hostHeader: `127.0.0.1:${s.targetPort!}` },
      { log: (level, message, fields) => this.logs.write({ server: s.name, source: 'proxy', level, message, fields: fields ?? null }), responseTimeoutMs: this.settings.requestTimeoutMs },
    );
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
    if (s.containerId) {
      const runtime = await this.runtime();
      await runtime.stop(s.containerId);
    }
    this.setStatus(name, status, detail === 'stopped by user' ? null : detail);
    live?.proxy.setState(status);
  }

  private async teardown(_name: string, live: Live): Promise<void> {
    live.health?.stop();
    live.health = undefined;
    live.stopLogs?.();
    live.stopLogs = undefined;
    const backend = live.backend;
    live.backend = undefined;
    await live.proxy.setBackend(undefined, 'stopped');
    if (backend) await backend.close();
    live.detach?.();
    live.detach = undefined;
  }

  private async failureDetail(name: string, err: unknown): Promise<{ message: string; exitCode: number | null }> {
    let message = err instanceof Error ? err.message : String(err);
    let exitCode: number | null = null;
    try {
      const s = this.get(name);
      const state = s.containerId ? await (await this.runtime()).state(s.containerId) : undefined;
      if (state && !state.running && state.exitCode !== null) {
        exitCode = state.exitCode;
        this.logs.flush();
        const last = this.store.logs.query({ server: name, sources: ['container'], limit: 5 }).map((l) => l.message);
        message = `the container exited with code ${exitCode}${state.oomKilled ? ' (out of memory)' : ''}${last.length ? `; last output: ${last.join(' | ').slice(0, 800)}` : ''}`;
      }
    } catch {
      // keep the original message
    }
    return { message, exitCode };
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
