import type { Readable, Writable } from 'node:stream';
import type { LogSink } from '../../logs/index.js';
import { ReverseProxyBackend, StdioBackend, type McpBackend, type ProxyLogLevel, type UpstreamCredentials } from '../../proxy/index.js';
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
  type ContainerRuntime,
  type MountSpec,
  type PermissionProfile,
} from '../../runtime/index.js';
import type { SecretsProvider } from '../../secrets/index.js';
import { assertValidSecretName } from '../../secrets/index.js';
import type { NetworkSetting, ServerRecord, Store } from '../../store/index.js';
import { BadRequestError } from '../errors.js';
import { pickFreePort, waitForPort } from '../ports.js';
import type { RunRequest } from '../run-request.js';
import type { Definition, Running, ServerKind } from './server-kind.js';

export const INSTANCE_LABEL = 'dev.gatehouse.instance';

export interface ContainerSettings {
  /**
   * Credentials toward a server in a container, per caller: the upstream token of a user who signed in
   * through the embedded authorization server (undefined: none are added).
   */
  callerCredentials?: (s: ServerRecord) => UpstreamCredentials | undefined;
  defaultNetwork: NetworkSetting;
  instanceId: string;
  requestTimeoutMs: number;
  startTimeoutMs: number;
  pullPolicy: 'missing' | 'never';
  extraLabels?: Record<string, string>;
}

export interface ContainerKindDeps {
  store: Store;
  logs: LogSink;
  runtime: () => Promise<ContainerRuntime>;
  secrets: () => SecretsProvider;
  settings: ContainerSettings;
  coreLog(server: string, level: ProxyLogLevel, message: string): void;
}

type Attached = { stdout: Readable; stdin: Writable; detach(): void };

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Servers in local containers (Docker, Podman, Colima, ... through the runtime). */
export class ContainerKind implements ServerKind {
  constructor(private readonly d: ContainerKindDeps) {}

