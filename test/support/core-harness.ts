import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { connectApi, type ApiClient } from '../../src/api/index.js';
import { startCore, type Core, type CoreOptions } from '../../src/app/index.js';
import type Docker from 'dockerode';
import { afterAll, beforeAll } from 'vitest';
import { removeTestContainers, requireDocker, TEST_RUN_LABEL } from './docker.js';
import { homesRoot } from './leak-registry.js';

export interface TestCore {
  core: Core;
  api: ApiClient;
  home: string;
  runLabel: string;
  restart(extra?: Partial<CoreOptions>): Promise<void>;
  stop(): Promise<void>;
}

/** A fresh GATEHOUSE_HOME inside this run's folder, so the end-of-run leak scan covers it. */
export function tempHome(prefix = 'gatehouse-test-'): string {
  return fs.mkdtempSync(path.join(homesRoot(), prefix));
}

/**
 * A real core in this process with its own GATEHOUSE_HOME, host networking (no bridge exists on CI
 * machines), no image pulls (nothing outside 127.0.0.0/8), and a label on every container so the
 * test can remove what it made.
 */
export async function startTestCore(opts: Partial<CoreOptions> & { home?: string } = {}): Promise<TestCore> {
  const home = opts.home ?? tempHome();
  const runLabel = randomUUID();
  const options = (): CoreOptions => ({
    home,
    defaultNetwork: 'host',
    pullPolicy: 'never',
    requestTimeoutMs: 20_000,
    extraLabels: { [TEST_RUN_LABEL]: runLabel },
    // Every API answer a test sees was checked against its route's response schema.
    checkApiResponses: true,
    ...opts,
  });
  const t: TestCore = {
    core: await startCore(options()),
    api: undefined as unknown as ApiClient,
    home,
    runLabel,
    async restart(extra = {}) {
      await t.core.stop();
      t.core = await startCore({ ...options(), ...extra });
      t.api = connectApi(t.core.url, t.core.token);
    },
    async stop() {
      // The test run shares one keyring: servers are removed as a user removes them, so the keychain
      // secrets Gatehouse stored for them (a token exchange's client secret) do not outlive this core.
      const servers = await t.api.listServers().catch(() => []);
      for (const s of servers) await t.api.remove({ name: s.name, force: true }).catch(() => undefined);
      await t.core.stop();
    },
  };
  t.api = connectApi(t.core.url, t.core.token);
  return t;
}

/**
 * Registers the usual hooks of a Docker test file: the engine is required (never skipped), a test core
 * starts before the tests, and the core and every container it made are gone after them.
 */
export function useDockerCore(opts: Partial<CoreOptions> = {}): { readonly docker: Docker; readonly t: TestCore } {
  let docker: Docker | undefined;
  let t: TestCore | undefined;
  beforeAll(async () => {
    docker = await requireDocker();
    t = await startTestCore(opts);
  });
  afterAll(async () => {
    await t?.stop();
    if (docker && t) await removeTestContainers(docker, t.runLabel);
  });
  return {
    get docker() {
      if (!docker) throw new Error('useDockerCore: the engine is not connected yet (use it inside tests)');
      return docker;
    },
    get t() {
      if (!t) throw new Error('useDockerCore: the core is not started yet (use it inside tests)');
      return t;
    },
  };
}
