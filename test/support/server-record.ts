import type { NewServer } from '../../src/store/index.js';

/** A server row for tests that need one in a real store (no container behind it). */
export function newServer(name: string, overrides: Partial<NewServer> = {}): NewServer {
  return {
    name,
    image: 'example/image',
    url: null,
    transport: 'stdio',
    args: [],
    env: {},
    secrets: [],
    auth: { type: 'none' },
    volumes: [],
    permissionProfile: 'none',
    profile: { network: { outbound: { insecureAllowAll: false } } },
    proxyPort: 40_000,
    targetPort: null,
    group: 'default',
    memoryBytes: null,
    nanoCpus: null,
    networkSetting: 'none',
    desiredState: 'running',
    status: 'running',
    ...overrides,
  };
}
