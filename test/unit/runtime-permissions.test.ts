import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_PROFILES,
  PermissionProfileSchema,
  assertProfileSupported,
  jsonErrorOffset,
  loadPermissionProfile,
  parseMountSpec,
  parseVolumeFlag,
  profileNetworkAccess,
} from '../../src/runtime/permissions.js';
import type { PermissionProfile, ReadTextFile } from '../../src/runtime/permissions.js';

function fakeFiles(files: Record<string, string>): ReadTextFile {
  return async (p) => {
    const text = files[p];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
    return text;
  };
}

describe('built-in profiles', () => {
  it('loads "none": no mounts, outbound denied', async () => {
    const loaded = await loadPermissionProfile('none');
    expect(loaded).toMatchObject({ source: 'builtin', name: 'none' });
    expect(loaded.profile.read).toEqual([]);
    expect(loaded.profile.write).toEqual([]);
    expect(loaded.profile.network?.outbound?.insecure_allow_all).toBe(false);
    expect(profileNetworkAccess(loaded.profile)).toBe('none');
  });

  it('loads "network": outbound allowed', async () => {
    const loaded = await loadPermissionProfile(' network ');
    expect(loaded).toMatchObject({ source: 'builtin', name: 'network' });
    expect(loaded.profile.network?.outbound?.insecure_allow_all).toBe(true);
    expect(profileNetworkAccess(loaded.profile)).toBe('full');
  });

  it('hands out copies, so callers cannot change the built-ins', async () => {
    const loaded = await loadPermissionProfile('none');
    loaded.profile.read?.push('/etc');
    expect(BUILTIN_PROFILES.none.read).toEqual([]);
  });
});

describe('loadPermissionProfile from a file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-perm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a ToolHive profile from disk, tolerating unknown keys and nulls like Go', async () => {
    const file = path.join(dir, 'github.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'github',
        read: ['/home/ada/docs', '/srv/data:/data'],
        write: ['volume://cache:/cache'],
        network: { mode: '', outbound: { insecure_allow_all: true, allow_host: null }, inbound: { allow_host: [] }, future: 1 },
        privileged: false,
        some_new_field: { x: 1 },
      }),
    );
    const loaded = await loadPermissionProfile(file);
    expect(loaded.source).toBe('file');
    expect(loaded.name).toBe('github');
    expect(loaded.profile).toEqual({
      name: 'github',
      read: ['/home/ada/docs', '/srv/data:/data'],
      write: ['volume://cache:/cache'],
      network: { mode: '', outbound: { insecure_allow_all: true, allow_host: undefined }, inbound: { allow_host: [] } },
      privileged: false,
    });
  });

  it('names an unnamed profile after its file', async () => {
    const loaded = await loadPermissionProfile('/p/readonly-docs.json', fakeFiles({ '/p/readonly-docs.json': '{}' }));
    expect(loaded.name).toBe('readonly-docs');
    expect(profileNetworkAccess(loaded.profile)).toBe('none');
  });

  it('says clearly when the file does not exist', async () => {
    await expect(loadPermissionProfile(path.join(dir, 'missing.json'))).rejects.toThrow(
      /Permission profile file not found: .*missing\.json\. Use "none", "network" or a path/,
    );
  });

  it('reports bad JSON with its position and line', async () => {
    const text = '{\n  "read": ["/a"],\n  "write": [}\n}';
    const err = (await loadPermissionProfile('/p/bad.json', fakeFiles({ '/p/bad.json': text })).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^Permission profile \/p\/bad\.json is not valid JSON: /);
    expect(err.message).toBe('Permission profile /p/bad.json is not valid JSON: unexpected "}" at line 3 column 13 (position 32)');
    const truncated = (await loadPermissionProfile('/p/t.json', fakeFiles({ '/p/t.json': '{"read": ["/a"' })).catch(
      (e: unknown) => e,
    )) as Error;
    expect(truncated.message).toMatch(/line 1 column 15 \(position 14\)/);
  });

  it('names the field that fails the schema', async () => {
    const files = fakeFiles({
      '/p/a.json': '{"network": {"outbound": {"allow_port": [443, "80"]}}}',
      '/p/b.json': '{"read": "/etc"}',
      '/p/c.json': '{"privileged": "yes"}',
      '/p/d.json': '[1, 2]',
    });
    await expect(loadPermissionProfile('/p/a.json', files)).rejects.toThrow(/network\.outbound\.allow_port\[1\]: .*number/);
    await expect(loadPermissionProfile('/p/b.json', files)).rejects.toThrow(/read: .*array/);
    await expect(loadPermissionProfile('/p/c.json', files)).rejects.toThrow(/privileged: .*boolean/);
    await expect(loadPermissionProfile('/p/d.json', files)).rejects.toThrow(/must be a JSON object/);
  });

  it('validates mount declarations at load time, naming the entry', async () => {
    const files = fakeFiles({ '/p/m.json': '{"read": ["/ok", "/tmp/$(whoami):/x"]}' });
    await expect(loadPermissionProfile('/p/m.json', files)).rejects.toThrow(/read\[1\]: .*shell metacharacters/);
  });

  it('rejects an empty spec', async () => {
    await expect(loadPermissionProfile('  ')).rejects.toThrow(/empty/);
  });

  it('accepts integer ports only', () => {
    expect(PermissionProfileSchema.safeParse({ network: { outbound: { allow_port: [1.5] } } }).success).toBe(false);
  });
});

