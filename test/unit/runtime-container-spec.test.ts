import { describe, expect, it } from 'vitest';
import {
  LABEL_PREFIX,
  Labels,
  buildContainerSpec,
  containerName,
  parseCpus,
  parseMemory,
} from '../../src/runtime/container-spec.js';
import type { ContainerSpecInput } from '../../src/runtime/container-spec.js';
import { BUILTIN_PROFILES, parseVolumeFlag } from '../../src/runtime/permissions.js';

function input(overrides: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    serverName: 'everything',
    image: 'gatehouse-test/everything:latest',
    transport: 'stdio',
    args: [],
    env: {},
    profile: BUILTIN_PROFILES.none,
    extraMounts: [],
    proxyPort: 18080,
    group: 'default',
    networkSetting: 'default',
    ...overrides,
  };
}

const http = (overrides: Partial<ContainerSpecInput> = {}) =>
  input({ transport: 'streamable-http', targetPort: 3001, profile: BUILTIN_PROFILES.network, ...overrides });

function envOf(spec: { Env?: string[] | undefined }): Record<string, string> {
  return Object.fromEntries((spec.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

describe('containerName', () => {
  it('prefixes the server name', () => {
    expect(containerName('github')).toBe('gatehouse-github');
  });
  it('rejects names Docker cannot use', () => {
    expect(() => containerName('my server')).toThrow(/cannot name a container/);
    expect(() => containerName('-x')).toThrow(/starting with a letter or digit/);
    expect(() => containerName('')).toThrow();
  });
});

describe('buildContainerSpec: identity and labels', () => {
  it('names the container, keeps the image entrypoint and labels it in our namespace', () => {
    const spec = buildContainerSpec(input({ args: ['stdio', '--verbose'], group: 'work' }));
    expect(LABEL_PREFIX).toBe('dev.gatehouse');
    expect(spec.name).toBe('gatehouse-everything');
    expect(spec.Image).toBe('gatehouse-test/everything:latest');
    expect(spec.Cmd).toEqual(['stdio', '--verbose']);
    expect(spec.Entrypoint).toBeUndefined();
    expect(spec.Labels).toEqual({
      'dev.gatehouse.managed': 'true',
      'dev.gatehouse.server': 'everything',
      'dev.gatehouse.transport': 'stdio',
      'dev.gatehouse.proxy-port': '18080',
      'dev.gatehouse.group': 'work',
    });
  });

  it("leaves Cmd unset without args, so the image's CMD still applies", () => {
    expect(buildContainerSpec(input()).Cmd).toBeUndefined();
  });

  it('adds the target port label when there is one', () => {
    expect(buildContainerSpec(http()).Labels?.[Labels.targetPort]).toBe('3001');
  });

  it('adds extra labels', () => {
    const spec = buildContainerSpec(input({ extraLabels: { team: 'platform', 'org.example.tier': 'dev' } }));
    expect(spec.Labels).toMatchObject({ team: 'platform', 'org.example.tier': 'dev', [Labels.managed]: 'true' });
  });

  it('does not let extra labels spoof or override ours', () => {
    expect(() => buildContainerSpec(input({ extraLabels: { 'dev.gatehouse.managed': 'false' } }))).toThrow(
      /dev\.gatehouse\.managed is reserved for Gatehouse/,
    );
    expect(() => buildContainerSpec(input({ extraLabels: { 'dev.gatehouse.target-port': '22' } }))).toThrow(/reserved/);
    expect(() => buildContainerSpec(input({ extraLabels: { 'dev.gatehouse': 'x', 'dev.gatehouse.server': 'y' } }))).toThrow(
      /Labels dev\.gatehouse, dev\.gatehouse\.server are reserved/,
    );
    // Only our exact namespace is reserved.
    expect(buildContainerSpec(input({ extraLabels: { 'dev.gatehousekeeping': 'x' } })).Labels?.['dev.gatehousekeeping']).toBe('x');
  });
});

describe('buildContainerSpec: secure defaults', () => {
  it('drops capabilities, forbids privilege gain, limits pids, runs an init, never restarts or auto-removes', () => {
    const host = buildContainerSpec(input({ memoryBytes: 512 * 1024 ** 2, nanoCpus: 1_500_000_000 })).HostConfig;
    expect(host).toMatchObject({
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Privileged: false,
      PidsLimit: 256,
      ReadonlyRootfs: false,
      Init: true,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      Memory: 536870912,
      NanoCpus: 1_500_000_000,
    });
  });

  it('leaves Memory and NanoCpus unset when not given, and rejects nonsense', () => {
    const host = buildContainerSpec(input()).HostConfig;
    expect(host?.Memory).toBeUndefined();
    expect(host?.NanoCpus).toBeUndefined();
    expect(() => buildContainerSpec(input({ memoryBytes: -1 }))).toThrow(/memoryBytes must be a positive whole number/);
    expect(() => buildContainerSpec(input({ nanoCpus: 0.5 }))).toThrow(/nanoCpus/);
  });

  it('refuses privileged and allow-listed egress profiles', () => {
    expect(() => buildContainerSpec(input({ profile: { privileged: true } }))).toThrow(/never runs privileged/);
    expect(() =>
      buildContainerSpec(input({ profile: { network: { outbound: { allow_host: ['api.github.com'] } } } })),
    ).toThrow(/cannot enforce per-host egress filtering/);
  });
});

describe('buildContainerSpec: stdio', () => {
  it('keeps stdin open and attaches all streams without a TTY', () => {
    const spec = buildContainerSpec(input());
    expect(spec).toMatchObject({
      OpenStdin: true,
      StdinOnce: false,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    expect(spec.ExposedPorts).toBeUndefined();
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(envOf(spec).MCP_TRANSPORT).toBeUndefined();
  });
});

describe('buildContainerSpec: network', () => {
  it('profile "none" means no network whatever the setting', () => {
    for (const networkSetting of ['default', 'host', 'none'] as const) {
      const spec = buildContainerSpec(input({ networkSetting }));
      expect(spec.HostConfig?.NetworkMode).toBe('none');
      expect(spec.ExposedPorts).toBeUndefined();
      expect(spec.HostConfig?.PortBindings).toBeUndefined();
    }
  });

  it('a profile without any network section also means no network', () => {
    expect(buildContainerSpec(input({ profile: {}, networkSetting: 'host' })).HostConfig?.NetworkMode).toBe('none');
  });

  it('uses host networking for the "host" setting when the profile allows network', () => {
    const spec = buildContainerSpec(input({ profile: BUILTIN_PROFILES.network, networkSetting: 'host' }));
    expect(spec.HostConfig?.NetworkMode).toBe('host');
  });

  it('leaves the engine default network for the "default" setting', () => {
    const spec = buildContainerSpec(input({ profile: BUILTIN_PROFILES.network }));
    expect(spec.HostConfig?.NetworkMode).toBeUndefined();
    expect(spec.ExposedPorts).toBeUndefined();
  });

  it('the "none" setting means no network even with a network profile', () => {
    const spec = buildContainerSpec(input({ profile: BUILTIN_PROFILES.network, networkSetting: 'none' }));
    expect(spec.HostConfig?.NetworkMode).toBe('none');
  });
});

describe('buildContainerSpec: sse and streamable-http', () => {
  it('publishes nothing where the proxy can reach the container itself (a rootful Linux engine)', () => {
    const spec = buildContainerSpec(http({ reach: 'container-ip' }));
    expect(spec.ExposedPorts).toBeUndefined();
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(envOf(spec)).toMatchObject({ MCP_PORT: '3001', MCP_HOST: '0.0.0.0' });
  });

  it('otherwise publishes the target port on 127.0.0.1 only, at a host port the engine picks (never the target port)', () => {
    const spec = buildContainerSpec(http());
    expect(spec.ExposedPorts).toEqual({ '3001/tcp': {} });
    expect(spec.HostConfig?.PortBindings).toEqual({ '3001/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(buildContainerSpec(http({ reach: 'published' })).HostConfig?.PortBindings).toEqual(spec.HostConfig?.PortBindings);
    expect(spec.OpenStdin).toBeUndefined();
    expect(spec.AttachStdin).toBeUndefined();
    expect(envOf(spec)).toEqual({
      MCP_TRANSPORT: 'streamable-http',
      MCP_PORT: '3001',
      FASTMCP_PORT: '3001',
      PORT: '3001',
      MCP_HOST: '0.0.0.0',
    });
  });

  it('binds the server to 127.0.0.1 with host networking and publishes nothing', () => {
    const spec = buildContainerSpec(http({ transport: 'sse', networkSetting: 'host' }));
    expect(spec.HostConfig?.NetworkMode).toBe('host');
    expect(spec.ExposedPorts).toBeUndefined();
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(envOf(spec)).toMatchObject({ MCP_TRANSPORT: 'sse', MCP_HOST: '127.0.0.1', PORT: '3001' });
  });

  it('requires a valid target port', () => {
    expect(() => buildContainerSpec(http({ targetPort: undefined }))).toThrow(/targetPort is required for the streamable-http transport/);
    expect(() => buildContainerSpec(http({ targetPort: 70000 }))).toThrow(/between 1 and 65535/);
    expect(() => buildContainerSpec(http({ proxyPort: 0 }))).toThrow(/proxyPort must be a port number/);
  });

  it('refuses an HTTP server whose profile allows no network: the proxy could never reach it', () => {
    expect(() => buildContainerSpec(http({ profile: BUILTIN_PROFILES.none, networkSetting: 'host' }))).toThrow(
      /needs a network so the proxy can reach it.*Use the stdio transport/,
    );
  });
});

describe('buildContainerSpec: environment', () => {
  it('renders K=V pairs, and user values override ours', () => {
    const spec = buildContainerSpec(http({ env: { PORT: '9999', GITHUB_TOKEN: 'a=b=c', EMPTY: '' } }));
    expect(spec.Env).toContain('PORT=9999');
    expect(spec.Env).not.toContain('PORT=3001');
    expect(spec.Env).toContain('GITHUB_TOKEN=a=b=c');
    expect(spec.Env).toContain('EMPTY=');
    expect(envOf(spec).MCP_PORT).toBe('3001');
  });

  it('rejects variable names Docker would misread', () => {
    expect(() => buildContainerSpec(input({ env: { 'A=B': 'x' } }))).toThrow(/Environment variable name "A=B" is invalid/);
    expect(() => buildContainerSpec(input({ env: { '': 'x' } }))).toThrow(/invalid/);
  });
});

describe('buildContainerSpec: mounts', () => {
  it('mounts profile read entries read-only, write entries read-write, then -v mounts', () => {
    const spec = buildContainerSpec(
      input({
        profile: { read: ['/home/ada/docs', '/srv/ref:/ref'], write: ['volume://mcp-cache:/cache'] },
        extraMounts: [parseVolumeFlag('./out:/out', '/home/ada/proj'), parseVolumeFlag('/etc/hosts:/etc/hosts:ro')],
      }),
    );
    expect(spec.HostConfig?.Mounts).toEqual([
      { Type: 'bind', Source: '/home/ada/docs', Target: '/home/ada/docs', ReadOnly: true },
      { Type: 'bind', Source: '/srv/ref', Target: '/ref', ReadOnly: true },
      { Type: 'volume', Source: 'mcp-cache', Target: '/cache', ReadOnly: false },
      { Type: 'bind', Source: '/home/ada/proj/out', Target: '/out', ReadOnly: false },
      { Type: 'bind', Source: '/etc/hosts', Target: '/etc/hosts', ReadOnly: true },
    ]);
    expect(spec.HostConfig?.Binds).toBeUndefined();
  });

  it('has no mounts for the built-in profiles', () => {
    expect(buildContainerSpec(input()).HostConfig?.Mounts).toEqual([]);
  });

  it('merges the same mount listed twice (write wins) and refuses two sources on one target', () => {
    const merged = buildContainerSpec(input({ profile: { read: ['/data'], write: ['/data'] } }));
    expect(merged.HostConfig?.Mounts).toEqual([{ Type: 'bind', Source: '/data', Target: '/data', ReadOnly: false }]);
    expect(() => buildContainerSpec(input({ profile: { read: ['/a:/data', '/b:/data'] } }))).toThrow(
      /Two mounts target \/data in the container \(\/a and \/b\)/,
    );
  });

  it('rejects unsafe mount declarations that bypassed profile loading', () => {
    expect(() => buildContainerSpec(input({ profile: { read: ['/x;reboot'] } }))).toThrow(/shell metacharacters/);
  });
});

describe('parseMemory', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1G', 1024 ** 3],
    ['256MiB', 256 * 1024 ** 2],
    ['256mb', 256 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3],
    ['8388608', 8388608],
    ['10240k', 10240 * 1024],
    [' 64 m ', 64 * 1024 ** 2],
  ])('%j -> %i bytes', (s, bytes) => {
    expect(parseMemory(s)).toBe(bytes);
  });

  it.each(['', 'lots', '-1g', '1x', '1 g b', 'm'])('rejects %j', (s) => {
    expect(() => parseMemory(s)).toThrow(/Memory limit .* is not understood: use a number with a unit, e.g. 512m/);
  });

  it('rejects limits the engine would refuse', () => {
    expect(() => parseMemory('1m')).toThrow(/at least 6m/);
  });
});

describe('parseCpus', () => {
  it.each([
    ['1.5', 1_500_000_000],
    ['2', 2_000_000_000],
    ['0.25', 250_000_000],
    ['.5', 500_000_000],
  ])('%j -> %i NanoCpus', (s, nano) => {
    expect(parseCpus(s)).toBe(nano);
  });

  it.each(['', '0', '-1', 'two', '1e3', '1,5'])('rejects %j', (s) => {
    expect(() => parseCpus(s)).toThrow(/CPU limit .* is not understood/);
  });
});
