import { describe, expect, it } from 'vitest';
import { useDockerCore } from '../support/core-harness.js';
import { TEST_NODE_IMAGE } from '../support/docker.js';
import { waitFor } from '../support/wait.js';

/**
 * A server whose container keeps running but whose MCP server stops answering is "unhealthy", and
 * "running" again once it answers: a real container running a tiny stdio server that ignores its first
 * three pings, checked every 300 ms.
 */
const SLOW_SERVER = `
let pings = 0;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize') out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: {}, serverInfo: { name: 'slow', version: '1' } } });
  else if (m.method === 'ping' && ++pings > 3) out({ jsonrpc: '2.0', id: m.id, result: {} });
});
`;

describe('server health', () => {
  const env = useDockerCore({ healthCheck: { intervalMs: 300, timeoutMs: 300, failures: 2 } });

  it('marks a server that stops answering unhealthy, with the reason, and running again when it answers', async () => {
    const s = await env.t.api.run({ image: TEST_NODE_IMAGE, name: 'slow', permissionProfile: 'none', args: ['-e', SLOW_SERVER] });
    expect(s.status).toBe('running');
    const sick = await waitFor(async () => {
      const d = await env.t.api.getServer({ name: 'slow' });
      return d.status === 'unhealthy' ? d : undefined;
    }, 'unhealthy status');
    expect(sick.statusDetail).toMatch(/has not answered for about \d+ s \(2 health checks in a row\)/);
    const back = await waitFor(async () => {
      const d = await env.t.api.getServer({ name: 'slow' });
      return d.status === 'running' ? d : undefined;
    }, 'running again');
    const statuses = back.history.map((h) => h.status);
    expect(statuses.indexOf('unhealthy')).toBeGreaterThan(statuses.indexOf('running'));
    expect(statuses.lastIndexOf('running')).toBeGreaterThan(statuses.indexOf('unhealthy'));
    // Stopping ends the checks: no status change after the stop.
    await env.t.api.stop({ name: 'slow' });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await env.t.api.getServer({ name: 'slow' })).status).toBe('stopped');
  });
});