describe('jsonErrorOffset', () => {
  it.each([
    ['{"a": 1,}', 8],
    ['[1 2]', 3],
    ['{"a" 1}', 5],
    ['"\\x"', 2],
    ['tru', 3],
    ['{"a": 01}', 7],
    ['{} x', 3],
    ['', 0],
  ])('finds the error in %j at %i', (text, offset) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it('finds nothing wrong in valid JSON', () => {
    const text = JSON.stringify({ a: [1, -2.5e3, true, false, null, 'x\n\u0001"'], b: {} });
    expect(jsonErrorOffset(text)).toBeUndefined();
  });
});

describe('parseMountSpec', () => {
  it('parses a single path as the same path inside', () => {
    expect(parseMountSpec('/home/ada/docs', 'ro')).toEqual({
      type: 'bind',
      source: '/home/ada/docs',
      target: '/home/ada/docs',
      readOnly: true,
    });
  });

  it('parses host:container and normalizes trailing slashes', () => {
    expect(parseMountSpec('/srv/data/:/data/', 'rw')).toEqual({ type: 'bind', source: '/srv/data', target: '/data', readOnly: false });
  });

  it('parses volume://name:/container', () => {
    expect(parseMountSpec('volume://mcp-cache:/cache', 'rw')).toEqual({
      type: 'volume',
      source: 'mcp-cache',
      target: '/cache',
      readOnly: false,
    });
  });

  it('accepts a Windows host path with a POSIX container path', () => {
    expect(parseMountSpec('C:\\Users\\ada\\docs:/docs', 'ro')).toEqual({
      type: 'bind',
      source: 'C:\\Users\\ada\\docs',
      target: '/docs',
      readOnly: true,
    });
  });

  it.each([
    ['/tmp/a;rm -rf /', /shell metacharacters/],
    ['/tmp/$(id)', /shell metacharacters/],
    ['/tmp/`id`', /shell metacharacters/],
    ['/a|b', /shell metacharacters/],
    ['/a&b', /shell metacharacters/],
    ['/a\nb', /shell metacharacters/],
    ['/a\0b', /null byte/],
    ['/host:relative/path', /container path "relative\/path" must be absolute/],
    ['/host:C:\\data', /Windows path/],
    ['/host:\\\\server\\share', /Windows path/],
    ['C:\\data:D:\\data', /too many ":"|Windows path/],
    ['/host/../etc:/etc', /host path .* contains "\.\."/],
    ['/host:/data/../etc', /container path .* contains "\.\."/],
    ['relative/dir:/data', /host path "relative\/dir" must be absolute/],
    ['/a:/b:/c', /too many ":"/],
    ['/a:', /both the host path and the container path/],
    ['secret://x:/y', /unsupported resource scheme "secret:\/\/"/],
    ['volume://:/y', /expected volume:\/\/<name>/],
    ['volume://name', /expected volume:\/\/<name>/],
    ['volume://bad name!:/y', /volume name/],
    ['', /empty/],
  ])('rejects %j', (entry, message) => {
    expect(() => parseMountSpec(entry, 'ro')).toThrow(message);
  });
});

describe('parseVolumeFlag', () => {
  it('parses host:container with :ro and :rw', () => {
    expect(parseVolumeFlag('/srv/a:/a:ro', '/cwd')).toEqual({ type: 'bind', source: '/srv/a', target: '/a', readOnly: true });
    expect(parseVolumeFlag('/srv/a:/a:rw', '/cwd')).toEqual({ type: 'bind', source: '/srv/a', target: '/a', readOnly: false });
    expect(parseVolumeFlag('/srv/a:/a', '/cwd')).toEqual({ type: 'bind', source: '/srv/a', target: '/a', readOnly: false });
  });

  it('resolves relative host paths against cwd', () => {
    expect(parseVolumeFlag('./data:/data:ro', '/home/ada/proj')).toEqual({
      type: 'bind',
      source: '/home/ada/proj/data',
      target: '/data',
      readOnly: true,
    });
    expect(parseVolumeFlag('../shared:/shared', '/home/ada/proj').source).toBe('/home/ada/shared');
    expect(parseVolumeFlag('data', '/home/ada/proj')).toEqual({
      type: 'bind',
      source: '/home/ada/proj/data',
      target: '/home/ada/proj/data',
      readOnly: false,
    });
  });

  it('accepts named volumes', () => {
    expect(parseVolumeFlag('volume://cache:/cache:ro', '/cwd')).toEqual({ type: 'volume', source: 'cache', target: '/cache', readOnly: true });
  });

  it('applies the same safety checks as profiles', () => {
    expect(() => parseVolumeFlag('/a;b:/c', '/cwd')).toThrow(/shell metacharacters/);
    expect(() => parseVolumeFlag('/a:rel', '/cwd')).toThrow(/must be absolute/);
    expect(() => parseVolumeFlag('/a:/b/../c', '/cwd')).toThrow(/contains "\.\."/);
    expect(() => parseVolumeFlag('/a:/b:/c:ro', '/cwd')).toThrow(/too many ":"/);
  });
});

describe('network access and supported profiles', () => {
  const restricted: PermissionProfile = {
    name: 'gh',
    network: { outbound: { allow_host: ['api.github.com'], allow_port: [443] } },
  };

  it('classifies outbound rules', () => {
    expect(profileNetworkAccess({})).toBe('none');
    expect(profileNetworkAccess({ network: { outbound: { insecure_allow_all: true } } })).toBe('full');
    expect(profileNetworkAccess(restricted)).toBe('restricted');
    expect(profileNetworkAccess({ network: { outbound: { allow_port: [443] } } })).toBe('restricted');
    expect(profileNetworkAccess({ network: { outbound: { insecure_allow_all: true, allow_host: ['x'] } } })).toBe('full');
    expect(profileNetworkAccess({ network: { mode: 'none', outbound: { insecure_allow_all: true } } })).toBe('none');
  });

  it('accepts the built-ins', () => {
    expect(() => assertProfileSupported(BUILTIN_PROFILES.none)).not.toThrow();
    expect(() => assertProfileSupported(BUILTIN_PROFILES.network)).not.toThrow();
  });

  it('refuses privileged profiles', () => {
    expect(() => assertProfileSupported({ name: 'root', privileged: true })).toThrow(
      /Permission profile "root" sets "privileged": true\. Gatehouse never runs privileged containers/,
    );
  });

  it('refuses allow-listed egress instead of silently granting full network', () => {
    expect(() => assertProfileSupported(restricted)).toThrow(
      /only to api\.github\.com, port 443\. Gatehouse cannot enforce per-host egress filtering yet.*"network"/,
    );
  });
});
