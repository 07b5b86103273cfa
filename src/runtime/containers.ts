import { PassThrough, type Readable, type Writable } from 'node:stream';
import type Docker from 'dockerode';
import type { ContainerCreateOptions } from 'dockerode';
import { Labels, type UpstreamReach } from './container-spec.js';
import { describeEndpoint, type EngineEndpoint } from './engine.js';

export class ImageUnavailableError extends Error {
  constructor(readonly image: string, engine: string, reason: string) {
    super(
      `Image "${image}" is not present in ${engine} and could not be pulled (${reason}). ` +
        `Check the name, or load it first (docker pull / docker load / docker import).`,
    );
  }
}

export interface ManagedContainer {
  id: string;
  name: string;
  serverName: string;
  state: string;
  labels: Record<string, string>;
}

export interface ContainerState {
  running: boolean;
  status: string;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Where the proxy connects to an HTTP server's own port. */
export interface HttpEndpoint {
  host: string;
  port: number;
}

export interface StdioAttachment {
  stdout: Readable;
  stdin: Writable;
  detach(): void;
}

export interface ContainerEvent {
  id: string;
  action: string;
  serverName: string | undefined;
  exitCode: number | undefined;
}

export type LogLineHandler = (stream: 'stdout' | 'stderr', line: string, ts: number) => void;

function errorMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  const raw = e.json?.message ?? e.message ?? String(err);
  // dockerode prefixes engine messages with "(HTTP code N) server error - "; the engine's words are enough.
  return raw.replace(/^\(HTTP code \d+\)[^-]*-\s*/, '').trim();
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/** Everything Gatehouse asks of a container engine, in one place, over dockerode. */
export class ContainerRuntime {
  readonly engineName: string;

