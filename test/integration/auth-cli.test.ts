import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDocker, TEST_IMAGE } from '../support/docker.js';
import { tempHome } from '../support/core-harness.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';
import { printedUrl, runCli } from '../support/cli.js';

/** The four ToolHive approaches set up from the command line, as a new user would. */
describe('authentication from the gatehouse command', () => {
  let docker: Docker;
  let idp: TestIdp;
  const home = tempHome();

  const cli = (args: string[]) => runCli(home, args);
  const status = async (url: string, token?: string) =>
    (
      await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
      })
    ).status;
  const urlOf = printedUrl;

  beforeAll(async () => {
    docker = await requireDocker();
    idp = await startTestIdp();
  });

  afterAll(async () => {
    for (const n of ['ext', 'shared', 'k8s', 'manifest']) await cli(['rm', '-f', n]);
    await cli(['shutdown']);
    await idp?.stop();
    void docker;
  });

  it('external IdP with the --oidc-* flags', async () => {
    const r = await cli(['run', TEST_IMAGE, '--name', 'ext', '--permission-profile', 'none', '--oidc-issuer', idp.issuer, '--oidc-jwks-url', idp.jwksUri, '--oidc-client-id', 'x']);
    expect(r.stderr).toBe('');
    const url = urlOf(r.stdout);
    expect(await status(url)).toBe(401);
    expect(await status(url, await idp.clientCredentialsToken({ resource: url }))).toBe(200);
    expect((await cli(['auth', 'show', 'ext'])).stdout).toContain(`tokens from ${idp.issuer}`);
  });

  it('shared configuration: idp add from a ConfigMap manifest, then run --idp', async () => {
    const file = path.join(home, 'shared-oidc-config.yaml');
    fs.writeFileSync(file, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared-oidc-config\ndata:\n  oidc.json: |\n    { "issuer": "${idp.issuer}", "jwksUrl": "${idp.jwksUri}" }\n`);
    expect((await cli(['idp', 'add', 'shared-oidc-config', '--from-file', file])).code).toBe(0);
    const r = await cli(['run', TEST_IMAGE, '--name', 'shared', '--permission-profile', 'none', '--idp', 'shared-oidc-config']);
    const url = urlOf(r.stdout);
    expect(await status(url, await idp.clientCredentialsToken({ resource: url }))).toBe(200);
    const ls = await cli(['idp', 'ls']);
    expect(ls.stdout).toMatch(/shared-oidc-config\s+http:\/\/127\.0\.0\.1:\d+\s+\(each server's URL\)\s+shared/);
    expect((await cli(['idp', 'rm', 'shared-oidc-config'])).code).toBe(4);
  });

  it('Kubernetes service accounts with --k8s-service-account and --k8s-namespace', async () => {
    const r = await cli(['run', TEST_IMAGE, '--name', 'k8s', '--permission-profile', 'none', '--k8s-service-account', 'mcp-client', '--k8s-namespace', 'client-apps', '--oidc-issuer', idp.issuer, '--oidc-jwks-url', idp.jwksUri, '--oidc-audience', 'http://127.0.0.1:1/toolhive']);
    const url = urlOf(r.stdout);
    const sa = await idp.userToken({ sub: 'system:serviceaccount:client-apps:mcp-client', resource: 'http://127.0.0.1:1/toolhive' });
    const other = await idp.userToken({ sub: 'system:serviceaccount:default:default', resource: 'http://127.0.0.1:1/toolhive' });
    expect(await status(url, sa.accessToken)).toBe(200);
    expect(await status(url, other.accessToken)).toBe(401);
  });

  it('an MCPServer manifest with --oidc-config, and auth set on the running server', async () => {
    const file = path.join(home, 'mcp-server.yaml');
    fs.writeFileSync(file, `apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: m\nspec:\n  image: x\n  oidcConfig:\n    type: inline\n    inline:\n      issuer: '${idp.issuer}'\n      clientId: 'c'\n`);
    const r = await cli(['run', TEST_IMAGE, '--name', 'manifest', '--permission-profile', 'none', '--oidc-config', file]);
    const url = urlOf(r.stdout);
    expect(await status(url)).toBe(401);
    expect((await cli(['auth', 'set', 'manifest', '--none'])).stdout).toMatch(/local mode/);
    expect(await status(url)).toBe(200);
    const bad = await cli(['auth', 'set', 'manifest', '--oidc-audience', 'a']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--oidc-issuer is required/);
  });
});
