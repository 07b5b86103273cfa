import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient, textOf } from '../support/mcp-client.js';
import { TEST_IMAGE, TEST_NODE_IMAGE } from '../support/docker.js';
import { startTestCore, useDockerCore } from '../support/core-harness.js';
import { apiError, waitFor } from '../support/wait.js';

describe('servers in real containers, through the core', () => {
  const env = useDockerCore();

  it('runs a stdio server; the SDK client calls tools over Streamable HTTP and SSE; logs record it', async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: 'everything', permissionProfile: 'none' });
    expect(s.status).toBe('running');
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const base = new URL(s.url).origin;

    const container = await env.docker.getContainer(s.containerId!).inspect();
    expect(container.HostConfig.NetworkMode).toBe('none');
    expect(container.HostConfig.CapDrop).toEqual(['ALL']);
    expect(container.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(container.Config.Labels['dev.gatehouse.server']).toBe('everything');

    const client = await connectClient(base);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'in a container' } }))).toContain('in a container');
    expect(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }))).toContain('3');
    expect((await client.listPrompts()).prompts.length).toBeGreaterThan(0);
    await client.close();

    const sse = await connectClient(base, 'sse');
    expect(textOf(await sse.callTool({ name: 'echo', arguments: { message: 'legacy' } }))).toContain('legacy');
    await sse.close();

    const proxyLogs = await env.t.api.logs({ server: 'everything', sources: ['proxy'] });
    expect(proxyLogs.some((l) => l.message.startsWith('tools/call echo → 200'))).toBe(true);
    const containerLogs = await waitFor(async () => {
      const l = await env.t.api.logs({ server: 'everything', sources: ['container'] });
      return l.length > 0 ? l : undefined;
    }, 'container logs');
    expect(containerLogs.map((l) => l.message).join('\n')).toMatch(/STDIO|stdio/);
    const found = await env.t.api.logs({ server: 'everything', search: 'tools/call' });
    expect(found.length).toBeGreaterThan(0);
  });

  it('streams new log lines live to a follower', async () => {
    const s = await env.t.api.getServer({ name: 'everything' });
    const seen: string[] = [];
    const ac = new AbortController();
    const lastId = (await env.t.api.logs({ server: 'everything' })).at(-1)?.id ?? 0;
    const following = env.t.api.follow('followLogs', { server: 'everything', sources: ['proxy'], afterId: lastId }, (l) => seen.push(l.message), ac.signal).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    const client = await connectClient(new URL(s.url).origin);
    await client.callTool({ name: 'echo', arguments: { message: 'live' } });
    await waitFor(async () => (seen.some((m) => m.startsWith('tools/call echo')) ? true : undefined), 'a live log line', 10_000);
    ac.abort();
    await following;
    await client.close();
  });

  it('keeps the URL across stop and start, and answers 503 while stopped', async () => {
    const before = await env.t.api.getServer({ name: 'everything' });
    await env.t.api.stop({ name: 'everything' });
    const stopped = await fetch(`${new URL(before.url).origin}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(stopped.status).toBe(503);
    expect(((await stopped.json()) as { error: { message: string } }).error.message).toMatch(/stopped/);
    const health = await fetch(`${new URL(before.url).origin}/health`);
    expect(((await health.json()) as { status: string }).status).toBe('stopped');

    const after = await env.t.api.start({ name: 'everything' });
    expect(after.url).toBe(before.url);
    const client = await connectClient(new URL(after.url).origin);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'again' } }))).toContain('again');
    await client.close();
  });

  it('runs a streamable-http server behind the reverse proxy, keeping its sessions and streaming progress', async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: 'everything-http', transport: 'streamable-http', args: ['streamableHttp'] });
    expect(s.status).toBe('running');
    const client = await connectClient(new URL(s.url).origin);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over http' } }))).toContain('over http');
    const seen: number[] = [];
    await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(seen).toEqual([1, 2]);
    await client.close();
  });

  it('runs an sse server behind the reverse proxy', async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: 'everything-sse', transport: 'sse', args: ['sse'] });
    expect(s.status).toBe('running');
    expect(s.url).toMatch(/\/sse$/);
    const client = await connectClient(new URL(s.url).origin, 'sse');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'over sse' } }))).toContain('over sse');
    await client.close();
  });

  it('turns a container killed mid-request into an error for the client and an error status with the exit code', async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: 'doomed', permissionProfile: 'none' });
    const client = await connectClient(new URL(s.url).origin);
    const call = expect(client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 3 } })).rejects.toThrow(/closed|stopped/i);
    await new Promise((r) => setTimeout(r, 500));
    await env.docker.getContainer(s.containerId!).kill({ signal: 'SIGKILL' });
    await call;
    const failed = await waitFor(async () => {
      const d = await env.t.api.getServer({ name: 'doomed' });
      return d.status === 'error' ? d : undefined;
    }, 'error status');
    expect(failed.statusDetail).toMatch(/exited with code 137/);
    expect(failed.history.some((h) => h.status === 'error' && h.exitCode === 137)).toBe(true);
  });

  it('reports a server whose container exits at start, with its exit code and last output, keeping the definition', async () => {
    const s = await env.t.api.run({ image: TEST_NODE_IMAGE, name: 'crasher', permissionProfile: 'none', args: ['-e', "console.error('boom: missing API key'); process.exit(3)"] });
    expect(s.status).toBe('error');
    expect(s.statusDetail).toMatch(/code 3/);
    expect(s.statusDetail).toMatch(/boom: missing API key/);
    expect((await env.t.api.listServers()).map((x) => x.name)).toContain('crasher');
  });

  it('refuses bad input with clear errors and creates nothing', async () => {
    const dup = await apiError(env.t.api.run({ image: TEST_IMAGE, name: 'everything' }));
    expect(dup.status).toBe(409);
    expect(dup.message).toMatch(/already exists/);

    const bad = await apiError(env.t.api.run({ image: TEST_IMAGE, name: 'Not Valid!' }));
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/Invalid server name/);

    const missing = await apiError(env.t.api.run({ image: 'gatehouse-test/does-not-exist:1', name: 'ghost' }));
    expect(missing.status).toBe(422);
    expect(missing.message).toContain('gatehouse-test/does-not-exist:1');
    expect(missing.message).toMatch(/Docker/);

    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const busyPort = (blocker.address() as net.AddressInfo).port;
    const busy = await apiError(env.t.api.run({ image: TEST_IMAGE, name: 'busy', proxyPort: busyPort }));
    blocker.close();
    expect(busy.status).toBe(409);
    expect(busy.message).toMatch(new RegExp(`Port ${busyPort}.*in use`));

    const names = (await env.t.api.listServers()).map((x) => x.name);
    expect(names).not.toContain('ghost');
    expect(names).not.toContain('busy');
    const leftovers = await env.docker.listContainers({ all: true, filters: { name: ['gatehouse-busy', 'gatehouse-ghost'] } });
    expect(leftovers).toHaveLength(0);
  });

  it('names the image and the engine when an image cannot be pulled', async () => {
    // A registry address on loopback where nothing listens: the engine fails fast, no packet leaves the machine.
    const t2 = await startTestCore({ pullPolicy: 'missing' });
    try {
      const err = await apiError(t2.api.run({ image: '127.0.0.1:1/nobody/nothing:1', name: 'unpullable' }));
      expect(err.status).toBe(422);
      expect(err.message).toContain('127.0.0.1:1/nobody/nothing:1');
      expect(err.message).toMatch(/could not be pulled/);
    } finally {
      await t2.stop();
    }
  });

  it('removes a server: running needs --force; the container goes too', async () => {
    const s = await env.t.api.getServer({ name: 'everything-sse' });
    const refused = await apiError(env.t.api.remove({ name: 'everything-sse' }));
    expect(refused.status).toBe(409);
    await env.t.api.remove({ name: 'everything-sse', force: true });
    const gone = await apiError(env.t.api.getServer({ name: 'everything-sse' }));
    expect(gone.status).toBe(404);
    await expect(env.docker.getContainer(s.containerId!).inspect()).rejects.toThrow();
  });

  it('brings running servers back on the same ports after a clean restart of the core', async () => {
    const before = (await env.t.api.listServers()).filter((s) => s.status === 'running');
    expect(before.length).toBeGreaterThanOrEqual(2);
    await env.t.restart();
    const after = await env.t.api.listServers();
    for (const b of before) {
      const a = after.find((x) => x.name === b.name);
      expect(a?.status).toBe('running');
      expect(a?.url).toBe(b.url);
    }
    const client = await connectClient(new URL(before[0]!.url).origin, before[0]!.transport === 'sse' ? 'sse' : 'streamable-http');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'back' } }))).toContain('back');
    await client.close();
  });
});

describe('no container engine', () => {
  it('says that no engine was found and what to install, and keeps working for everything else', async () => {
    const { connectEngine } = await import('../../src/runtime/index.js');
    const noEngine = () =>
      connectEngine({
        probe: { env: {}, platform: 'linux', homedir: '/nonexistent', tmpdir: '/nonexistent', exists: async () => false, readFile: async () => undefined, listDir: async () => [] },
        timeoutMs: 500,
      });
    const t = await startTestCore({ connectEngine: noEngine });
    try {
      const err = await apiError(t.api.run({ image: TEST_IMAGE, name: 'x' }));
      expect(err.status).toBe(503);
      expect(err.message).toMatch(/No container engine|Docker/i);
      expect(await t.api.listServers()).toEqual([]);
      const info = await t.api.core();
      expect(info.engine.connected).toBe(false);
    } finally {
      await t.stop();
    }
  });
});
