// Builds dockerode create options for an MCP server container: labels in our namespace (how containers are
// found again), locked-down defaults, mounts from the permission profile and network from its outbound rules.
import type { ContainerCreateOptions, HostConfig, MountSettings } from 'dockerode';
import { assertProfileSupported, parseMountSpec, profileNetworkAccess } from './permissions.js';
import type { MountSpec, PermissionProfile } from './permissions.js';

export const LABEL_PREFIX = 'dev.gatehouse';

export const Labels = {
  managed: 'dev.gatehouse.managed',
  server: 'dev.gatehouse.server',
  transport: 'dev.gatehouse.transport',
  proxyPort: 'dev.gatehouse.proxy-port',
  group: 'dev.gatehouse.group',
  targetPort: 'dev.gatehouse.target-port',
} as const;

export type Transport = 'stdio' | 'sse' | 'streamable-http';

/** 'default' = the engine's default network (see UpstreamReach); 'host' = host networking. */
export type NetworkModeSetting = 'default' | 'host' | 'none';

/**
 * How the proxy reaches an HTTP server's own port on the engine's default network, the strongest way the
 * engine allows that leaves the proxy the only way in:
 * - 'container-ip': nothing is published; the proxy connects to the container's address on the engine's
 *   bridge (Linux engines whose bridge this machine routes: rootful Docker or Podman on a local socket);
 * - 'published': the engine publishes the port on 127.0.0.1 at a random host port the engine picks
 *   (Docker Desktop, Podman machine and rootless engines, Colima, OrbStack, Rancher Desktop: their
 *   container addresses are inside a VM or a user namespace).
 */
export type UpstreamReach = 'container-ip' | 'published';

export interface ContainerSpecInput {
  serverName: string;
  image: string;
  transport: Transport;
  args: string[];
  env: Record<string, string>;
  profile: PermissionProfile;
  /** From `-v` flags. */
  extraMounts: MountSpec[];
  proxyPort: number;
  /** Port the server listens on inside the container; required for sse and streamable-http. */
  targetPort?: number;
  group: string;
  memoryBytes?: number;
  nanoCpus?: number;
  networkSetting: NetworkModeSetting;
  /** For sse and streamable-http servers on the default network; 'published' when absent. */
  reach?: UpstreamReach;
  extraLabels?: Record<string, string>;
}

export class ContainerSpecError extends Error {
  override name = 'ContainerSpecError';
}

const PIDS_LIMIT = 256;
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function containerName(serverName: string): string {
  if (!DOCKER_NAME.test(serverName)) {
    throw new ContainerSpecError(
      `Server name "${serverName}" cannot name a container: use letters, digits, "_", "." and "-", starting with a letter or digit.`,
    );
  }
  return `gatehouse-${serverName}`;
}

export function buildContainerSpec(input: ContainerSpecInput): ContainerCreateOptions {
  // Refuse here too, so no caller can get a container with more access than its profile grants.
  assertProfileSupported(input.profile);
  const name = containerName(input.serverName);
  const http = input.transport !== 'stdio';
  const targetPort = http ? requirePort(input.targetPort, 'targetPort', input.transport) : input.targetPort;
  requirePort(input.proxyPort, 'proxyPort', input.transport);

  const networkMode = effectiveNetworkMode(input);
  if (http && networkMode === 'none') {
    throw new ContainerSpecError(
      `Server "${input.serverName}" uses the ${input.transport} transport, which needs a network so the proxy can reach it, ` +
        'but its permission profile allows no network. Use the stdio transport, or a profile with network access (e.g. "network").',
    );
  }

  const hostConfig: HostConfig = {
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges:true'],
    Privileged: false,
    PidsLimit: PIDS_LIMIT,
    ReadonlyRootfs: false,
    Init: true,
    AutoRemove: false,
    // Gatehouse restores servers itself; an engine restart policy would race it.
    RestartPolicy: { Name: 'no' },
    Mounts: buildMounts(input.profile, input.extraMounts),
  };
  // The engine's default network is left unnamed: it is "bridge" on Docker but differs on Podman and Windows.
  if (networkMode !== 'default') hostConfig.NetworkMode = networkMode;
  if (input.memoryBytes !== undefined) hostConfig.Memory = requirePositiveInt(input.memoryBytes, 'memoryBytes');
  if (input.nanoCpus !== undefined) hostConfig.NanoCpus = requirePositiveInt(input.nanoCpus, 'nanoCpus');

  const spec: ContainerCreateOptions = {
    name,
    Image: input.image,
    Labels: buildLabels(input),
    Env: buildEnv(input, networkMode, targetPort),
    Tty: false,
    HostConfig: hostConfig,
  };
  // Only set Cmd when there are args, so the image's own CMD stays the default (the entrypoint always stays).
  if (input.args.length > 0) spec.Cmd = [...input.args];

  if (input.transport === 'stdio') {
    Object.assign(spec, { OpenStdin: true, StdinOnce: false, AttachStdin: true, AttachStdout: true, AttachStderr: true });
  } else if (networkMode === 'default' && targetPort !== undefined && input.reach !== 'container-ip') {
    const port = `${targetPort}/tcp`;
    spec.ExposedPorts = { [port]: {} };
    // Loopback only, at a port the engine picks (never the target port, which a scan would try first).
    hostConfig.PortBindings = { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] };
  }
  return spec;
}

type EffectiveNetwork = 'none' | 'host' | 'default';