  async define(req: RunRequest, name: string, taken: Set<number>): Promise<Definition> {
    const image = req.image ?? '';
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
      if (!VARIABLE_NAME.test(key)) throw new BadRequestError(`Invalid environment variable name "${key}".`);
    }
    const secretRefs = req.secrets ?? [];
    for (const ref of secretRefs) {
      try {
        assertValidSecretName(ref.name);
      } catch (err) {
        throw new BadRequestError((err as Error).message);
      }
      if (!VARIABLE_NAME.test(ref.target)) throw new BadRequestError(`Invalid target variable "${ref.target}" for secret ${ref.name}.`);
      if (req.env?.[ref.target] !== undefined) throw new BadRequestError(`${ref.target} is set both as an environment variable and by the secret ${ref.name}; keep one.`);
    }
    if (new Set(secretRefs.map((r) => r.target)).size !== secretRefs.length) throw new BadRequestError('Two secrets target the same environment variable.');
    const targetPort = transport === 'stdio' ? null : (req.targetPort ?? (await pickFreePort(taken, 20000, 39999)));
    const runtime = await this.d.runtime();
    await runtime.ensureImage(image, { pull: this.d.settings.pullPolicy !== 'never', onProgress: (m) => this.d.coreLog(name, 'info', m) });
    return {
      fields: {
        image,
        url: null,
        transport,
        args: req.args ?? [],
        env: req.env ?? {},
        secrets: secretRefs,
        volumes: req.volumes ?? [],
        permissionProfile: profileSpec,
        profile,
        targetPort,
        memoryBytes,
        nanoCpus,
        networkSetting: req.network ?? this.d.settings.defaultNetwork,
      },
      summary: `${image}, ${transport}`,
      create: async (record) => {
        try {
          await this.createContainer(record, runtime, mounts);
        } catch (err) {
          throw err instanceof ContainerSpecError || err instanceof MountSpecError || err instanceof PermissionProfileError || err instanceof UnsupportedProfileError
            ? new BadRequestError(err.message)
            : err;
        }
      },
    };
  }

  async up(s0: ServerRecord, how: { adopting: boolean; recreate: boolean }): Promise<Running> {
    const runtime = await this.d.runtime();
    let s = s0;
    let state = s.containerId ? await runtime.state(s.containerId) : undefined;
    if (state && !state.running && how.recreate) {
      await runtime.remove(s.containerId!, true);
      state = undefined;
    }
    if (!state) {
      await runtime.ensureImage(s.image ?? '', { pull: this.d.settings.pullPolicy !== 'never' });
      await this.createContainer(s, runtime);
      s = this.d.store.servers.getOrThrow(s.name);
      state = await runtime.state(s.containerId!);
    }
    const id = s.containerId!;
    let detach: (() => void) | undefined;
    let stopLogs: (() => void) | undefined;
    const release = () => {
      stopLogs?.();
      stopLogs = undefined;
      detach?.();
      detach = undefined;
    };
    try {
      let attached: Attached | undefined;
      if (s.transport === 'stdio') {
        // Attach before start so not a byte of the server's first output is missed.
        attached = await runtime.attachStdio(id);
        detach = attached.detach;
      }
      const wasRunning = state?.running === true;
      if (!wasRunning) await runtime.start(id);
      const name = s.name;
      stopLogs = await runtime.followLogs(
        id,
        { sinceMs: this.d.store.logs.lastTimestamp(name, 'container'), stdout: s.transport !== 'stdio', stderr: true },
        (stream, line, ts) => this.d.logs.write({ server: name, source: 'container', level: 'info', message: line, fields: { stream }, ts }),
      );
      const backend = attached
        ? await this.stdioBackend(name, attached, wasRunning, runtime, id, (again) => (detach = again))
        : await this.httpBackend(s, runtime, id);
      return { backend, release, ...(wasRunning ? { note: 'adopted the running container' } : {}) };
    } catch (err) {
      release();
      throw err;
    }
  }

  async stopped(s: ServerRecord): Promise<void> {
    if (!s.containerId) return;
    await (await this.d.runtime()).stop(s.containerId);
  }

  async removed(s: ServerRecord): Promise<void> {
    const runtime = await this.d.runtime().catch(() => undefined);
    if (s.containerId && runtime) await runtime.remove(s.containerId, true);
  }

  /** The container carries the old name in its labels: it is replaced at the next start. */
  async renaming(s: ServerRecord): Promise<void> {
    if (!s.containerId) return;
    await (await this.d.runtime()).remove(s.containerId, true);
    this.d.store.servers.setContainer(s.name, null);
  }

  async failureDetail(s: ServerRecord, err: unknown): Promise<{ message: string; exitCode: number | null }> {
    let message = err instanceof Error ? err.message : String(err);
    let exitCode: number | null = null;
    try {
      const current = this.d.store.servers.get(s.name);
      const state = current?.containerId ? await (await this.d.runtime()).state(current.containerId) : undefined;
      if (state && !state.running && state.exitCode !== null) {
        exitCode = state.exitCode;
        this.d.logs.flush();
        const last = this.d.store.logs.query({ server: s.name, sources: ['container'], limit: 5 }).map((l) => l.message);
        message = `the container exited with code ${exitCode}${state.oomKilled ? ' (out of memory)' : ''}${last.length ? `; last output: ${last.join(' | ').slice(0, 800)}` : ''}`;
      }
    } catch {
      // keep the original message
    }
    return { message, exitCode };
  }

  /** Secret values for the container's environment; a missing one stops the start and is named. */
  private async resolveSecrets(s: ServerRecord): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const ref of s.secrets) env[ref.target] = await this.d.secrets().get(ref.name);
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
      extraLabels: this.d.settings.extraLabels,
    });
    spec.name = containerName(s.name);
    spec.Labels = { ...spec.Labels, [INSTANCE_LABEL]: this.d.settings.instanceId };
    const id = await runtime.create(spec);
    this.d.store.servers.setContainer(s.name, id);
    return id;
  }

  private async stdioBackend(name: string, attached: Attached, wasRunning: boolean, runtime: ContainerRuntime, id: string, reattached: (detach: () => void) => void): Promise<McpBackend> {
    const backend = new StdioBackend(attached, {
      log: (level, message, fields) => this.d.logs.write({ server: name, source: 'proxy', level, message, fields: fields ?? null }),
      requestTimeoutMs: this.d.settings.requestTimeoutMs,
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
      reattached(again.detach);
      await runtime.start(id);
      return this.stdioBackend(name, again, false, runtime, id, reattached);
    }
    return backend;
  }

  private async httpBackend(s: ServerRecord, runtime: ContainerRuntime, id: string): Promise<McpBackend> {
    // Read from the container each time (a restart, or a core that adopts it): the engine chose the port.
    const { host, port } = await runtime.httpEndpoint(id, s.targetPort!);
    try {
      await waitForPort(port, host, this.d.settings.startTimeoutMs, async () => (await runtime.state(id))?.running === true);
    } catch (err) {
      const hint = s.networkSetting === 'default' ? ' If your engine has no bridge network, run the server with --network host.' : '';
      throw new Error(`${(err as Error).message}.${hint}`);
    }
    const credentials = this.d.settings.callerCredentials?.(s);
    return new ReverseProxyBackend(
      // The server is told it is on 127.0.0.1 at its own port, whichever address the proxy dials.
      { host, port, hostHeader: `127.0.0.1:${s.targetPort!}`, ...(credentials ? { credentials } : {}) },
      { log: (level, message, fields) => this.d.logs.write({ server: s.name, source: 'proxy', level, message, fields: fields ?? null }), responseTimeoutMs: this.d.settings.requestTimeoutMs },
    );
  }
}