  constructor(
    readonly docker: Docker,
    readonly endpoint: EngineEndpoint,
    readonly engineVersion: string,
  ) {
    this.engineName = describeEndpoint(endpoint);
  }

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  /** Makes sure the image exists locally, pulling it if it does not; a clear error names the image and engine. */
  async ensureImage(image: string, opts: { pull: boolean; onProgress?: (msg: string) => void }): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw new ImageUnavailableError(image, this.engineName, errorMessage(err));
    }
    if (!opts.pull) throw new ImageUnavailableError(image, this.engineName, 'pulling is turned off by GATEHOUSE_PULL_POLICY=never');
    const onProgress = opts.onProgress;
    onProgress?.(`Pulling ${image}...`);
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new ImageUnavailableError(image, this.engineName, errorMessage(err));
    }
  }

  async create(spec: ContainerCreateOptions): Promise<string> {
    try {
      const c = await this.docker.createContainer(spec);
      return c.id;
    } catch (err) {
      if (statusCode(err) === 409 && spec.name) {
        throw new Error(`A container named "${spec.name}" already exists in ${this.engineName}; remove it (docker rm -f ${spec.name}) or choose another server name.`);
      }
      throw new Error(`Creating the container failed in ${this.engineName}: ${errorMessage(err)}`);
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (statusCode(err) === 304) return; // already running
      throw new Error(`Starting the container failed: ${errorMessage(err)}`);
    }
  }

  async stop(id: string, timeoutSeconds = 10): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (err) {
      const code = statusCode(err);
      if (code === 304 || code === 404) return; // already stopped or gone
      throw new Error(`Stopping the container failed: ${errorMessage(err)}`);
    }
  }

  async remove(id: string, force = true): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force, v: true });
    } catch (err) {
      const code = statusCode(err);
      if (code === 404) return;
      if (code === 409 && /in progress/i.test(errorMessage(err))) return;
      throw new Error(`Removing the container failed: ${errorMessage(err)}`);
    }
  }

  private reachCache: Promise<UpstreamReach> | undefined;

  /**
   * How the proxy can reach a container's own port on the default network without publishing it: only
   * where this machine routes the engine's bridge (a rootful engine on Linux, on a local socket).
   */
  reach(): Promise<UpstreamReach> {
    this.reachCache ??= this.docker.info().then(
      (info: { OperatingSystem?: string; SecurityOptions?: string[] }) => {
        const rootless = (info.SecurityOptions ?? []).some((o) => o.includes('name=rootless'));
        const inVm = /docker desktop|boot2docker|colima|orbstack|rancher/i.test(info.OperatingSystem ?? '');
        const localLinux = process.platform === 'linux' && this.endpoint.socketPath !== undefined && !this.endpoint.socketPath.startsWith('//');
        const vmKind = ['docker-desktop', 'colima', 'orbstack', 'rancher-desktop'].includes(this.endpoint.kind);
        return localLinux && !rootless && !inVm && !vmKind ? 'container-ip' : 'published';
      },
      () => 'published' as const,
    );
    return this.reachCache;
  }

  /**
   * Where the proxy connects to a running container's HTTP port: the host's loopback on the host
   * network, the loopback port the engine published, or the container's own address.
   */
  async httpEndpoint(id: string, targetPort: number): Promise<HttpEndpoint> {
    const info = await this.docker.getContainer(id).inspect();
    if (info.HostConfig.NetworkMode === 'host') return { host: '127.0.0.1', port: targetPort };
    const bindings = info.NetworkSettings.Ports?.[`${targetPort}/tcp`] ?? [];
    const loopback = bindings?.find((b) => b.HostIp === '127.0.0.1' && Number(b.HostPort) > 0);
    if (loopback) return { host: '127.0.0.1', port: Number(loopback.HostPort) };
    const settings = info.NetworkSettings as typeof info.NetworkSettings & { IPAddress?: string };
    const ip = settings.IPAddress || Object.values(settings.Networks ?? {}).map((n) => n.IPAddress).find(Boolean);
    if (!ip) throw new Error(`The container has no address the proxy can reach on port ${targetPort} (no loopback binding, no network address).`);
    return { host: ip, port: targetPort };
  }

  async state(id: string): Promise<ContainerState | undefined> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      return {
        running: info.State.Running,
        status: info.State.Status,
        exitCode: info.State.Running ? null : info.State.ExitCode,
        oomKilled: info.State.OOMKilled,
        startedAt: info.State.StartedAt || null,
        finishedAt: info.State.FinishedAt || null,
      };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Our containers, found by label only: names can be taken by anyone. */
  async listManaged(extraLabelFilters: string[] = []): Promise<ManagedContainer[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${Labels.managed}=true`, ...extraLabelFilters] }),
    });
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      serverName: c.Labels[Labels.server] ?? '',
      state: c.State,
      labels: c.Labels,
    }));
  }

  /**
   * Attaches to a stdio server's stdin and stdout. stderr is not attached: it is collected through the
   * log stream, so protocol bytes and diagnostics never mix.
   */
  async attachStdio(id: string): Promise<StdioAttachment> {
    const container = this.docker.getContainer(id);
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: false, hijack: true })) as NodeJS.ReadWriteStream & {
      destroy(): void;
    };
    const stdout = new PassThrough();
    const sink = new PassThrough();
    this.docker.modem.demuxStream(stream, stdout, sink);
    sink.resume();
    const end = () => {
      if (!stdout.writableEnded) stdout.end();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    return {
      stdout,
      stdin: stream as unknown as Writable,
      detach: () => {
        stream.destroy();
        end();
      },
    };
  }

  /** Streams a container's log lines (with the engine's timestamps) from `sinceMs` on. Returns a stop function. */
  async followLogs(id: string, opts: { sinceMs?: number; stdout: boolean; stderr: boolean }, onLine: LogLineHandler): Promise<() => void> {
    const container = this.docker.getContainer(id);
    const stream = (await container.logs({
      follow: true,
      stdout: opts.stdout,
      stderr: opts.stderr,
      timestamps: true,
      since: opts.sinceMs ? Math.floor(opts.sinceMs / 1000) : 0,
    })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    const out = new PassThrough();
    const err = new PassThrough();
    this.docker.modem.demuxStream(stream, out, err);
    const sinceMs = opts.sinceMs ?? 0;
    const lines = (name: 'stdout' | 'stderr', s: PassThrough) => {
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => {
        buf += chunk;
        let nl = buf.indexOf('\n');
        while (nl !== -1) {
          const raw = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const space = raw.indexOf(' ');
          const ts = Date.parse(raw.slice(0, space));
          const text = raw.slice(space + 1).replace(/\r$/, '');
          // `since` has one-second resolution: drop what an earlier follower already stored.
          if (Number.isFinite(ts) && ts > sinceMs) onLine(name, text, ts);
          nl = buf.indexOf('\n');
        }
      });
    };
    lines('stdout', out);
    lines('stderr', err);
    return () => stream.destroy();
  }

  /**
   * Streams lifecycle events of our containers. `onEnd` fires when the engine connection drops
   * (engine restarted or stopped), so the caller can reconnect and reconcile.
   */
  async watchEvents(onEvent: (e: ContainerEvent) => void, onEnd: (err?: Error) => void): Promise<() => void> {
    const stream = (await this.docker.getEvents({
      filters: JSON.stringify({ type: ['container'], label: [`${Labels.managed}=true`], event: ['start', 'die', 'oom', 'destroy'] }),
    })) as NodeJS.ReadableStream & { destroy(): void };
    let buf = '';
    let ended = false;
    const finish = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (!line) continue;
        try {
          const e = JSON.parse(line) as { id?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
          const attrs = e.Actor?.Attributes ?? {};
          const exit = attrs['exitCode'];
          onEvent({ id: e.id ?? '', action: e.Action ?? '', serverName: attrs[Labels.server], exitCode: exit === undefined ? undefined : Number(exit) });
        } catch {
          // A partial or foreign line: ignore, the next one is independent.
        }
      }
    });
    stream.on('end', () => finish());
    stream.on('close', () => finish());
    stream.on('error', (err: Error) => finish(err));
    return () => {
      ended = true;
      stream.destroy();
    };
  }
}
