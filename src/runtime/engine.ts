// Finds the container engine (Docker, Podman, Colima, OrbStack, Rancher Desktop, Docker Desktop) and connects
// dockerode to the first one that answers. Discovery is pure over an injectable EngineProbeEnv so it can be
// tested for every OS; only realProbeEnv() and connectEngine() touch the machine.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import type { DockerOptions } from 'dockerode';

export type EngineKind = 'docker' | 'podman' | 'colima' | 'orbstack' | 'rancher-desktop' | 'docker-desktop' | 'unknown';

export interface EngineEndpoint {
  kind: EngineKind;
  /** Where this candidate came from, for humans: 'DOCKER_HOST', 'docker context "x"', 'socket /var/run/docker.sock'. */
  source: string;
  /** Unix socket or Windows named pipe (//./pipe/name). */
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https' | 'ssh';
  /** ssh:// user. */
  username?: string;
  /** ssh agent socket (SSH_AUTH_SOCK) for ssh:// endpoints. */
  sshAgent?: string;
  /** Directory holding ca.pem, cert.pem and key.pem for https endpoints (read only when connecting). */
  tlsCertDir?: string;
  /** Set when a configured address cannot be used; the reason is shown instead of trying it. */
  invalid?: string;
}

export interface EngineProbeEnv {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  homedir: string;
  tmpdir: string;
  /** Numeric user id (POSIX) for /run/user/<uid>; absent on Windows. */
  uid?: number;
  exists(path: string): Promise<boolean>;
  readFile(path: string): Promise<string | undefined>;
  listDir(path: string): Promise<string[]>;
}

const DEFAULT_PING_TIMEOUT_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Discovery

/** All places an engine may listen, most explicit first, deduplicated. Configured addresses are always included. */
export async function candidateEndpoints(probe: EngineProbeEnv): Promise<EngineEndpoint[]> {
  const found: EngineEndpoint[] = [];
  const env = probe.env;

  for (const name of ['GATEHOUSE_DOCKER_HOST', 'DOCKER_HOST'] as const) {
    const value = env[name]?.trim();
    if (value) found.push(endpointFromHost(value, name, probe, 'env'));
  }

  // ToolHive's own overrides, so a machine already set up for `thv` works unchanged.
  const toolhive = [
    ['TOOLHIVE_PODMAN_SOCKET', 'podman'],
    ['TOOLHIVE_DOCKER_SOCKET', undefined],
    ['TOOLHIVE_COLIMA_SOCKET', 'colima'],
  ] as const;
  for (const [name, kind] of toolhive) {
    const value = env[name]?.trim();
    if (value) found.push({ kind: kind ?? kindFromPath(value, 'docker'), source: name, socketPath: value });
  }

  const context = await currentContextEndpoint(probe);
  if (context) found.push(context);

  for (const socket of await wellKnownSockets(probe)) found.push(socket);

  return dedupe(found);
}

