import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRequestBody } from '../../src/api/index.js';
import { runCli } from '../support/cli.js';
import { useDockerCore } from '../support/core-harness.js';
import { TEST_NODE_IMAGE } from '../support/docker.js';
import { ECHO_HEADERS_SERVER } from '../support/echo-headers-server.js';
import { registerTestSecret } from '../support/leak-registry.js';
import { startTestIdp, type TestIdp } from '../support/oidc.js';

/**
 * The keychain secret Gatehouse writes for a server's token exchange (a runner file's clear
 * client_secret, moved to `<server>-token-exchange`) goes when the server goes (gatehouse rm, DELETE
 * /v1/servers/:name), when its settings are removed, and when new settings no longer read it; a
 * secret the user made and the settings only name stays. Real core, real keychain (gnome-keyring
 * over D-Bus), real containers. The token service is never called (no MCP request is made).
 */
describe('the token exchange client secret Gatehouse stored goes with its server', () => {
  const env = useDockerCore();
  let idp: TestIdp;
  const TOKEN_URL = 'http://127.0.0.1:9/token';

  const keychainNames = async () => (await env.t.api.secrets()).secrets.map((s) => s.name);
  const run = (name: string, tokenExchange: unknown) =>
    env.t.api.run({
      image: TEST_NODE_IMAGE,
      name,
      transport: 'streamable-http',
      args: ['-e', ECHO_HEADERS_SERVER],
      auth: { type: 'inline', inline: { issuer: idp.issuer } },
      tokenExchange,
    } satisfies RunRequestBody);
  /** The runner's spelling (RunConfig token_exchange_config): its clear secret is moved into the keychain. */
  const runnerSettings = (label: string) => ({ token_exchange_config: { token_url: TOKEN_URL, client_id: 'gatehouse', client_secret: registerTestSecret(`token exchange client secret (${label})`, `secret-of-${label}-${Math.random().toString(36).slice(2)}`), audience: 'backend' } });

  beforeAll(async () => {
    idp = await startTestIdp();
  });
  afterAll(async () => {
    await idp?.stop();
  });

  it('gatehouse rm deletes the secret Gatehouse stored for the server, and DELETE /v1/servers/:name does too', async () => {
    await run('alpha', runnerSettings('alpha'));
    await run('beta', runnerSettings('beta'));
    expect(await keychainNames()).toEqual(expect.arrayContaining(['alpha-token-exchange', 'beta-token-exchange']));
    expect((await env.t.api.getServer({ name: 'alpha' })).tokenExchange).toMatchObject({ clientSecretName: 'alpha-token-exchange' });

    const rm = await runCli(env.t.home, ['rm', '-f', 'alpha'], { timeoutMs: 60_000 });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await keychainNames()).not.toContain('alpha-token-exchange');
    // The other server's secret is its own: untouched.
    expect(await keychainNames()).toContain('beta-token-exchange');

    await env.t.api.remove({ name: 'beta', force: true });
    expect(await keychainNames()).not.toContain('beta-token-exchange');
    expect((await env.t.api.listServers()).map((s) => s.name)).toEqual([]);
  });

  it("never deletes a secret the user made that the settings only name, even one spelled like Gatehouse's", async () => {
    await env.t.api.setSecret({ name: 'gamma-token-exchange', value: registerTestSecret('user secret gamma', 'users-own-gamma-secret') });
    await env.t.api.setSecret({ name: 'corp-sts', value: registerTestSecret('user secret corp-sts', 'users-own-corp-sts-secret') });
    await run('gamma', { tokenUrl: TOKEN_URL, clientId: 'gatehouse', clientSecretRef: { name: 'gamma-token-exchange' }, audience: 'backend' });
    await run('delta', { tokenUrl: TOKEN_URL, clientId: 'gatehouse', clientSecretRef: { name: 'corp-sts' }, audience: 'backend' });
    await env.t.api.remove({ name: 'gamma', force: true });
    const rm = await runCli(env.t.home, ['rm', '-f', 'delta'], { timeoutMs: 60_000 });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await keychainNames()).toEqual(expect.arrayContaining(['gamma-token-exchange', 'corp-sts']));
    expect(await env.t.core.secrets.get('gamma-token-exchange')).toBe('users-own-gamma-secret');

    // Settings with a clear secret would be stored under the user's name: refused, the user's value kept, no server made.
    await env.t.api.setSecret({ name: 'theta-token-exchange', value: registerTestSecret('user secret theta', 'users-own-theta-secret') });
    await expect(run('theta', runnerSettings('theta'))).rejects.toThrow(/already has a secret named theta-token-exchange that Gatehouse did not store.*gatehouse secret rm theta-token-exchange/);
    expect(await env.t.core.secrets.get('theta-token-exchange')).toBe('users-own-theta-secret');
    expect((await env.t.api.listServers()).map((s) => s.name)).not.toContain('theta');
    // The same on a server that exists and had none.
    await run('theta', { tokenUrl: TOKEN_URL, clientId: 'gatehouse', clientSecretRef: { name: 'corp-sts' } });
    await expect(env.t.api.setTokenExchange({ name: 'theta', settings: runnerSettings('theta-2') })).rejects.toThrow(/already has a secret named theta-token-exchange/);
    expect(await env.t.core.secrets.get('theta-token-exchange')).toBe('users-own-theta-secret');
    expect((await env.t.api.getServer({ name: 'theta' })).tokenExchange).toMatchObject({ clientSecretName: 'corp-sts' });
    await env.t.api.remove({ name: 'theta', force: true });
    expect(await keychainNames()).toEqual(expect.arrayContaining(['theta-token-exchange', 'corp-sts']));
  });

  it('removing or replacing the settings deletes the secret Gatehouse stored, and keeps the one the new settings name', async () => {
    await run('epsilon', runnerSettings('epsilon'));
    expect(await keychainNames()).toContain('epsilon-token-exchange');
    // New settings from a runner file again: the same name, a new value, still Gatehouse's.
    await env.t.api.setTokenExchange({ name: 'epsilon', settings: runnerSettings('epsilon-2') });
    expect(await keychainNames()).toContain('epsilon-token-exchange');
    // Settings that still name it (as the app's form sends when the secret is kept): it stays, and stays Gatehouse's.
    await env.t.api.setTokenExchange({ name: 'epsilon', settings: { tokenUrl: TOKEN_URL, clientId: 'gatehouse', clientSecretRef: { name: 'epsilon-token-exchange' }, audience: 'other' } });
    expect(await keychainNames()).toContain('epsilon-token-exchange');
    // Settings that read the user's own secret instead: Gatehouse's is deleted, the user's stays.
    await env.t.api.setTokenExchange({ name: 'epsilon', settings: { tokenUrl: TOKEN_URL, clientId: 'gatehouse', clientSecretRef: { name: 'corp-sts' } } });
    expect(await keychainNames()).not.toContain('epsilon-token-exchange');
    expect(await keychainNames()).toContain('corp-sts');

    await env.t.api.setTokenExchange({ name: 'epsilon', settings: runnerSettings('epsilon-3') });
    expect(await keychainNames()).toContain('epsilon-token-exchange');
    const none = await runCli(env.t.home, ['auth', 'token-exchange', 'epsilon', '--none']);
    expect(none.code, none.stderr).toBe(0);
    expect((await env.t.api.getServer({ name: 'epsilon' })).tokenExchange).toBeNull();
    expect(await keychainNames()).not.toContain('epsilon-token-exchange');

    // With settings naming the user's secret, removing them leaves that secret alone.
    await env.t.api.setTokenExchange({ name: 'epsilon', settings: { tokenUrl: TOKEN_URL, clientSecretRef: { name: 'corp-sts' } } });
    await env.t.api.removeTokenExchange({ name: 'epsilon' });
    expect(await keychainNames()).toContain('corp-sts');
    await env.t.api.remove({ name: 'epsilon', force: true });
  });

  it('follows the secret it stored across a rename (the settings record its name), and spares one another server reads', async () => {
    await run('zeta', runnerSettings('zeta'));
    await env.t.api.rename({ name: 'zeta', newName: 'eta' });
    expect((await env.t.api.getServer({ name: 'eta' })).tokenExchange).toMatchObject({ clientSecretName: 'zeta-token-exchange' });
    // Another server names that secret on purpose: removing eta must not pull it from under it.
    await run('theta', { tokenUrl: TOKEN_URL, clientId: 'gatehouse', clientSecretRef: { name: 'zeta-token-exchange' } });
    await env.t.api.remove({ name: 'eta', force: true });
    expect(await keychainNames()).toContain('zeta-token-exchange');
    await env.t.api.remove({ name: 'theta', force: true });
    // theta did not make it, so theta's removal leaves it: it is the user's to delete now.
    expect(await keychainNames()).toContain('zeta-token-exchange');

    await run('iota', runnerSettings('iota'));
    await env.t.api.rename({ name: 'iota', newName: 'kappa' });
    await env.t.api.remove({ name: 'kappa', force: true });
    expect(await keychainNames()).not.toContain('iota-token-exchange');
  });
});
