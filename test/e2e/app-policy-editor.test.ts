import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerView } from '../../src/api/index.js';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { useDockerCore } from '../support/core-harness.js';
import { TEST_IMAGE } from '../support/docker.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

const SHOTS = path.resolve('docs/screenshots');

/** The guide's calculator policies (ToolHive's Cedar example), as the set of a real server. */
const GUIDE_POLICIES = [
  'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
  'permit(principal == Client::"alice123", action == Action::"call_tool", resource == Tool::"admin_tool");',
  'permit(principal, action == Action::"call_tool", resource) when { principal.claim_roles.contains("premium") };',
  'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource.arg_operation == "add" || resource.arg_operation == "subtract" };',
];

/**
 * The policy editor (CodeMirror 6, Cedar) in headless Chromium against a real core and a server in a
 * container that a real caller has listed: the core's diagnostics at the line and column Cedar points
 * at, completion of the server's own tools and argument names and of the claims the caller's token
 * carried, hover help, Cedar's formatter, and a save that is refused while the draft has errors.
 */
describe('the policy editor', () => {
  const env = useDockerCore();
  let idp: TestIdp;
  let browser: Browser;
  let page: Page;
  let calc: ServerView;
  /** A resource the server listed. */
  let resourceUri: string;
  const content = () => page.locator('.cm-content');
  const problems = () => page.getByRole('list', { name: 'Problems' }).locator('li');
  const completions = async () => page.locator('.cm-tooltip-autocomplete li .cm-completionLabel').allTextContents();
  /** The editor's text as the user sees it, line by line (the documents here are short: every line is drawn). */
  const docText = async () => (await page.locator('.cm-content .cm-line').allTextContents()).join('\n');

  /** Moves to the end of the document and types there (each key, as a user does, so brackets close and completion opens). */
  const typeAtEnd = async (text: string) => {
    await content().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(text);
  };

  /** Selects everything, deletes it, and puts this text in (as one input, like a paste). */
  const replaceAll = async (text: string) => {
    await content().click();
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
    await expect.poll(docText).toBe(text);
  };

  beforeAll(async () => {
    idp = await startTestIdp({ userClaims: { bob: { roles: ['premium'], department: 'finance' } } });
    calc = await env.t.api.run({
      image: TEST_IMAGE,
      name: 'calc',
      permissionProfile: 'none',
      auth: { type: 'inline', inline: { issuer: idp.issuer } },
      authzConfig: { version: '1.0', type: 'cedarv1', cedar: { policies: GUIDE_POLICIES, entities_json: '[]' } },
    });
    // A caller lists the tools: the proxy learns what they take, and which claims callers carry.
    const token = registerTestSecret('caller token bob', (await idp.userToken({ sub: 'bob', resource: calc.url })).accessToken);
    const mcp = new Client({ name: 'policy-editor-test', version: '1' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(calc.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      await mcp.listTools();
      // The caller may read none (the guide's policies say nothing of resources), but the proxy saw the whole list.
      expect((await mcp.listResources()).resources).toEqual([]);
    } finally {
      await mcp.close();
    }
    const learned = (await env.t.api.policyVocabulary({ servers: ['calc'] })).servers[0]!.resources;
    expect(learned.length).toBeGreaterThan(0);
    resourceUri = learned[0]!.uri;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, colorScheme: 'light', acceptDownloads: true });
    page.on('dialog', (d) => void d.accept());
    await page.goto(env.t.core.loginUrl());
    await page.goto(`${new URL(env.t.core.loginUrl()).origin}/#/policies`);
    await content().waitFor({ timeout: 20_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await idp?.stop();
  });

  it("opens the server's set with its policies and the guide's two warnings, the tools calc does not have, and passes axe", async () => {
    expect(await docText()).toBe(GUIDE_POLICIES.join('\n\n'));
    // What the guide's example does at run time: an unguarded claim read, and an argument calc's tools do not take;
    // and calc (server-everything) has none of the guide's tools, as its tool list says.
    await expect.poll(() => page.locator('.policy-state').textContent(), { timeout: 10_000 }).toBe('5 warnings; it can be saved.');
    const found = (await problems().allTextContents()).join('\n');
    expect(found).toMatch(/Warning\s*line 5, column \d+.*claim_roles/);
    expect(found).toMatch(/Warning\s*line 7, column \d+.*arg_operation/);
    for (const [line, tool] of [[1, 'weather'], [3, 'admin_tool'], [7, 'calculator']] as const) {
      expect(found).toMatch(new RegExp(`Warning\\s*line ${line}, column \\d+\\s*Tool::"${tool}" is not a tool of calc`));
    }
    await page.screenshot({ path: path.join(SHOTS, 'policy-editor.png'), fullPage: true });
    expect(await page.locator('#editor-title').textContent()).toMatch(/version 1, decides for calc/);
    await expectAccessible(page, 'Policies, the editor of a set');
  });

  it('flags a broken policy as it is typed, at the line and column Cedar points at, and will not save it', async () => {
    await typeAtEnd('\n\npermit(principal, action == Action::"call_tool" resource);');
    const lines = (await docText()).split('\n');
    const line = lines.length;
    const column = lines[line - 1]!.indexOf('resource') + 1;
    await expect.poll(async () => (await problems().allTextContents()).join('\n'), { timeout: 10_000 }).toMatch(new RegExp(`(^|\\n)Error\\s*line ${line}, column ${column}(?!\\d)`));
    // Typed as a user types: plain spaces (Chrome's no-break space after a closed quote is made a space).
    expect(lines[line - 1]).not.toContain('\u00a0');
    // The same place underlined in the text.
    expect(await page.locator('.cm-lintRange-error').first().textContent()).toBe('resource');
    expect(await page.getByRole('button', { name: /^Save version/ }).isDisabled()).toBe(true);
    // The other policies are still checked: their warnings stay while this one is being typed.
    expect(await page.locator('.policy-state').textContent()).toBe('1 error and 5 warnings: fix it to save.');
    await expectAccessible(page, 'Policies, a draft with an error');
    // Going to it from the list puts the cursor on that line, with the flagged word selected.
    await content().press('Control+Home');
    await problems().filter({ hasText: /^Error/ }).first().getByRole('button').click();
    expect(await page.locator('.cm-activeLine').textContent()).toBe(lines[line - 1]);
    expect(await page.evaluate(() => String((globalThis as unknown as { getSelection(): unknown }).getSelection()))).toBe('resource');
  });

  it("warns of a typo'd action at its place, as `gatehouse policy check` words it", async () => {
    // Fix the comma, misspell the action.
    await replaceAll([...GUIDE_POLICIES, 'permit(principal, action == Action::"call_tol", resource);'].join('\n\n'));
    const lines = (await docText()).split('\n');
    await expect.poll(async () => (await problems().allTextContents()).join('\n'), { timeout: 10_000 }).toMatch(new RegExp(`(^|\\n)Warning\\s*line ${lines.length}, column ${lines.at(-1)!.indexOf('Action::') + 1}(?!\\d).*call_tol`));
    const file = path.join(env.t.home, 'typo.json');
    fs.writeFileSync(file, JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: [...GUIDE_POLICIES, 'permit(principal, action == Action::"call_tol", resource);'], entities_json: '[]' } }));
    const cli = await runCli(env.t.home, ['policy', 'check', '--server', 'calc', file]);
    const shown = (await problems().allTextContents()).join('\n');
    const cliMessage = /call_tol[^\n]*/.exec(cli.stdout + cli.stderr)?.[0];
    expect(cliMessage, cli.stdout + cli.stderr).toBeDefined();
    expect(shown).toContain(cliMessage!.slice(0, 40));
    // Warnings do not stop a save (ToolHive loads such sets too).
    expect(await page.getByRole('button', { name: /^Save version/ }).isDisabled()).toBe(false);
  });

  it("completes the server's real tools, their argument names, and the claims callers carried", async () => {
    await replaceAll('permit(principal, action == Action::"call_tool", resource == Tool::"');
    await page.keyboard.press('Control+Space');
    await expect.poll(completions, { timeout: 5_000 }).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    await page.keyboard.type('get-su');
    // The best match first (CodeMirror matches loosely: get-resource-links has g, e, t, -, s, u in order too).
    await expect.poll(async () => (await completions())[0]).toBe('get-sum');
    await page.locator('.cm-tooltip-autocomplete li', { hasText: 'get-sum' }).click();
    await page.keyboard.type('") when { resource has arg_');
    await page.keyboard.press('Control+Space');
    await expect.poll(completions).toEqual(expect.arrayContaining(['arg_a', 'arg_b', 'arg_message']));
    // The arguments of the tool this policy names come first.
    expect((await completions()).slice(0, 2).sort()).toEqual(['arg_a', 'arg_b']);
    const box = (await page.locator('.policy-editor').boundingBox())!;
    await page.screenshot({ path: path.join(SHOTS, 'policy-completion.png'), clip: { x: box.x - 8, y: box.y - 8, width: 1280 - box.x, height: 240 } });
    await page.keyboard.press('Escape');
    await page.keyboard.type('b && principal has claim_');
    await page.keyboard.press('Control+Space');
    await expect.poll(completions).toEqual(expect.arrayContaining(['claim_roles', 'claim_department', 'claim_sub']));
    await page.keyboard.press('Escape');
    await page.keyboard.type('department && principal.claim_department == "finance" };');

    expect(await docText()).toBe('permit(principal, action == Action::"call_tool", resource == Tool::"get-sum") when { resource has arg_b && principal has claim_department && principal.claim_department == "finance" };');
    await expect.poll(() => page.locator('.policy-state').textContent(), { timeout: 10_000 }).toBe('No problems.');
    await expectAccessible(page, 'Policies, a completed policy');
    // And the resources it listed, inside Resource::".
    await replaceAll('permit(principal, action == Action::"read_resource", resource == Resource::"');
    await page.keyboard.press('Control+Space');
    await expect.poll(completions).toContain(resourceUri);
    await page.keyboard.press('Escape');
  });

  it('explains a name on hover', async () => {
    await replaceAll(GUIDE_POLICIES[0]!);
    // The middle of the word call_tool on the screen (a DOM range over its characters).
    const word = await page.locator('.cm-line', { hasText: 'call_tool' }).first().evaluate((line) => {
      type TextNode = { textContent: string | null; nodeType: number };
      const d = (globalThis as unknown as { document: { createTreeWalker(n: unknown, f: number): { nextNode(): TextNode | null }; createRange(): { setStart(n: TextNode, o: number): void; setEnd(n: TextNode, o: number): void; getBoundingClientRect(): { left: number; top: number; width: number; height: number } } } }).document;
      const walk = d.createTreeWalker(line, 4);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const at = (n.textContent ?? '').indexOf('call_tool');
        if (at < 0) continue;
        const r = d.createRange();
        r.setStart(n, at);
        r.setEnd(n, at + 'call_tool'.length);
        const b = r.getBoundingClientRect();
        return { x: b.left + b.width / 2, y: b.top + b.height / 2 };
      }
      return undefined;
    });
    expect(word).toBeDefined();
    await page.mouse.move(word!.x - 3, word!.y);
    await page.mouse.move(word!.x, word!.y);
    await page.locator('.cm-tooltip-hover').waitFor({ timeout: 5_000 });
    expect(await page.locator('.cm-tooltip-hover').textContent()).toMatch(/call_tool\s*action.*tools\/call/);
    await page.mouse.move(5, 5);
  });

  it('simulates a call as two callers, marks the policy that decided, and decides again as the draft changes', async () => {
    await replaceAll(GUIDE_POLICIES.join('\n\n'));
    const sim = page.getByRole('region', { name: 'Simulate a request' });
    const verdict = sim.locator('.verdict');
    await sim.getByLabel('Tool', { exact: true }).fill('echo');
    await sim.getByLabel("The caller's token claims (JSON)").fill('{"sub": "bob", "roles": ["premium"]}');
    await sim.getByLabel('Arguments (JSON)').fill('{"message": "hi"}');
    await sim.getByRole('button', { name: 'Decide' }).click();
    await expect.poll(() => verdict.textContent(), { timeout: 10_000 }).toMatch(/^Allowed/);
    expect(await sim.locator('.simulation').textContent()).toMatch(/policy 2 \(line 5\) permits it/);
    // The deciding policy is marked in the editor.
    expect(await page.locator('.cm-line.cm-determining').allTextContents()).toEqual([GUIDE_POLICIES[2]]);
    await sim.locator('summary').click();
    const built = JSON.parse((await sim.getByLabel('The Cedar request and entities').textContent())!) as { request: { principal: unknown; context: Record<string, unknown> }; entities: { uid: { type: string } }[] };
    expect(built.request).toMatchObject({ principal: { type: 'Client', id: 'bob' }, action: { type: 'Action', id: 'call_tool' }, resource: { type: 'Tool', id: 'echo' }, context: { claim_sub: 'bob', claim_roles: ['premium'], arg_message: 'hi' } });
    expect(built.entities.map((e) => e.uid.type)).toEqual(['Client', 'Action', 'Tool']);
    await expectAccessible(page, 'Policies, a simulated request');
    await page.screenshot({ path: path.join(SHOTS, 'policy-simulator.png'), fullPage: true });

    // Another caller, without the role: denied by default, nothing marked.
    await sim.getByLabel("The caller's token claims (JSON)").fill('{"sub": "carol", "roles": []}');
    await sim.getByRole('button', { name: 'Decide' }).click();
    await expect.poll(() => verdict.textContent(), { timeout: 10_000 }).toBe('Denied no policy permits it: denied by default.');
    expect(await page.locator('.cm-line.cm-determining').count()).toBe(0);

    // The draft changes (a permit for carol): the same request is decided again, without asking.
    await typeAtEnd('\n\npermit(principal == Client::"carol", action, resource);');
    await expect.poll(() => verdict.textContent(), { timeout: 10_000 }).toMatch(/^Allowed/);
    expect(await sim.locator('.simulation').textContent()).toMatch(/policy 4 \(line 9\) permits it/);
    // A claims box that is not JSON says so, and asks nothing.
    await sim.getByLabel("The caller's token claims (JSON)").fill('{"sub": carol}');
    await sim.getByRole('button', { name: 'Decide' }).click();
    await expect.poll(() => sim.getByRole('status').textContent()).toMatch(/The caller's claims is not JSON/);

    // Who can call it at all: Cedar's partial evaluation, the caller unknown, in words.
    await sim.getByRole('button', { name: 'Who can?' }).click();
    const who = sim.getByRole('region', { name: 'Who can tools/call echo' });
    await expect.poll(() => who.textContent(), { timeout: 10_000 }).toMatch(/Allowed for:.*callers whose claim_roles contains premium\s*policy 2/);
    expect(await who.textContent()).toMatch(/carol\s*policy 4/);
    // The guide's premium rule reads claim_roles without `has`: a caller without it is denied whatever else permits.
    expect(await who.textContent()).toMatch(/Only for callers whose token carries roles \(read without has by policy 2\)/);
    await expectAccessible(page, 'Policies, who can call a tool');
    // The draft changes (the read guarded): the answer shown is asked again, without a click.
    await replaceAll([...GUIDE_POLICIES.slice(0, 2), 'permit(principal, action == Action::"call_tool", resource) when { principal has claim_roles && principal.claim_roles.contains("premium") };', GUIDE_POLICIES[3], 'permit(principal == Client::"carol", action, resource);'].join('\n\n'));
    await expect.poll(async () => (await who.textContent()) ?? '', { timeout: 10_000 }).not.toMatch(/Only for callers whose token carries/);
    expect(await who.textContent()).toMatch(/callers whose token has roles and whose claim_roles contains premium/);
  });

  it('keeps an unsaved draft while another page is open', async () => {
    await replaceAll(GUIDE_POLICIES.join('\n\n'));
    await typeAtEnd('\n\n// kept while away');
    const draft = await docText();
    await expect.poll(() => page.locator('#editor-title').textContent()).toContain('unsaved changes');
    await page.getByRole('link', { name: 'Logs', exact: true }).click();
    await page.getByRole('link', { name: 'Policies', exact: true }).click();
    await page.getByRole('button', { name: 'calc', exact: true }).click();
    await expect.poll(docText, { timeout: 10_000 }).toBe(draft);
    expect(await page.locator('#editor-title').textContent()).toContain('unsaved changes');
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(docText).toBe(GUIDE_POLICIES.join('\n\n'));
  });

  it("formats with Cedar's formatter, saves, and the server decides with the new version", async () => {
    await replaceAll('permit(principal,action==Action::"call_tool",resource==Tool::"echo");\n\n  forbid( principal , action , resource ) when { resource has destructiveHint && resource.destructiveHint } ;');
    await page.getByRole('button', { name: 'Format' }).click();
    const formatted = (await env.t.api.formatPolicy({ config: { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal,action==Action::"call_tool",resource==Tool::"echo");', 'forbid( principal , action , resource ) when { resource has destructiveHint && resource.destructiveHint } ;'], entities_json: '[]' } } })).config as { cedar: { policies: string[] } };
    await expect.poll(docText).toBe(formatted.cedar.policies.join('\n\n'));
    expect(formatted.cedar.policies[0]).not.toBe('permit(principal,action==Action::"call_tool",resource==Tool::"echo");');
    await expect.poll(() => page.locator('.policy-state').textContent(), { timeout: 10_000 }).toBe('No problems.');
    // Ctrl+S in the editor saves, as in any editor.
    expect(await page.getByRole('button', { name: 'Save version 2' }).isEnabled()).toBe(true);
    await content().click();
    await page.keyboard.press('Control+s');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved as version 2' }).count(), { timeout: 10_000 }).toBe(1);
    const set = await env.t.api.policy({ name: 'calc' });
    expect(set).toMatchObject({ currentVersion: 2, config: { cedar: { policies: formatted.cedar.policies } } });
    await expectAccessible(page, 'Policies, saved');
  });

  it('keeps a request as a case of the set; a save that would change its decision says which, and saves only when told to', async () => {
    await replaceAll(GUIDE_POLICIES.join('\n\n'));
    const sim = page.getByRole('region', { name: 'Simulate a request' });
    await sim.getByLabel('Tool', { exact: true }).fill('echo');
    await sim.getByLabel("The caller's token claims (JSON)").fill('{"sub": "bob", "roles": ["premium"]}');
    await sim.getByLabel('Arguments (JSON)').fill('{}');
    await sim.getByRole('button', { name: 'Decide' }).click();
    await expect.poll(() => sim.locator('.verdict').textContent(), { timeout: 10_000 }).toMatch(/^Allowed/);
    const keep = sim.getByRole('form', { name: 'Keep this request as a case' });
    expect(await keep.getByLabel('Case').inputValue()).toBe('bob may call echo');
    await keep.getByRole('button', { name: 'Keep as a case' }).click();
    const cases = page.getByRole('region', { name: 'Saved cases' });
    await expect.poll(() => cases.getByRole('row', { name: /bob may call echo/ }).textContent(), { timeout: 10_000 }).toMatch(/Allowed\s*As expected/);
    expect(await env.t.api.policyCases({ name: 'calc' })).toMatchObject([{ label: 'bob may call echo', expect: 'allow', input: { claims: { sub: 'bob', roles: ['premium'] }, feature: 'tool', name: 'echo', serverName: 'calc' } }]);

    // Tightening: the premium rule goes. The case says so as it is typed, and the save is stopped with its name.
    await replaceAll(GUIDE_POLICIES.filter((_, i) => i !== 2).join('\n\n'));
    await expect.poll(() => cases.getByRole('row', { name: /bob may call echo/ }).textContent(), { timeout: 10_000 }).toMatch(/Gets denied/);
    await page.getByRole('button', { name: /^Save version/ }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toMatch(/Not saved: a saved case gets another decision with it: "bob may call echo" expects allow, gets deny/);
    const before = (await env.t.api.policy({ name: 'calc' })) as { currentVersion: number };
    await expectAccessible(page, 'Policies, a save stopped by a case');
    await page.getByRole('button', { name: 'Save anyway' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: `Saved as version ${before.currentVersion + 1}` }).count(), { timeout: 10_000 }).toBe(1);
    // Loading the case puts its request in the simulator and decides it with the saved policies.
    await cases.getByRole('button', { name: 'Load bob may call echo into the simulator' }).click();
    await expect.poll(() => sim.locator('.verdict').textContent(), { timeout: 10_000 }).toMatch(/^Denied/);
    await cases.getByRole('button', { name: 'Remove the case bob may call echo' }).click();
    await expect.poll(async () => (await env.t.api.policyCases({ name: 'calc' })).length).toBe(0);
  });

  it('compares a version with the current one, reverts to it byte for byte, exports what --authz-config takes, imports a YAML file, and attaches and detaches', async () => {
    const history = page.getByRole('region', { name: /Versions, servers and files of calc/ });
    const v1 = (await env.t.api.policy({ name: 'calc', version: 1 })) as { config: unknown };
    await history.getByRole('button', { name: 'Compare version 1 with the current version' }).click();
    const diff = history.getByRole('group', { name: /Version 1 \(left\) and the current version/ });
    await expect.poll(() => diff.locator('.cm-editor').count()).toBe(2);
    expect(await diff.locator('.cm-editor').first().textContent()).toContain('resource.arg_operation == "add"');
    await expectAccessible(page, 'Policies, two versions compared');
    await page.screenshot({ path: path.join(SHOTS, 'policy-history.png'), fullPage: true });

    // Revert: a new version, the same config as version 1, to the byte.
    const before = ((await env.t.api.policy({ name: 'calc' })) as { currentVersion: number }).currentVersion;
    await history.getByRole('button', { name: 'Revert to version 1' }).click();
    await expect.poll(async () => ((await env.t.api.policy({ name: 'calc' })) as { currentVersion: number }).currentVersion, { timeout: 10_000 }).toBe(before + 1);
    const reverted = (await env.t.api.policy({ name: 'calc' })) as { config: unknown };
    expect(JSON.stringify(reverted.config)).toBe(JSON.stringify(v1.config));
    await expect.poll(docText).toBe(GUIDE_POLICIES.join('\n\n'));

    // Export: the file as --authz-config takes it, and gatehouse reads it back to the same config.
    const [download] = await Promise.all([page.waitForEvent('download'), history.getByRole('button', { name: 'Export JSON' }).click()]);
    expect(download.suggestedFilename()).toBe(`calc-v${before + 1}.json`);
    const exported = path.join(env.t.home, download.suggestedFilename());
    await download.saveAs(exported);
    expect(JSON.parse(fs.readFileSync(exported, 'utf8'))).toEqual(v1.config);
    const checked = await runCli(env.t.home, ['policy', 'check', exported]);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    const [yamlDownload] = await Promise.all([page.waitForEvent('download'), history.getByRole('button', { name: 'Export YAML' }).click()]);
    const exportedYaml = path.join(env.t.home, yamlDownload.suggestedFilename());
    await yamlDownload.saveAs(exportedYaml);
    expect((await runCli(env.t.home, ['policy', 'check', exportedYaml])).code).toBe(0);

    // Import: a YAML file goes into the editor as a draft; saved, it is the set's config, and its export is that file, comments and all.
    const yamlFile = path.join(env.t.home, 'tightened.yaml');
    const yamlText = ['# only echo, for now (reviewed 2026-12-04)', 'version: "1.0"', 'type: cedarv1', 'cedar:', '  policies:', `    - 'permit(principal, action == Action::"call_tool", resource == Tool::"echo");'`, '  entities_json: "[]"  # none', ''].join('\n');
    fs.writeFileSync(yamlFile, yamlText);
    await history.locator('input[type=file]').setInputFiles(yamlFile);
    await expect.poll(docText, { timeout: 10_000 }).toBe('permit(principal, action == Action::"call_tool", resource == Tool::"echo");');
    await page.getByRole('button', { name: /^Save version/ }).click();
    await expect.poll(async () => ((await env.t.api.policy({ name: 'calc' })) as { currentVersion: number }).currentVersion, { timeout: 10_000 }).toBe(before + 2);
    expect(((await env.t.api.policy({ name: 'calc' })) as { config: unknown }).config).toEqual({ version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action == Action::"call_tool", resource == Tool::"echo");'], entities_json: '[]' } });
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Its export gives tightened.yaml back unchanged' }).count(), { timeout: 10_000 }).toBe(1);
    // "…is in the editor as a draft: save it" is old news once it is saved.
    await expect.poll(() => history.getByText('tightened.yaml is in the editor as a draft').count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => history.getByText('exports as the YAML file it was saved from').count(), { timeout: 10_000 }).toBe(1);
    const [importedDownload] = await Promise.all([page.waitForEvent('download'), history.getByRole('button', { name: 'Export YAML' }).click()]);
    const reexported = path.join(env.t.home, `re-${importedDownload.suggestedFilename()}`);
    await importedDownload.saveAs(reexported);
    expect(fs.readFileSync(reexported, 'utf8')).toBe(yamlText);

    // A file that is no authz-config says why, and the editor keeps what it had.
    const broken = path.join(env.t.home, 'broken.yaml');
    fs.writeFileSync(broken, 'version: "1.0"\ncedar: [\n');
    await history.locator('input[type=file]').setInputFiles(broken);
    await expect.poll(() => history.getByRole('alert').textContent(), { timeout: 10_000 }).toMatch(/broken\.yaml/);
    expect(await docText()).toBe('permit(principal, action == Action::"call_tool", resource == Tool::"echo");');

    // Detach from calc, and attach again.
    await history.getByRole('button', { name: 'Detach calc from calc' }).click();
    await expect.poll(async () => (await env.t.api.getServer({ name: 'calc' })).policySet, { timeout: 10_000 }).toBeNull();
    await history.getByLabel('Server to attach calc to').selectOption('calc');
    await history.getByRole('button', { name: 'Attach', exact: true }).click();
    await expect.poll(async () => (await env.t.api.getServer({ name: 'calc' })).policySet, { timeout: 10_000 }).toBe('calc');
  });

  it('follows a version saved elsewhere (pushed, no reload), and never replaces a draft with changes', async () => {
    const elsewhere = (policies: string[]) => env.t.api.savePolicy({ name: 'calc', config: { version: '1.0', type: 'cedarv1', cedar: { policies, entities_json: '[]' } }, note: 'from the CLI' });
    const v = (await elsewhere([GUIDE_POLICIES[0]!])).version;
    await expect.poll(docText, { timeout: 10_000 }).toBe(GUIDE_POLICIES[0]);
    expect(await page.locator('#editor-title').textContent()).toContain(`version ${v}`);
    // Now with a draft: the next version saved elsewhere is announced, the draft stays.
    await typeAtEnd('\n\nforbid(principal, action, resource) when { principal has claim_blocked && principal.claim_blocked };');
    const draft = await docText();
    const next = (await elsewhere([GUIDE_POLICIES[1]!])).version;
    await expect.poll(() => page.locator('#editor-title').textContent(), { timeout: 10_000 }).toContain(`version ${next}`);
    await expect.poll(() => page.getByRole('status').filter({ hasText: `Version ${next} of calc was saved elsewhere` }).count(), { timeout: 10_000 }).toBe(1);
    expect(await docText()).toBe(draft);
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(docText).toBe(GUIDE_POLICIES[1]);
  });

  it('previews the impact of tightening a rule on the recent calls, then asks a denial "why?" from the log viewer', async () => {
    await env.t.api.savePolicy({ name: 'calc', config: { version: '1.0', type: 'cedarv1', cedar: { policies: GUIDE_POLICIES, entities_json: '[]' } }, note: 'the guide again' });
    await expect.poll(docText, { timeout: 10_000 }).toBe(GUIDE_POLICIES.join('\n\n'));
    // Real calls through the proxy: bob (premium) calls two tools; carol (no roles claim) is denied.
    const callAs = async (sub: string, tools: string[]) => {
      const token = registerTestSecret(`caller token ${sub} (impact)`, (await idp.userToken({ sub, resource: calc.url })).accessToken);
      const mcp = new Client({ name: 'impact-test', version: '1' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(calc.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      const out: boolean[] = [];
      try {
        for (const t of tools) out.push(await mcp.callTool({ name: t, arguments: t === 'echo' ? { message: 'hi' } : { a: 1, b: 2 } }).then(() => true, () => false));
      } finally {
        await mcp.close();
      }
      return out;
    };
    expect(await callAs('bob', ['echo', 'get-sum'])).toEqual([true, true]);
    expect(await callAs('carol', ['echo'])).toEqual([false]);

    // The draft drops the premium rule; the replay says which decisions flip.
    await replaceAll(GUIDE_POLICIES.filter((_, i) => i !== 2).join('\n\n'));
    const impact = page.getByRole('region', { name: 'Impact on recent calls' });
    await impact.getByRole('button', { name: 'Replay them with the draft' }).click();
    await expect.poll(() => impact.getByRole('status').textContent(), { timeout: 15_000 }).toMatch(/decisions of the last hour replayed: 2 would change\./);
    const rows = impact.getByRole('table', { name: 'Decisions the draft would change' }).locator('tbody tr');
    const cells = async (i: number) => (await rows.nth(i).locator('td').allTextContents()).slice(1);
    expect(await rows.count()).toBe(2);
    expect(await cells(0)).toEqual(['bob', 'calc: tools/call echo', 'Allowed', 'Denied', expect.stringMatching(/^policy 2 of v\d+$/), 'no policy (default deny)']);
    expect(await cells(1)).toEqual(['bob', 'calc: tools/call get-sum', 'Allowed', 'Denied', expect.stringMatching(/^policy 2 of v\d+$/), 'no policy (default deny)']);
    // The same as replaying each recorded decision by itself with the simulator.
    const draft = { version: '1.0', type: 'cedarv1', cedar: { policies: GUIDE_POLICIES.filter((_, i) => i !== 2), entities_json: '[]' } };
    const preview = await env.t.api.policyImpact({ name: 'calc', config: draft });
    for (const c of preview.changes) {
      const d = await env.t.api.decision({ server: 'calc', auditId: c.auditId });
      const op = d.ops.find((o) => o.name === c.name)!;
      const one = await env.t.api.simulatePolicy({ config: draft, input: { claims: d.claims, feature: op.feature, name: op.name, arguments: op.arguments ?? {}, annotations: op.annotations ?? {}, serverName: 'calc' } });
      expect(one.allowed).toBe(c.after === 'allow');
      expect(op.allowed).toBe(c.before === 'allow');
    }
    // The simulator can ask as one of those callers: their token's claims, as the proxy saw them.
    const simulator = page.getByRole('region', { name: 'Simulate a request' });
    // Opening the list reads the recent callers again, as a user opening it does.
    await expect.poll(async () => {
      await simulator.getByLabel('As a recent caller').blur();
      await simulator.getByLabel('As a recent caller').focus();
      return (await simulator.getByLabel('As a recent caller').locator('option').allTextContents()).join('|');
    }, { timeout: 10_000 }).toMatch(/carol \(last called calc/);
    const carolOption = (await simulator.getByLabel('As a recent caller').locator('option').allTextContents()).find((o) => o.startsWith('carol'))!;
    await simulator.getByLabel('As a recent caller').selectOption({ label: carolOption });
    expect(JSON.parse(await simulator.getByLabel("The caller's token claims (JSON)").inputValue())).toMatchObject({ sub: 'carol', iss: idp.issuer });
    await expectAccessible(page, 'Policies, the impact of a draft');
    await page.screenshot({ path: path.join(SHOTS, 'policy-impact.png'), fullPage: true });

    // Saved, the next call of bob's is denied; the log viewer's "why?" opens it here.
    await page.getByRole('button', { name: /^Save version/ }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: /^Saved as version/ }).count(), { timeout: 10_000 }).toBe(1);
    expect(await callAs('bob', ['echo'])).toEqual([false]);
    await page.goto(`${new URL(env.t.core.loginUrl()).origin}/#/logs?server=calc`);
    const log = page.getByRole('listbox', { name: 'Log lines' });
    const denial = log.getByRole('option').filter({ hasText: 'tools/call echo by bob' }).filter({ has: page.locator('.decision.denied') });
    await expect.poll(() => denial.count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await denial.last().click();
    await page.getByRole('complementary').getByRole('link', { name: 'Why was it denied?' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Why was tools/call echo by bob denied' }).count(), { timeout: 15_000 }).toBe(1);
    const sim = page.getByRole('region', { name: 'Simulate a request' });
    await expect.poll(() => sim.locator('.verdict').textContent(), { timeout: 15_000 }).toBe('Denied no policy permits it: denied by default.');
    expect(await sim.getByLabel('Tool', { exact: true }).inputValue()).toBe('echo');
    expect(JSON.parse(await sim.getByLabel("The caller's token claims (JSON)").inputValue())).toMatchObject({ sub: 'bob', roles: ['premium'] });
    await expectAccessible(page, 'Policies, why a call was denied');

    // A denial by a forbid: "why?" names it, and the editor marks it.
    const forbid = 'forbid(principal, action == Action::"call_tool", resource == Tool::"echo") when { principal.claim_sub == "bob" };';
    await env.t.api.savePolicy({ name: 'calc', config: { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action == Action::"call_tool", resource);', forbid], entities_json: '[]' } }, note: 'bob may not echo' });
    expect(await callAs('bob', ['echo', 'get-sum'])).toEqual([false, true]);
    await page.goto(`${new URL(env.t.core.loginUrl()).origin}/#/logs?server=calc`);
    await expect.poll(() => denial.count(), { timeout: 20_000 }).toBeGreaterThan(1);
    await denial.last().click();
    await page.getByRole('complementary').getByRole('link', { name: 'Why was it denied?' }).click();
    await expect.poll(() => sim.locator('.verdict').textContent(), { timeout: 15_000 }).toBe('Denied a forbid matched: a forbid always wins.');
    expect(await sim.locator('.simulation').textContent()).toMatch(/policy 1 \(line 3\) forbids it/);
    expect(await page.locator('.cm-line.cm-determining').allTextContents()).toEqual([forbid]);
    await page.screenshot({ path: path.join(SHOTS, 'policy-why.png'), fullPage: true });
  });
});
