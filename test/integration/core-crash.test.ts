import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectApi } from '../../src/api/index.js';
import { readDiscovery } from '../../src/app/index.js';
import { openStore } from '../../src/store/index.js';
import { connectClient, textOf } from '../support/mcp-client.js';
import { requireDocker, TEST_IMAGE } from '../support/docker.js';
import { tempHome } from '../support/core-harness.js';
import { printedUrl, runCli } from '../support/cli.js';

function cli(home: string, args: string[], timeoutMs?: number) {
  return runCli(home, args, { timeoutMs });
}

describe('the gatehouse command and a core killed with SIGKILL', () => {
  let docker: Docker;
  const home = tempHome();
  let foreground: ChildProcess | undefined;

  beforeAll(async () => {
    docker = await requireDocker();
  });

  afterAll(async () => {
    await cli(home, ['shutdown']);
    foreground?.kill('SIGKILL');
    // Containers of this home carry its instance label; remove whatever is left.
    const list = await docker.listContainers({ all: true, filters: { label: ['dev.gatehouse.managed=true'] } });
    const store = fs.existsSync(path.join(home, 'gatehouse.db')) ? openStore(path.join(home, 'gatehouse.db')) : undefined;
    const ours = new Set(store?.servers.list().map((s) => s.containerId) ?? []);
    store?.close();
    for (const c of list) if (ours.has(c.Id)) await docker.getContainer(c.Id).remove({ force: true });
  });

  it('runs three servers from the command line, survives kill -9 of the core, and loses nothing', async () => {
    const urls: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const r = await cli(home, ['run', TEST_IMAGE, '--name', name, '--permission-profile', 'none']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      urls.push(printedUrl(r.stdout));
    }
    const listed = await cli(home, ['ls', '--format', 'json']);
    expect(JSON.parse(listed.stdout).map((s: { name: string }) => s.name)).toEqual(['one', 'three', 'two']);

    const first = readDiscovery(path.join(home, 'core.json'));
    expect(first).toBeDefined();
    expect(fs.statSync(path.join(home, 'core.json')).mode & 0o077).toBe(0);
    process.kill(first!.pid, 'SIGKILL');
    // Its parent (a detached launcher) is gone, so it may linger as a zombie nobody reaps: Gatehouse must see it as dead.
    await new Promise((r) => setTimeout(r, 300));

    // The next command starts a new core, which adopts the still-running containers on the same ports.
    const after = await cli(home, ['ls', '--format', 'json']);
    expect(after.code).toBe(0);
    const servers = JSON.parse(after.stdout) as { name: string; status: string; url: string }[];
    expect(servers.map((s) => s.status)).toEqual(['running', 'running', 'running']);
    expect(servers.map((s) => s.url).sort()).toEqual([...urls].sort());
    const second = readDiscovery(path.join(home, 'core.json'));
    expect(second!.pid).not.toBe(first!.pid);

    for (const url of urls) {
      const client = await connectClient(new URL(url).origin);
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: url } }))).toContain(url);
      await client.close();
    }
    const logs = await cli(home, ['logs', 'one', '--proxy']);
    expect(logs.stdout).toMatch(/tools\/call echo → 200/);
  });

  it('refuses a second core and names the first', async () => {
    const d = readDiscovery(path.join(home, 'core.json'))!;
    const r = await cli(home, ['serve'], 15_000);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`pid ${d.pid}`);
    expect(r.stderr).toContain(d.url);
  });

  it('gives scripts stable exit codes', async () => {
    expect((await cli(home, ['stop', 'nope'])).code).toBe(3);
    expect((await cli(home, ['run', TEST_IMAGE, '--name', 'one'])).code).toBe(4);
    expect((await cli(home, ['run', TEST_IMAGE, '--name', 'BAD'])).code).toBe(2);
    expect((await cli(home, ['run', 'gatehouse-test/missing:1', '--name', 'missing'])).code).toBe(5);
    expect((await cli(home, ['frobnicate'])).code).toBe(2);
    const stopped = await cli(home, ['stop', 'two']);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/two: stopped/);
  });

  it('brings back servers that were running before a clean quit, and not the stopped ones', async () => {
    expect((await cli(home, ['shutdown'])).stdout).toMatch(/stopped/);
    const store = openStore(path.join(home, 'gatehouse.db'));
    expect(store.servers.list().map((s) => [s.name, s.desiredState])).toEqual([
      ['one', 'running'],
      ['three', 'running'],
      ['two', 'stopped'],
    ]);
    store.close();
    const d0 = readDiscovery(path.join(home, 'core.json'));
    expect(d0).toBeUndefined();
    const r = await cli(home, ['ls', '--format', 'json']);
    const servers = JSON.parse(r.stdout) as { name: string; status: string }[];
    expect(Object.fromEntries(servers.map((s) => [s.name, s.status]))).toEqual({ one: 'running', three: 'running', two: 'stopped' });
    const api = connectApi(readDiscovery(path.join(home, 'core.json'))!.url, 'wrong-token-wrong-token-wrong-token');
    await expect(api.listServers()).rejects.toThrow(/token/);
  });

  it('acts on several names at once and goes on past one that fails, with the first failure as exit code', async () => {
    const stop = await cli(home, ['stop', 'one', 'nope', 'three']);
    expect(stop.code).toBe(3);
    expect(stop.stdout).toMatch(/^one: stopped$/m);
    expect(stop.stdout).toMatch(/^three: stopped$/m);
    expect(stop.stderr).toMatch(/^gatehouse: nope: /m);

    const start = await cli(home, ['start', 'one', 'three', '--format', 'json']);
    expect(start.code).toBe(0);
    const started = JSON.parse(start.stdout) as { name: string; status: string }[];
    expect(started.map((s) => [s.name, s.status])).toEqual([
      ['one', 'running'],
      ['three', 'running'],
    ]);
    // One name keeps the single object scripts already read.
    const single = JSON.parse((await cli(home, ['stop', 'one', '--format', 'json'])).stdout) as { name: string };
    expect(single.name).toBe('one');

    const rm = await cli(home, ['rm', '--force', 'one', 'three']);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('Removed one.');
    expect(rm.stdout).toContain('Removed three.');
    const left = JSON.parse((await cli(home, ['ls', '--format', 'json'])).stdout) as { name: string }[];
    expect(left.map((s) => s.name)).toEqual(['two']);
  });
});
