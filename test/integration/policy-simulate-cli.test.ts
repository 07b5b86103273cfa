import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationView } from '../../src/api/index.js';
import { decideAs, parseAuthzConfigDocument, PolicyEngine } from '../../src/authz/index.js';
import { runCli } from '../support/cli.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { mulberry32 } from '../support/seeded-random.js';

/**
 * The app's simulator asks the core (POST /v1/policy-simulate with the draft as config); `gatehouse
 * policy test FILE` decides in its own process. On a few hundred generated requests (callers with and
 * without roles, tools, prompts and resources, arguments present, absent and of other types) both say
 * the same: the decision, the deciding policies and the policies that failed to evaluate.
 */
const POLICIES = [
  'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
  'permit(principal == Client::"alice123", action == Action::"call_tool", resource == Tool::"admin_tool");',
  'permit(principal, action == Action::"call_tool", resource) when { principal.claim_roles.contains("premium") };',
  'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource.arg_operation == "add" || resource.arg_operation == "subtract" };',
  'forbid(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource has arg_operation && resource.arg_operation == "divide" };',
  'permit(principal in THVGroup::"readers", action == Action::"get_prompt", resource);',
  'permit(principal, action == Action::"read_resource", resource) when { resource.uri like "file:///public/*" };',
  'forbid(principal, action, resource) when { principal has claim_blocked && principal.claim_blocked };',
];

describe('the simulator and `gatehouse policy test` decide alike', () => {
  let t: TestCore;
  let file: string;
  const config = { version: '1.0', type: 'cedarv1', cedar: { policies: POLICIES, entities_json: '[]' } };

  beforeAll(async () => {
    t = await startTestCore();
    file = path.join(t.home, 'authz-config.json');
    fs.writeFileSync(file, JSON.stringify(config));
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('on 300 generated requests', async () => {
    const rand = mulberry32(20261204);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const requests = Array.from({ length: 300 }, () => {
      const claims: Record<string, unknown> = { sub: pick(['alice123', 'bob', 'carol', 'dave']) };
      if (rand() < 0.6) claims['roles'] = pick([[], ['premium'], ['basic'], ['premium', 'basic']]);
      if (rand() < 0.4) claims['groups'] = pick([['readers'], ['writers'], []]);
      if (rand() < 0.15) claims['blocked'] = rand() < 0.5;
      const feature = pick(['tool', 'tool', 'tool', 'prompt', 'resource'] as const);
      const name = feature === 'tool' ? pick(['weather', 'admin_tool', 'calculator', 'echo']) : feature === 'prompt' ? pick(['review', 'summarize']) : pick(['file:///public/a.txt', 'file:///private/b.txt']);
      const args: Record<string, unknown> = {};
      if (feature !== 'resource' && rand() < 0.7) args['operation'] = pick(['add', 'subtract', 'divide', 3, true]);
      if (feature !== 'resource' && rand() < 0.3) args['city'] = pick(['Zürich', 'Paris']);
      return { claims, feature, name, args };
    });

    // The CLI in one process for all of them (`--requests`, JSON Lines), and a few one by one as well.
    const lines = path.join(t.home, 'requests.jsonl');
    fs.writeFileSync(lines, requests.map((r) => JSON.stringify({ claims: r.claims, feature: r.feature, name: r.name, ...(r.feature !== 'resource' ? { arguments: r.args } : {}) })).join('\n'));
    const batch = await runCli(t.home, ['policy', 'test', file, '--format', 'json', '--requests', lines]);
    expect(batch.code, batch.stderr).toBe(0);
    const viaCli = (JSON.parse(batch.stdout) as { line: number; result: SimulationView }[]).map((row) => row.result);
    expect(viaCli).toHaveLength(requests.length);
    const flag = { tool: '--tool', prompt: '--prompt', resource: '--resource' } as const;
    for (const i of [0, 1, 2, 3, 4, 5]) {
      const r = requests[i]!;
      const one = await runCli(t.home, ['policy', 'test', file, '--format', 'json', '--claims', JSON.stringify(r.claims), flag[r.feature], r.name, ...(r.feature !== 'resource' ? ['--args', JSON.stringify(r.args)] : [])]);
      const single = JSON.parse(one.stdout) as SimulationView;
      expect(one.code).toBe(single.allowed ? 0 : 1);
      expect(single.decision).toEqual(viaCli[i]!.decision);
    }
    let allowed = 0;
    // What a replay decides with (the impact preview, saved cases): the proxy's decision without the explanation.
    const engine = new PolicyEngine(parseAuthzConfigDocument(JSON.stringify(config)));
    for (const [i, r] of requests.entries()) {
      const viaApp = await t.api.simulatePolicy({ config, input: { claims: r.claims, feature: r.feature, name: r.name, ...(r.feature !== 'resource' ? { arguments: r.args } : {}) } });
      const cli = viaCli[i]!;
      const what = JSON.stringify(r);
      expect(viaApp.allowed, what).toBe(cli.allowed);
      expect(viaApp.decision, what).toEqual(cli.decision);
      expect(viaApp.determining.map((d) => d.id), what).toEqual(cli.determining.map((d) => d.id));
      const replayed = decideAs(engine, { claims: r.claims, feature: r.feature, name: r.name, ...(r.feature !== 'resource' ? { arguments: r.args } : {}) });
      expect({ allowed: replayed.allowed, decision: replayed.decision, determining: replayed.determining }, what).toEqual({ allowed: viaApp.allowed, decision: viaApp.decision, determining: viaApp.determining });
      if (viaApp.allowed) allowed++;
    }
    // The generated requests exercise both answers, and errors.
    expect(allowed).toBeGreaterThan(30);
    expect(requests.length - allowed).toBeGreaterThan(30);
    expect(viaCli.some((v) => v.decision.errors.length > 0)).toBe(true);
  }, 120_000);

  it('runs a file of requests with the decisions they must get, and says which one got another', async () => {
    const lines = path.join(t.home, 'cases.jsonl');
    fs.writeFileSync(lines, [
      '# the guide: anyone may ask for the weather (with a roles claim: the premium policy reads it unguarded); only premium callers for the rest',
      JSON.stringify({ claims: { sub: 'bob', roles: [] }, feature: 'tool', name: 'weather', expect: 'allow' }),
      JSON.stringify({ claims: { sub: 'bob' }, feature: 'tool', name: 'weather', expect: 'deny' }),
      JSON.stringify({ claims: { sub: 'bob', roles: ['premium'] }, feature: 'tool', name: 'echo', expect: 'allow' }),
      '',
      JSON.stringify({ claims: { sub: 'carol', roles: [] }, feature: 'tool', name: 'echo', expect: 'allow' }),
    ].join('\n'));
    const r = await runCli(t.home, ['policy', 'test', file, '--requests', lines]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('DENY  Client::"carol" Action::"call_tool" Tool::"echo"   expected ALLOW');
    expect(r.stdout).toContain('4 request(s): 2 allowed, 2 denied; 1 not as expected');
    fs.writeFileSync(lines, '{"claims": {"sub": "x"}, "feature": "tool"}');
    const bad = await runCli(t.home, ['policy', 'test', file, '--requests', lines]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cases\.jsonl, line 1: name: /);
  });
});
