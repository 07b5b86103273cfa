import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, launchBrowser } from '../support/browser.js';
import { tempHome, useDockerCore } from '../support/core-harness.js';
import { TEST_IMAGE } from '../support/docker.js';
import { testSecret } from '../support/leak-registry.js';

/**
 * The app as a user meets it: `gatehouse serve` prints a sign-in link, the browser opens it, and
 * everything happens in the window: a server added from the form runs, stops and starts from the list,
 * Cursor is set up in one click, calls show up live in the log viewer. Real core, real containers,
 * Debian's Chromium. Screenshots go to docs/screenshots/ for the README.
 */
const SHOTS = path.resolve('docs/screenshots');
const userHome = tempHome('gatehouse-user-');
const cursorDir = path.join(userHome, '.cursor');
const cursorFile = path.join(cursorDir, 'mcp.json');

describe('the app in the browser', () => {
  const env = useDockerCore({ clientUser: { home: userHome, platform: 'linux', env: {} } });
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    fs.mkdirSync(cursorDir, { recursive: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(async () => {
    await browser?.close();
  });

  const shot = async (name: string) => {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  };
  const row = (server: string) => page.locator(`tr[data-server="${server}"]`);

  it('signs in with the printed link once; the code leaves the address bar; the page is accessible', async () => {
    const login = env.t.core.loginUrl();
    await page.goto(login);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(page.url()).not.toContain('code=');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Servers');
    await expect.poll(() => page.getByText('Connected to the core').count()).toBe(1);
    await expect.poll(() => page.getByText('No servers yet').count()).toBe(1);
    await expectAccessible(page, 'Servers (empty)');
    // The link is spent: opening it again signs nobody in.
    const again = await fetch(login, { redirect: 'manual' });
    expect(again.status).toBe(403);
  });

  it('adds a server from the form and sees it run; stop and start from the list are pushed back', async () => {
    await page.getByRole('button', { name: 'Add server', exact: true }).click();
    await page.getByLabel('Image', { exact: true }).fill(TEST_IMAGE);
    await page.getByLabel(/^Name/).fill('everything');
    await page.getByLabel(/^Network/).selectOption('none');
    await expectAccessible(page, 'Servers, add form');
    await shot('servers-add');
    await page.getByRole('button', { name: 'Add and start', exact: true }).click();
    await expect.poll(() => row('everything').locator('.status').textContent(), { timeout: 60_000 }).toBe('Running');
    expect(await page.getByRole('status').filter({ hasText: 'Added everything.' }).count()).toBe(1);
    const url = (await env.t.api.getServer({ name: 'everything' })).url;
    expect(await row('everything').locator('code').textContent()).toBe(url);

    await page.getByRole('button', { name: 'Stop everything', exact: true }).click();
    await expect.poll(() => row('everything').locator('.status').textContent(), { timeout: 30_000 }).toBe('Stopped');
    expect((await env.t.api.getServer({ name: 'everything' })).status).toBe('stopped');
    await page.getByRole('button', { name: 'Start everything', exact: true }).click();
    await expect.poll(() => row('everything').locator('.status').textContent(), { timeout: 60_000 }).toBe('Running');
    // A change made elsewhere (the CLI, the tray) reaches the page the same way.
    await env.t.api.stop({ name: 'everything' });
    await expect.poll(() => row('everything').locator('.status').textContent(), { timeout: 30_000 }).toBe('Stopped');
    await env.t.api.start({ name: 'everything' });
    await expect.poll(() => row('everything').locator('.status').textContent(), { timeout: 60_000 }).toBe('Running');
    await expectAccessible(page, 'Servers (one running)');
    await shot('servers');
  });

  it('a form error is shown in words, with what to do, and nothing is added', async () => {
    await page.getByRole('button', { name: 'Add server', exact: true }).click();
    await page.getByLabel('Image', { exact: true }).fill(TEST_IMAGE);
    await page.getByLabel(/^Name/).fill('everything');
    await page.getByRole('button', { name: 'Add and start', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('A server named "everything" already exists. Choose another name, or remove the existing server first.');
    expect((await env.t.api.listServers()).map((s) => s.name)).toEqual(['everything']);
    await page.getByRole('button', { name: 'Close', exact: true }).click();
  });

  it('sets up Cursor in one click: its file gets the server', async () => {
    await page.getByRole('link', { name: 'Clients' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Clients');
    // The user's own entry is there before, and stays.
    fs.writeFileSync(cursorFile, '{\n  "mcpServers": {\n    "mine": { "command": "my-server" }\n  }\n}\n');
    await page.getByRole('button', { name: 'Set up Cursor', exact: true }).click();
    // First what will change, exactly: the new entry as added lines, the user's own untouched.
    const dialog = page.getByRole('dialog', { name: 'Set up Cursor' });
    await expect.poll(() => dialog.locator('.diff-add').count()).toBeGreaterThan(0);
    expect(await dialog.locator('.diff-add').allTextContents()).toContainEqual(expect.stringContaining('"everything"'));
    // A line-level diff: the user's line may gain a comma, but it is in the file after as before.
    const after = [...(await dialog.locator('.diff-add').allTextContents()), ...(await dialog.locator('.diff-same').allTextContents())];
    expect(after).toContainEqual(expect.stringContaining('"mine": { "command": "my-server" }'));
    expect(fs.readFileSync(cursorFile, 'utf8')).not.toContain('everything');
    await expectAccessible(page, 'Clients, preview');
    await shot('clients-preview');
    await dialog.getByRole('button', { name: 'Write the file', exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Cursor is set up' }).count()).toBe(1);
    expect(JSON.parse(fs.readFileSync(cursorFile, 'utf8')).mcpServers.mine).toEqual({ command: 'my-server' });
    const file = JSON.parse(fs.readFileSync(cursorFile, 'utf8')) as { mcpServers: Record<string, { url: string }> };
    expect(file.mcpServers['everything']?.url).toBe((await env.t.api.getServer({ name: 'everything' })).url);
    await expect.poll(() => page.locator('tr[data-client="cursor"] .state').textContent()).toBe('Set up, in sync');
    // The user edits the file by hand: the page learns it from the core, without a reload.
    const edited = JSON.parse(fs.readFileSync(cursorFile, 'utf8')) as { mcpServers: Record<string, unknown> };
    delete edited.mcpServers['everything'];
    fs.writeFileSync(cursorFile, JSON.stringify(edited, null, 2));
    await expect.poll(() => page.locator('tr[data-client="cursor"] .state').textContent(), { timeout: 10_000 }).toBe('Set up, out of sync');
    await expect.poll(() => page.locator('tr[data-client="cursor"]').textContent()).toContain('entry "everything" is missing');
    await page.getByRole('button', { name: 'Remove Gatehouse from Cursor', exact: true }).waitFor();
    // Setting it up again puts the entry back.
    await env.t.api.setupClient({ id: 'cursor' });
    await expect.poll(() => page.locator('tr[data-client="cursor"] .state').textContent(), { timeout: 10_000 }).toBe('Set up, in sync');
    await expectAccessible(page, 'Clients');
    await shot('clients');
  });

  it('follows calls and denials live in the log viewer; filters, search, the chart and an audit event in full', async () => {
    await env.t.api.savePolicy({
      name: 'echo-only',
      config: { version: '1.0', type: 'cedarv1', cedar: { policies: ['permit(principal, action == Action::"call_tool", resource == Tool::"echo");'], entities_json: '[]' } },
    });
    await env.t.api.attachPolicy({ name: 'everything', policySet: 'echo-only' });
    await page.getByRole('link', { name: 'Logs' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Logs');
    const log = page.getByRole('listbox', { name: 'Log lines' });
    await expect.poll(() => log.getByRole('option').count()).toBeGreaterThan(0);
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL((await env.t.api.getServer({ name: 'everything' })).url)));
    await client.callTool({ name: 'echo', arguments: { message: 'hello from the e2e test' } });
    await expect(client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow();
    // Both arrive without a reload: the allowed call and the denial, as a tool-call timeline.
    await expect.poll(() => log.locator('.decision.success').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => log.locator('.decision.denied').count(), { timeout: 20_000 }).toBe(1);
    await client.close();
    expect(await log.locator('.decision.denied').locator('..').textContent()).toContain('tools/call get-env');
    await expect.poll(() => page.locator('.histogram .bar').count()).toBeGreaterThan(0);
    await expectAccessible(page, 'Logs (live)');
    await shot('logs');

    // The denied call in full: ToolHive's audit event, pretty-printed.
    await log.locator('.decision.denied').click();
    const detail = page.getByRole('complementary');
    await expect.poll(() => detail.locator('pre').textContent()).toContain('"outcome": "denied"');
    await expectAccessible(page, 'Logs (an audit event open)');
    await shot('logs-audit-event');
    await detail.getByRole('button', { name: "Close the line's details" }).click();

    await page.getByLabel('Decision').selectOption('denied');
    await expect.poll(() => log.getByRole('option').count()).toBe(1);
    await page.getByLabel('Decision').selectOption('');
    await page.getByLabel('Search').fill('echo');
    await expect.poll(() => log.locator('mark').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await log.locator('mark').first().textContent())?.toLowerCase()).toBe('echo');
    await page.getByLabel('Search').fill('');
    // Retention is the user's: at least a million lines by default.
    await page.getByText('Retention', { exact: true }).click();
    expect(Number(await page.getByLabel('Lines kept').inputValue())).toBeGreaterThanOrEqual(1_000_000);
    await page.getByLabel('Lines kept').fill('2000000');
    await page.getByRole('form', { name: 'Log retention' }).getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(async () => (await env.t.api.settings()).logRetention.maxLines).toBe(2_000_000);
    await page.getByText('Retention', { exact: true }).click();
  });

  it("one server's page: its history with reasons, its clients and policies; a rename keeps the URL and the client's entry follows", async () => {
    const url = (await env.t.api.getServer({ name: 'everything' })).url;
    await page.getByRole('navigation').getByRole('link', { name: 'Servers' }).click();
    await page.getByRole('link', { name: 'everything', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('everything');
    const facts = page.locator('.facts');
    await expect.poll(() => facts.textContent()).toContain('cursor');
    expect(await page.getByLabel('Cedar policy set').inputValue()).toBe('echo-only');
    await expect.poll(() => page.locator('.history li').filter({ hasText: 'stopped' }).count()).toBeGreaterThan(0);
    expect(await page.getByText('Local mode: no token needed').count()).toBe(1);
    await expectAccessible(page, 'Server page');
    await shot('server');
    await page.getByLabel('New name').fill('tools');
    await page.getByRole('button', { name: 'Rename', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent(), { timeout: 60_000 }).toBe('tools');
    expect(new URL(page.url()).hash).toBe('#/servers/tools');
    expect((await env.t.api.getServer({ name: 'tools' })).url).toBe(url);
    await expect.poll(() => (JSON.parse(fs.readFileSync(cursorFile, 'utf8')) as { mcpServers: Record<string, { url: string }> }).mcpServers['tools']?.url, { timeout: 20_000 }).toBe(url);
    await expect.poll(() => row('tools').count()).toBe(0); // the list is not on this page; its entry follows the push
    await page.getByRole('navigation').getByRole('link', { name: 'Servers' }).click();
    await expect.poll(() => row('tools').locator('.status').textContent(), { timeout: 60_000 }).toBe('Running');
    expect(await row('everything').count()).toBe(0);
  });

  it('adds a shared identity provider from a ToolHive ConfigMap, as the cluster has it', async () => {
    await page.getByRole('link', { name: 'Identity' }).click();
    await page.getByRole('button', { name: 'Add a profile', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('company-idp');
    const manifest = ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: company-idp', 'data:', '  oidc.json: |', '    {"issuer": "https://id.example.com", "audience": "mcp-servers"}'].join('\n');
    await page.getByLabel(/ToolHive ConfigMap/).fill(manifest);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.getByRole('row', { name: /company-idp/ }).textContent()).toContain('https://id.example.com');
    expect((await env.t.api.idp({ name: 'company-idp' })).config).toMatchObject({ issuer: 'https://id.example.com', audience: 'mcp-servers' });
    await expectAccessible(page, 'Identity');
    await shot('identity');
    // A manifest that is no profile is refused with the reason, and nothing is saved.
    await page.getByRole('button', { name: 'Add a profile', exact: true }).click();
    await page.getByLabel('Name', { exact: true }).fill('broken');
    await page.getByLabel(/ToolHive ConfigMap/).fill('kind: ConfigMap\ndata:\n  other.json: "{}"');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not a valid identity-provider profile: issuer');
    expect((await env.t.api.idps()).map((p) => p.name)).toEqual(['company-idp']);
  });

  it('lists the policy sets, the servers each decides for, and their versions', async () => {
    await page.getByRole('link', { name: 'Policies' }).click();
    const set = page.getByRole('row', { name: /echo-only/ });
    await expect.poll(() => set.textContent()).toContain('tools');
    await set.getByRole('button', { name: 'echo-only' }).click();
    await expect.poll(() => page.getByLabel('The policies of echo-only').textContent()).toContain('resource == Tool::"echo"');
    await expectAccessible(page, 'Policies');
    await shot('policies');
  });

  it('keeps a secret without ever showing it back', async () => {
    await page.getByRole('link', { name: 'Secrets' }).click();
    const value = testSecret('app-secret');
    await page.getByLabel('Name', { exact: true }).fill('GITHUB_TOKEN');
    await page.getByLabel('Value', { exact: true }).fill(value);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.getByRole('row', { name: /GITHUB_TOKEN/ }).count()).toBe(1);
    expect(await page.getByLabel('Value', { exact: true }).inputValue()).toBe('');
    expect(await page.content()).not.toContain(value);
    await expectAccessible(page, 'Secrets');
    await shot('secrets');
  });

  it('every page works from the keyboard: skip link, then the navigation', async () => {
    await page.goto(new URL('/#/servers', page.url()).href);
    await page.reload();
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe('Servers');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Clients');
  });
});