function dedupe(endpoints: EngineEndpoint[]): EngineEndpoint[] {
  const seen = new Set<string>();
  return endpoints.filter((ep) => {
    const key = endpointKey(ep);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function endpointKey(ep: EngineEndpoint): string {
  if (ep.invalid) return `invalid:${ep.source}`;
  if (ep.socketPath) return `socket:${ep.socketPath.replace(/\\/g, '/').replace(/\/+$/, '')}`;
  return `${ep.protocol}://${ep.username ?? ''}@${ep.host}:${ep.port}`;
}

/**
 * Parses a DOCKER_HOST-style address: unix://, npipe://, tcp://, http(s)://, ssh://, or host:port.
 * `tls` is 'env' for environment variables (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH apply, as in the docker CLI),
 * or the context's own certificate folder (undefined when the context has none).
 */
function endpointFromHost(value: string, source: string, probe: EngineProbeEnv, tls: 'env' | { certDir?: string }): EngineEndpoint {
  const invalid = (why: string): EngineEndpoint => ({ kind: 'unknown', source, invalid: `${value}: ${why}` });
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();

  if (scheme === 'unix' || scheme === 'npipe') {
    const socketPath = value.slice(scheme.length + 3);
    if (!socketPath) return invalid(`${scheme}:// needs a path, e.g. ${scheme === 'unix' ? 'unix:///var/run/docker.sock' : 'npipe:////./pipe/docker_engine'}`);
    return { kind: kindFromPath(socketPath, 'unknown'), source, socketPath };
  }

  if (scheme !== undefined && !['tcp', 'http', 'https', 'ssh'].includes(scheme)) {
    return invalid(`unsupported scheme "${scheme}://" (use unix://, npipe://, tcp://, ssh://)`);
  }
  let url: URL;
  try {
    url = new URL(scheme ? value : `tcp://${value}`);
  } catch {
    return invalid('not a valid address (expected e.g. tcp://127.0.0.1:2375)');
  }
  if (!url.hostname) return invalid('missing host name');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');

  if (scheme === 'ssh') {
    const ep: EngineEndpoint = {
      kind: 'unknown',
      source,
      host,
      port: url.port ? Number(url.port) : 22,
      protocol: 'ssh',
    };
    if (url.username) ep.username = decodeURIComponent(url.username);
    const agent = probe.env.SSH_AUTH_SOCK;
    if (agent) ep.sshAgent = agent;
    return ep;
  }

  // Docker's CLI switches to TLS whenever DOCKER_TLS_VERIFY is non-empty; contexts carry their own certificates.
  const certDir =
    tls === 'env'
      ? probe.env.DOCKER_TLS_VERIFY
        ? probe.env.DOCKER_CERT_PATH || dockerConfigDir(probe)
        : undefined
      : tls.certDir;
  const https = scheme === 'https' || certDir !== undefined;
  const ep: EngineEndpoint = {
    kind: 'unknown',
    source,
    host,
    port: url.port ? Number(url.port) : https ? 2376 : 2375,
    protocol: https ? 'https' : 'http',
  };
  if (https && certDir !== undefined) ep.tlsCertDir = certDir;
  return ep;
}

function joinFor(probe: EngineProbeEnv): (...parts: string[]) => string {
  return probe.platform === 'win32' ? path.win32.join : path.posix.join;
}

function dockerConfigDir(probe: EngineProbeEnv): string {
  return probe.env.DOCKER_CONFIG || joinFor(probe)(probe.homedir, '.docker');
}

/** The docker CLI's current context (DOCKER_CONTEXT, else currentContext in config.json), unless it is "default". */
async function currentContextEndpoint(probe: EngineProbeEnv): Promise<EngineEndpoint | undefined> {
  const join = joinFor(probe);
  const configDir = dockerConfigDir(probe);
  let name = probe.env.DOCKER_CONTEXT?.trim();
  if (!name) {
    const config = parseJsonObject(await probe.readFile(join(configDir, 'config.json')));
    const current = config?.currentContext;
    name = typeof current === 'string' ? current.trim() : undefined;
  }
  if (!name || name === 'default') return undefined;

  const source = `docker context "${name}"`;
  const hash = createHash('sha256').update(name).digest('hex');
  const metaPath = join(configDir, 'contexts', 'meta', hash, 'meta.json');
  const meta = parseJsonObject(await probe.readFile(metaPath));
  const endpoints = meta?.Endpoints;
  const dockerEndpoint = isRecord(endpoints) ? endpoints.docker : undefined;
  const host = isRecord(dockerEndpoint) ? dockerEndpoint.Host : undefined;
  if (typeof host !== 'string' || host === '') {
    return { kind: 'unknown', source, invalid: `no usable context metadata at ${metaPath} (try \`docker context use default\`)` };
  }

  const tlsDir = join(configDir, 'contexts', 'tls', hash, 'docker');
  const hasTls = await probe.exists(join(tlsDir, 'cert.pem'));
  const ep = endpointFromHost(host, source, probe, hasTls ? { certDir: tlsDir } : {});
  if (ep.kind === 'unknown') ep.kind = kindFromContextName(name);
  return ep;
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    // A broken docker config must not stop Gatehouse from finding the engine through the usual sockets.
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sockets in the order ToolHive probes them (Podman first, then Docker and its desktop distributions, then Colima). */
async function wellKnownSockets(probe: EngineProbeEnv): Promise<EngineEndpoint[]> {
  if (probe.platform === 'win32') {
    // Named pipes cannot be reliably stat'ed; a ping to a missing pipe fails at once, so always try them.
    return ['//./pipe/docker_engine', '//./pipe/podman-machine-default'].map((socketPath) => ({
      kind: kindFromPath(socketPath, 'docker'),
      source: `named pipe ${socketPath}`,
      socketPath,
    }));
  }

  const join = path.posix.join;
  const home = probe.homedir;
  const paths: string[] = ['/var/run/podman/podman.sock'];
  const xdg = probe.env.XDG_RUNTIME_DIR;
  if (xdg) paths.push(join(xdg, 'podman', 'podman.sock'));
  if (probe.uid !== undefined) paths.push(`/run/user/${probe.uid}/podman/podman.sock`);
  paths.push(join(home, '.local/share/containers/podman/machine/podman.sock'));
  // Podman machine on macOS: $TMPDIR/podman/<machine>-api.sock.
  const podmanTmp = join(probe.tmpdir, 'podman');
  const apiSockets = (await probe.listDir(podmanTmp)).filter((f) => f.endsWith('-api.sock')).sort();
  paths.push(...apiSockets.map((f) => join(podmanTmp, f)));
  paths.push(
    '/var/run/docker.sock',
    join(home, '.docker/run/docker.sock'),
    join(home, '.docker/desktop/docker.sock'),
    join(home, '.rd/docker.sock'),
    join(home, '.orbstack/run/docker.sock'),
    join(home, '.colima/default/docker.sock'),
    join(home, '.colima/docker.sock'),
  );

  const exists = await Promise.all(paths.map((p) => probe.exists(p)));
  return paths
    .filter((_, i) => exists[i])
    .map((socketPath) => ({ kind: kindFromPath(socketPath, 'docker'), source: `socket ${socketPath}`, socketPath }));
}

function kindFromPath(p: string, fallback: EngineKind): EngineKind {
  const s = p.replace(/\\/g, '/').toLowerCase();
  if (s.includes('podman')) return 'podman';
  if (s.includes('/.colima/')) return 'colima';
  if (s.includes('/.orbstack/')) return 'orbstack';
  if (s.includes('/.rd/') || s.includes('rancher-desktop')) return 'rancher-desktop';
  if (s.includes('/.docker/run/') || s.includes('/.docker/desktop/') || s.includes('dockerdesktop')) return 'docker-desktop';
  if (s.endsWith('/docker.sock') || s.endsWith('/docker_engine')) return 'docker';
  return fallback;
}

function kindFromContextName(name: string): EngineKind {
  const n = name.toLowerCase();
  if (n.startsWith('colima')) return 'colima';
  if (n === 'orbstack') return 'orbstack';
  if (n === 'rancher-desktop') return 'rancher-desktop';
  if (n === 'desktop-linux' || n === 'desktop-windows') return 'docker-desktop';
  if (n.includes('podman')) return 'podman';
  return 'unknown';
}

// ---------------------------------------------------------------------------------------------
// dockerode

export type ReadFileSync = (path: string) => Buffer;

/**
 * Options for `new Docker(...)`. Every connection key is set, even to undefined, because docker-modem merges
 * its own defaults from process.env.DOCKER_HOST underneath whatever is passed.
 */
export function dockerodeOptions(ep: EngineEndpoint, readFile: ReadFileSync = readFileSync): DockerOptions {
  if (ep.invalid) throw new Error(`${ep.source} cannot be used: ${ep.invalid}`);
  const base: DockerOptions = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: undefined,
    username: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    sshOptions: undefined,
  };
  if (ep.socketPath) return { ...base, socketPath: ep.socketPath };
  if (!ep.host) throw new Error(`${ep.source} has neither a socket path nor a host`);

  const opts: DockerOptions = { ...base, host: ep.host, port: ep.port, protocol: ep.protocol ?? 'http' };
  if (ep.protocol === 'ssh') {
    opts.username = ep.username;
    if (ep.sshAgent) opts.sshOptions = { agent: ep.sshAgent };
  }
  if (ep.protocol === 'https' && ep.tlsCertDir) {
    const read = (file: string): Buffer => {
      const full = path.join(ep.tlsCertDir as string, file);
      try {
        return readFile(full);
      } catch (err) {
        throw new Error(`TLS for ${ep.source} needs ${full} (set DOCKER_CERT_PATH to the folder with ca.pem, cert.pem, key.pem): ${(err as Error).message}`);
      }
    };
    opts.ca = read('ca.pem');
    opts.cert = read('cert.pem');
    opts.key = read('key.pem');
  }
  return opts;
}

/** A dockerode client for this endpoint, shielded from docker-modem reading DOCKER_HOST on its own. */
export function createDockerClient(ep: EngineEndpoint, extra: DockerOptions = {}): Docker {
  const opts = { ...dockerodeOptions(ep), ...extra };
  // docker-modem parses process.env.DOCKER_HOST in its constructor and throws if it is malformed, even when
  // we connect elsewhere. The constructor is synchronous, so hiding the variable for its duration is safe.
  const saved = process.env.DOCKER_HOST;
  if (saved === undefined) return new Docker(opts);
  delete process.env.DOCKER_HOST;
  try {
    return new Docker(opts);
  } finally {
    process.env.DOCKER_HOST = saved;
  }
}

// ---------------------------------------------------------------------------------------------
// Connecting

export class EngineNotFoundError extends Error {
  override name = 'EngineNotFoundError';
  readonly tried: EngineEndpoint[];
  /** Why each tried endpoint failed, in the same order as `tried`. */
  readonly failures: string[];

  constructor(tried: EngineEndpoint[], failures: string[] = [], platform: NodeJS.Platform = process.platform) {
    super(engineNotFoundMessage(tried, failures, platform));
    this.tried = tried;
    this.failures = failures;
  }
}

function engineNotFoundMessage(tried: EngineEndpoint[], failures: string[], platform: NodeJS.Platform): string {
  const lines: string[] = [];
  if (tried.length === 0) {
    lines.push(
      'No container engine found: DOCKER_HOST is not set, there is no docker context, and none of the usual ' +
        'Docker, Podman, Colima, OrbStack or Rancher Desktop sockets exist.',
    );
  } else {
    lines.push('No container engine answered. Tried:');
    tried.forEach((ep, i) => lines.push(`  - ${describeEndpoint(ep)}: ${failures[i] ?? 'no answer'}`));
  }
  lines.push('To fix it, install and start a container engine:');
  lines.push(...installAdvice(platform).map((l) => `  - ${l}`));
  lines.push('  - or point Gatehouse at a running engine: GATEHOUSE_DOCKER_HOST=unix:///path/to/docker.sock (or tcp://host:port).');
  return lines.join('\n');
}

function installAdvice(platform: NodeJS.Platform): string[] {
  switch (platform) {
    case 'darwin':
      return [
        'Docker Desktop (https://docs.docker.com/desktop/): install it and open it once',
        'Podman: `brew install podman && podman machine init && podman machine start`',
        'Colima: `brew install colima docker && colima start`',
        'OrbStack or Rancher Desktop: open the app',
      ];
    case 'win32':
      return [
        'Docker Desktop (https://docs.docker.com/desktop/): install it and start it',
        'Podman Desktop or the Podman CLI: `podman machine init` then `podman machine start`',
        'Rancher Desktop: start it with the dockerd (moby) engine',
      ];
    default:
      return [
        'Docker Engine: `sudo systemctl start docker` (or run `dockerd`); add your user to the `docker` group to use its socket',
        'Podman (rootless): `systemctl --user start podman.socket`',
        'Docker Desktop for Linux: start it from your applications menu',
      ];
  }
}

/** Tries each candidate in order and returns the first engine that answers a ping. */
export async function connectEngine(
  opts: { probe?: EngineProbeEnv; timeoutMs?: number } = {},
): Promise<{ docker: Docker; endpoint: EngineEndpoint; version: string }> {
  const probe = opts.probe ?? realProbeEnv();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
  const candidates = await candidateEndpoints(probe);
  const failures: string[] = [];

  for (const endpoint of candidates) {
    if (endpoint.invalid) {
      failures.push(endpoint.invalid);
      continue;
    }
    try {
      // The probe client carries the short timeout; the returned client must not (logs and attach idle for long).
      const probeClient = createDockerClient(endpoint, { timeout: timeoutMs });
      await withTimeout(timeoutMs, (signal) => pingWithSignal(probeClient, signal));
      const docker = createDockerClient(endpoint);
      const info = await withTimeout(timeoutMs, () => probeClient.version());
      return { docker, endpoint, version: String(info.Version ?? 'unknown') };
    } catch (err) {
      failures.push(explainFailure(err, endpoint, probe.platform));
    }
  }
  throw new EngineNotFoundError(candidates, failures, probe.platform);
}

// dockerode's ping accepts an abortSignal at runtime; its typings do not declare the options argument.
function pingWithSignal(docker: Docker, signal: AbortSignal): Promise<unknown> {
  const ping = docker.ping as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
  return ping.call(docker, { abortSignal: signal });
}

async function withTimeout<T>(ms: number, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([run(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function explainFailure(err: unknown, ep: EngineEndpoint, platform: NodeJS.Platform): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT') return 'nothing is listening there';
  if (code === 'ECONNREFUSED') return 'connection refused (the engine is not running)';
  if ((code === 'EACCES' || code === 'EPERM') && ep.socketPath && platform === 'linux') {
    return 'permission denied (add your user to the `docker` group and log in again, or use rootless Podman)';
  }
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return message;
}

const KIND_NAMES: Record<EngineKind, string> = {
  docker: 'Docker',
  podman: 'Podman',
  colima: 'Colima',
  orbstack: 'OrbStack',
  'rancher-desktop': 'Rancher Desktop',
  'docker-desktop': 'Docker Desktop',
  unknown: 'Container engine',
};

/** E.g. "Docker via socket /var/run/docker.sock (DOCKER_HOST)". */
export function describeEndpoint(ep: EngineEndpoint): string {
  const name = KIND_NAMES[ep.kind];
  if (ep.invalid) return ep.source; // the reason, which names the value, follows in messages
  let where: string;
  if (ep.socketPath) {
    where = isNamedPipe(ep.socketPath) ? `named pipe ${ep.socketPath}` : `socket ${ep.socketPath}`;
  } else {
    const user = ep.protocol === 'ssh' && ep.username ? `${ep.username}@` : '';
    where = `${ep.protocol ?? 'http'}://${user}${ep.host?.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`;
  }
  return ep.source === where ? `${name} via ${where}` : `${name} via ${where} (${ep.source})`;
}

function isNamedPipe(p: string): boolean {
  return /^(\/\/|\\\\)\.[\\/]pipe[\\/]/i.test(p);
}

// ---------------------------------------------------------------------------------------------

export function realProbeEnv(): EngineProbeEnv {
  const probe: EngineProbeEnv = {
    env: process.env,
    platform: process.platform,
    homedir: os.homedir(),
    tmpdir: os.tmpdir(),
    exists: async (p) => {
      try {
        await access(p);
        return true;
      } catch {
        return false;
      }
    },
    readFile: async (p) => {
      try {
        return await readFile(p, 'utf8');
      } catch {
        return undefined;
      }
    },
    listDir: async (p) => {
      try {
        return await readdir(p);
      } catch {
        return [];
      }
    },
  };
  const uid = process.getuid?.();
  if (uid !== undefined) probe.uid = uid;
  return probe;
}
