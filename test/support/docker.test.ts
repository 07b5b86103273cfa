import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTestContainers, requireDocker, TEST_IMAGE, TEST_NODE_IMAGE, TEST_RUN_LABEL } from './docker.js';

describe('test Docker engine and images', () => {
  const runLabel = `support-${randomUUID()}`;
  let docker!: Docker;

  beforeAll(async () => {
    docker = await requireDocker();
  });

  afterAll(async () => {
    if (docker !== undefined) await removeTestContainers(docker, runLabel);
  });

  it('has the everything server image built by test/images/build.sh', async () => {
    const info = await docker.getImage(TEST_IMAGE).inspect();
    expect(info.Config.Entrypoint).toEqual([
      '/usr/local/bin/node',
      '/app/node_modules/@modelcontextprotocol/server-everything/dist/index.js',
    ]);
    expect(info.Config.Cmd).toEqual(['stdio']);
    expect(info.Config.User).toBe('mcp');
  });

  it('runs fixture scripts in the node image and removes labelled containers', async () => {
    const info = await docker.getImage(TEST_NODE_IMAGE).inspect();
    expect(info.Config.Entrypoint).toEqual(['/usr/local/bin/node']);

    const container = await docker.createContainer({
      Image: TEST_NODE_IMAGE,
      Cmd: ['-e', 'console.log(process.version, process.getuid())'],
      Labels: { [TEST_RUN_LABEL]: runLabel },
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
    const exit = (await container.wait()) as { StatusCode: number };
    expect(exit.StatusCode).toBe(0);
    const logs = (await container.logs({ stdout: true, stderr: false })).toString('utf8');
    // Multiplexed log frames carry an 8-byte header; the text itself is what matters here.
    expect(logs).toContain(`${process.version} 10001`);

    expect(await removeTestContainers(docker, runLabel)).toBe(1);
    const left = await docker.listContainers({ all: true, filters: { label: [`${TEST_RUN_LABEL}=${runLabel}`] } });
    expect(left).toHaveLength(0);
  });
});
