import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type Docker from 'dockerode';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { startTestCore, type TestCore } from '../support/core-harness.js';
import { removeTestContainers, requireDocker, TEST_IMAGE } from '../support/docker.js';
import { startGitHubLike, type GitHubLike } from '../support/github-like.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { textOf } from '../support/mcp-client.js';
import { loopbackListener, TestClientProvider } from '../support/mcp-oauth-client.js';
import { freePort } from '../support/ports.js';

/**
 * The guide's OAuth 2.0 upstream example (GitHub: explicit endpoints, userInfo with a field mapping),
 * against a GitHub-like provider: JSON only when asked for, no ID token, `/user` with a numeric id and a
 * null name. An MCP client signs in through Gatehouse in Chromium and calls a tool of a server in a container.
 */
describe('the embedded authorization server with an OAuth 2.0 upstream (GitHub-like)', () => {
  let docker: Docker;
  let gh: GitHubLike;
  let browser: Browser;
  let page: Page;
  let t: TestCore;

  beforeAll(async () => {
    docker = await requireDocker();
    gh = await startGitHubLike({ id: 583231, login: 'octocat', name: null, email: null });
    browser = await launchBrowser();
    page = await browser.newPage();
    t = await startTestCore();
    await t.api.setSecret({ name: 'upstream-idp-secret.client-secret', value: registerTestSecret('github client secret', gh.clientSecret) });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
    await browser?.close();
    await gh?.close();
  });

  it('signs in with the userInfo field mapping (numeric id as the subject, login when name is null) and calls a tool', async () => {
    const issuer = `http://127.0.0.1:${await freePort()}`;
    // The guide's example as written, but for this machine's GitHub stand-in.
    await t.api.setAuthServer({
      settings: {
        issuer,
        upstreamProviders: [
          {
            name: 'github',
            type: 'oauth2',
            oauth2Config: {
              authorizationEndpoint: `${gh.url}/login/oauth/authorize`,
              tokenEndpoint: `${gh.url}/login/oauth/access_token`,
              userInfo: { endpointUrl: `${gh.url}/user`, httpMethod: 'GET', additionalHeaders: { Accept: 'application/vnd.github+json' }, fieldMapping: { subjectFields: ['id', 'login'], nameFields: ['name', 'login'], emailFields: ['email'] } },
              clientId: gh.clientId,
              clientSecretRef: { name: 'upstream-idp-secret', key: 'client-secret' },
              scopes: ['user:email', 'read:user'],
            },
          },
        ],
      },
    });
    const server = await t.api.run({ image: TEST_IMAGE, name: 'weather', permissionProfile: 'none', auth: { type: 'inline', inline: { issuer } } });
    const cb = await loopbackListener();
    try {
      const client = new TestClientProvider(cb.url, 'Claude Code', async (url) => {
        await page.goto(url.href);
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.getByRole('button', { name: 'Authorize' }).click();
      });
      const code = cb.next();
      expect(await auth(client, { serverUrl: server.url })).toBe('REDIRECT');
      const back = await code;
      expect(await auth(client, { serverUrl: server.url, authorizationCode: back.searchParams.get('code')! })).toBe('AUTHORIZED');
      registerTestSecret('gatehouse access token (github)', client.saved!.access_token);
      expect(decodeJwt(client.saved!.access_token)).toMatchObject({ iss: issuer, aud: server.url, sub: '583231', name: 'octocat' });
      expect(gh.tokenAccepts).toEqual(['application/json']);
      const mcp = new Client({ name: 'claude-code-stand-in', version: '1.0.0' });
      await mcp.connect(new StreamableHTTPClientTransport(new URL(server.url), { authProvider: client }));
      try {
        expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'hi octocat' } }))).toMatch(/hi octocat/);
      } finally {
        await mcp.close();
      }
    } finally {
      await cb.close();
    }
  });
});
