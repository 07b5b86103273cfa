import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connectClient, textOf } from '../support/mcp-client.js';
import { TEST_IMAGE } from '../support/docker.js';
import { useDockerCore } from '../support/core-harness.js';
import { waitFor } from '../support/wait.js';

/** The running dockerd's pid and command line (this suite starts it itself in .ci/run, as root). */
function findDockerd(): { pid: number; argv: string[] } {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv[0] && /(^|\/)dockerd$/.test(argv[0])) return { pid: Number(entry), argv };
    } catch {
      // process ended while we looked
    }
  }
  throw new Error('No dockerd process found: this test restarts the engine and needs one started by .ci/run (as root).');
}

describe('the container engine restarts while servers run', () => {
  const env = useDockerCore();

  it('reconnects, restarts the servers that should run, on the same URL', async () => {
    const s = await env.t.api.run({ image: TEST_IMAGE, name: 'survivor', permissionProfile: 'none' });
    expect(s.status).toBe('running');

    const { pid, argv } = findDockerd();
    process.kill(pid, 'SIGTERM');
    await waitFor(async () => (fs.existsSync(`/proc/${pid}`) ? undefined : true), 'dockerd to exit', 60_000);
    const log = fs.openSync('/tmp/gatehouse-dockerd.log', 'a');
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    fs.closeSync(log);
    await waitFor(async () => ((await env.docker.ping()) ? true : undefined), 'dockerd to answer again', 60_000);

    const back = await waitFor(async () => {
      const d = await env.t.api.getServer({ name: 'survivor' });
      return d.status === 'running' && d.history.filter((h) => h.status === 'running').length >= 2 ? d : undefined;
    }, 'the server to run again');
    expect(back.url).toBe(s.url);
    const client = await connectClient(new URL(back.url).origin);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after engine restart' } }))).toContain('after engine restart');
    await client.close();
  });
});
