import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EngineNotFoundError,
  candidateEndpoints,
  connectEngine,
  createDockerClient,
  describeEndpoint,
  dockerodeOptions,
  realProbeEnv,
} from '../../src/runtime/engine.js';
import type { EngineEndpoint, EngineProbeEnv } from '../../src/runtime/engine.js';
import type Docker from 'dockerode';
import { ContainerRuntime } from '../../src/runtime/containers.js';

interface FakeMachine {
  env?: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
  files?: Record<string, string>;
  sockets?: string[];
  dirs?: Record<string, string[]>;
  uid?: number;
}

function fakeProbe(m: FakeMachine = {}): EngineProbeEnv {
  const files = m.files ?? {};
  const sockets = new Set(m.sockets ?? []);
  const probe: EngineProbeEnv = {
    env: m.env ?? {},
    platform: m.platform ?? 'linux',
    homedir: m.platform === 'win32' ? 'C:\\Users\\ada' : m.platform === 'darwin' ? '/Users/ada' : '/home/ada',
    tmpdir: m.platform === 'darwin' ? '/var/folders/xy/T' : '/tmp',
    exists: async (p) => sockets.has(p) || p in files,
    readFile: async (p) => files[p],
    listDir: async (p) => m.dirs?.[p] ?? [],
  };
  if (m.uid !== undefined) probe.uid = m.uid;
  return probe;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function contextMeta(configDir: string, name: string, host: string): Record<string, string> {
  return {
    [`${configDir}/contexts/meta/${sha(name)}/meta.json`]: JSON.stringify({
      Name: name,
      Metadata: { Description: 'test' },
      Endpoints: { docker: { Host: host, SkipTLSVerify: false } },
    }),
  };
}

const sources = (eps: EngineEndpoint[]) => eps.map((e) => e.source);

describe('candidateEndpoints: environment variables', () => {
  it('puts GATEHOUSE_DOCKER_HOST before DOCKER_HOST before sockets', async () => {
    const eps = await candidateEndpoints(
      fakeProbe({
        env: { GATEHOUSE_DOCKER_HOST: 'unix:///custom/engine.sock', DOCKER_HOST: 'tcp://127.0.0.1:2375' },
        sockets: ['/var/run/docker.sock'],
      }),
    );
    expect(eps).toEqual([
      { kind: 'unknown', source: 'GATEHOUSE_DOCKER_HOST', socketPath: '/custom/engine.sock' },
      { kind: 'unknown', source: 'DOCKER_HOST', host: '127.0.0.1', port: 2375, protocol: 'http' },
      { kind: 'docker', source: 'socket /var/run/docker.sock', socketPath: '/var/run/docker.sock' },
    ]);
  });

  it('keeps configured addresses even when nothing exists there', async () => {
    const eps = await candidateEndpoints(fakeProbe({ env: { DOCKER_HOST: 'unix:///nowhere/docker.sock' } }));
    expect(eps).toEqual([{ kind: 'docker', source: 'DOCKER_HOST', socketPath: '/nowhere/docker.sock' }]);
  });

  it('parses tcp without a port and host:port without a scheme', async () => {
    const [a] = await candidateEndpoints(fakeProbe({ env: { DOCKER_HOST: 'tcp://engine.local' } }));
    expect(a).toMatchObject({ host: 'engine.local', port: 2375, protocol: 'http' });
    const [b] = await candidateEndpoints(fakeProbe({ env: { DOCKER_HOST: '127.0.0.1:12375' } }));
    expect(b).toMatchObject({ host: '127.0.0.1', port: 12375, protocol: 'http' });
  });

  it('switches tcp to https with DOCKER_TLS_VERIFY, using DOCKER_CERT_PATH or ~/.docker', async () => {
    const [withPath] = await candidateEndpoints(
      fakeProbe({ env: { DOCKER_HOST: 'tcp://10.0.0.5', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' } }),
    );
    expect(withPath).toMatchObject({ protocol: 'https', port: 2376, host: '10.0.0.5', tlsCertDir: '/certs' });
    const [defaultPath] = await candidateEndpoints(
      fakeProbe({ env: { DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1' } }),
    );
    expect(defaultPath).toMatchObject({ protocol: 'https', tlsCertDir: '/home/ada/.docker' });
  });

  it('parses npipe:// and ssh:// addresses', async () => {
    const [pipe] = await candidateEndpoints(
      fakeProbe({ platform: 'win32', env: { DOCKER_HOST: 'npipe:////./pipe/docker_engine' } }),
    );
    expect(pipe).toEqual({ kind: 'docker', source: 'DOCKER_HOST', socketPath: '//./pipe/docker_engine' });

    const [ssh] = await candidateEndpoints(
      fakeProbe({ env: { DOCKER_HOST: 'ssh://ada@build-box:2222', SSH_AUTH_SOCK: '/tmp/agent.sock' } }),
    );
    expect(ssh).toEqual({
      kind: 'unknown',
      source: 'DOCKER_HOST',
      host: 'build-box',
      port: 2222,
      protocol: 'ssh',
      username: 'ada',
      sshAgent: '/tmp/agent.sock',
    });
  });

  it('marks an unusable address as invalid instead of throwing or dropping it', async () => {
    const eps = await candidateEndpoints(
      fakeProbe({ env: { DOCKER_HOST: 'fd://', GATEHOUSE_DOCKER_HOST: 'unix://' }, sockets: ['/var/run/docker.sock'] }),
    );
    expect(eps[0]).toMatchObject({ source: 'GATEHOUSE_DOCKER_HOST', invalid: expect.stringContaining('needs a path') });
    expect(eps[1]).toMatchObject({ source: 'DOCKER_HOST', invalid: expect.stringContaining('unsupported scheme') });
    expect(eps[2]?.socketPath).toBe('/var/run/docker.sock');
  });

  it("honours ToolHive's socket overrides after DOCKER_HOST", async () => {
    const eps = await candidateEndpoints(
      fakeProbe({
        env: {
          DOCKER_HOST: 'tcp://127.0.0.1:2375',
          TOOLHIVE_PODMAN_SOCKET: '/srv/podman.sock',
          TOOLHIVE_COLIMA_SOCKET: '/srv/c.sock',
        },
      }),
    );
    expect(eps.map((e) => [e.source, e.kind])).toEqual([
      ['DOCKER_HOST', 'unknown'],
      ['TOOLHIVE_PODMAN_SOCKET', 'podman'],
      ['TOOLHIVE_COLIMA_SOCKET', 'colima'],
    ]);
  });
});

describe('candidateEndpoints: docker contexts', () => {
  it('uses currentContext from ~/.docker/config.json and the hashed meta.json', async () => {
    const eps = await candidateEndpoints(
      fakeProbe({
        platform: 'darwin',
        files: {
          '/Users/ada/.docker/config.json': JSON.stringify({ auths: {}, currentContext: 'colima' }),
          ...contextMeta('/Users/ada/.docker', 'colima', 'unix:///Users/ada/.colima/default/docker.sock'),
        },
      }),
    );
    expect(eps).toEqual([
      { kind: 'colima', source: 'docker context "colima"', socketPath: '/Users/ada/.colima/default/docker.sock' },
    ]);
  });

  it('prefers DOCKER_CONTEXT over config.json and honours DOCKER_CONFIG', async () => {
    const eps = await candidateEndpoints(
      fakeProbe({
        env: { DOCKER_CONFIG: '/etc/dockercfg', DOCKER_CONTEXT: 'remote' },
        files: {
          '/etc/dockercfg/config.json': JSON.stringify({ currentContext: 'other' }),
          ...contextMeta('/etc/dockercfg', 'remote', 'tcp://192.0.2.10:2375'),
          ...contextMeta('/etc/dockercfg', 'other', 'unix:///other.sock'),
        },
      }),
    );
    expect(eps).toEqual([
      { kind: 'unknown', source: 'docker context "remote"', host: '192.0.2.10', port: 2375, protocol: 'http' },
    ]);
  });

  it('classifies a context by name when its address says nothing', async () => {
    const [ep] = await candidateEndpoints(
      fakeProbe({
        env: { DOCKER_CONTEXT: 'orbstack' },
        files: contextMeta('/home/ada/.docker', 'orbstack', 'unix:///var/run/engine.sock'),
      }),
    );
    expect(ep?.kind).toBe('orbstack');
  });

  it('uses the context TLS folder for tcp contexts that have certificates', async () => {
    const dir = `/home/ada/.docker/contexts/tls/${sha('secure')}/docker`;
    const [ep] = await candidateEndpoints(
      fakeProbe({
        env: { DOCKER_CONTEXT: 'secure' },
        files: { ...contextMeta('/home/ada/.docker', 'secure', 'tcp://192.0.2.10:2376'), [`${dir}/cert.pem`]: 'x' },
      }),
    );
    expect(ep).toMatchObject({ protocol: 'https', tlsCertDir: dir });
  });

  it('ignores the "default" context and a malformed config.json', async () => {
    for (const config of ['{"currentContext": "default"}', '{not json', '[]', '{"currentContext": 42}', '']) {
      const eps = await candidateEndpoints(
        fakeProbe({ files: { '/home/ada/.docker/config.json': config }, sockets: ['/var/run/docker.sock'] }),
      );
      expect(sources(eps)).toEqual(['socket /var/run/docker.sock']);
    }
  });

  it('reports a context whose metadata is missing or malformed', async () => {
    const missing = await candidateEndpoints(fakeProbe({ env: { DOCKER_CONTEXT: 'gone' } }));
    expect(missing[0]).toMatchObject({ source: 'docker context "gone"', invalid: expect.stringContaining('meta.json') });
    const broken = await candidateEndpoints(
      fakeProbe({
        env: { DOCKER_CONTEXT: 'broken' },
        files: { [`/home/ada/.docker/contexts/meta/${sha('broken')}/meta.json`]: '{"Endpoints": {"docker": {}}}' },
      }),
    );
    expect(broken[0]?.invalid).toContain('no usable context metadata');
  });

  it('lets DOCKER_HOST win over the context, like the docker CLI', async () => {
    const eps = await candidateEndpoints(
      fakeProbe({
        env: { DOCKER_HOST: 'unix:///a.sock', DOCKER_CONTEXT: 'ctx' },
        files: contextMeta('/home/ada/.docker', 'ctx', 'unix:///b.sock'),
      }),
    );
    expect(sources(eps)).toEqual(['DOCKER_HOST', 'docker context "ctx"']);
  });
});

describe('candidateEndpoints: well-known sockets', () => {
  it('lists only existing sockets, Podman first, in ToolHive order, and classifies them', async () => {
    const all = [
      '/var/run/podman/podman.sock',
      '/run/user/1000/podman/podman.sock',
      '/run/user/1001/podman/podman.sock',
      '/home/ada/.local/share/containers/podman/machine/podman.sock',
      '/tmp/podman/podman-machine-default-api.sock',
      '/var/run/docker.sock',
      '/home/ada/.docker/run/docker.sock',
      '/home/ada/.docker/desktop/docker.sock',
      '/home/ada/.rd/docker.sock',
      '/home/ada/.orbstack/run/docker.sock',
      '/home/ada/.colima/default/docker.sock',
      '/home/ada/.colima/docker.sock',
    ];
    const eps = await candidateEndpoints(
      fakeProbe({
        env: { XDG_RUNTIME_DIR: '/run/user/1000' },
        uid: 1001,
        sockets: all,
        dirs: { '/tmp/podman': ['podman-machine-default-api.sock', 'podman-machine-default.sock', 'notes.txt'] },
      }),
    );
    expect(eps.map((e) => [e.socketPath, e.kind])).toEqual([
      ['/var/run/podman/podman.sock', 'podman'],
      ['/run/user/1000/podman/podman.sock', 'podman'],
      ['/run/user/1001/podman/podman.sock', 'podman'],
      ['/home/ada/.local/share/containers/podman/machine/podman.sock', 'podman'],
      ['/tmp/podman/podman-machine-default-api.sock', 'podman'],
      ['/var/run/docker.sock', 'docker'],
      ['/home/ada/.docker/run/docker.sock', 'docker-desktop'],
      ['/home/ada/.docker/desktop/docker.sock', 'docker-desktop'],
      ['/home/ada/.rd/docker.sock', 'rancher-desktop'],
      ['/home/ada/.orbstack/run/docker.sock', 'orbstack'],
      ['/home/ada/.colima/default/docker.sock', 'colima'],
      ['/home/ada/.colima/docker.sock', 'colima'],
    ]);
  });

  it('skips sockets that do not exist', async () => {
    const eps = await candidateEndpoints(fakeProbe({ sockets: ['/home/ada/.orbstack/run/docker.sock'] }));
    expect(sources(eps)).toEqual(['socket /home/ada/.orbstack/run/docker.sock']);
  });

  it('finds Podman machine API sockets in $TMPDIR/podman on macOS', async () => {
    const dir = '/var/folders/xy/T/podman';
    const eps = await candidateEndpoints(
      fakeProbe({ platform: 'darwin', dirs: { [dir]: ['work-api.sock', 'dev-api.sock'] }, sockets: [`${dir}/dev-api.sock`, `${dir}/work-api.sock`] }),
    );
    expect(eps.map((e) => e.socketPath)).toEqual([`${dir}/dev-api.sock`, `${dir}/work-api.sock`]);
  });

  it('deduplicates: XDG_RUNTIME_DIR equal to /run/user/<uid>, and DOCKER_HOST pointing at a known socket', async () => {
    const eps = await candidateEndpoints(
      fakeProbe({
        env: { XDG_RUNTIME_DIR: '/run/user/1000', DOCKER_HOST: 'unix:///var/run/docker.sock' },
        uid: 1000,
        sockets: ['/run/user/1000/podman/podman.sock', '/var/run/docker.sock'],
      }),
    );
    expect(eps.map((e) => [e.source, e.socketPath])).toEqual([
      ['DOCKER_HOST', '/var/run/docker.sock'],
      ['socket /run/user/1000/podman/podman.sock', '/run/user/1000/podman/podman.sock'],
    ]);
  });

  it('offers the Docker and Podman named pipes on Windows, and no unix sockets', async () => {
    const eps = await candidateEndpoints(fakeProbe({ platform: 'win32', sockets: ['/var/run/docker.sock'] }));
    expect(eps).toEqual([
      { kind: 'docker', source: 'named pipe //./pipe/docker_engine', socketPath: '//./pipe/docker_engine' },
      { kind: 'podman', source: 'named pipe //./pipe/podman-machine-default', socketPath: '//./pipe/podman-machine-default' },
    ]);
  });

  it('dedupes DOCKER_HOST=npipe://… against the default pipe', async () => {
    const eps = await candidateEndpoints(fakeProbe({ platform: 'win32', env: { DOCKER_HOST: 'npipe:////./pipe/docker_engine' } }));
    expect(sources(eps)).toEqual(['DOCKER_HOST', 'named pipe //./pipe/podman-machine-default']);
  });

  it('reads Windows docker config from %USERPROFILE%\\.docker', async () => {
    const dir = 'C:\\Users\\ada\\.docker';
    const eps = await candidateEndpoints(
      fakeProbe({
        platform: 'win32',
        files: {
          [`${dir}\\config.json`]: '{"currentContext":"desktop-linux"}',
          [`${dir}\\contexts\\meta\\${sha('desktop-linux')}\\meta.json`]: JSON.stringify({
            Endpoints: { docker: { Host: 'npipe:////./pipe/dockerDesktopLinuxEngine' } },
          }),
        },
      }),
    );
    expect(eps[0]).toEqual({
      kind: 'docker-desktop',
      source: 'docker context "desktop-linux"',
      socketPath: '//./pipe/dockerDesktopLinuxEngine',
    });
  });
});

describe('dockerodeOptions', () => {
  it('sets only the socket for socket endpoints and clears every other connection key', () => {
    const opts = dockerodeOptions({ kind: 'docker', source: 'x', socketPath: '/var/run/docker.sock' });
    expect(opts.socketPath).toBe('/var/run/docker.sock');
    // Present-but-undefined keys stop docker-modem from merging its DOCKER_HOST defaults underneath.
    for (const key of ['host', 'port', 'protocol', 'ca', 'cert', 'key'] as const) {
      expect(key in opts).toBe(true);
      expect(opts[key]).toBeUndefined();
    }
  });

  it('builds http, ssh and https options', () => {
    expect(dockerodeOptions({ kind: 'unknown', source: 'x', host: 'h', port: 2375, protocol: 'http' })).toMatchObject({
      host: 'h',
      port: 2375,
      protocol: 'http',
      socketPath: undefined,
    });
    expect(
      dockerodeOptions({ kind: 'unknown', source: 'x', host: 'h', port: 22, protocol: 'ssh', username: 'ada', sshAgent: '/a.sock' }),
    ).toMatchObject({ protocol: 'ssh', username: 'ada', sshOptions: { agent: '/a.sock' } });

    const read = (p: string) => Buffer.from(`contents of ${p}`);
    const tls = dockerodeOptions(
      { kind: 'unknown', source: 'DOCKER_HOST', host: 'h', port: 2376, protocol: 'https', tlsCertDir: '/certs' },
      read,
    );
    expect(tls.protocol).toBe('https');
    expect(String(tls.ca)).toBe('contents of /certs/ca.pem');
    expect(String(tls.cert)).toBe('contents of /certs/cert.pem');
    expect(String(tls.key)).toBe('contents of /certs/key.pem');
  });

  it('explains missing TLS files and refuses invalid endpoints', () => {
    const missing = () => {
      throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    };
    expect(() =>
      dockerodeOptions({ kind: 'unknown', source: 'DOCKER_HOST', host: 'h', port: 2376, protocol: 'https', tlsCertDir: '/c' }, missing),
    ).toThrow(/needs \/c\/ca\.pem.*DOCKER_CERT_PATH/);
    expect(() => dockerodeOptions({ kind: 'unknown', source: 'DOCKER_HOST', invalid: 'fd://: unsupported' })).toThrow(
      /DOCKER_HOST cannot be used/,
    );
  });

  it('creates a client for a socket even when process.env.DOCKER_HOST is malformed', () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://[not a host';
    try {
      const docker = createDockerClient({ kind: 'docker', source: 'x', socketPath: '/var/run/docker.sock' });
      const modem = docker.modem as unknown as { socketPath?: string; host?: string };
      expect(modem.socketPath).toBe('/var/run/docker.sock');
      expect(modem.host).toBeUndefined();
      expect(process.env.DOCKER_HOST).toBe('tcp://[not a host');
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});

describe('describeEndpoint', () => {
  it('names the engine, the address and where it came from', () => {
    expect(describeEndpoint({ kind: 'docker', source: 'DOCKER_HOST', socketPath: '/var/run/docker.sock' })).toBe(
      'Docker via socket /var/run/docker.sock (DOCKER_HOST)',
    );
    expect(describeEndpoint({ kind: 'colima', source: 'socket /u/.colima/docker.sock', socketPath: '/u/.colima/docker.sock' })).toBe(
      'Colima via socket /u/.colima/docker.sock',
    );
    expect(describeEndpoint({ kind: 'docker', source: 'named pipe //./pipe/docker_engine', socketPath: '//./pipe/docker_engine' })).toBe(
      'Docker via named pipe //./pipe/docker_engine',
    );
    expect(
      describeEndpoint({ kind: 'unknown', source: 'docker context "remote"', host: '192.0.2.1', port: 2376, protocol: 'https' }),
    ).toBe('Container engine via https://192.0.2.1:2376 (docker context "remote")');
    expect(describeEndpoint({ kind: 'unknown', source: 'DOCKER_HOST', host: 'box', port: 22, protocol: 'ssh', username: 'ada' })).toBe(
      'Container engine via ssh://ada@box:22 (DOCKER_HOST)',
    );
  });
});

describe('EngineNotFoundError', () => {
  it('is thrown with install advice when there are no candidates at all', async () => {
    const err = await connectEngine({ probe: fakeProbe({ platform: 'linux' }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineNotFoundError);
    const e = err as EngineNotFoundError;
    expect(e.tried).toEqual([]);
    expect(e.message).toContain('No container engine found');
    expect(e.message).toContain('dockerd');
    expect(e.message).toContain('systemctl --user start podman.socket');
    expect(e.message).toContain('GATEHOUSE_DOCKER_HOST');
  });

  it('gives per-OS advice', () => {
    const mac = new EngineNotFoundError([], [], 'darwin').message;
    expect(mac).toContain('Docker Desktop');
    expect(mac).toContain('podman machine start');
    expect(mac).toContain('colima start');
    const win = new EngineNotFoundError([], [], 'win32').message;
    expect(win).toContain('Docker Desktop');
    expect(win).toContain('podman machine start');
    expect(win).not.toContain('systemctl');
  });

  it('lists what was tried and why each failed', async () => {
    const err = (await connectEngine({
      probe: fakeProbe({ env: { DOCKER_HOST: 'unix:///nonexistent/gatehouse-test.sock', GATEHOUSE_DOCKER_HOST: 'fd://3' } }),
      timeoutMs: 500,
    }).catch((e: unknown) => e)) as EngineNotFoundError;
    expect(err).toBeInstanceOf(EngineNotFoundError);
    expect(err.tried.map((t) => t.source)).toEqual(['GATEHOUSE_DOCKER_HOST', 'DOCKER_HOST']);
    expect(err.message).toContain('No container engine answered. Tried:');
    expect(err.message).toContain('unsupported scheme "fd://"');
    expect(err.message).toContain('  - GATEHOUSE_DOCKER_HOST: fd://3: unsupported scheme');
    expect(err.message).toContain(
      'Container engine via socket /nonexistent/gatehouse-test.sock (DOCKER_HOST): nothing is listening there',
    );
  });
});

describe('connectEngine timeouts', () => {
  it('gives up on an engine that accepts connections but never answers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-engine-'));
    const socketPath = path.join(dir, 'silent.sock');
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const err = (await connectEngine({
        probe: fakeProbe({ env: { GATEHOUSE_DOCKER_HOST: `unix://${socketPath}` } }),
        timeoutMs: 200,
      }).catch((e: unknown) => e)) as EngineNotFoundError;
      expect(err).toBeInstanceOf(EngineNotFoundError);
      expect(err.failures[0]).toMatch(/no answer within 200 ms|timeout/i);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('connectEngine against the real engine on this machine', () => {
  it('connects through the real probe environment', async () => {
    const { docker, endpoint, version } = await connectEngine();
    expect(version).toMatch(/^\d+\.\d+/);
    expect(endpoint.invalid).toBeUndefined();
    expect(describeEndpoint(endpoint)).toContain('via');
    // The returned client has no short probe timeout and works for ordinary calls.
    expect((docker.modem as unknown as { timeout?: number }).timeout).toBeUndefined();
    const info = await docker.info();
    expect(typeof info.ID === 'string' || typeof info.Name === 'string').toBe(true);
  });

  it('skips a dead DOCKER_HOST and falls through to the real socket', async () => {
    const real = realProbeEnv();
    const probe: EngineProbeEnv = { ...real, env: { ...real.env, DOCKER_HOST: 'unix:///nonexistent/dead.sock', DOCKER_CONTEXT: undefined } };
    const { endpoint } = await connectEngine({ probe, timeoutMs: 1000 });
    expect(endpoint.source).not.toBe('DOCKER_HOST');
    expect(endpoint.socketPath).toBeDefined();
  });
});

describe('how the proxy reaches an HTTP server in a container', () => {
  const runtimeWith = (info: Record<string, unknown>, inspect: Record<string, unknown>, endpoint: Partial<EngineEndpoint> = {}) => {
    const docker = { info: async () => info, getContainer: () => ({ inspect: async () => inspect }) } as unknown as Docker;
    return new ContainerRuntime(docker, { kind: 'docker', source: 'test', socketPath: '/var/run/docker.sock', ...endpoint } as EngineEndpoint, '1');
  };

  it('dials the container itself only where this machine routes the bridge: a rootful engine on Linux, on a local socket', async () => {
    const linux = process.platform === 'linux';
    expect(await runtimeWith({ OperatingSystem: 'Debian GNU/Linux 12', SecurityOptions: ['name=seccomp'] }, {}).reach()).toBe(linux ? 'container-ip' : 'published');
    expect(await runtimeWith({ OperatingSystem: 'Ubuntu', SecurityOptions: ['name=seccomp', 'name=rootless'] }, {}).reach()).toBe('published');
    expect(await runtimeWith({ OperatingSystem: 'Docker Desktop' }, {}).reach()).toBe('published');
    expect(await runtimeWith({ OperatingSystem: 'Ubuntu' }, {}, { kind: 'colima' }).reach()).toBe('published');
    expect(await runtimeWith({ OperatingSystem: 'Ubuntu' }, {}, { socketPath: undefined }).reach()).toBe('published');
  });

  it('reads the address from the container: host network, the published loopback port, or its own address', async () => {
    const host = runtimeWith({}, { HostConfig: { NetworkMode: 'host' }, NetworkSettings: { Ports: {}, Networks: {} } });
    expect(await host.httpEndpoint('c', 3001)).toEqual({ host: '127.0.0.1', port: 3001 });
    const published = runtimeWith({}, { HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Ports: { '3001/tcp': [{ HostIp: '0.0.0.0', HostPort: '4000' }, { HostIp: '127.0.0.1', HostPort: '49213' }] }, Networks: { bridge: { IPAddress: '172.17.0.2' } } } });
    expect(await published.httpEndpoint('c', 3001)).toEqual({ host: '127.0.0.1', port: 49213 });
    const direct = runtimeWith({}, { HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Ports: {}, IPAddress: '', Networks: { bridge: { IPAddress: '172.17.0.3' } } } });
    expect(await direct.httpEndpoint('c', 3001)).toEqual({ host: '172.17.0.3', port: 3001 });
    const none = runtimeWith({}, { HostConfig: { NetworkMode: 'none' }, NetworkSettings: { Ports: {}, Networks: { none: { IPAddress: '' } } } });
    await expect(none.httpEndpoint('c', 3001)).rejects.toThrow(/no address/);
  });
});
