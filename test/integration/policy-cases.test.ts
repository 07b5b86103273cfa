import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/index.js';
import { runCli } from '../support/cli.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';

/**
 * A policy set's saved cases through the API and the CLI, on a real core and SQLite file: kept with
 * the set (and gone with it), decided by a draft, and run by every save, which one getting another
 * decision stops until the save accepts it. The set's authz-config is never touched by them.
 */
describe("a policy set's saved cases", () => {
  let t: TestCore;
  const config = (policies: string[]) => ({ version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: '[]' } });
  const premium = 'permit(principal, action == Action::"call_tool", resource) when { principal has claim_roles && principal.claim_roles.contains("premium") };';
  const weather = 'permit(principal, action == Action::"call_tool", resource == Tool::"weather");';

  beforeAll(async () => {
    t = await startTestCore();
    await t.api.savePolicy({ name: 'tools', config: config([weather, premium]) });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('keeps cases apart from the authz-config, decides them with a draft, and stops a save that changes one', async () => {
    const bob = await t.api.addPolicyCase({ name: 'tools', label: 'bob (premium) may call echo', expect: 'allow', input: { claims: { sub: 'bob', roles: ['premium'] }, feature: 'tool', name: 'echo', arguments: {} } });
    await t.api.addPolicyCase({ name: 'tools', label: 'anyone may ask for the weather', expect: 'allow', input: { claims: { sub: 'carol' }, feature: 'tool', name: 'weather' } });
    await t.api.addPolicyCase({ name: 'tools', label: 'carol may not call echo', expect: 'deny', input: { claims: { sub: 'carol' }, feature: 'tool', name: 'echo' } });
    expect((await t.api.policyCases({ name: 'tools' })).map((c) => c.label)).toEqual(['bob (premium) may call echo', 'anyone may ask for the weather', 'carol may not call echo']);
    // The set itself is unchanged: still ToolHive's authz-config, byte for byte what was saved.
    expect((await t.api.policy({ name: 'tools' })).config).toEqual(config([weather, premium]));

    expect((await t.api.runPolicyCases({ name: 'tools' })).map((r) => r.passed)).toEqual([true, true, true]);
    const tightened = config([weather]);
    const runs = await t.api.runPolicyCases({ name: 'tools', config: tightened });
    expect(runs.map((r) => [r.label, r.got, r.passed])).toEqual([
      ['bob (premium) may call echo', 'deny', false],
      ['anyone may ask for the weather', 'allow', true],
      ['carol may not call echo', 'deny', true],
    ]);

    const refusal = await t.api.savePolicy({ name: 'tools', config: tightened }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(ApiError);
    expect((refusal as ApiError).status).toBe(409);
    expect((refusal as ApiError).message).toBe('Not saved: a saved case gets another decision with it: "bob (premium) may call echo" expects allow, gets deny. Change the policies, or the case, or save anyway.');
    expect(((await t.api.policy({ name: 'tools' })) as { currentVersion: number }).currentVersion).toBe(1);
    // The CLI says the same, and saves nothing either.
    const file = path.join(t.home, 'tightened.json');
    fs.writeFileSync(file, JSON.stringify(tightened));
    const cli = await runCli(t.home, ['policy', 'save', 'tools', file]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('"bob (premium) may call echo" expects allow, gets deny');
    expect(((await t.api.policy({ name: 'tools' })) as { currentVersion: number }).currentVersion).toBe(1);

    const accepted = await runCli(t.home, ['policy', 'save', 'tools', file, '--accept-broken-cases', '--format', 'json']);
    expect(accepted.code, accepted.stderr).toBe(0);
    const saved = JSON.parse(accepted.stdout) as { version: number; cases: { id: number; passed: boolean }[] };
    expect(saved.version).toBe(2);
    expect(saved.cases.filter((c) => !c.passed).map((c) => c.id)).toEqual([bob.id]);
    await t.api.removePolicyCase({ name: 'tools', id: bob.id });
    await expect(t.api.removePolicyCase({ name: 'tools', id: bob.id })).rejects.toThrow(/has no case/);
    expect((await t.api.savePolicy({ name: 'tools', config: config([weather, premium]) })).cases.every((c) => c.passed)).toBe(true);
  });

  it('refuses a case that is not a request, and drops the cases with their set', async () => {
    await expect(t.api.addPolicyCase({ name: 'tools', label: ' ', expect: 'allow', input: { claims: {}, feature: 'tool', name: 'x' } })).rejects.toThrow(/label/);
    await expect(t.api.addPolicyCase({ name: 'no-such-set', label: 'x', expect: 'allow', input: { claims: {}, feature: 'tool', name: 'x' } })).rejects.toThrow(/no-such-set/);
    await t.api.savePolicy({ name: 'scratch', config: config([weather]) });
    await t.api.addPolicyCase({ name: 'scratch', label: 'weather', expect: 'allow', input: { claims: { sub: 'a' }, feature: 'tool', name: 'weather' } });
    await t.api.removePolicy({ name: 'scratch' });
    await t.api.savePolicy({ name: 'scratch', config: config([weather]) });
    expect(await t.api.policyCases({ name: 'scratch' })).toEqual([]);
  });
});