function effectiveNetworkMode(input: ContainerSpecInput): EffectiveNetwork {
  if (input.networkSetting === 'none' || profileNetworkAccess(input.profile) === 'none') return 'none';
  return input.networkSetting;
}

function buildLabels(input: ContainerSpecInput): Record<string, string> {
  const extra = input.extraLabels ?? {};
  const reserved = Object.keys(extra).filter((k) => k === LABEL_PREFIX || k.startsWith(`${LABEL_PREFIX}.`));
  if (reserved.length > 0) {
    throw new ContainerSpecError(
      `Label${reserved.length > 1 ? 's' : ''} ${reserved.join(', ')} ${reserved.length > 1 ? 'are' : 'is'} reserved for Gatehouse (${LABEL_PREFIX}.*); choose another name.`,
    );
  }
  const labels: Record<string, string> = {
    ...extra,
    [Labels.managed]: 'true',
    [Labels.server]: input.serverName,
    [Labels.transport]: input.transport,
    [Labels.proxyPort]: String(input.proxyPort),
    [Labels.group]: input.group,
  };
  if (input.targetPort !== undefined) labels[Labels.targetPort] = String(input.targetPort);
  return labels;
}

function buildEnv(input: ContainerSpecInput, networkMode: EffectiveNetwork, targetPort: number | undefined): string[] {
  const ours: Record<string, string> = {};
  if (input.transport !== 'stdio' && targetPort !== undefined) {
    const port = String(targetPort);
    // The variables ToolHive sets; PORT is what @modelcontextprotocol/server-everything reads.
    ours.MCP_TRANSPORT = input.transport;
    ours.MCP_PORT = port;
    ours.FASTMCP_PORT = port;
    ours.PORT = port;
    // On the host network, listening on all interfaces would expose the server to the LAN.
    ours.MCP_HOST = networkMode === 'host' ? '127.0.0.1' : '0.0.0.0';
  }
  for (const key of Object.keys(input.env)) {
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw new ContainerSpecError(`Environment variable name "${key}" is invalid (it must be non-empty and contain no "=").`);
    }
    if (input.env[key]?.includes('\0')) throw new ContainerSpecError(`Environment variable ${key} contains a null byte.`);
  }
  // User-provided keys win.
  return Object.entries({ ...ours, ...input.env }).map(([k, v]) => `${k}=${v}`);
}

function buildMounts(profile: PermissionProfile, extraMounts: MountSpec[]): MountSettings[] {
  const specs: MountSpec[] = [
    ...(profile.read ?? []).map((m) => parseMountSpec(m, 'ro')),
    ...(profile.write ?? []).map((m) => parseMountSpec(m, 'rw')),
    ...extraMounts,
  ];
  // A path listed under both read and write is a common slip: merge it (write wins). Two sources on one target is an error.
  const byTarget = new Map<string, MountSpec>();
  for (const spec of specs) {
    const existing = byTarget.get(spec.target);
    if (!existing) {
      byTarget.set(spec.target, { ...spec });
    } else if (existing.type === spec.type && existing.source === spec.source) {
      existing.readOnly = existing.readOnly && spec.readOnly;
    } else {
      throw new ContainerSpecError(
        `Two mounts target ${spec.target} in the container (${existing.source} and ${spec.source}); keep one.`,
      );
    }
  }
  // Mounts (not Binds): a missing host path is an error instead of an empty root-owned directory, and a
  // relative source can never be mistaken for a volume name.
  return [...byTarget.values()].map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly }));
}

function requirePort(port: number | undefined, field: string, transport: Transport): number {
  if (port === undefined) {
    throw new ContainerSpecError(`${field} is required for the ${transport} transport.`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ContainerSpecError(`${field} must be a port number between 1 and 65535 (got ${port}).`);
  }
  return port;
}

function requirePositiveInt(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n <= 0) throw new ContainerSpecError(`${field} must be a positive whole number (got ${n}).`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Resource limits as people write them on the command line.

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

// Docker refuses smaller limits with a less helpful message.
const MIN_MEMORY_BYTES = 6 * 1024 ** 2;

/** '512m', '1g', '256MiB', '1.5g', '1048576' -> bytes. Units are binary, as in `docker run --memory`. */
export function parseMemory(s: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  const unit = match?.[2]?.toLowerCase() ?? '';
  const factor = MEMORY_UNITS[unit];
  if (!match || factor === undefined) {
    throw new ContainerSpecError(`Memory limit "${s}" is not understood: use a number with a unit, e.g. 512m, 1g or 256MiB.`);
  }
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < MIN_MEMORY_BYTES) {
    throw new ContainerSpecError(`Memory limit "${s}" is too small: container engines need at least 6m.`);
  }
  if (!Number.isSafeInteger(bytes)) throw new ContainerSpecError(`Memory limit "${s}" is too large.`);
  return bytes;
}

/** '1.5' -> 1_500_000_000 NanoCpus, as in `docker run --cpus`. */
export function parseCpus(s: string): number {
  const trimmed = s.trim();
  const cpus = /^\d+(\.\d+)?$|^\.\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  const nano = Math.round(cpus * 1e9);
  if (!Number.isFinite(cpus) || nano <= 0) {
    throw new ContainerSpecError(`CPU limit "${s}" is not understood: use a positive number of CPUs, e.g. 0.5, 1 or 2.`);
  }
  return nano;
}
