import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { requireDocker, TEST_IMAGE } from '../support/docker.js';
import { tempHome } from '../support/core-harness.js';
import { textOf } from '../support/mcp-client.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { printedUrl, runCli } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

/**
 * Authorization as a new user meets it, from the gatehouse command, with a real container
 * (server-everything: tools echo and get-sum) and real tokens: write an authz-config, check it,
 * simulate, run with it, see allowed and denied calls from two users and each decision in the audit
 * log, edit the policy on the running server (a bad edit changes nothing).
 */
describe('Cedar authorization from the gatehouse command', () => {
  let docker: Docker;
  let idp: TestIdp;
  const home = tempHome();
  const cli = (args: string[]) => runCli(home, args);
  const file = (name: string, text: string) => {
    const p = path.join(home, name);
    fs.writeFileSync(p, text);
    return p;
  };
  let url = '';

  // In the shape of ToolHive's guide: everyone may echo; get-sum only for the "math" role.
  const policies = [
    'permit(principal, action == Action::"call_tool", resource == Tool::"echo");',
    'permit(principal, action == Action::"call_tool", resource == Tool::"get-sum") when { principal has claim_roles && principal.claim_roles.contains("math") };',
  ];
  const config = (ps: string[]) => JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: ps, entities_json: '[]' } }, null, 2);

  async function clientFor(sub: string): Promise<Client> {
    const token = (await idp.userToken({ sub, resource: url })).accessToken;
    const client = new Client({ name: `cli-${sub}`, version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return client;
  }

  const auditFile = path.join(home, 'audit.jsonl');

  beforeAll(async () => {
    docker = await requireDocker();
    // ToolHive's audit config beside the database: events also go to a JSON-lines file.
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, 'audit-config.json'), JSON.stringify({ component: 'laptop', logFile: auditFile }));
    idp = await startTestIdp({ userClaims: { ada: { roles: ['math'] }, bert: { roles: ['writer'] } } });
  });

  afterAll(async () => {
    await cli(['rm', '-f', 'calc']);
    await cli(['shutdown']);
    await idp?.stop();
    void docker;
  });

  it('policy check reports a typo with the policy number, line and column, and passes a good file', async () => {
    const bad = file('bad.json', config(['permit(principal, action == Action::"call_tol", resource);', 'permit(principal, action, resource) when { principal.claim_role == "x" ;']));
    const r = await cli(['policy', 'check', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('policy 1, line 1, column');
    const typo = file('typo.json', config(['permit(principal, action == Action::"call_tol", resource);', 'permit(principal, action, resource) when { principal.claim_role == "x" };']));
    // Cedar parses it, so it loads (as in ToolHive); the findings say what will happen. --strict refuses them.
    const t = await cli(['policy', 'check', typo]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/warning: policy 0, line 1, column \d+: Action::"call_tol" is not an action Gatehouse asks about.*never matches.*did you mean `Action::"call_tool"`/);
    expect(t.stdout).toMatch(/warning: policy 1, line 1, column \d+: `claim_role` reads the claim "role", which no standard token carries/);
    expect((await cli(['policy', 'check', typo, '--strict'])).code).toBe(1);
    const good = await cli(['policy', 'check', file('good.json', config(policies))]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('OK');
  });

  it('policy test simulates a request before anything runs', async () => {
    const f = path.join(home, 'good.json');
    const allowed = await cli(['policy', 'test', f, '--claims', '{"sub":"ada","roles":["math"]}', '--tool', 'get-sum', '--args', '{"a":1,"b":2}']);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('ALLOW  Client::"ada" Action::"call_tool" Tool::"get-sum"');
    expect(allowed.stdout).toContain('permitted by policy1 (policy 1)');
    const denied = await cli(['policy', 'test', f, '--claims', '{"sub":"bert","roles":["writer"]}', '--tool', 'get-sum']);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('DENY');
    expect(denied.stdout).toContain('no policy permits it');
  });

  it('run --authz-config: allowed and denied calls from two users, each in the audit log', async () => {
    const r = await cli(['run', TEST_IMAGE, '--name', 'calc', '--permission-profile', 'none', '--oidc-issuer', idp.issuer, '--authz-config', path.join(home, 'good.json')]);
    expect(r.stderr).toBe('');
    url = printedUrl(r.stdout);
    const ada = await clientFor('ada');
    const bert = await clientFor('bert');
    expect(textOf(await ada.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }))).toContain('42');
    expect(textOf(await bert.callTool({ name: 'echo', arguments: { message: 'hi' } }))).toContain('hi');
    await expect(bert.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })).rejects.toThrow(/403/);
    expect((await bert.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    expect((await ada.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo', 'get-sum']);
    await Promise.all([ada.close(), bert.close()]);
    // The set it made exports as the very file it was run with.
    expect((await cli(['policy', 'export', 'calc'])).stdout).toBe(fs.readFileSync(path.join(home, 'good.json'), 'utf8'));

    const audit = await waitFor(async () => {
      const out = (await cli(['logs', 'calc', '--audit', '--format', 'json'])).stdout;
      const events = JSON.parse(out) as { message: string; fields: Record<string, unknown> }[];
      return events.some((e) => e.message.includes('get-sum by bert: denied')) ? events : undefined;
    }, 'the denied call in the audit log');
    const denied = audit.find((e) => e.message.includes('get-sum by bert: denied'))!.fields as { type: string; outcome: string; subjects: { user_id: string }; target: { name: string } };
    expect(denied).toMatchObject({ type: 'mcp_tool_call', outcome: 'denied', subjects: { user_id: 'bert' }, target: { name: 'get-sum' } });
    expect(audit.some((e) => e.message.includes('get-sum by ada: success'))).toBe(true);
    // The token never reaches the logs.
    expect(JSON.stringify(audit)).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);

    // The same events as ToolHive's JSON lines in the configured file, readable only by the user.
    const lines = await waitFor(async () => {
      const text = fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8') : '';
      return text.includes('"outcome":"denied"') ? text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : undefined;
    }, 'audit lines in the log file');
    expect(fs.statSync(auditFile).mode & 0o777).toBe(0o600);
    expect(lines.find((l) => l['outcome'] === 'denied')).toMatchObject({ level: 'AUDIT', msg: 'audit_event', type: 'mcp_tool_call', component: 'laptop', subjects: { user_id: 'bert' } });
    expect(fs.readFileSync(auditFile, 'utf8')).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);

    const status = await cli(['status', 'calc']);
    expect(status.stdout).toContain('policies:  policy set calc');
  });

  it("policy check --server compares arg_ reads with the arguments the running server's tools declare", async () => {
    // The clients above listed calc's tools through its proxy, so Gatehouse knows their arguments.
    const f = file('args.json', config(['permit(principal, action == Action::"call_tool", resource == Tool::"echo") when { resource.arg_message == "hi" || resource.arg_mesage == "hi" };']));
    const offline = await cli(['policy', 'check', f]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/`arg_mesage` reads the tool argument "mesage", which is only known when a request arrives/);
    const against = await cli(['policy', 'check', f, '--server', 'calc']);
    expect(against.code).toBe(0);
    // The policy is about echo: judged by echo's own arguments.
    expect(against.stdout).toMatch(/warning: policy 0, line 1, column \d+: `arg_mesage` reads the argument "mesage", but Tool::"echo" does not declare it \(its arguments: message\)/);
    expect(against.stdout).not.toContain('`arg_message`');
    expect((await cli(['policy', 'check', f, '--server', 'nope'])).code).toBe(3);
  });

  it('a policy edit applies to the running server at once; a bad edit changes nothing', async () => {
    const widened = file('widened.json', config([...policies, 'permit(principal == Client::"bert", action == Action::"call_tool", resource == Tool::"get-sum");']));
    const bad = file('broken.json', config(['permit(principal, action == Action::"call_tool", resource == Tool::"echo")']));
    const refused = await cli(['policy', 'apply', 'calc', '--server', 'calc', '--file', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('policy 0');
    let bert = await clientFor('bert');
    await expect(bert.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })).rejects.toThrow(/403/);
    const applied = await cli(['policy', 'apply', 'calc', '--server', 'calc', '--file', widened, '--note', 'bert does sums']);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Saved calc v2; now enforced on calc');
    expect(textOf(await bert.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } }))).toContain('2');
    await bert.close();
    const history = await cli(['policy', 'history', 'calc']);
    expect(history.stdout).toMatch(/v2 .* 3 +bert does sums/);
    expect(history.stdout).toMatch(/v1 .* 2 /);
    // Simulate against the saved set through the core.
    const sim = await cli(['policy', 'test', '--set', 'calc', '--claims', '{"sub":"bert"}', '--tool', 'get-sum']);
    expect(sim.stdout).toContain('permitted by policy2');
    bert = await clientFor('bert');
    await bert.close();
  });

  it('policy sets are listed, shown, formatted, and kept while in use', async () => {
    const ls = await cli(['policy', 'ls']);
    expect(ls.stdout).toMatch(/calc\s+v2\s+3\s+calc/);
    const shown = JSON.parse((await cli(['policy', 'show', 'calc', '--policy-version', '1'])).stdout) as { cedar: { policies: string[] } };
    expect(shown.cedar.policies).toEqual(policies);
    expect((await cli(['policy', 'rm', 'calc'])).code).toBe(4);
    const ugly = file('ugly.json', config(['permit(principal,action==Action::"call_tool",resource==Tool::"echo");']));
    const fmt = await cli(['policy', 'fmt', ugly]);
    expect(JSON.parse(fmt.stdout)).toMatchObject({ cedar: { policies: ['permit (\n  principal,\n  action == Action::"call_tool",\n  resource == Tool::"echo"\n);'] } });
    expect((await cli(['policy', 'detach', '--server', 'calc'])).code).toBe(0);
    expect((await cli(['policy', 'rm', 'calc'])).code).toBe(0);
  });
});
