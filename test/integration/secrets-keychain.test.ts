import { spawn } from 'node:child_process';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectApi } from '../../src/api/index.js';
import { readDiscovery } from '../../src/app/index.js';
import { KeychainUnavailableError, OsKeychain } from '../../src/secrets/index.js';
import { connectClient, textOf } from '../support/mcp-client.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { startTestCore, tempHome, type TestCore } from '../support/core-harness.js';
import { startPrivateKeyring, type PrivateKeyring } from '../support/keyring.js';
import { testSecret } from '../support/leak-registry.js';
import { apiError } from '../support/wait.js';
import { printedUrl, runCli } from '../support/cli.js';

async function envOf(url: string): Promise<Record<string, string>> {
  const client = await connectClient(new URL(url).origin);
  try {
    return JSON.parse(textOf(await client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
  } finally {
    await client.close();
  }
}

describe('the real OS keychain (GNOME Secret Service on a private D-Bus session)', () => {
  let keyring: PrivateKeyring;

  beforeAll(async () => {
    keyring = await startPrivateKeyring();
  });
  afterAll(async () => {
    await keyring?.stop();
  });

  it('stores, reads, lists and deletes through keytar in its own process', async () => {
    const kc = new OsKeychain('Gatehouse', 10_000, keyring.env);
    const value = testSecret('keychain-roundtrip') + ' ünïcödé\nsecond line';
    await kc.set('ROUNDTRIP', value);
    expect(await kc.get('ROUNDTRIP')).toBe(value);
    expect(await kc.accounts()).toContain('ROUNDTRIP');
    expect(await kc.delete('ROUNDTRIP')).toBe(true);
    expect(await kc.get('ROUNDTRIP')).toBeNull();
    kc.close();
  });

  it('takes many overlapping calls (two sign-ins storing secrets while a page lists them) without the keychain process crashing', async () => {
    const kc = new OsKeychain('Gatehouse', 30_000, keyring.env);
    const names = Array.from({ length: 24 }, (_, i) => `OVERLAP_${i}`);
    const value = testSecret('keychain-overlap');
    try {
      for (let round = 0; round < 3; round++) {
        await Promise.all(names.flatMap((n) => [kc.set(n, `${value}-${n}`), kc.accounts(), kc.get(n)]));
        expect(await kc.accounts()).toEqual(expect.arrayContaining(names));
        await Promise.all(names.flatMap((n) => [kc.delete(n), kc.accounts()]));
        expect((await kc.accounts()).filter((a) => a.startsWith('OVERLAP_'))).toEqual([]);
      }
    } finally {
      kc.close();
    }
  }, 120_000);
});

describe('server secrets end to end: keychain → container environment, and nowhere else', () => {
  let docker: Docker;
  let keyring: PrivateKeyring;
  let t: TestCore;
  const token = testSecret('github-token');

  beforeAll(async () => {
    docker = await requireDocker();
    keyring = await startPrivateKeyring();
    t = await startTestCore({ keychain: new OsKeychain('Gatehouse', 10_000, keyring.env) });
  });

  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await keyring?.stop();
  });

  it('injects a keychain secret into the container at start (--secret NAME,target=ENV)', async () => {
    await t.api.setSecret({ name: 'GITHUB_TOKEN', value: token });
    const info = await t.api.secrets();
    expect(info.provider).toBe('keychain');
    expect(info.secrets.map((s) => s.name)).toEqual(['GITHUB_TOKEN']);
    expect(JSON.stringify(info)).not.toContain(token);

    const s = await t.api.run({ image: TEST_IMAGE, name: 'gh', permissionProfile: 'none', secrets: [{ name: 'GITHUB_TOKEN', target: 'GITHUB_PERSONAL_ACCESS_TOKEN' }] });
    expect(s.status).toBe('running');
    expect(s.secrets).toEqual([{ name: 'GITHUB_TOKEN', target: 'GITHUB_PERSONAL_ACCESS_TOKEN' }]);
    expect((await envOf(s.url))['GITHUB_PERSONAL_ACCESS_TOKEN']).toBe(token);
    expect((await t.api.secrets()).secrets[0]?.usedBy).toEqual([{ server: 'gh', target: 'GITHUB_PERSONAL_ACCESS_TOKEN' }]);
  });

  it('keeps the reference through restarts of the server and of the core, and applies a new value on restart', async () => {
    await t.restart({ keychain: new OsKeychain('Gatehouse', 10_000, keyring.env) });
    const s = await t.api.getServer({ name: 'gh' });
    expect(s.status).toBe('running');
    expect((await envOf(s.url))['GITHUB_PERSONAL_ACCESS_TOKEN']).toBe(token);
    const rotated = testSecret('github-token-rotated');
    await t.api.setSecret({ name: 'GITHUB_TOKEN', value: rotated });
    const r = await t.api.restart({ name: 'gh' });
    expect(r.secrets).toEqual([{ name: 'GITHUB_TOKEN', target: 'GITHUB_PERSONAL_ACCESS_TOKEN' }]);
    expect((await envOf(r.url))['GITHUB_PERSONAL_ACCESS_TOKEN']).toBe(rotated);
  });

  it('refuses to run with a missing secret, naming it, and creates nothing', async () => {
    const err = await apiError(t.api.run({ image: TEST_IMAGE, name: 'needs-missing', secrets: [{ name: 'NOT_THERE', target: 'X' }] }));
    expect(err.message).toContain('NOT_THERE');
    expect((await t.api.listServers()).map((s) => s.name)).not.toContain('needs-missing');
  });

  it('protects secrets in use from removal; a server whose secret is gone fails to start and says which', async () => {
    const refused = await apiError(t.api.removeSecret({ name: 'GITHUB_TOKEN' }));
    expect(refused.status).toBe(409);
    expect(refused.message).toMatch(/used by gh/);
    await t.api.removeSecret({ name: 'GITHUB_TOKEN', force: true });
    expect((await t.api.secrets()).missing).toEqual([{ name: 'GITHUB_TOKEN', usedBy: [{ server: 'gh', target: 'GITHUB_PERSONAL_ACCESS_TOKEN' }] }]);
    await t.api.stop({ name: 'gh' });
    const s = await t.api.start({ name: 'gh' });
    expect(s.status).toBe('error');
    expect(s.statusDetail).toMatch(/Secret "GITHUB_TOKEN" is not in the OS keychain/);
    expect(s.secrets).toEqual([{ name: 'GITHUB_TOKEN', target: 'GITHUB_PERSONAL_ACCESS_TOKEN' }]);
    // Put it back: the same definition starts again.
    await t.api.setSecret({ name: 'GITHUB_TOKEN', value: token });
    expect((await t.api.start({ name: 'gh' })).status).toBe('running');
  });

  it('says clearly when the keychain gets locked, and everything that needs no secret keeps working', async () => {
    await keyring.lock();
    const err = await apiError(t.api.setSecret({ name: 'ANOTHER', value: testSecret('while-locked') }));
    expect(err.status).toBe(503);
    expect(err.code).toBe('keychain_unavailable');
    expect(err.message).toMatch(/locked/);
    const list = await apiError(t.api.secrets());
    expect(list.message).toMatch(/locked/);
    expect((await t.api.listServers()).map((s) => s.name)).toEqual(['gh']);
    expect((await t.api.getServer({ name: 'gh' })).status).toBe('running');
  });

  it('says clearly when the keychain service stops, and the core keeps serving', async () => {
    await keyring.stopService();
    const err = await apiError(t.api.setSecret({ name: 'ANOTHER', value: testSecret('while-stopped') }));
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/Cannot write to the keychain/);
    expect(err.message).not.toContain('gh-test-secret');
    const s = await t.api.getServer({ name: 'gh' });
    expect((await envOf(s.url))['GITHUB_PERSONAL_ACCESS_TOKEN']).toBe(token);
  });
});

