// A forbid on a tool annotation holds for a client that calls the tool by name, without listing,
// after a policy edit and after the core restarts: what the server's tools/list said is kept (and
// saved), never forgotten into an allow. Real core, real container, real SDK client, local mode.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, textOf } from '../support/mcp-client.js';
import { requireDocker, TEST_IMAGE } from '../support/docker.js';
import { tempHome } from '../support/core-harness.js';
import { printedUrl, runCli } from '../support/cli.js';

describe('tool annotations outlive policy edits and core restarts', () => {
  const home = tempHome();
  const cli = (args: string[]) => runCli(home, args);
  const file = (name: string, policies: string[]) => {
    const p = path.join(home, name);
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(p, JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: '[]' } }));
    return p;
  };
  // Everything, except tools that say they are read-only (an odd rule, but one whose forbid depends on an annotation).
  const policies = [
    'permit(principal, action == Action::"call_tool", resource);',
    'forbid(principal, action == Action::"call_tool", resource) when { resource has readOnlyHint && resource.readOnlyHint };',
  ];
  let base = '';

  const echoFromANewClient = async () => {
    const client = await connectClient(base);
    try {
      return await client.callTool({ name: 'echo', arguments: { message: 'hi' } }).then(
        (r) => `allowed: ${textOf(r)}`,
        (err: Error) => `refused: ${err.message}`,
      );
    } finally {
      await client.close();
    }
  };

  beforeAll(async () => {
    await requireDocker();
  });

  afterAll(async () => {
    await cli(['rm', '-f', 'ro']);
    await cli(['shutdown']);
  });

  it('learns from a tools/list, then refuses echo to clients that never list', async () => {
    const r = await cli(['run', TEST_IMAGE, '--name', 'ro', '--permission-profile', 'none', '--authz-config', file('ro.json', policies)]);
    expect(r.code).toBe(0);
    base = new URL(printedUrl(r.stdout)).origin;

    const lister = await connectClient(base);
    const names = (await lister.listTools()).tools.map((t) => t.name);
    expect(names).toContain('toggle-simulated-logging');
    expect(names).not.toContain('echo'); // read-only: filtered out of the list
    expect(textOf(await lister.callTool({ name: 'toggle-simulated-logging', arguments: {} }))).toMatch(/logging/i);
    await lister.close();

    expect(await echoFromANewClient()).toMatch(/^refused: .*403/);
  });

  it('still refuses after the policy set is edited', async () => {
    const edited = file('ro2.json', [...policies, 'permit(principal, action == Action::"get_prompt", resource);']);
    expect((await cli(['policy', 'apply', 'ro', '--server', 'ro', '--file', edited])).code).toBe(0);
    expect(await echoFromANewClient()).toMatch(/^refused: .*403/);
  });

  it('still refuses after the core restarts, before anyone lists tools again', async () => {
    expect((await cli(['shutdown'])).code).toBe(0);
    const ls = await cli(['ls', '--format', 'json']); // starts a new core, which brings ro back
    expect((JSON.parse(ls.stdout) as { name: string; status: string }[]).find((s) => s.name === 'ro')?.status).toBe('running');
    expect(await echoFromANewClient()).toMatch(/^refused: .*403/);
  });
});
