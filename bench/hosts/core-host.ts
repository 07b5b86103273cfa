// The whole product in a process of its own, as `gatehouse serve` runs it: a core with its own
// GATEHOUSE_HOME (SQLite store and log sink, container runtime) that runs server-everything from the
// local test image in a real container (stdio, network none) behind its proxy.
//
//   node core-host.js <proxyPort> <runLabel> <image> [policy]
//
// With `policy`, the server runs with a policy set (ToolHive's guide example plus a permit for the
// caller, as bench:authz-call has it), so every call is decided by Cedar and its decision recorded,
// sealed, for the policy studio. At SIGTERM it prints how many decisions were kept, so the benchmark
// knows the recording it measured really happened.
//
// Every container it makes carries the label gatehouse-bench.run=<runLabel>; on SIGTERM it stops the
// core and removes them (the benchmark sweeps the label again afterwards).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { connectApi } from '../../src/api/index.js';
import { startCore, type Core } from '../../src/app/index.js';
import { BENCH_RUN_LABEL } from '../lib/paths.js';

const [portArg, runLabel, image, mode] = process.argv.slice(2);
if (!portArg || !runLabel || !image || (mode !== undefined && mode !== 'policy')) {
  process.stderr.write('usage: core-host.js <proxyPort> <runLabel> <image> [policy]\n');
  process.exit(2);
}
const USER = os.userInfo().username; // local mode: the caller is the OS user
const AUTHZ_CONFIG = {
  version: '1.0',
  type: 'cedarv1',
  cedar: {
    policies: [
      'permit(principal, action == Action::"call_tool", resource == Tool::"weather");',
      'permit(principal == Client::"alice123", action == Action::"call_tool", resource == Tool::"admin_tool");',
      'permit(principal, action == Action::"call_tool", resource) when { principal has claim_roles && principal.claim_roles.contains("premium") };',
      'permit(principal, action == Action::"call_tool", resource == Tool::"calculator") when { resource has arg_operation && (resource.arg_operation == "add" || resource.arg_operation == "subtract") };',
      `permit(principal == Client::"${USER}", action == Action::"call_tool", resource);`,
    ],
    entities_json: '[]',
  },
};

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
let core: Core | undefined;
let closing = false;

async function removeContainers(): Promise<void> {
  const docker = process.env['DOCKER_HOST'] ? new Docker() : new Docker({ socketPath: '/var/run/docker.sock' });
  const list = await docker.listContainers({ all: true, filters: { label: [`${BENCH_RUN_LABEL}=${runLabel}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
}

const shutdown = async (code: number) => {
  if (closing) return;
  closing = true;
  if (mode === 'policy' && core) {
    // Replaying the kept decisions with the same set counts them (the impact preview's own path).
    try {
      const impact = await connectApi(core.url, core.token).policyImpact({ name: 'everything', config: AUTHZ_CONFIG, minutes: 60 });
      process.stdout.write(JSON.stringify({ decisionsKept: impact.replayed, changed: impact.changes.length }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ decisionsKept: 0, error: (err as Error).message }) + '\n');
    }
  }
  try {
    await core?.stop();
  } catch (err) {
    process.stderr.write(`core stop: ${(err as Error).message}\n`);
  }
  try {
    await removeContainers();
  } catch (err) {
    process.stderr.write(`container cleanup: ${(err as Error).message}\n`);
  }
  fs.rmSync(home, { recursive: true, force: true });
  process.exit(code);
};
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));

try {
  core = await startCore({
    home,
    pullPolicy: 'never',
    defaultNetwork: 'host',
    requestTimeoutMs: 30_000,
    extraLabels: { [BENCH_RUN_LABEL]: runLabel },
  });
  const api = connectApi(core.url, core.token);
  const s = await api.run({ image, name: 'everything', permissionProfile: 'none', proxyPort: Number(portArg), ...(mode === 'policy' ? { authzConfig: AUTHZ_CONFIG } : {}) });
  // The container's init process, so the benchmark can count the server's CPU and memory too.
  const docker = process.env['DOCKER_HOST'] ? new Docker() : new Docker({ socketPath: '/var/run/docker.sock' });
  const containerPid = s.containerId ? (await docker.getContainer(s.containerId).inspect()).State.Pid : undefined;
  process.stdout.write(JSON.stringify({ url: new URL(s.url).origin, status: s.status, containerPid }) + '\n');
} catch (err) {
  process.stderr.write(`core host failed: ${(err as Error).stack ?? String(err)}\n`);
  await shutdown(1);
}