describe('the command line with secrets', () => {
  let docker: Docker;
  let keyring: PrivateKeyring;
  const home = tempHome();
  const value = testSecret('cli-api-key');

  const cli = (args: string[], stdin?: string) => runCli(home, args, { env: keyring.env, stdin });

  beforeAll(async () => {
    docker = await requireDocker();
    keyring = await startPrivateKeyring();
  });

  afterAll(async () => {
    await cli(['rm', '-f', 'withkey']);
    await cli(['shutdown']);
    await keyring?.stop();
    void docker;
  });

  it('secret set reads the value from standard input; ls shows names only; run --secret uses it', async () => {
    const set = await cli(['secret', 'set', 'API_KEY'], `${value}\n`);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    const ls = await cli(['secret', 'ls']);
    expect(ls.stdout).toMatch(/API_KEY/);
    expect(ls.stdout).not.toContain(value);
    const run = await cli(['run', TEST_IMAGE, '--name', 'withkey', '--permission-profile', 'none', '--secret', 'API_KEY,target=SERVICE_API_KEY']);
    expect(run.code).toBe(0);
    const url = printedUrl(run.stdout);
    expect((await envOf(url))['SERVICE_API_KEY']).toBe(value);
    const status = await cli(['status', 'withkey', '--format', 'json']);
    expect(status.stdout).not.toContain(value);
    expect(JSON.parse(status.stdout).secrets).toEqual([{ name: 'API_KEY', target: 'SERVICE_API_KEY' }]);

    // Restart everything: the core quits (stopping the container), the next command brings it back.
    expect((await cli(['shutdown'])).code).toBe(0);
    const servers = JSON.parse((await cli(['ls', '--format', 'json'])).stdout) as { name: string; status: string; url: string }[];
    expect(servers).toMatchObject([{ name: 'withkey', status: 'running', url }]);
    expect((await envOf(url))['SERVICE_API_KEY']).toBe(value);
  });

  it('secret set on a terminal prompts without echoing the value', async () => {
    const typed = testSecret('typed-at-prompt');
    // `script` gives the command a real pseudo-terminal; what we write is what a user would type.
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn('script', ['-q', '-e', '--echo', 'never', '-c', `${process.execPath} ${path.resolve('bin/gatehouse.js')} secret set TYPED`, '/dev/null'], {
        env: { ...keyring.env, GATEHOUSE_HOME: home, GATEHOUSE_NETWORK: 'host', GATEHOUSE_PULL_POLICY: 'never' },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('input hidden')) child.stdin.write(`${typed}\r`);
      });
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
    expect(r.code).toBe(0);
    expect(r.out).toContain('Value for TYPED (input hidden)');
    expect(r.out).toContain('Stored secret TYPED');
    expect(r.out).not.toContain(typed);
    expect((await cli(['secret', 'ls'])).stdout).toMatch(/TYPED/);
  });

  it('refuses bad --secret flags and empty values with usage errors', async () => {
    expect((await cli(['run', TEST_IMAGE, '--secret', 'API_KEY'])).code).toBe(2);
    expect((await cli(['secret', 'set', 'EMPTY'], '')).code).toBe(2);
    expect((await cli(['secret', 'set', 'bad name'], 'x')).code).toBe(2);
  });

  it('the core discovery file is private and the keychain process never sees values on its command line', async () => {
    const d = readDiscovery(path.join(home, 'core.json'));
    expect(d).toBeDefined();
    const api = connectApi(d!.url, d!.token);
    expect((await api.secrets()).secrets.map((s) => s.name)).toEqual(['API_KEY', 'TYPED']);
  });
});

describe('no keychain at all', () => {
  it('is a clear error for secret commands only', async () => {
    const kc = new OsKeychain('Gatehouse', 5_000, { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus', HOME: tempHome() });
    const err = await kc.get('X').catch((e: Error) => e);
    expect(err).toBeInstanceOf(KeychainUnavailableError);
    expect((err as Error).message).toMatch(/Cannot read from the keychain/);
    expect((err as Error).message).toMatch(/GATEHOUSE_SECRETS_PROVIDER=environment/);
    kc.close();
  });

  it('serves secrets from GATEHOUSE_SECRET_<NAME> when the environment provider is chosen', async () => {
    const value = testSecret('env-provider');
    const t = await startTestCore({ secretsEnv: { GATEHOUSE_SECRETS_PROVIDER: 'environment', GATEHOUSE_SECRET_FROM_ENV: value } });
    try {
      const info = await t.api.secrets();
      expect(info).toMatchObject({ provider: 'environment', writable: false, secrets: [{ name: 'FROM_ENV', usedBy: [] }] });
      const err = await apiError(t.api.setSecret({ name: 'X', value: 'y' }));
      expect(err.status).toBe(409);
      expect(err.message).toMatch(/read-only/);
    } finally {
      await t.stop();
    }
  });
});
